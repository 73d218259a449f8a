//! [`Platform`]: what the API does, in-process, over the components — the
//! [`PlatformApi`](crate::api::PlatformApi) the HTTP handlers, the
//! embedded CLI and any program holding the components call.

mod access;
mod api;
mod authoring;
mod batches;
mod files;
mod health;
mod housekeeping;
mod landing;
mod namespaces;
mod notify;
mod pipelines;
mod readable;
mod runs;
mod schedules;
mod sharing;
mod tables;
mod triggers;
mod versions;

pub use housekeeping::{Housekeeping, KEPT_FIRINGS};
pub use landing::LandingSettings;
pub use notify::{NotifierSettings, SIGNATURE_HEADER, signature as notification_signature};
pub(crate) use pipelines::pipeline_table;
pub use runs::MAX_LOG_PAGE;
pub use schedules::{next_cron_time, next_cron_times};
pub use tables::{MAX_QUERY_ROWS, MAX_QUERY_TIME};
pub use triggers::{WEBHOOK_BURST, WEBHOOK_PERIOD};

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rat_core::authz::{Authorizer, GrantStore};
use rat_core::{
    BatchStore, Catalog, Executor, Identifier, MaintenanceSettings, Result, RunStore,
    ScheduleStore, Storage, VersionStore,
};
use rat_executor::Stores;
use rat_runner::Engine;
use rat_runner::access::NamespaceAccess;

use crate::api::Features;
use crate::auth::Principal;

/// The principal of a platform no one authenticates to (auth `none`).
pub(crate) const IMPLICIT_ADMIN: &str = "local";

/// The components one platform shares: storage (pipelines), catalog
/// (tables), an engine (validation and read-only queries), an executor
/// (runs), and the stores of run records, schedules and batches.
///
/// ```no_run
/// # async fn demo(engine: rat_runner::Engine,
/// #               executor: std::sync::Arc<dyn rat_core::Executor>,
/// #               stores: rat_executor::Stores,
/// #               features: rat_server::api::Features) -> rat_core::Result<()> {
/// use rat_server::Platform;
/// use rat_server::api::PlatformApi;
///
/// let platform = Platform::new(engine, executor, stores, features);
/// for ns in platform.namespaces().await? {
///     println!("{}", ns.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
    /// Who the verbs are done for (recorded with the versions they save);
    /// none: the embedded platform's one implicit admin.
    principal: Option<Arc<Principal>>,
}

struct Inner {
    engine: Engine,
    executor: Arc<dyn Executor>,
    stores: Stores,
    features: Features,
    options: Options,
    /// Whether this instance's scheduler holds the lease.
    leading: AtomicBool,
    /// This process, as batches it drives record it.
    owner: String,
    /// How often each webhook fired lately.
    webhooks: triggers::WebhookLimiter,
    /// Where notifications are posted from.
    http: reqwest::Client,
    /// This server's metrics.
    metrics: Arc<crate::metrics::Metrics>,
    /// When the platform was made.
    started_at: chrono::DateTime<chrono::Utc>,
}

/// What a platform is set to beyond its components.
#[derive(Clone, Default)]
struct Options {
    /// Storage per namespace when a credential vendor scopes it.
    access: Option<Arc<NamespaceAccess>>,
    /// How tables are maintained, unless their pipeline says otherwise.
    maintenance: MaintenanceSettings,
    /// Limits of landing zone uploads.
    landing: LandingSettings,
    /// Who may do what; everyone everything when none (no authentication).
    authorizer: Option<Arc<dyn Authorizer>>,
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Platform")
            .field("features", &self.inner.features)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// A platform over these components; `features` says which they are.
    pub fn new(
        engine: Engine,
        executor: Arc<dyn Executor>,
        stores: Stores,
        features: Features,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                engine,
                executor,
                stores,
                features,
                options: Options::default(),
                leading: AtomicBool::new(false),
                owner: rat_executor::Owner::current().to_string(),
                webhooks: Default::default(),
                http: reqwest::Client::new(),
                metrics: Default::default(),
                started_at: chrono::Utc::now(),
            }),
            principal: None,
        }
    }

    /// The same components with `change` applied to the options.
    fn rebuilt(&self, change: impl FnOnce(&mut Options)) -> Self {
        let inner = &self.inner;
        let mut options = inner.options.clone();
        change(&mut options);
        Self {
            inner: Arc::new(Inner {
                engine: inner.engine.clone(),
                executor: inner.executor.clone(),
                stores: inner.stores.clone(),
                features: inner.features.clone(),
                options,
                leading: AtomicBool::new(false),
                owner: inner.owner.clone(),
                webhooks: Default::default(),
                http: inner.http.clone(),
                metrics: inner.metrics.clone(),
                started_at: inner.started_at,
            }),
            principal: self.principal.clone(),
        }
    }

    /// The same platform doing its verbs for `principal`: the versions it
    /// saves name them. Cheap; made per request.
    fn for_principal(&self, principal: &Principal) -> Self {
        Self {
            inner: self.inner.clone(),
            principal: Some(Arc::new(principal.clone())),
        }
    }

    /// Who the verbs are done for: the request's principal, or the
    /// implicit admin of an embedded platform.
    pub(super) fn acting(&self) -> Principal {
        match &self.principal {
            Some(principal) => principal.as_ref().clone(),
            None => Principal::local(IMPLICIT_ADMIN),
        }
    }

    /// The id versions record as their author (none for the implicit admin).
    pub(super) fn author(&self) -> Option<&str> {
        self.principal.as_deref().map(|p| p.id.as_str())
    }

    /// The same platform reaching each namespace's pipelines with storage
    /// `access` scopes to it (`default`, the storage root, is then out of
    /// reach and not listed).
    pub fn with_namespace_access(self, access: Arc<NamespaceAccess>) -> Self {
        self.rebuilt(|o| o.access = Some(access))
    }

    /// The same platform maintaining tables with `settings` (the project's
    /// `maintenance:`), unless a table's pipeline sets its own.
    pub fn with_maintenance(self, settings: MaintenanceSettings) -> Self {
        self.rebuilt(|o| o.maintenance = settings)
    }

    /// The same platform deciding who may do what with `authorizer` (the
    /// default lets everyone do everything, for embedded use).
    pub fn with_authorizer(self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.rebuilt(|o| o.authorizer = Some(authorizer))
    }

    /// The grant store (owners, members, grants).
    pub(crate) fn grant_store(&self) -> &Arc<dyn GrantStore> {
        &self.inner.stores.grants
    }

    /// The same platform taking landing uploads within `settings`.
    pub fn with_landing(self, settings: LandingSettings) -> Self {
        self.rebuilt(|o| o.landing = settings)
    }

    /// The project-wide maintenance settings.
    pub(crate) fn project_maintenance(&self) -> MaintenanceSettings {
        self.inner.options.maintenance
    }

    /// The schedule store (with the scheduler lease).
    pub fn schedule_store(&self) -> &Arc<dyn ScheduleStore> {
        &self.inner.stores.schedules
    }

    /// Records whether this instance's scheduler leads.
    pub(crate) fn set_leading(&self, leading: bool) {
        self.inner.leading.store(leading, Ordering::Relaxed);
    }

    /// The storage `namespace`'s pipelines are reached with.
    pub(crate) fn storage(&self, namespace: &Identifier) -> Result<Arc<dyn Storage>> {
        match &self.inner.options.access {
            Some(access) => access.storage(namespace),
            None => Ok(self.inner.engine.storage().clone()),
        }
    }

    /// The engine over `namespace`'s storage and catalog.
    async fn engine_for(&self, namespace: &Identifier) -> Result<Engine> {
        match &self.inner.options.access {
            Some(access) => access.engine(namespace, &self.inner.engine).await,
            None => Ok(self.inner.engine.clone()),
        }
    }

    /// The engine over `namespace`'s storage, reading only the tables
    /// the acting principal may read (previews, tests, dry runs).
    async fn reading_engine(&self, namespace: &Identifier) -> Result<Engine> {
        let engine = self.engine_for(namespace).await?;
        let catalog = readable::Readable::over(self, engine.catalog());
        Ok(engine.with_lakehouse(engine.storage().clone(), catalog))
    }

    fn catalog(&self) -> &Arc<dyn Catalog> {
        self.inner.engine.catalog()
    }

    /// The executor runs go to.
    pub fn executor(&self) -> &Arc<dyn Executor> {
        &self.inner.executor
    }

    /// This server's metrics.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// The metrics in Prometheus' text format, the runs not ended read
    /// from the run store now.
    pub(super) async fn render_metrics(&self) -> Result<String> {
        let unfinished = self.store().unfinished().await?;
        self.inner.metrics.render(&unfinished)
    }

    /// The run store.
    pub fn store(&self) -> &Arc<dyn RunStore> {
        &self.inner.stores.runs
    }

    fn batch_store(&self) -> &Arc<dyn BatchStore> {
        &self.inner.stores.batches
    }

    fn version_store(&self) -> &Arc<dyn VersionStore> {
        &self.inner.stores.versions
    }

    /// Which implementations are active, and whether this instance fires
    /// schedules.
    fn current_features(&self) -> Features {
        Features {
            scheduler: self.inner.leading.load(Ordering::Relaxed),
            ..self.inner.features.clone()
        }
    }
}

/// A namespace name from a request; the error names the value.
pub(crate) fn parse_namespace(name: &str) -> Result<Identifier> {
    rat_core::ident::namespace(name).map_err(|e| e.with_context("field", "namespace"))
}
