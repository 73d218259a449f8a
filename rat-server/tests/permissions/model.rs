//! The matrix's table: the principals, what each may do to which object
//! (`Space::standing`), what each row needs and answers when allowed, and
//! how a refusal looks — from which every cell's expected status follows.

use reqwest::Method;
use serde_json::{Value, json};

/// The principals (name, roles); each key is `common::team_key(name)`.
pub(crate) const PEOPLE: [(&str, &[&str]); 6] = [
    ("ada", &["admin"]),    // an admin
    ("olga", &[]),          // owns alpha.bronze.t; a member of alpha
    ("wes", &["engineer"]), // role engineer may write alpha.*
    ("rita", &[]),          // may read alpha.bronze.t by grant
    ("mia", &[]),           // a member of alpha only
    ("otto", &[]),          // nothing
];

/// Who asks: one of [`PEOPLE`], or nobody (no credentials).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Who {
    Key(usize),
    Anonymous,
}

impl Who {
    pub(crate) fn all() -> Vec<Who> {
        let mut all: Vec<Who> = (0..PEOPLE.len()).map(Who::Key).collect();
        all.push(Who::Anonymous);
        all
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Who::Key(i) => PEOPLE[i].0,
            Who::Anonymous => "anonymous",
        }
    }
}

pub(crate) const ADA: Who = Who::Key(0);

/// What a principal may do to an object: ordered, each including those
/// before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum May {
    Nothing,
    Discover,
    Read,
    Write,
    Manage,
}

/// Which object a row acts on, for [`standing`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scope {
    /// The namespace's table `t` (and its pipeline, runs, schedules).
    Table,
    /// Its pipeline `v`, made fresh for each cell that deletes it.
    Victim,
    /// The namespace itself (landing zones, hooks, documents, members).
    Namespace,
}

/// What a row needs of the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Need {
    /// Authentication only.
    Any,
    /// The admin role (no object to hide: everyone else is refused).
    Admin,
    /// Leave to create pipelines in the namespace (member or writer;
    /// everyone else is refused alike).
    Create,
    /// This much of that object.
    At(Scope, May),
}

/// How a caller that may not is answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Refusal {
    /// 403 when it may discover the object, else 404 as if absent.
    Standard,
    /// 404 even when it may discover it (revoking a grant one may not).
    Hidden,
    /// Always this status, discoverable or not (a query naming a table
    /// one may not read: "no such table").
    Uniform(u16),
}

/// Run before each cell of a row (as the admin unless said), so a cell
/// finds the object as the first did; statuses ignored (an object may
/// already be there).
#[derive(Debug, Clone)]
pub(crate) enum Prep {
    None,
    /// These requests: (who, method, path, body).
    Requests(Vec<(Who, Method, String, Option<Value>)>),
    /// An upload of `doomed.csv` to the zone `inbox`.
    UploadDoomed,
    /// No grant to `user:nobody` (so a share is not a duplicate).
    NoGrant,
    /// A fresh grant of `t` to `user:nobody`; its id replaces `{id}`.
    Grant,
    /// A fresh hook; its id replaces `{id}`.
    Hook,
    /// A fresh schedule of `t`; its id replaces `{id}`.
    Schedule,
    /// Every run has ended (so table snapshots stay put).
    RunsEnded,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    Json(Value),
    /// A multipart upload of one small CSV file of this name.
    Upload(&'static str),
}

#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body: Body,
    pub(crate) need: Need,
    pub(crate) ok: u16,
    pub(crate) refusal: Refusal,
    pub(crate) prep: Prep,
}

pub(crate) fn row(method: Method, path: impl Into<String>, need: Need, ok: u16) -> Row {
    Row {
        method,
        path: path.into(),
        body: Body::None,
        need,
        ok,
        refusal: Refusal::Standard,
        prep: Prep::None,
    }
}

impl Row {
    pub(crate) fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub(crate) fn prep(mut self, prep: Prep) -> Self {
        self.prep = prep;
        self
    }

    pub(crate) fn refusal(mut self, refusal: Refusal) -> Self {
        self.refusal = refusal;
        self
    }
}

/// One namespace of the matrix: its name and the ids its setup made.
#[derive(Debug, Clone)]
pub(crate) struct Space {
    pub(crate) ns: &'static str,
    pub(crate) run: String,
    pub(crate) batch: String,
    pub(crate) schedule: String,
    pub(crate) hook: String,
    pub(crate) snapshot: i64,
}

impl Space {
    /// What `who` may do to `scope` here. In `alpha` the people hold what
    /// [`PEOPLE`] says; in `beta` only the admin holds anything.
    pub(crate) fn standing(&self, who: usize, scope: Scope) -> May {
        use May::*;
        if self.ns == "beta" {
            return if who == 0 { Manage } else { Nothing };
        }
        let table = [Manage, Manage, Write, Read, Discover, Nothing];
        // A grant of one table shows its namespace, not its other tables.
        let victim = [Manage, Manage, Write, Nothing, Discover, Nothing];
        let namespace = [Manage, Discover, Write, Discover, Discover, Nothing];
        match scope {
            Scope::Table => table[who],
            Scope::Victim => victim[who],
            Scope::Namespace => namespace[who],
        }
    }

    /// The status `who` must get for `row`.
    pub(crate) fn expected(&self, who: Who, row: &Row) -> u16 {
        let Who::Key(i) = who else {
            return 401;
        };
        let (allowed, discovers) = match row.need {
            Need::Any => (true, true),
            Need::Admin => (i == 0, true),
            Need::Create => (
                self.standing(i, Scope::Namespace) >= May::Write || self.member(i),
                true,
            ),
            Need::At(scope, may) => {
                let has = self.standing(i, scope);
                (has >= may, has >= May::Discover)
            }
        };
        match (allowed, row.refusal) {
            (true, _) => row.ok,
            (false, Refusal::Uniform(status)) => status,
            (false, Refusal::Hidden) => 404,
            (false, Refusal::Standard) if discovers => 403,
            (false, Refusal::Standard) => 404,
        }
    }

    pub(crate) fn member(&self, who: usize) -> bool {
        self.ns == "alpha" && matches!(PEOPLE[who].0, "olga" | "mia")
    }
}

/// Every endpoint but `POST /webhooks/{id}` (its caller is whoever holds
/// the schedule's token, not a principal; triggers.rs tests it) and
/// `/health*`, `/openapi.json` (open to all).
pub(crate) fn rows(s: &Space) -> Vec<Row> {
    use Method as M;
    use Need::*;
    use Scope::*;
    let ns = s.ns;
    let t = format!("/api/v1/pipelines/{ns}/bronze/t");
    let table = format!("/api/v1/tables/{ns}/bronze/t");
    let zone = format!("/api/v1/landing-zones/{ns}/inbox");
    let hooks = format!("/api/v1/namespaces/{ns}/notifications");
    let sql = json!({"sql": "SELECT 1 AS id"});
    let test_sql = json!({"sql": "SELECT * FROM {{ this }} WHERE id IS NULL"});
    let cron = json!({"pipeline": format!("{ns}.bronze.t"), "cron": "0 6 * * *"});
    let as_ada = |method: Method, path: String, body: Option<Value>| (ADA, method, path, body);
    let draft = Prep::Requests(vec![as_ada(
        M::PUT,
        t.clone(),
        Some(json!({"sql": "SELECT 2 AS id", "draft": true})),
    )]);
    vec![
        // The caller, sharing, the audit log.
        row(M::GET, "/api/v1/features", Any, 200),
        row(M::GET, "/api/v1/me", Any, 200),
        row(M::GET, "/api/v1/sharing", Any, 200),
        row(M::POST, "/api/v1/sharing", At(Table, May::Manage), 201)
            .json(json!({"object": format!("{ns}.bronze.t"), "grantee": "user:nobody", "level": "read"}))
            .prep(Prep::NoGrant),
        row(M::DELETE, "/api/v1/sharing/{id}", At(Table, May::Manage), 204)
            .prep(Prep::Grant)
            .refusal(Refusal::Hidden),
        row(M::POST, "/api/v1/sharing/transfer", At(Table, May::Manage), 200).json(
            json!({"table": format!("{ns}.bronze.t"), "owner": if ns == "alpha" { "olga" } else { "ada" }}),
        ),
        row(M::GET, "/api/v1/audit", Admin, 200),
        // Namespaces and their members.
        row(M::GET, "/api/v1/namespaces", Any, 200),
        row(M::POST, "/api/v1/namespaces", Admin, 201)
            .json(json!({"name": format!("{ns}_new")}))
            .prep(Prep::Requests(vec![as_ada(
                M::DELETE,
                format!("/api/v1/namespaces/{ns}_new"),
                None,
            )])),
        row(M::GET, format!("/api/v1/namespaces/{ns}"), At(Namespace, May::Discover), 200),
        row(M::PATCH, format!("/api/v1/namespaces/{ns}"), At(Namespace, May::Manage), 200)
            .json(json!({"description": "the matrix"})),
        row(M::GET, format!("/api/v1/namespaces/{ns}/members"), At(Namespace, May::Discover), 200),
        row(
            M::PUT,
            format!("/api/v1/namespaces/{ns}/members/user:nobody"),
            At(Namespace, May::Manage),
            200,
        ),
        row(
            M::DELETE,
            format!("/api/v1/namespaces/{ns}/members/user:nobody"),
            At(Namespace, May::Manage),
            200,
        ),
        // Notification hooks: what they say is the namespace's data.
        row(M::GET, hooks.clone(), At(Namespace, May::Read), 200),
        row(M::POST, hooks.clone(), At(Namespace, May::Write), 201)
            .json(json!({"url": "http://127.0.0.1:9/hook", "events": ["run_failed"]})),
        row(M::GET, format!("{hooks}/{}", s.hook), At(Namespace, May::Read), 200),
        row(M::GET, format!("{hooks}/{}/deliveries", s.hook), At(Namespace, May::Read), 200),
        row(M::DELETE, format!("{hooks}/{{id}}"), At(Namespace, May::Write), 204).prep(Prep::Hook),
        // Pipelines, their tests, previews, versions and drafts.
        row(M::GET, format!("/api/v1/pipelines?namespace={ns}"), Any, 200),
        row(M::POST, "/api/v1/pipelines", Create, 201)
            .json(json!({"namespace": ns, "layer": "bronze", "name": "fresh", "sql": "SELECT 1 AS id"}))
            .prep(Prep::Requests(vec![as_ada(
                M::DELETE,
                format!("/api/v1/pipelines/{ns}/bronze/fresh"),
                None,
            )])),
        row(M::GET, t.clone(), At(Table, May::Discover), 200),
        row(M::DELETE, format!("/api/v1/pipelines/{ns}/bronze/v"), At(Victim, May::Manage), 204)
            .prep(Prep::Requests(vec![(
                if ns == "alpha" { Who::Key(1) } else { ADA },
                M::POST,
                "/api/v1/pipelines".into(),
                Some(json!({"namespace": ns, "layer": "bronze", "name": "v", "sql": "SELECT 1 AS id"})),
            )])),
        row(M::GET, format!("{t}/tests"), At(Table, May::Discover), 200),
        row(M::POST, format!("{t}/tests"), At(Table, May::Write), 201)
            .json(json!({"name": "fresh_test", "sql": test_sql["sql"]}))
            .prep(Prep::Requests(vec![as_ada(M::DELETE, format!("{t}/tests/fresh_test"), None)])),
        row(M::POST, format!("{t}/tests/run"), At(Table, May::Write), 200).json(json!({})),
        row(M::GET, format!("{t}/tests/t_ok"), At(Table, May::Discover), 200),
        row(M::PUT, format!("{t}/tests/t_ok"), At(Table, May::Write), 200).json(test_sql.clone()),
        row(M::DELETE, format!("{t}/tests/doomed"), At(Table, May::Write), 204).prep(Prep::Requests(
            vec![as_ada(
                M::POST,
                format!("{t}/tests"),
                Some(json!({"name": "doomed", "sql": test_sql["sql"]})),
            )],
        )),
        // Saving the pipeline's files as a whole replaces its tests too.
        row(M::PUT, t.clone(), At(Table, May::Write), 200).json(sql.clone()),
        row(M::POST, format!("{t}/preview"), At(Table, May::Discover), 200).json(json!({})),
        row(M::POST, format!("{t}/compile"), At(Table, May::Discover), 200).json(json!({})),
        row(M::GET, format!("{t}/versions"), At(Table, May::Discover), 200),
        row(M::GET, format!("{t}/versions/1"), At(Table, May::Discover), 200),
        row(M::POST, format!("{t}/versions/1/rollback"), At(Table, May::Write), 200),
        row(M::GET, format!("{t}/draft"), At(Table, May::Discover), 200).prep(draft.clone()),
        row(M::DELETE, format!("{t}/draft"), At(Table, May::Write), 204).prep(draft.clone()),
        row(M::POST, format!("{t}/publish"), At(Table, May::Write), 200).prep(draft),
        row(M::GET, format!("/api/v1/lineage?namespace={ns}"), Any, 200),
        // Runs and batches.
        row(M::GET, "/api/v1/runs", Any, 200),
        row(M::POST, "/api/v1/runs", At(Table, May::Write), 202)
            .json(json!({"pipeline": format!("{ns}.bronze.t")})),
        row(M::GET, format!("/api/v1/runs/{}", s.run), At(Table, May::Discover), 200)
            .prep(Prep::RunsEnded),
        row(M::POST, format!("/api/v1/runs/{}/cancel", s.run), At(Table, May::Write), 409),
        row(M::GET, format!("/api/v1/runs/{}/logs", s.run), At(Table, May::Read), 200),
        row(M::GET, format!("/api/v1/batches/{}", s.batch), At(Table, May::Discover), 200),
        row(M::POST, format!("/api/v1/batches/{}/cancel", s.batch), At(Table, May::Write), 409),
        // Tables and queries.
        row(M::GET, format!("/api/v1/tables?namespace={ns}"), Any, 200),
        row(M::GET, table.clone(), At(Table, May::Discover), 200),
        row(M::GET, format!("{table}/preview"), At(Table, May::Read), 200),
        row(M::GET, format!("{table}/history"), At(Table, May::Discover), 200),
        row(M::POST, format!("{table}/rollback"), At(Table, May::Write), 200)
            .json(json!({"to": s.snapshot})),
        row(M::POST, format!("{table}/maintain"), At(Table, May::Write), 200)
            .json(json!({"dry_run": true})),
        row(M::POST, "/api/v1/query", At(Table, May::Read), 200)
            .json(json!({"sql": format!("SELECT * FROM {ns}.bronze.t")}))
            .refusal(Refusal::Uniform(404)),
        // Schedules.
        row(M::GET, "/api/v1/schedules", Any, 200),
        row(M::POST, "/api/v1/schedules", At(Table, May::Write), 201).json(cron.clone()),
        row(M::GET, format!("/api/v1/schedules/{}", s.schedule), At(Table, May::Discover), 200),
        row(M::PUT, format!("/api/v1/schedules/{}", s.schedule), At(Table, May::Write), 200)
            .json(cron),
        row(M::DELETE, "/api/v1/schedules/{id}", At(Table, May::Write), 204).prep(Prep::Schedule),
        row(
            M::GET,
            format!("/api/v1/schedules/{}/firings", s.schedule),
            At(Table, May::Discover),
            200,
        ),
        // Project files: documents are the namespace's, pipeline files the
        // pipeline's.
        row(M::GET, format!("/api/v1/files/{ns}"), At(Namespace, May::Discover), 200),
        row(M::GET, format!("/api/v1/files/{ns}/README.md"), At(Namespace, May::Discover), 200),
        row(M::PUT, format!("/api/v1/files/{ns}/README.md"), At(Namespace, May::Write), 200)
            .json(json!({"content": "# the matrix\n"})),
        row(M::DELETE, format!("/api/v1/files/{ns}/docs/doomed.md"), At(Namespace, May::Write), 204)
            .prep(Prep::Requests(vec![as_ada(
                M::PUT,
                format!("/api/v1/files/{ns}/docs/doomed.md"),
                Some(json!({"content": "x\n"})),
            )])),
        row(
            M::GET,
            format!("/api/v1/files/{ns}/pipelines/bronze/t/pipeline.sql"),
            At(Table, May::Discover),
            200,
        ),
        row(
            M::PUT,
            format!("/api/v1/files/{ns}/pipelines/bronze/t/pipeline.sql"),
            At(Table, May::Write),
            200,
        )
        .json(json!({"content": "SELECT 1 AS id\n"})),
        // Landing zones and their files.
        row(M::GET, "/api/v1/landing-zones", Any, 200),
        row(M::POST, "/api/v1/landing-zones", At(Namespace, May::Write), 201)
            .json(json!({"namespace": ns, "name": "fresh_zone"}))
            .prep(Prep::Requests(vec![as_ada(
                M::DELETE,
                format!("/api/v1/landing-zones/{ns}/fresh_zone"),
                None,
            )])),
        row(M::GET, zone.clone(), At(Namespace, May::Discover), 200),
        row(
            M::DELETE,
            format!("/api/v1/landing-zones/{ns}/doomed_zone"),
            At(Namespace, May::Write),
            204,
        )
        .prep(Prep::Requests(vec![as_ada(
            M::POST,
            "/api/v1/landing-zones".into(),
            Some(json!({"namespace": ns, "name": "doomed_zone"})),
        )])),
        row(M::GET, format!("{zone}/files"), At(Namespace, May::Discover), 200),
        Row {
            body: Body::Upload("up.csv"),
            ..row(M::POST, format!("{zone}/files"), At(Namespace, May::Write), 201)
        },
        row(M::GET, format!("{zone}/files/a.csv"), At(Namespace, May::Read), 200),
        row(M::GET, format!("{zone}/files/a.csv/preview"), At(Namespace, May::Read), 200),
        row(M::DELETE, format!("{zone}/files/doomed.csv"), At(Namespace, May::Write), 204)
            .prep(Prep::UploadDoomed),
    ]
}
