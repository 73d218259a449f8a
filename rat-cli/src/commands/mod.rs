//! One module per subcommand. Every command but `init`, `config` and
//! `serve` talks to a [`PlatformApi`](rat_server::api::PlatformApi): the
//! local project's or a server's ([`crate::workspace::open`]).

mod cancel;
mod config;
mod health;
mod history;
mod init;
mod landing;
mod logs;
mod maintain;
mod namespaces;
mod notifications;
mod pipelines;
mod preview;
mod query;
mod rollback;
mod run;
mod runs;
mod schedules;
mod serve;
mod sharing;
mod tables;
mod test;
mod versions;

use rat_core::{Error, Result, RunFilter, RunStatus, TableRef};

use crate::cli::{Cli, Command};
use crate::workspace::{LocalExecution, Place, open};

/// Runs the command and returns the process exit code.
pub(crate) async fn dispatch(cli: Cli) -> Result<u8> {
    let place = Place::new(cli.project.clone(), cli.config.clone());
    let server = cli.server.as_deref();
    let local_only = |what: &str| match server {
        Some(_) => Err(Error::invalid(format!(
            "`rat {what}` works on a local project; it is not available with --server"
        ))
        .with_context("field", "--server")),
        None => Ok(()),
    };
    let json = cli.json;
    let api = |execution| open(&place, server, execution);
    let table = |name: &str| name.parse::<TableRef>();
    match cli.command {
        Command::Init { dir, python } => {
            local_only("init")?;
            init::init(&dir, python, json)
        }
        Command::Config => {
            local_only("config")?;
            config::config(&place, json)
        }
        Command::Serve { listen } => {
            local_only("serve")?;
            serve::serve(&place, listen).await
        }
        Command::Run {
            pipelines,
            namespace,
            downstream,
            isolate,
            workers,
            timeout,
            memory_limit,
            threads,
        } => {
            let timeout = timeout
                .map(|t| {
                    std::time::Duration::try_from_secs_f64(t)
                        .map_err(|_| Error::invalid(format!("invalid --timeout {t}")))
                })
                .transpose()?;
            let limits = rat_core::RunLimits {
                timeout,
                memory_limit,
                threads,
            };
            limits.validate()?;
            let workers = workers.map(usize::from);
            let execution = LocalExecution { isolate, workers };
            let options = run::RunOptions {
                pipelines,
                namespace,
                downstream,
                workers,
                limits,
            };
            run::run(api(execution).await?, options, json, cli.verbose).await
        }
        Command::Test {
            pipelines,
            namespace,
            only,
        } => {
            let api = api(LocalExecution::default()).await?;
            let selection = test::Selection {
                pipelines,
                namespace,
                only,
            };
            test::test(api.as_ref(), selection, json).await
        }
        Command::Preview {
            pipeline,
            limit,
            sql,
        } => {
            let api = api(LocalExecution::default()).await?;
            preview::preview(
                api.as_ref(),
                &table(&pipeline)?,
                limit,
                sql.as_deref(),
                json,
            )
            .await
        }
        Command::Compile { pipeline } => {
            let api = api(LocalExecution::default()).await?;
            preview::compile(api.as_ref(), &table(&pipeline)?, json).await
        }
        Command::Runs {
            table,
            status,
            since,
            until,
            limit,
        } => {
            let filter = RunFilter {
                table: table.map(|t| t.parse::<TableRef>()).transpose()?,
                statuses: status
                    .map(|s| s.parse::<RunStatus>())
                    .transpose()?
                    .into_iter()
                    .collect(),
                since: since
                    .map(|t| RunFilter::parse_time("--since", &t))
                    .transpose()?,
                until: until
                    .map(|t| RunFilter::parse_time("--until", &t))
                    .transpose()?,
                limit: Some(limit),
                ..RunFilter::default()
            };
            let api = api(LocalExecution::default()).await?;
            runs::runs(api.as_ref(), &filter, json).await
        }
        Command::Logs { run, follow } => {
            let api = api(LocalExecution::default()).await?;
            logs::logs(api.as_ref(), &run, follow, json).await
        }
        Command::Cancel { run } => {
            let api = api(LocalExecution::default()).await?;
            cancel::cancel(api.as_ref(), &run, json).await
        }
        Command::Tables => {
            tables::tables(api(LocalExecution::default()).await?.as_ref(), json).await
        }
        Command::Query { sql, max_rows } => {
            let api = api(LocalExecution::default()).await?;
            query::query(api.as_ref(), &sql, max_rows, json).await
        }
        Command::History { table: name } => {
            let api = api(LocalExecution::default()).await?;
            history::history(api.as_ref(), &table(&name)?, json).await
        }
        Command::Rollback { table: name, to } => {
            let api = api(LocalExecution::default()).await?;
            rollback::rollback(api.as_ref(), &table(&name)?, to, json).await
        }
        Command::Maintain { tables, dry_run } => {
            let api = api(LocalExecution::default()).await?;
            let tables = tables
                .iter()
                .map(|t| table(t))
                .collect::<Result<Vec<_>>>()?;
            maintain::maintain(api.as_ref(), tables, dry_run, json).await
        }
        Command::Pipelines { namespace } => {
            let api = api(LocalExecution::default()).await?;
            pipelines::pipelines(api.as_ref(), namespace.as_deref(), json).await
        }
        Command::Versions {
            pipeline,
            show,
            rollback,
            message,
            limit,
        } => {
            let api = api(LocalExecution::default()).await?;
            let table = table(&pipeline)?;
            let action = match (show, rollback) {
                (Some(n), _) => versions::Action::Show(n),
                (_, Some(n)) => versions::Action::Rollback(n, message),
                _ => versions::Action::List(limit),
            };
            versions::versions(api.as_ref(), &table, action, json).await
        }
        Command::Health => {
            let api = api(LocalExecution::default()).await?;
            health::health(api.as_ref(), json).await
        }
        Command::Whoami => {
            let api = api(LocalExecution::default()).await?;
            namespaces::whoami(api.as_ref(), json).await
        }
        Command::Share {
            object,
            grantee,
            level,
        } => {
            let api = api(LocalExecution::default()).await?;
            let grant = rat_server::api::NewGrant {
                object,
                grantee,
                level,
            };
            sharing::share(api.as_ref(), &grant, json).await
        }
        Command::Unshare { id } => {
            let api = api(LocalExecution::default()).await?;
            sharing::unshare(api.as_ref(), &id, json).await
        }
        Command::Grants {
            limit,
            transfer,
            to,
        } => {
            let api = api(LocalExecution::default()).await?;
            match (transfer, to) {
                (Some(table), Some(owner)) => {
                    let transfer = rat_server::api::Transfer { table, owner };
                    sharing::transfer(api.as_ref(), &transfer, json).await
                }
                _ => sharing::grants(api.as_ref(), limit, json).await,
            }
        }
        Command::Audit {
            principal,
            object,
            verb,
            outcome,
            since,
            until,
            limit,
        } => {
            let api = api(LocalExecution::default()).await?;
            let query = rat_server::api::AuditQuery {
                principal,
                object,
                verb,
                outcome,
                since,
                until,
            };
            sharing::audit(api.as_ref(), &query, limit, json).await
        }
        Command::Namespaces { action } => {
            let api = api(LocalExecution::default()).await?;
            namespaces::namespaces(api.as_ref(), action, json).await
        }
        Command::Notifications { namespace, action } => {
            let api = api(LocalExecution::default()).await?;
            let namespace = namespace.as_deref().unwrap_or(rat_core::DEFAULT_NAMESPACE);
            notifications::notifications(api.as_ref(), namespace, action, json).await
        }
        Command::Landing { action } => {
            let api = api(LocalExecution::default()).await?;
            landing::landing(api.as_ref(), action, json).await
        }
        Command::Schedules { action } => {
            let api = api(LocalExecution::default()).await?;
            schedules::schedules(api.as_ref(), action, json).await
        }
    }
}
