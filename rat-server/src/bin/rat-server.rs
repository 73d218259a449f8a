//! `rat-server`: the reference HTTP server, composed from `rat.yaml`.
//!
//! ```text
//! rat-server --project examples/sample-project [--config rat.yaml] [--listen 127.0.0.1:8080]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use rat_server::ServerSetup;

/// The rat HTTP server: pipelines, runs, live logs, tables, schedules.
#[derive(Debug, Parser)]
#[command(name = "rat-server", version)]
struct Args {
    /// The project folder (run records and process runner files in its .rat/).
    #[arg(long, short = 'p', env = "RAT_PROJECT", default_value = ".")]
    project: PathBuf,
    /// rat.yaml: storage, catalog and the server: section; embedded
    /// defaults over the project folder without it.
    #[arg(long, short = 'c', env = "RAT_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (overrides server.listen).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() {
    init_logging();
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("rat-server: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (setup, listen) =
        ServerSetup::load(&args.project, args.config.as_deref(), std::env::vars())?;
    rat_server::serve(setup, args.listen.unwrap_or(listen), shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Logs to stderr, filtered by `RUST_LOG` (warnings by default).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A closed stderr drops log lines; reporting that would panic.
        .log_internal_errors(false)
        .init();
}
