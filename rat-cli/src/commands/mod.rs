//! One module per subcommand.

mod cancel;
mod config;
mod history;
mod init;
mod logs;
mod pipelines;
mod query;
mod rollback;
mod run;
mod runs;
mod schedules;
mod serve;
mod tables;

use rat_core::{Error, Result};
use rat_server::client::Client;

use crate::cli::{Cli, Command};
use crate::workspace::Place;

/// Where a command works: the local project, or a server.
pub(crate) enum Target {
    /// The project folder (and its config).
    Local(Place),
    /// A rat server.
    Remote(Client),
}

impl Target {
    /// The local project, or an error saying `what` needs one.
    fn local(&self, what: &str) -> Result<&Place> {
        match self {
            Target::Local(place) => Ok(place),
            Target::Remote(_) => Err(Error::invalid(format!(
                "`rat {what}` works on a local project; it is not available with --server"
            ))
            .with_context("field", "--server")),
        }
    }
}

/// Runs the command and returns the process exit code.
pub(crate) async fn dispatch(cli: Cli) -> Result<u8> {
    let place = Place {
        project: cli.project.clone(),
        config: cli.config.clone(),
    };
    let target = match &cli.server {
        Some(url) => {
            let token = std::env::var("RAT_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .map(secrecy::SecretString::from);
            Target::Remote(Client::new(url, token)?)
        }
        None => Target::Local(place),
    };
    let target = &target;
    match cli.command {
        Command::Init { dir } => {
            target.local("init")?;
            init::init(&dir, cli.json)
        }
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
            run::run(target, options, cli.json, cli.verbose).await
        }
        Command::Runs {
            table,
            status,
            limit,
        } => runs::runs(target, table, status, limit, cli.json).await,
        Command::Logs { run, follow } => logs::logs(target, &run, follow, cli.json).await,
        Command::Cancel { run } => cancel::cancel(target, &run, cli.json).await,
        Command::Config => config::config(target.local("config")?, cli.json),
        Command::Tables => tables::tables(target, cli.json).await,
        Command::Query { sql, max_rows } => query::query(target, &sql, max_rows, cli.json).await,
        Command::History { table } => {
            history::history(target.local("history")?, &table, cli.json).await
        }
        Command::Rollback { table, to } => {
            rollback::rollback(target.local("rollback")?, &table, to, cli.json).await
        }
        Command::Pipelines { namespace } => {
            pipelines::pipelines(target, namespace.as_deref(), cli.json).await
        }
        Command::Schedules { action } => schedules::schedules(target, action, cli.json).await,
        Command::Serve { listen } => serve::serve(target.local("serve")?, listen).await,
    }
}
