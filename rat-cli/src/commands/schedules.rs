//! `rat schedules`: list, add and delete a server's schedules (a local
//! project has no scheduler).

use rat_core::{Error, Result, Trigger};
use rat_server::api::ScheduleRequest;
use serde_json::json;

use super::Target;
use crate::cli::ScheduleAction;
use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn schedules(
    target: &Target,
    action: Option<ScheduleAction>,
    json: bool,
) -> Result<u8> {
    let Target::Remote(client) = target else {
        return Err(
            Error::invalid("schedules live on a server: use --server URL (or RAT_SERVER)")
                .with_context("field", "--server"),
        );
    };
    match action {
        None => {
            let schedules = client.schedules().await?;
            if json {
                print_json(&schedules);
            } else if schedules.is_empty() {
                println!("No schedules yet.");
            } else {
                let rows: Vec<Vec<String>> = schedules
                    .iter()
                    .map(|s| {
                        let when = match &s.trigger {
                            Trigger::Cron { expression } => format!("cron {expression}"),
                            Trigger::AfterUpstream { upstream } => format!("after {upstream}"),
                        };
                        let next = s
                            .next_fire_at
                            .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string());
                        vec![
                            s.id.clone(),
                            s.pipeline.to_string(),
                            when,
                            if s.enabled { "yes" } else { "no" }.into(),
                            next,
                        ]
                    })
                    .collect();
                print_table(
                    &["id", "pipeline", "trigger", "enabled", "next (UTC)"],
                    &rows,
                );
            }
        }
        Some(ScheduleAction::Add {
            pipeline,
            cron,
            after,
        }) => {
            let request = ScheduleRequest {
                pipeline,
                cron,
                after,
                enabled: true,
            };
            let created = client.create_schedule(&request).await?;
            if json {
                print_json(&created);
            } else {
                println!("schedule {} added for {}", created.id, created.pipeline);
            }
        }
        Some(ScheduleAction::Delete { id }) => {
            client.delete_schedule(&id).await?;
            if json {
                print_json(&json!({"id": id, "deleted": true}));
            } else {
                println!("schedule {id} deleted");
            }
        }
    }
    Ok(EXIT_OK)
}
