//! `rat`: run SQL pipelines into Iceberg tables from the command line.

mod cli;
mod commands;
mod output;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    output::init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(output::EXIT_FAILURE);
        }
    };
    let json = cli.json;
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => ExitCode::from(output::report_error(&err, json)),
    }
}
