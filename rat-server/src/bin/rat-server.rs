//! `rat-server`: the reference HTTP server over a project folder.
//!
//! ```text
//! rat-server --project examples/sample-project --listen 127.0.0.1:8080
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use rat_server::ServerSetup;

const USAGE: &str = "usage: rat-server [--project DIR] [--listen ADDR] [--workers N]";

struct Args {
    project: PathBuf,
    listen: SocketAddr,
    workers: Option<usize>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        project: PathBuf::from("."),
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        workers: None,
    };
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let value = iter
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--project" => parsed.project = PathBuf::from(value),
            "--listen" => {
                parsed.listen = value.parse().map_err(|_| {
                    format!("--listen: '{value}' is not an address like 127.0.0.1:8080")
                })?;
            }
            "--workers" => {
                parsed.workers =
                    Some(
                        value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            format!("--workers: '{value}' is not a positive number")
                        })?,
                    );
            }
            _ => return Err(format!("unknown argument '{flag}'; {USAGE}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() {
    tracing_subscriber_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rat-server: {e}");
            std::process::exit(2);
        }
    };
    let mut setup = ServerSetup::embedded(&args.project);
    if let Some(workers) = args.workers {
        setup.pool.workers = workers;
    }
    if let Err(e) = serve(setup, args.listen).await {
        eprintln!("rat-server: {e}");
        std::process::exit(1);
    }
}

async fn serve(setup: ServerSetup, listen: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let server = setup.open().await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("rat-server: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, server.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    server.shutdown().await;
    Ok(())
}

/// Logs to stderr, filtered by `RUST_LOG` (warnings by default).
fn tracing_subscriber_init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
