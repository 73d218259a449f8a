//! One module per subcommand.

mod cancel;
mod config;
mod history;
mod init;
mod logs;
mod query;
mod rollback;
mod run;
mod runs;
mod serve;
mod tables;

use rat_core::Result;

use crate::cli::{Cli, Command};

/// Runs the command and returns the process exit code.
pub(crate) async fn dispatch(cli: Cli) -> Result<u8> {
    let place = crate::workspace::Place {
        project: cli.project.clone(),
        config: cli.config.clone(),
    };
    let place = &place;
    match cli.command {
        Command::Init { dir } => init::init(&dir, cli.json),
        Command::Run {
            pipelines,
            isolate,
            workers,
            timeout,
            memory_limit,
            threads,
        } => {
            let timeout = timeout
                .map(|t| {
                    std::time::Duration::try_from_secs_f64(t)
                        .map_err(|_| rat_core::Error::invalid(format!("invalid --timeout {t}")))
                })
                .transpose()?;
            let options = run::RunOptions {
                pipelines,
                isolate,
                workers: usize::from(workers),
                limits: rat_core::RunLimits {
                    timeout,
                    memory_limit,
                    threads,
                },
            };
            run::run(place, options, cli.json, cli.verbose).await
        }
        Command::Runs {
            table,
            status,
            limit,
        } => runs::runs(place, table, status, limit, cli.json).await,
        Command::Logs { run, follow } => logs::logs(place, &run, follow, cli.json).await,
        Command::Cancel { run } => cancel::cancel(place, &run, cli.json).await,
        Command::Config => config::config(place, cli.json),
        Command::Tables => tables::tables(place, cli.json).await,
        Command::Query { sql, max_rows } => query::query(place, &sql, max_rows, cli.json).await,
        Command::History { table } => history::history(place, &table, cli.json).await,
        Command::Rollback { table, to } => rollback::rollback(place, &table, to, cli.json).await,
        Command::Serve { listen } => serve::serve(place, listen).await,
    }
}
