//! [`RestCatalog`]: any Iceberg REST catalog (Polaris, Lakekeeper, Nessie,
//! Glue's REST endpoint, SeaweedFS...).

mod client;
mod namespaces;
mod vended;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use iceberg::io::FileIO;
use iceberg::spec::TableMetadata;
use rat_core::config::RestCatalogConfig;
use rat_core::{
    Catalog, CredentialProvider, Error, ErrorKind, Identifier, Layer, LoadedTable,
    NamespaceProperties, NewTable, Result, S3Access, StorageCredentials, TableCommit, TableRef,
};
use serde::Deserialize;
use serde_json::json;

use self::client::{Answer, NAMESPACE_SEPARATOR, Page, Request, RestClient, catalog_error};
use self::vended::{StorageCredential, VendedSource, effective_config, table_access};
use super::metadata::{DEFAULT_CAPACITY, weight};
use crate::s3::{credential_provider, file_io};

/// An Iceberg REST catalog client.
///
/// A rat table `ns.layer.name` is table `name` in the two-level namespace
/// `ns`, `layer`. Commits send the builder's requirements and updates as
/// the spec's commit request; a 409 is a retryable
/// [`ErrorKind::Conflict`]. With `vended_credentials`, loads ask for
/// credentials scoped to the table and the engine uses those for its files,
/// fetching new ones from the catalog before they expire.
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// use rat_core::config::{RestAuth, RestCatalogConfig, S3Settings, SecretRef};
/// use rat_runner::catalog::RestCatalog;
///
/// let config = RestCatalogConfig {
///     uri: "http://127.0.0.1:8181".into(),
///     warehouse: Some("s3://warehouse".into()),
///     auth: RestAuth::OAuth2 {
///         client_id: "admin".into(),
///         client_secret: SecretRef::Env("CATALOG_SECRET".into()),
///         scope: None,
///         token_uri: None,
///     },
///     vended_credentials: true,
///     s3: S3Settings::default(),
/// };
/// let catalog = RestCatalog::connect(&config).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RestCatalog {
    client: Arc<RestClient>,
    config: RestCatalogConfig,
    /// The user's S3 credentials, for tables the catalog vends none for.
    user_credentials: Option<Arc<dyn CredentialProvider>>,
    /// Each table's I/O as its last load set it up (vended credentials renew
    /// themselves), so a commit's answer, which carries none, reuses it.
    table_io: Arc<Mutex<HashMap<TableRef, TableIo>>>,
    /// The last load of each table whose answer had an entity tag: asked
    /// for again with `If-None-Match`, a `304` means it is still current.
    loads: moka::sync::Cache<TableRef, (String, LoadedTable)>,
}

#[derive(Debug, Clone)]
struct TableIo {
    file_io: FileIO,
    s3: Option<S3Access>,
}

/// `LoadTableResult` of the spec (also the commit answer, without config).
#[derive(Deserialize)]
struct LoadTableResponse {
    #[serde(rename = "metadata-location")]
    metadata_location: Option<String>,
    metadata: TableMetadata,
    #[serde(default)]
    config: HashMap<String, String>,
    #[serde(rename = "storage-credentials", default)]
    storage_credentials: Vec<StorageCredential>,
}

#[derive(Deserialize)]
struct ListNamespacesResponse {
    namespaces: Vec<Vec<String>>,
    #[serde(rename = "next-page-token")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListTablesResponse {
    identifiers: Vec<TableIdentifier>,
    #[serde(rename = "next-page-token")]
    next_page_token: Option<String>,
}

impl Page for ListNamespacesResponse {
    fn next_page_token(&self) -> Option<&str> {
        self.next_page_token.as_deref()
    }
}

impl Page for ListTablesResponse {
    fn next_page_token(&self) -> Option<&str> {
        self.next_page_token.as_deref()
    }
}

#[derive(Deserialize)]
struct TableIdentifier {
    name: String,
}

impl RestCatalog {
    /// Connects to the catalog `config` names: authenticates and reads
    /// `/v1/config`.
    pub async fn connect(config: &RestCatalogConfig) -> Result<Self> {
        Self::connect_with_credentials(config, credential_provider(&config.s3.credentials)?).await
    }

    /// [`RestCatalog::connect`], with `credentials` for the files of tables
    /// the catalog vends none for instead of those `config.s3` names, e.g.
    /// a vendor's credentials for one namespace
    /// ([`rat_core::ScopedCredentials`]).
    pub async fn connect_with_credentials(
        config: &RestCatalogConfig,
        credentials: Option<Arc<dyn CredentialProvider>>,
    ) -> Result<Self> {
        config.validate()?;
        let client = RestClient::connect(config).await?;
        Ok(Self {
            client: Arc::new(client),
            config: config.clone(),
            user_credentials: credentials,
            table_io: Arc::default(),
            loads: moka::sync::Cache::builder()
                .max_capacity(DEFAULT_CAPACITY)
                .weigher(|_: &TableRef, (_, loaded): &(String, LoadedTable)| {
                    weight(&loaded.metadata)
                })
                .build(),
        })
    }

    /// Fresh credentials the catalog vends for `table`'s files (the spec's
    /// `.../credentials`, or a load where the catalog has no such endpoint);
    /// `None` when it vends none. Loaded tables renew theirs through this
    /// when they are past half their life.
    pub async fn table_credentials(&self, table: &TableRef) -> Result<Option<StorageCredentials>> {
        let location = self.load(table).await?.metadata.location().to_owned();
        vended::fetch_vended(&self.client, &Self::table_path(table), &location)
            .await
            .map_err(|e| with_table(e, table))
    }

    /// A catalog property from `/v1/config` (defaults merged with overrides).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.client.property(key)
    }

    fn table_path(table: &TableRef) -> Vec<String> {
        vec![
            "namespaces".to_owned(),
            namespace_segment(&table.iceberg_namespace()),
            "tables".to_owned(),
            table.name.as_str().to_owned(),
        ]
    }

    fn loaded(&self, table: &TableRef, response: LoadTableResponse) -> Result<LoadedTable> {
        let location = response.metadata.location().to_owned();
        let config = effective_config(&location, &response.config, &response.storage_credentials);
        let vended = vended::vended_credentials(&config).map(|first| {
            VendedSource {
                client: self.client.clone(),
                table_path: Self::table_path(table),
                location: location.clone(),
            }
            .provider(first)
        });
        let access = table_access(
            &self.config.s3,
            self.user_credentials.clone(),
            &config,
            vended,
        );
        let remote = location.starts_with("s3://") || location.starts_with("s3a://");
        let io = TableIo {
            file_io: file_io(access.clone()),
            s3: remote.then_some(access),
        };
        if let Ok(mut known) = self.table_io.lock() {
            known.insert(table.clone(), io.clone());
        }
        Ok(LoadedTable {
            table: table.clone(),
            metadata_location: response.metadata_location.unwrap_or_default(),
            metadata: Arc::new(response.metadata),
            file_io: io.file_io,
            s3: io.s3,
        })
    }

    async fn load(&self, table: &TableRef) -> Result<LoadTableResponse> {
        let path = Self::table_path(table);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        self.client
            .json(Request::get(&path).vended(self.config.vended_credentials))
            .await
            .map_err(|f| with_table(f.error, table))
    }

    /// Creates one namespace level; "already exists" is success, so the
    /// create is idempotent and retried on server errors: concurrent runs
    /// create the same namespace at once, and some catalogs (SeaweedFS 4.48)
    /// answer 500 to the loser of that race.
    async fn create_level(&self, levels: &[&str]) -> Result<()> {
        let body = json!({ "namespace": levels, "properties": {} });
        let create = || async {
            match self
                .client
                .send(Request::post(&["namespaces"], &body))
                .await
            {
                Ok(_) => Ok(()),
                Err(f) if f.error.kind() == ErrorKind::Conflict => Ok(()),
                Err(f) => Err(f),
            }
        };
        create
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(std::time::Duration::from_millis(50))
                    .with_max_times(5)
                    .with_jitter(),
            )
            .when(|f| f.status.is_some_and(|s| s.is_server_error()))
            .await
            .map_err(|f| f.error.with_context("namespace", levels.join(".")))
    }
}

/// Namespace levels joined by the spec's unit separator.
fn namespace_segment(levels: &[&str]) -> String {
    levels.join(&NAMESPACE_SEPARATOR.to_string())
}

fn with_table(error: Error, table: &TableRef) -> Error {
    if error.kind() == ErrorKind::NotFound {
        // The same answer as any catalog's: what the server said adds
        // nothing a caller needs.
        tracing::debug!(%table, "the catalog answered 404: {}", error.message());
        return rat_core::catalog::table_not_found(table);
    }
    error.with_context("table", table)
}

#[async_trait]
impl Catalog for RestCatalog {
    async fn list_namespaces(&self) -> Result<Vec<Identifier>> {
        let pages: Vec<ListNamespacesResponse> = self.client.pages(&["namespaces"]).await?;
        // Namespaces other tools made that are not rat names are skipped.
        let mut out: Vec<Identifier> = pages
            .iter()
            .flat_map(|p| &p.namespaces)
            .filter_map(|levels| match levels.as_slice() {
                [name] => rat_core::ident::namespace(name).ok(),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn create_namespace(&self, namespace: &Identifier) -> Result<()> {
        self.create_level(&[namespace.as_str()]).await?;
        for layer in Layer::ALL {
            self.create_level(&[namespace.as_str(), layer.as_str()])
                .await?;
        }
        Ok(())
    }

    async fn namespace_properties(&self, namespace: &Identifier) -> Result<NamespaceProperties> {
        self.properties_of(namespace).await
    }

    async fn update_namespace_properties(
        &self,
        namespace: &Identifier,
        updates: NamespaceProperties,
        removals: Vec<String>,
    ) -> Result<()> {
        self.update_properties(namespace, updates, removals).await
    }

    async fn drop_namespace(&self, namespace: &Identifier) -> Result<()> {
        self.drop_levels(namespace).await
    }

    async fn list_tables(&self, namespace: &Identifier) -> Result<Vec<TableRef>> {
        let mut out = Vec::new();
        for layer in Layer::ALL {
            let segment = namespace_segment(&[namespace.as_str(), layer.as_str()]);
            let pages: Vec<ListTablesResponse> =
                match self.client.pages(&["namespaces", &segment, "tables"]).await {
                    Ok(pages) => pages,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.with_context("namespace", namespace)),
                };
            out.extend(pages.iter().flat_map(|p| &p.identifiers).filter_map(|id| {
                Some(TableRef::new(
                    namespace.clone(),
                    layer,
                    Identifier::new(id.name.as_str()).ok()?,
                ))
            }));
        }
        out.sort();
        Ok(out)
    }

    async fn load_table(&self, table: &TableRef) -> Result<LoadedTable> {
        let known = self.loads.get(table);
        let path = Self::table_path(table);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let request = Request::get(&path)
            .vended(self.config.vended_credentials)
            .if_none_match(known.as_ref().map(|(etag, _)| etag.as_str()));
        let answer = self
            .client
            .answer(request)
            .await
            .map_err(|f| with_table(f.error, table))?;
        let (bytes, etag) = match (answer, known) {
            (Answer::NotModified, Some((_, loaded))) => return Ok(loaded),
            (Answer::Body { bytes, etag }, _) => (bytes, etag),
            (Answer::NotModified, None) => {
                return Err(with_table(
                    catalog_error("the catalog answered 304 to an unconditional load"),
                    table,
                ));
            }
        };
        let response: LoadTableResponse = serde_json::from_slice(&bytes).map_err(|e| {
            with_table(
                catalog_error(format!("unexpected answer from the catalog: {e}")),
                table,
            )
        })?;
        let loaded = self.loaded(table, response)?;
        match etag {
            Some(etag) => self.loads.insert(table.clone(), (etag, loaded.clone())),
            None => self.loads.invalidate(table),
        }
        Ok(loaded)
    }

    async fn create_table(&self, table: &TableRef, new_table: NewTable) -> Result<LoadedTable> {
        let body = json!({
            "name": table.name.as_str(),
            "schema": new_table.schema,
            "partition-spec": new_table.partition_spec,
            "properties": new_table.properties,
            "stage-create": false,
        });
        let segment = namespace_segment(&table.iceberg_namespace());
        let path = ["namespaces", segment.as_str(), "tables"];
        let request = Request::post(&path, &body).vended(self.config.vended_credentials);
        let mut created = self.client.json::<LoadTableResponse>(request.clone()).await;
        if let Err(f) = &created
            && f.error.kind() == ErrorKind::NotFound
        {
            // The namespace does not exist yet: create its levels, then retry.
            self.create_namespace(&table.namespace).await?;
            created = self.client.json(request).await;
        }
        let response = created.map_err(|f| {
            if f.error.kind() == ErrorKind::Conflict {
                Error::new(
                    ErrorKind::AlreadyExists,
                    format!("table '{table}' already exists"),
                )
                .with_context("table", table)
            } else {
                with_table(f.error, table)
            }
        })?;
        self.loaded(table, response)
    }

    async fn commit(&self, commit: TableCommit) -> Result<LoadedTable> {
        let table = &commit.table;
        let body = json!({
            "identifier": { "namespace": table.iceberg_namespace(), "name": table.name.as_str() },
            "requirements": commit.requirements,
            "updates": commit.updates,
        });
        let path = Self::table_path(table);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let committed: LoadTableResponse = self
            .client
            .json(Request::post(&path, &body))
            .await
            .map_err(|f| {
                let error = match f.status.map(|s| s.as_u16()) {
                    Some(409) => {
                        Error::new(ErrorKind::Conflict, "commit requirement no longer holds")
                            .with_context("detail", f.error.message())
                    }
                    // The spec's CommitStateUnknown: the commit may or may
                    // not have happened, so it must not be retried blindly.
                    Some(500 | 502 | 504) => catalog_error(format!(
                        "the commit's outcome is unknown: {}",
                        f.error.message()
                    ))
                    .with_retryable(false),
                    _ => f.error,
                };
                with_table(error, table)
            })?;
        // The commit answer carries no credentials: reuse the table's I/O,
        // or load it when this catalog has not (a commit without a load).
        let known = self
            .table_io
            .lock()
            .ok()
            .and_then(|m| m.get(table).cloned());
        match (known, committed.metadata_location) {
            (Some(io), Some(metadata_location)) => Ok(LoadedTable {
                table: table.clone(),
                metadata_location,
                metadata: Arc::new(committed.metadata),
                file_io: io.file_io,
                s3: io.s3,
            }),
            _ => {
                let reloaded = self.load(table).await?;
                self.loaded(table, reloaded)
            }
        }
    }

    async fn drop_table(&self, table: &TableRef) -> Result<()> {
        let path = Self::table_path(table);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        self.client
            .send(Request::delete(&path).query(&[("purgeRequested", "false")]))
            .await
            .map_err(|f| with_table(f.error, table))?;
        if let Ok(mut known) = self.table_io.lock() {
            known.remove(table);
        }
        Ok(())
    }
}
