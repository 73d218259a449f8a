//! `rat health`: whether the platform is ready (run store, catalog,
//! storage answer), from its readiness checks; exit 0 when it is. A
//! server image's health check: `rat --server http://127.0.0.1:8080 health`.

use rat_core::Result;
use rat_server::api::PlatformApi;

use crate::output::{EXIT_FAILURE, EXIT_OK, print_json};

pub(crate) async fn health(api: &dyn PlatformApi, json: bool) -> Result<u8> {
    let readiness = api.readiness().await?;
    if json {
        print_json(&readiness);
    } else {
        for check in &readiness.checks {
            let state = match (&check.ok, &check.error_kind) {
                (true, _) => "ok".to_owned(),
                (false, Some(kind)) => format!("failing ({kind})"),
                (false, None) => "failing".to_owned(),
            };
            println!("{:<10} {state} in {} ms", check.component, check.millis);
        }
        println!(
            "{}",
            if readiness.ready {
                "ready"
            } else {
                "not ready"
            }
        );
    }
    Ok(if readiness.ready {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}
