//! `rat-aws-credentials`: prints storage credentials scoped to one
//! namespace in the AWS `credential_process` format — how a runner in an
//! ECS task gets its access without any secret in the task's request.
//!
//! ```text
//! rat-aws-credentials --role-arn ARN --bucket BUCKET [--namespace NS]
//!                     [--run-id ID] [--duration-seconds N] [--external-id ID]
//!                     [--kms-key-arn ARN]
//! rat-aws-credentials --role-arn ARN --bucket BUCKET --whole-bucket [...]
//! ```
//!
//! `--namespace` and `--run-id` default to `RAT_NAMESPACE` and `RAT_RUN_ID`,
//! which the ECS executor sets in every task, so one command line serves
//! every namespace. `--whole-bucket` is the platform's own access (a
//! server whose task role may only assume the vending role reads every
//! namespace's files with it); a run's credentials never use it.
//!
//! Its own identity is whatever the standard AWS provider chain finds (the
//! ECS task role, web identity, a profile); it assumes `--role-arn` with a
//! session policy limited to `BUCKET/NS/*` ([`rat_cloud_aws::StsCredentialVendor`]).
//! Use it as the runner's S3 credentials:
//! `credentials: {type: process, command: [rat-aws-credentials, --role-arn, ..., --bucket, lake]}`.
//! Exit codes: 0 printed, 1 STS refused, 2 bad arguments.

use std::time::Duration;

use rat_cloud_aws::{NAMESPACE_VARIABLE, RUN_ID_VARIABLE, StsCredentialVendor, StsVendorConfig};
use rat_core::{CredentialScope, CredentialVendor, Error};

const USAGE: &str = "usage: rat-aws-credentials --role-arn ARN --bucket BUCKET [--namespace NS] \
                     [--run-id ID] [--duration-seconds N] [--external-id ID] [--kms-key-arn ARN] \
                     [--whole-bucket] \
                     (--namespace and --run-id default to $RAT_NAMESPACE and $RAT_RUN_ID)";

struct Args {
    config: StsVendorConfig,
    /// `None`: the whole bucket (`--whole-bucket`).
    scope: Option<CredentialScope>,
}

fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Args, Error> {
    let mut values = std::collections::HashMap::new();
    let mut whole_bucket = false;
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let known = [
            "--role-arn",
            "--bucket",
            "--namespace",
            "--run-id",
            "--duration-seconds",
            "--external-id",
            "--kms-key-arn",
        ];
        if flag == "--whole-bucket" {
            whole_bucket = true;
            continue;
        }
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
    let flag_or_env = |name: &str, variable: Option<&str>| {
        values
            .get(name)
            .cloned()
            .or_else(|| variable.and_then(&env).filter(|v| !v.is_empty()))
    };
    let required = |name: &str, variable: Option<&str>| {
        flag_or_env(name, variable).ok_or_else(|| {
            let or = variable.map(|v| format!(" (or ${v})")).unwrap_or_default();
            Error::invalid(format!("{name}{or} is required; {USAGE}"))
        })
    };
    let mut config =
        StsVendorConfig::new(required("--role-arn", None)?, required("--bucket", None)?);
    if let Some(secs) = values.get("--duration-seconds") {
        let secs: u64 = secs
            .parse()
            .map_err(|_| Error::invalid(format!("--duration-seconds: '{secs}' is not a number")))?;
        config.duration = Duration::from_secs(secs);
    }
    config.external_id = values.get("--external-id").cloned();
    config.kms_key_arn = values.get("--kms-key-arn").cloned();
    if whole_bucket {
        if values.contains_key("--namespace") {
            return Err(Error::invalid(format!(
                "--whole-bucket and --namespace exclude each other; {USAGE}"
            )));
        }
        return Ok(Args {
            config,
            scope: None,
        });
    }
    let namespace =
        rat_core::ident::namespace(&required("--namespace", Some(NAMESPACE_VARIABLE))?)?;
    let run_id = match flag_or_env("--run-id", Some(RUN_ID_VARIABLE)) {
        Some(id) => Some(id.parse()?),
        None => None,
    };
    Ok(Args {
        config,
        scope: Some(CredentialScope { namespace, run_id }),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args, |name| std::env::var(name).ok()) {
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
        let vendor = StsCredentialVendor::new(&sdk, args.config);
        match &args.scope {
            Some(scope) => vendor.vend(scope).await,
            None => vendor.whole_bucket().await,
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn task_env(name: &str) -> Option<String> {
        match name {
            "RAT_NAMESPACE" => Some("shop".into()),
            "RAT_RUN_ID" => Some("0195f3a27c1e7b409d2a3c4f5e6a7b8c".into()),
            _ => None,
        }
    }

    #[test]
    fn the_run_comes_from_the_task_environment_unless_flags_name_it() {
        let base = args(&["--role-arn", "arn:aws:iam::1:role/r", "--bucket", "lake"]);
        let parsed = parse(&base, task_env).unwrap();
        let scope = parsed.scope.unwrap();
        assert_eq!(scope.namespace.as_str(), "shop");
        assert!(scope.run_id.is_some());

        let mut flagged = base.clone();
        flagged.extend(args(&["--namespace", "finance"]));
        assert_eq!(
            parse(&flagged, task_env)
                .unwrap()
                .scope
                .unwrap()
                .namespace
                .as_str(),
            "finance"
        );

        let err = parse(&base, |_| None).err().unwrap().to_string();
        assert!(
            err.contains("--namespace (or $RAT_NAMESPACE) is required"),
            "{err}"
        );
        let bad = parse(&base, |_| Some("ns1/*".into()))
            .err()
            .unwrap()
            .to_string();
        assert!(bad.contains("ns1/*"), "{bad}");
    }

    #[test]
    fn the_whole_bucket_needs_no_namespace_and_refuses_one() {
        let flags = args(&[
            "--role-arn",
            "arn:aws:iam::1:role/r",
            "--bucket",
            "lake",
            "--whole-bucket",
            "--kms-key-arn",
            "arn:aws:kms:us-east-1:1:key/k",
        ]);
        let parsed = parse(&flags, |_| None).unwrap();
        assert!(parsed.scope.is_none());
        assert_eq!(
            parsed.config.kms_key_arn.as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/k")
        );
        let mut both = flags.clone();
        both.extend(args(&["--namespace", "shop"]));
        let err = parse(&both, |_| None).err().unwrap().to_string();
        assert!(err.contains("exclude each other"), "{err}");
    }
}
