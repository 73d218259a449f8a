//! One module per subcommand.

mod history;
mod init;
mod query;
mod rollback;
mod run;
mod tables;

use rat_core::Result;

use crate::cli::{Cli, Command};

/// Runs the command and returns the process exit code.
pub(crate) async fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Init { dir } => init::init(&dir, cli.json),
        Command::Run { pipelines } => {
            run::run(&cli.project, &pipelines, cli.json, cli.verbose).await
        }
        Command::Tables => tables::tables(&cli.project, cli.json).await,
        Command::Query { sql, max_rows } => {
            query::query(&cli.project, &sql, max_rows, cli.json).await
        }
        Command::History { table } => history::history(&cli.project, &table, cli.json).await,
        Command::Rollback { table, to } => {
            rollback::rollback(&cli.project, &table, to, cli.json).await
        }
    }
}
