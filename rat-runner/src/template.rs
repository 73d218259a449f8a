//! Jinja templating of pipeline and test SQL (minijinja, strict undefined),
//! with the context of PIPELINES.md.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, UndefinedBehavior};
use rat_core::{Error, ErrorKind, Identifier, MergeStrategy, Result, TableRef};

use crate::duck::{landing_view_name, quote_ident, table_view_name};

/// The names a template may use besides its own `set` variables.
const CONTEXT_NAMES: [&str; 11] = [
    "ref",
    "this",
    "is_incremental",
    "is_append_only",
    "is_delete_insert",
    "is_scd2",
    "is_snapshot",
    "watermark_value",
    "run_started_at",
    "landing_zone",
    // Jinja's own globals.
    "range",
];

/// What a template sees.
#[derive(Debug, Clone)]
pub struct TemplateContext {
    /// The pipeline's own table (`this`; also the namespace `ref('layer.name')` uses).
    pub table: TableRef,
    /// The effective merge strategy.
    pub strategy: MergeStrategy,
    /// `max(watermark_column)` on `main`, as text; `None` on the first run.
    pub watermark_value: Option<String>,
    /// When the run started.
    pub run_started_at: DateTime<Utc>,
}

/// Which version of a table a `ref()` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AsOf {
    /// A snapshot by id.
    Snapshot(i64),
    /// The snapshot `main` pointed at, at that time.
    Time(DateTime<Utc>),
}

impl AsOf {
    /// Parses the `as_of` argument: an integer is a snapshot id, text is a
    /// UTC time (`2024-06-01`, `2024-06-01 10:00:00`, RFC 3339).
    pub fn parse(value: &Value) -> std::result::Result<Self, String> {
        if let Some(id) = value.as_i64() {
            return Ok(AsOf::Snapshot(id));
        }
        let text = value
            .as_str()
            .ok_or_else(|| format!("as_of must be a snapshot id or a time, not {value}"))?
            .trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(AsOf::Time(t.with_timezone(&Utc)));
        }
        for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
                return Ok(AsOf::Time(t.and_utc()));
            }
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(AsOf::Time(d.and_time(chrono::NaiveTime::MIN).and_utc()));
        }
        Err(format!(
            "as_of '{text}' is neither a snapshot id nor a time like 2024-06-01 10:00:00"
        ))
    }
}

/// What a `ref()` names: a table, at `main` or as of a snapshot or time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefTarget {
    /// The table.
    pub table: TableRef,
    /// `None`: the current snapshot on `main`.
    pub as_of: Option<AsOf>,
}

impl RefTarget {
    /// The current version of `table`.
    pub fn current(table: TableRef) -> Self {
        Self { table, as_of: None }
    }

    /// The view the template refers to: `"ns"."layer"."name"`, or
    /// `"ns"."layer"."name@<snapshot or time>"` for a past version.
    pub fn view_name(&self) -> String {
        match self.as_of {
            None => table_view_name(&self.table),
            Some(as_of) => {
                let suffix = match as_of {
                    AsOf::Snapshot(id) => id.to_string(),
                    AsOf::Time(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                };
                format!(
                    "{}.{}.{}",
                    quote_ident(self.table.namespace.as_str()),
                    quote_ident(self.table.layer.as_str()),
                    quote_ident(&format!("{}@{suffix}", self.table.name))
                )
            }
        }
    }
}

/// A rendered template and what it referenced.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The SQL.
    pub sql: String,
    /// What `ref()` named (the pipeline's own table included when used).
    pub refs: BTreeSet<RefTarget>,
    /// Landing zones named by `landing_zone()`.
    pub landing_zones: BTreeSet<Identifier>,
    /// Whether the SQL reads the target table's current state (`this`,
    /// `watermark_value`, or a `ref()` to itself), so its result depends on
    /// where `main` is.
    pub reads_target: bool,
}

/// Renders `source` (the text of `file`) with `ctx`. Errors name the file and,
/// when known, the line.
///
/// ```
/// use rat_core::{MergeStrategy, TableRef};
/// use rat_runner::template::{TemplateContext, render};
///
/// let ctx = TemplateContext {
///     table: "silver.orders".parse().unwrap(),
///     strategy: MergeStrategy::Incremental,
///     watermark_value: Some("2024-01-01".into()),
///     run_started_at: chrono::Utc::now(),
/// };
/// let sql = "SELECT * FROM {{ ref('bronze.orders') }}\n{% if is_incremental() %}WHERE ts > '{{ watermark_value }}'{% endif %}";
/// let out = render(sql, "pipeline.sql", &ctx).unwrap();
/// assert!(out.sql.contains(r#""default"."bronze"."orders""#));
/// assert!(out.sql.contains("2024-01-01"));
/// assert!(render("SELECT {{ nope }}", "p.sql", &ctx).unwrap_err().to_string().contains("nope"));
/// ```
pub fn render(source: &str, file: &str, ctx: &TemplateContext) -> Result<Rendered> {
    let refs = Arc::new(Mutex::new(BTreeSet::new()));
    let zones = Arc::new(Mutex::new(BTreeSet::new()));
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);

    let namespace = ctx.table.namespace.to_string();
    let refs_in = Arc::clone(&refs);
    env.add_function(
        "ref",
        move |name: &str, kwargs: Kwargs| -> std::result::Result<Value, minijinja::Error> {
            let invalid =
                |msg: String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg);
            let table =
                TableRef::parse(name, &namespace).map_err(|e| invalid(e.message().to_owned()))?;
            let as_of = kwargs
                .get::<Option<Value>>("as_of")?
                .map(|v| AsOf::parse(&v).map_err(invalid))
                .transpose()?;
            kwargs.assert_all_used()?;
            let target = RefTarget { table, as_of };
            let view = target.view_name();
            refs_in.lock().expect("ref set").insert(target);
            Ok(Value::from_safe_string(view))
        },
    );
    let zones_in = Arc::clone(&zones);
    env.add_function(
        "landing_zone",
        move |zone: &str| -> std::result::Result<Value, minijinja::Error> {
            let zone = Identifier::new(zone).map_err(|e| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("invalid landing zone: {}", e.message()),
                )
            })?;
            let view = landing_view_name(zone.as_str());
            zones_in.lock().expect("zone set").insert(zone);
            Ok(Value::from_safe_string(view))
        },
    );
    for strategy in [
        MergeStrategy::Incremental,
        MergeStrategy::AppendOnly,
        MergeStrategy::DeleteInsert,
        MergeStrategy::Scd2,
        MergeStrategy::Snapshot,
    ] {
        let is = ctx.strategy == strategy;
        env.add_function(format!("is_{strategy}"), move || is);
    }
    env.add_global("this", Value::from_safe_string(table_view_name(&ctx.table)));
    env.add_global(
        "watermark_value",
        ctx.watermark_value
            .clone()
            .map_or(Value::from(()), Value::from),
    );
    env.add_global(
        "run_started_at",
        ctx.run_started_at
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
    );

    let template = env
        .template_from_named_str(file, source)
        .map_err(|e| template_error(e, file))?;
    let used = template.undeclared_variables(false);
    if let Some(unknown) = used
        .iter()
        .filter(|name| !CONTEXT_NAMES.contains(&name.as_str()))
        .min()
    {
        let mut err = Error::invalid(format!("undefined variable '{unknown}' in template"))
            .with_context("file", file);
        if let Some(line) = line_of(source, unknown) {
            err = err.with_context("line", line);
        }
        return Err(err);
    }
    let sql = template
        .render(minijinja::context! {})
        .map_err(|e| template_error(e, file))?;
    let refs = std::mem::take(&mut *refs.lock().expect("ref set"));
    let landing_zones = std::mem::take(&mut *zones.lock().expect("zone set"));
    let reads_target = used.contains("this")
        || used.contains("watermark_value")
        || refs.iter().any(|r| r.table == ctx.table);
    Ok(Rendered {
        sql,
        refs,
        landing_zones,
        reads_target,
    })
}

/// The first line where `name` appears as a whole word inside `{{ }}` or `{% %}`.
fn line_of(source: &str, name: &str) -> Option<usize> {
    source
        .lines()
        .position(|line| {
            line.match_indices(name).any(|(i, _)| {
                let before = line[..i].chars().next_back();
                let after = line[i + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word(before) && !word(after) && (line.contains("{{") || line.contains("{%"))
            })
        })
        .map(|i| i + 1)
}

fn template_error(err: minijinja::Error, file: &str) -> Error {
    let detail = err.detail().map(str::to_owned).unwrap_or_default();
    let kind = err.kind().to_string();
    let message = if detail.is_empty() {
        format!("template error: {kind}")
    } else {
        format!("template error: {kind}: {detail}")
    };
    let mut out = Error::new(ErrorKind::InvalidInput, message).with_context("file", file);
    if let Some(line) = err.line() {
        out = out.with_context("line", line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(strategy: MergeStrategy, watermark: Option<&str>) -> TemplateContext {
        TemplateContext {
            table: "gold.revenue".parse().unwrap(),
            strategy,
            watermark_value: watermark.map(str::to_owned),
            run_started_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn records_refs_and_zones() {
        let sql = "SELECT * FROM {{ ref('silver.orders') }} JOIN {{ ref('other.bronze.x') }} USING (id) JOIN {{ landing_zone('drops') }} USING (id)";
        let out = render(sql, "p.sql", &ctx(MergeStrategy::FullRefresh, None)).unwrap();
        let refs: Vec<String> = out.refs.iter().map(|t| t.table.to_string()).collect();
        assert_eq!(refs, ["default.silver.orders", "other.bronze.x"]);
        assert_eq!(out.landing_zones.len(), 1);
        assert!(!out.reads_target);
    }

    #[test]
    fn refs_can_travel_in_time() {
        let c = ctx(MergeStrategy::FullRefresh, None);
        let sql = "SELECT * FROM {{ ref('silver.a', as_of=42) }} JOIN {{ ref('silver.a', as_of='2024-06-01 10:00:00') }} USING (id) JOIN {{ ref('silver.a') }} USING (id)";
        let out = render(sql, "p.sql", &c).unwrap();
        let as_of: Vec<Option<AsOf>> = out.refs.iter().map(|r| r.as_of).collect();
        assert_eq!(as_of.len(), 3);
        assert!(out.sql.contains(r#""a@42""#), "{}", out.sql);
        assert!(
            out.sql.contains(r#""a@2024-06-01T10:00:00.000000Z""#),
            "{}",
            out.sql
        );
        for bad in ["as_of='yesterday'", "as_of=[1]", "at=3"] {
            let sql = format!("SELECT * FROM {{{{ ref('silver.a', {bad}) }}}}");
            let err = render(&sql, "p.sql", &c).unwrap_err();
            assert_eq!(err.context("file"), Some("p.sql"), "{bad}: {err}");
        }
    }

    #[test]
    fn first_run_has_no_watermark() {
        let sql = "SELECT 1 {% if not watermark_value %}-- first{% else %}WHERE ts > '{{ watermark_value }}'{% endif %}";
        let first = render(sql, "p.sql", &ctx(MergeStrategy::Incremental, None)).unwrap();
        assert!(first.sql.contains("-- first"));
        assert!(first.reads_target);
        let later = render(sql, "p.sql", &ctx(MergeStrategy::Incremental, Some("5"))).unwrap();
        assert!(later.sql.contains("ts > '5'"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let c = ctx(MergeStrategy::FullRefresh, None);
        let err = render(
            "SELECT 1\nFROM {{ missing_thing }}",
            "pipelines/gold/revenue/pipeline.sql",
            &c,
        )
        .unwrap_err();
        assert_eq!(
            err.context("file"),
            Some("pipelines/gold/revenue/pipeline.sql")
        );
        assert_eq!(err.context("line"), Some("2"));
        let err = render("SELECT {{ ref('../x') }}", "p.sql", &c).unwrap_err();
        assert!(err.to_string().contains("../x"), "{err}");
        let err = render("SELECT {% if %}", "p.sql", &c).unwrap_err();
        assert!(err.message().starts_with("template error"));
        assert!(
            render("SELECT {{ this }}", "p.sql", &c)
                .unwrap()
                .reads_target
        );
    }
}
