//! Runs a namespace's pipelines on ECS Fargate: see the crate docs
//! (`src/lib.rs`) and the README's "rat on AWS" section.
//!
//! ```text
//! export RAT_FARGATE_CLUSTER=rat RAT_FARGATE_SUBNETS=subnet-1,subnet-2 ...
//! cargo run -p rat-example-aws-fargate -- --upload examples/sample-project
//! ```

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use rat_core::{Executor, LogLevel, RunStatus};
use rat_example_aws_fargate::{Aws, Fargate, Settings};

#[derive(Debug, Parser)]
#[command(about = "Run a rat project's pipelines as ECS Fargate tasks")]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    /// Upload this project folder to the namespace's prefix first.
    #[arg(long)]
    upload: Option<PathBuf>,
    /// Pipelines to run (`layer.name`); all of them when none.
    pipelines: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // Region, credentials and endpoints from the standard chain
    // (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_ECS, the instance role...).
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let aws = Aws {
        ecs: sdk.clone(),
        sts: sdk,
    };
    let fargate = Fargate::start(&cli.settings, &aws).await?;
    if let Some(project) = &cli.upload {
        let files = fargate.upload(project).await?;
        println!(
            "uploaded {files} files to namespace {}",
            fargate.namespace()
        );
    }
    let plan = fargate.plan(&cli.pipelines).await?;
    for (done, table) in plan.iter().enumerate() {
        println!("[{}/{}] {table}", done + 1, plan.len());
        let run = fargate.submit(table).await?;
        let print = |line: &rat_core::LogRecord| {
            if line.level >= LogLevel::Info {
                println!("    {}", line.message);
            }
        };
        let record = tokio::select! {
            record = fargate.follow(&run, print) => record?,
            _ = tokio::signal::ctrl_c() => {
                // StopTask with a reason; the run ends cancelled.
                fargate.executor().cancel(&run).await?;
                fargate.follow(&run, print).await?
            }
        };
        if record.status != RunStatus::Success {
            let why = record.error.map(|e| e.message).unwrap_or_default();
            let skipped = plan.len() - done - 1;
            anyhow::bail!("{table} {}: {why} ({skipped} skipped)", record.status);
        }
    }
    println!("{} pipelines succeeded", plan.len());
    Ok(())
}
