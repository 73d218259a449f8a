//! Turning a table's `config` / `storage-credentials` into [`S3Access`]:
//! endpoint and addressing, and credentials the catalog vended, renewed
//! from the catalog when `s3.session-token-expires-at-ms` approaches.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rat_core::config::S3Settings;
use rat_core::{CredentialProvider, Error, ErrorKind, Result, S3Access, StorageCredentials};
use reqwest::StatusCode;
use serde::Deserialize;

use super::client::{Request, RestClient};
use crate::s3::{CredentialSource, RefreshingProvider};

/// One entry of `storage-credentials`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct StorageCredential {
    pub(super) prefix: String,
    pub(super) config: HashMap<String, String>,
}

#[derive(Deserialize)]
struct CredentialsResponse {
    #[serde(rename = "storage-credentials", default)]
    storage_credentials: Vec<StorageCredential>,
}

#[derive(Deserialize)]
struct LoadResponse {
    #[serde(default)]
    config: HashMap<String, String>,
    #[serde(rename = "storage-credentials", default)]
    storage_credentials: Vec<StorageCredential>,
}

/// The properties that apply to files under `location`: the table's config,
/// then the longest-prefix storage credential over it.
pub(super) fn effective_config(
    location: &str,
    config: &HashMap<String, String>,
    credentials: &[StorageCredential],
) -> HashMap<String, String> {
    let mut merged = config.clone();
    if let Some(best) = credentials
        .iter()
        .filter(|c| location.starts_with(c.prefix.trim_end_matches('/')))
        .max_by_key(|c| c.prefix.len())
    {
        merged.extend(best.config.clone());
    }
    merged
}

/// Credentials in Iceberg's S3 property names, if the config holds a pair.
pub(super) fn vended_credentials(config: &HashMap<String, String>) -> Option<StorageCredentials> {
    let id = config.get("s3.access-key-id")?;
    let secret = config.get("s3.secret-access-key")?;
    let expires_at = config
        .get("s3.session-token-expires-at-ms")
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    Some(StorageCredentials::new(
        id.clone(),
        secret.clone(),
        config.get("s3.session-token").cloned(),
        expires_at,
    ))
}

/// Where a table's files are reached: the user's settings first for the
/// endpoint (they know their network), then the catalog's; credentials the
/// catalog vended, else the user's provider.
pub(super) fn table_access(
    settings: &S3Settings,
    user_credentials: Option<Arc<dyn CredentialProvider>>,
    config: &HashMap<String, String>,
    vended: Option<Arc<dyn CredentialProvider>>,
) -> S3Access {
    let flag = |key: &str| config.get(key).map(|v| v.eq_ignore_ascii_case("true"));
    S3Access {
        endpoint: settings
            .endpoint
            .clone()
            .or_else(|| config.get("s3.endpoint").cloned()),
        region: config
            .get("s3.region")
            .or_else(|| config.get("client.region"))
            .cloned()
            .unwrap_or_else(|| settings.region.clone()),
        path_style: settings.path_style || flag("s3.path-style-access").unwrap_or(false),
        credentials: vended.or(user_credentials),
    }
}

/// Fetches a table's vended credentials again: the spec's
/// `GET .../tables/{t}/credentials`, or a fresh load where a catalog does
/// not serve that endpoint.
#[derive(Debug)]
pub(super) struct VendedSource {
    pub(super) client: Arc<RestClient>,
    /// Path segments of the table under the prefix.
    pub(super) table_path: Vec<String>,
    pub(super) location: String,
}

impl VendedSource {
    /// A refreshing provider seeded with what the load returned.
    pub(super) fn provider(self, first: StorageCredentials) -> Arc<dyn CredentialProvider> {
        Arc::new(RefreshingProvider::seeded(Arc::new(self), first))
    }
}

#[async_trait]
impl CredentialSource for VendedSource {
    async fn fetch(&self) -> Result<StorageCredentials> {
        fetch_vended(&self.client, &self.table_path, &self.location)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Catalog,
                    "the catalog stopped vending credentials for the table",
                )
                .with_context("location", &self.location)
            })
    }
}

/// Fresh credentials the catalog vends for the table at `table_path` (files
/// under `location`), if it vends any.
pub(super) async fn fetch_vended(
    client: &RestClient,
    table_path: &[String],
    location: &str,
) -> Result<Option<StorageCredentials>> {
    let mut path: Vec<&str> = table_path.iter().map(String::as_str).collect();
    path.push("credentials");
    let config = match client
        .json::<CredentialsResponse>(Request::get(&path).vended(true))
        .await
    {
        Ok(r) => effective_config(location, &HashMap::new(), &r.storage_credentials),
        Err(f)
            if matches!(
                f.status,
                Some(
                    StatusCode::NOT_FOUND
                        | StatusCode::METHOD_NOT_ALLOWED
                        | StatusCode::BAD_REQUEST
                        | StatusCode::NOT_IMPLEMENTED
                )
            ) =>
        {
            // No credentials endpoint (SeaweedFS 4.48 has none): load again.
            path.pop();
            let r: LoadResponse = client.json(Request::get(&path).vended(true)).await?;
            effective_config(location, &r.config, &r.storage_credentials)
        }
        Err(f) => return Err(f.into()),
    };
    Ok(vended_credentials(&config))
}
