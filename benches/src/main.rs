//! rat's benchmarks: each prints a table of measurements and ratios against
//! a baseline measured in the same process, interleaved, so machine noise
//! hits both sides alike.
//!
//! ```text
//! cargo run -p rat-benches -- full-refresh [--rows N] [--repeat K]
//! cargo run -p rat-benches -- upsert [--rows N] [--repeat K] [--consecutive C]
//! cargo run -p rat-benches -- executors [--runs N]
//! cargo run -p rat-benches -- remote [--rows N] [--repeat K]   # needs scripts/test-services.sh start
//! cargo run -p rat-benches -- server [--submissions N]
//! cargo run -p rat-benches -- query-scale [--tables N] [--repeat K]
//! cargo run -p rat-benches -- append-history [--runs N] [--scans K]
//! cargo run -p rat-benches -- python [--runs N] [--rows R] [--repeat K]   # RAT_PYTHON: pyarrow + duckdb; needs rat-runner
//! cargo run -p rat-benches -- upload [--mib N] [--repeat K]
//! cargo run -p rat-benches -- authz [--grants N] [--repeat K]
//! cargo run -p rat-benches -- ui-runs [--runs N] [--repeat K]
//! cargo run -p rat-benches -- ui-lineage [--pipelines N] [--repeat K]   # needs the test venv and Chromium
//! ```

mod append_history;
mod authz;
mod executors;
mod full_refresh;
mod python;
mod query_scale;
mod remote;
mod report;
mod server;
mod setup;
mod ui_lineage;
mod ui_runs;
mod upload;
mod upsert;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        bail!(
            "usage: rat-benches full-refresh|upsert|remote [--rows N] [--repeat K] [--consecutive C] | executors [--runs N] | server [--submissions N] | query-scale [--tables N] [--repeat K] | append-history [--runs N] [--scans K] | python [--runs N] [--rows R] [--repeat K] | upload [--mib N] [--repeat K] | authz [--grants N] [--repeat K]"
        );
    };
    let flag = |flag: &str, default: usize| -> Result<usize> {
        match args.iter().position(|a| a == flag) {
            Some(i) => Ok(args
                .get(i + 1)
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?
                .replace('_', "")
                .parse()?),
            None => Ok(default),
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    match name.as_str() {
        "full-refresh" => runtime.block_on(full_refresh::run(
            flag("--rows", 10_000_000)?,
            flag("--repeat", 3)?,
        )),
        "upsert" => runtime.block_on(upsert::run(
            flag("--rows", 10_000_000)?,
            flag("--repeat", 3)?,
            flag("--consecutive", 30)?,
        )),
        "executors" => runtime.block_on(executors::run(flag("--runs", 50)?)),
        "remote" => runtime.block_on(remote::run(
            flag("--rows", 10_000_000)?,
            flag("--repeat", 3)?,
        )),
        "server" => runtime.block_on(server::run(flag("--submissions", 500)?)),
        "append-history" => runtime.block_on(append_history::run(
            flag("--runs", 1000)?,
            flag("--scans", 5)?,
        )),
        "python" => runtime.block_on(python::run(
            flag("--runs", 20)?,
            flag("--rows", 10_000_000)?,
            flag("--repeat", 3)?,
        )),
        "upload" => runtime.block_on(upload::run(flag("--mib", 1024)?, flag("--repeat", 3)?)),
        // The server half of `upload`, in its own process.
        "upload-server" => {
            let dir = args
                .get(1)
                .ok_or_else(|| anyhow::anyhow!("upload-server DIR"))?;
            runtime.block_on(upload::serve(std::path::Path::new(dir)))
        }
        "authz" => runtime.block_on(authz::run(
            flag("--grants", 10_000)?,
            flag("--repeat", 200)?,
        )),
        "query-scale" => runtime.block_on(query_scale::run(
            flag("--tables", 2000)?,
            flag("--repeat", 15)?,
        )),
        "ui-lineage" => runtime.block_on(ui_lineage::run(
            flag("--pipelines", 500)?,
            flag("--repeat", 5)?,
        )),
        "ui-runs" => runtime.block_on(ui_runs::run(flag("--runs", 10_000)?, flag("--repeat", 20)?)),
        other => {
            bail!(
                "unknown benchmark '{other}' (known: full-refresh, upsert, executors, remote, server, query-scale, append-history, python, upload, authz, ui-runs, ui-lineage)"
            )
        }
    }
}
