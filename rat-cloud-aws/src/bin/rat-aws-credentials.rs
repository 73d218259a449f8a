//! `rat-aws-credentials`: prints storage credentials scoped to one
//! namespace in the AWS `credential_process` format — how a runner in an
//! ECS task gets its access without any secret in the task's request.
//!
//! ```text
//! rat-aws-credentials --role-arn ARN --bucket BUCKET --namespace NS
//!                     [--run-id ID] [--duration-seconds N] [--external-id ID]
//! ```
//!
//! Its own identity is whatever the standard AWS provider chain finds (the
//! ECS task role, web identity, a profile); it assumes `--role-arn` with a
//! session policy limited to `BUCKET/NS/*` ([`rat_cloud_aws::StsCredentialVendor`]).
//! Use it as the runner's S3 credentials:
//! `credentials: {type: process, command: [rat-aws-credentials, --role-arn, ..., --namespace, shop]}`.
//! Exit codes: 0 printed, 1 STS refused, 2 bad arguments.

use std::time::Duration;

use rat_cloud_aws::{StsCredentialVendor, StsVendorConfig};
use rat_core::{CredentialScope, CredentialVendor, Error};

const USAGE: &str = "usage: rat-aws-credentials --role-arn ARN --bucket BUCKET --namespace NS \
                     [--run-id ID] [--duration-seconds N] [--external-id ID]";

struct Args {
    config: StsVendorConfig,
    scope: CredentialScope,
}

fn parse(args: &[String]) -> Result<Args, Error> {
    let mut values = std::collections::HashMap::new();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let known = [
            "--role-arn",
            "--bucket",
            "--namespace",
            "--run-id",
            "--duration-seconds",
            "--external-id",
        ];
        if !known.contains(&flag.as_str()) {
            return Err(Error::invalid(format!(
                "unknown argument '{flag}'; {USAGE}"
            )));
        }
        let value = iter
            .next()
            .ok_or_else(|| Error::invalid(format!("{flag} needs a value; {USAGE}")))?;
        values.insert(flag.as_str(), value.clone());
    }
    let required = |name: &str| {
        values
            .get(name)
            .cloned()
            .ok_or_else(|| Error::invalid(format!("{name} is required; {USAGE}")))
    };
    let mut config = StsVendorConfig::new(required("--role-arn")?, required("--bucket")?);
    if let Some(secs) = values.get("--duration-seconds") {
        let secs: u64 = secs
            .parse()
            .map_err(|_| Error::invalid(format!("--duration-seconds: '{secs}' is not a number")))?;
        config.duration = Duration::from_secs(secs);
    }
    config.external_id = values.get("--external-id").cloned();
    let namespace = rat_core::ident::namespace(&required("--namespace")?)?;
    let run_id = match values.get("--run-id") {
        Some(id) => Some(id.parse()?),
        None => None,
    };
    Ok(Args {
        config,
        scope: CredentialScope { namespace, run_id },
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rat-aws-credentials: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let vended = runtime.block_on(async {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        StsCredentialVendor::new(&sdk, args.config)
            .vend(&args.scope)
            .await
    });
    match vended {
        Ok(c) => {
            let mut out = serde_json::json!({
                "Version": 1,
                "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret(),
            });
            if let Some(token) = &c.session_token {
                out["SessionToken"] = secrecy::ExposeSecret::expose_secret(token).into();
            }
            if let Some(at) = c.expires_at {
                out["Expiration"] = at.to_rfc3339().into();
            }
            println!("{out}");
        }
        Err(e) => {
            eprintln!("rat-aws-credentials: {e}");
            std::process::exit(1);
        }
    }
}
