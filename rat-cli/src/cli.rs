//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// rat: SQL pipelines into audited Apache Iceberg tables, as easy as SQLite.
///
/// Exit codes: 0 success; 1 a run or command failed; 2 invalid input
/// (bad arguments, invalid project files), nothing was changed.
#[derive(Debug, Parser)]
#[command(name = "rat", version, about, long_about = None)]
pub(crate) struct Cli {
    /// The project folder (pipelines/, landing/; tables under .rat/).
    #[arg(
        long,
        short = 'p',
        global = true,
        env = "RAT_PROJECT",
        default_value = "."
    )]
    pub(crate) project: PathBuf,

    /// The lakehouse config (rat.yaml: storage, catalog); without it, the
    /// text of one in $RAT_CONFIG_YAML (a container's), else the embedded
    /// defaults under the project's .rat/. RAT__* variables override its
    /// fields.
    #[arg(long, short = 'c', global = true, env = "RAT_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// A rat server to work against (`http://host:8080`) instead of the
    /// local project; its token, if it needs one, comes from $RAT_TOKEN.
    #[arg(long, global = true, env = "RAT_SERVER")]
    pub(crate) server: Option<String>,

    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// More log output on stderr (-v: info, -vv: debug).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a working sample project (bronze, silver, gold) in DIR.
    Init {
        /// Folder to create the project in (must not hold a project yet).
        dir: PathBuf,
        /// Also a Python pipeline (gold.customer_bands, pipeline.py); its
        /// runs need an interpreter with pyarrow and duckdb (RAT_PYTHON).
        #[arg(long)]
        python: bool,
    },
    /// Run pipelines (all, or the ones named) in dependency order: the
    /// selection is validated as a whole first; independent pipelines run
    /// at once; what depends on a failure is skipped.
    Run {
        /// Pipelines as `layer.name` or `namespace.layer.name`; all when none.
        pipelines: Vec<String>,
        /// The namespace of the pipelines (`default` when absent).
        #[arg(long)]
        namespace: Option<String>,
        /// Also run what depends on the pipelines named.
        #[arg(long)]
        downstream: bool,
        /// Run each pipeline in its own rat-runner process (local only).
        #[arg(long)]
        isolate: bool,
        /// Pipelines running at once (4 unless the config says otherwise).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        workers: Option<u16>,
        /// Stop a run after this many seconds (it fails).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
        /// DuckDB memory limit per run, e.g. 2GB (with --isolate also an OS limit).
        #[arg(long, value_name = "SIZE")]
        memory_limit: Option<String>,
        /// DuckDB threads per run.
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Run pipelines' quality tests against their tables' current main
    /// (all pipelines, or the ones named); nothing is written. Exit 1 when
    /// an error-severity test fails or a table does not exist yet.
    Test {
        /// Pipelines as `layer.name` or `namespace.layer.name`; all when none.
        pipelines: Vec<String>,
        /// The namespace of the pipelines (`default` when absent).
        #[arg(long)]
        namespace: Option<String>,
        /// Only the tests of these names.
        #[arg(long = "only", value_name = "TEST")]
        only: Vec<String>,
    },
    /// Show the first rows a pipeline would write if it ran now, with the
    /// compiled SQL; nothing is written.
    Preview {
        /// The pipeline, `layer.name` or `namespace.layer.name`.
        pipeline: String,
        /// Most rows to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Preview this SQL file instead of the saved pipeline.sql.
        #[arg(long, value_name = "FILE")]
        sql: Option<PathBuf>,
    },
    /// Print the SQL a pipeline compiles to now and DuckDB's plan of it,
    /// without running it.
    Compile {
        /// The pipeline, `layer.name` or `namespace.layer.name`.
        pipeline: String,
    },
    /// Print the lakehouse config in effect (secrets show as references).
    Config,
    /// List recent runs, newest first.
    Runs {
        /// Only runs of this table.
        #[arg(long)]
        table: Option<String>,
        /// Only runs with this status (pending, running, success, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only runs submitted at this time or later (RFC 3339, or a date: its midnight UTC).
        #[arg(long)]
        since: Option<String>,
        /// Only runs submitted before this time (RFC 3339, or a date).
        #[arg(long)]
        until: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Print a run's log lines.
    Logs {
        /// The run id.
        run: String,
        /// Keep printing new lines until the run ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Ask a running run to stop (its branch is removed, main unchanged).
    Cancel {
        /// The run id.
        run: String,
    },
    /// List tables with their current snapshot and row count.
    Tables,
    /// Run a read-only SQL query over the tables' current snapshots.
    Query {
        /// One SELECT; tables are `layer.name` (or `namespace.layer.name`).
        sql: String,
        /// Most rows to print.
        #[arg(long, default_value_t = 100)]
        max_rows: usize,
    },
    /// Show what a table's main branch pointed at over time, newest first.
    History {
        /// The table, `layer.name` or `namespace.layer.name`.
        table: String,
    },
    /// Make an earlier snapshot current on main again (a new commit).
    Rollback {
        /// The table, `layer.name` or `namespace.layer.name`.
        table: String,
        /// The snapshot id to return to (see `rat history`).
        #[arg(long)]
        to: i64,
    },
    /// Keep tables small and fast: compact small files, expire snapshots
    /// older than the retention (7 days, keeping the last 10), remove files
    /// nothing references.
    Maintain {
        /// Tables, `layer.name` or `namespace.layer.name` (all when none).
        tables: Vec<String>,
        /// List what would be rewritten or removed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A pipeline's code versions (every save through the API), newest
    /// first; show one version's files, or make one the published code
    /// again (a new version).
    Versions {
        /// The pipeline, `layer.name` or `namespace.layer.name`.
        pipeline: String,
        /// Print this version's files.
        #[arg(long, conflicts_with = "rollback")]
        show: Option<u64>,
        /// Save this version's files as the pipeline's code again.
        #[arg(long)]
        rollback: Option<u64>,
        /// Why, recorded with the rollback's version.
        #[arg(long, short, requires = "rollback")]
        message: Option<String>,
        /// Most versions to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// List the pipelines of a namespace.
    Pipelines {
        /// The namespace (`default` when absent).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Schedules: list, add, delete (they fire while `rat serve` runs).
    Schedules {
        #[command(subcommand)]
        action: Option<ScheduleAction>,
    },
    /// Who you are to the project or server: id, roles, namespaces.
    Whoami,
    /// Whether the platform is ready (run store, catalog, storage); exit 0
    /// when it is: a container's health check (`--server
    /// http://127.0.0.1:8080 health`).
    Health,
    /// Share a table (`ns.layer.name`; a pattern `ns.layer.*` or `ns.*`
    /// for admins) with `user:ID` or `role:NAME`.
    Share {
        /// The table or pattern.
        object: String,
        /// `user:ID` or `role:NAME`.
        grantee: String,
        /// `read` (data, logs) or `write` (also code, runs, schedules).
        #[arg(long, default_value = "read", value_parser = parse_level)]
        level: rat_core::authz::Level,
    },
    /// Revoke a grant by its id (see `rat grants`).
    Unshare {
        /// The grant's id.
        id: String,
    },
    /// The grants you may see; with `--transfer TABLE --to OWNER`, give a
    /// table to another owner instead.
    Grants {
        /// Most grants to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// A table to give away.
        #[arg(long, requires = "to")]
        transfer: Option<String>,
        /// Its new owner's principal id.
        #[arg(long, requires = "transfer")]
        to: Option<String>,
    },
    /// The audit log, newest first: every change and every refused request
    /// (who, verb, object, outcome); an admin's verb.
    Audit {
        /// Only this principal's.
        #[arg(long)]
        principal: Option<String>,
        /// Only objects under this path (`/api/v1/pipelines/sales/`).
        #[arg(long)]
        object: Option<String>,
        /// Only this verb (`"DELETE /api/v1/sharing/{id}"`) or method.
        #[arg(long)]
        verb: Option<String>,
        /// Only `ok`, `denied` or `failed`.
        #[arg(long, value_parser = parse_outcome)]
        outcome: Option<rat_core::audit::AuditOutcome>,
        /// Only at or after this time (RFC 3339).
        #[arg(long, value_parser = parse_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only before this time (RFC 3339).
        #[arg(long, value_parser = parse_time)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// Most entries to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Namespaces: list, create, describe, members, rm.
    Namespaces {
        #[command(subcommand)]
        action: Option<NamespaceAction>,
    },
    /// Outgoing webhooks of a namespace, told when runs finish or fail,
    /// quality tests fail or schedules skip: list, add, rm, deliveries.
    Notifications {
        /// The namespace (`default` when absent).
        #[arg(long, global = true)]
        namespace: Option<String>,
        #[command(subcommand)]
        action: Option<NotificationAction>,
    },
    /// Landing zones, where raw files wait for pipelines: list, create,
    /// upload, ls, rm, preview, delete.
    Landing {
        #[command(subcommand)]
        action: Option<LandingAction>,
    },
    /// Serve the HTTP API over this project (the `server:` section of the
    /// config says how: run store, executor, auth, scheduler).
    Serve {
        /// Address to listen on (overrides server.listen, 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleAction {
    /// Run PIPELINE on a cron expression, after another pipeline succeeds,
    /// when a file lands in a zone, or when a webhook is called.
    #[command(group(clap::ArgGroup::new("trigger").required(true)))]
    Add {
        /// The pipeline, `layer.name` or `namespace.layer.name`.
        pipeline: String,
        /// A cron expression in UTC: 5 fields ("0 6 * * 1-5"), or 6 with
        /// seconds first ("*/30 * * * * *").
        #[arg(long, group = "trigger")]
        cron: Option<String>,
        /// Run after each success of this pipeline.
        #[arg(long, group = "trigger")]
        after: Option<String>,
        /// Run when a file lands in this zone of the pipeline's namespace.
        #[arg(long, group = "trigger")]
        landing: Option<String>,
        /// With --landing: only files whose name matches this glob.
        #[arg(long = "match", requires = "landing")]
        pattern: Option<String>,
        /// Run when POST /api/v1/webhooks/ID is called with the token this
        /// prints (once).
        #[arg(long, group = "trigger")]
        webhook: bool,
    },
    /// A schedule's firings, newest first: the run each started, or why
    /// it started none.
    Firings {
        /// The schedule's id.
        id: String,
        /// Most firings to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Delete a schedule by id.
    Delete {
        /// The schedule's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum NamespaceAction {
    /// Make a namespace.
    Create {
        /// Lowercase letters, digits and `_`, starting with a letter.
        name: String,
        /// What it holds.
        #[arg(long, short)]
        description: Option<String>,
    },
    /// Set (or, with an empty text, clear) a namespace's description.
    Describe {
        /// The namespace.
        name: String,
        /// The description.
        description: String,
    },
    /// Who discovers everything in a namespace; with --add or --remove
    /// (an admin's verbs), change that first.
    #[command(group(clap::ArgGroup::new("change").required(false)))]
    Members {
        /// The namespace.
        name: String,
        /// Make `user:ID` or `role:NAME` a member.
        #[arg(long, group = "change")]
        add: Option<String>,
        /// Remove a member.
        #[arg(long, group = "change")]
        remove: Option<String>,
    },
    /// Delete a namespace with its code, landing zones, schedules and
    /// hooks; refused while it holds pipelines or tables unless --force,
    /// which drops its tables and deletes their files too.
    Rm {
        /// The namespace.
        name: String,
        /// Also delete its pipelines and drop its tables.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum NotificationAction {
    /// Post events to URL, signed with a secret this prints (once).
    Add {
        /// An http(s) URL.
        url: String,
        /// Events: run_finished, run_failed, quality_failed,
        /// schedule_skipped (repeat, or comma-separated).
        #[arg(long = "event", required = true, value_delimiter = ',', value_parser = parse_event)]
        events: Vec<rat_core::EventKind>,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a hook with its deliveries.
    Rm {
        /// The hook's id.
        id: String,
    },
    /// A hook's deliveries, newest first, with their attempts.
    Deliveries {
        /// The hook's id.
        id: String,
        /// Most deliveries to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

fn parse_level(text: &str) -> Result<rat_core::authz::Level, String> {
    match text {
        "read" => Ok(rat_core::authz::Level::Read),
        "write" => Ok(rat_core::authz::Level::Write),
        other => Err(format!("'{other}' is not read or write")),
    }
}

fn parse_outcome(text: &str) -> Result<rat_core::audit::AuditOutcome, String> {
    text.parse().map_err(|e: rat_core::Error| e.to_string())
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("'{text}' is not an RFC 3339 time (2026-12-01T06:00:00Z): {e}"))
}

fn parse_event(text: &str) -> Result<rat_core::EventKind, String> {
    rat_core::EventKind::ALL
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| {
            format!("'{text}' is not run_finished, run_failed, quality_failed or schedule_skipped")
        })
}

#[derive(Debug, Subcommand)]
pub(crate) enum LandingAction {
    /// List landing zones with their file counts.
    List {
        /// Only this namespace's zones.
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Create a zone (`zone` or `namespace.zone`).
    Create {
        /// The zone: lowercase letters, digits and `_`.
        zone: String,
        /// What the zone receives.
        #[arg(long)]
        description: Option<String>,
        /// Refuse uploads of another format (csv, json, parquet).
        #[arg(long, value_parser = parse_format)]
        format: Option<rat_core::project::FileFormat>,
        /// Move files a successful run read to the zone's _processed/.
        #[arg(long)]
        archive: bool,
    },
    /// Upload local files into a zone (streamed; each keeps its name).
    Upload {
        /// The zone.
        zone: String,
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List a zone's files waiting to be read.
    Ls {
        /// The zone.
        zone: String,
        /// List the archive (_processed/) instead.
        #[arg(long)]
        archived: bool,
    },
    /// Delete files from a zone.
    Rm {
        /// The zone.
        zone: String,
        /// The files.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Show a file's first rows and the columns DuckDB detects.
    Preview {
        /// The zone.
        zone: String,
        /// The file.
        file: String,
        /// How many rows.
        #[arg(long, default_value_t = 20)]
        rows: u32,
    },
    /// Delete a zone with all its files and archive.
    Delete {
        /// The zone.
        zone: String,
    },
}

fn parse_format(text: &str) -> Result<rat_core::project::FileFormat, String> {
    match text {
        "csv" => Ok(rat_core::project::FileFormat::Csv),
        "json" => Ok(rat_core::project::FileFormat::Json),
        "parquet" => Ok(rat_core::project::FileFormat::Parquet),
        other => Err(format!("'{other}' is not csv, json or parquet")),
    }
}
