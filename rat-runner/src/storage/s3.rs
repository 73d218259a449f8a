//! [`S3Storage`]: objects under a prefix of an S3 bucket.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use rat_core::config::S3StorageConfig;
use rat_core::storage::ByteStream;
use rat_core::{Error, ObjectKey, ObjectMeta, Result, S3Access, Storage};
use tokio::io::AsyncWriteExt;

use crate::s3::{S3Buckets, credential_provider, s3_error};

/// Objects under `s3://<bucket>/<prefix>/` on AWS or any S3-compatible
/// service. Uploads stream (multipart past a few MB); listings page through
/// the whole prefix; requests are signed with credentials fetched again
/// before they expire.
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// use rat_core::config::{CredentialsConfig, S3StorageConfig};
/// use rat_runner::storage::S3Storage;
///
/// let config = S3StorageConfig {
///     bucket: "lake".into(),
///     prefix: Some("shop".into()),
///     endpoint: Some("http://127.0.0.1:8333".into()),
///     region: "us-east-1".into(),
///     path_style: true,
///     credentials: CredentialsConfig::Env,
/// };
/// let storage = S3Storage::new(&config)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct S3Storage {
    bucket: String,
    prefix: String,
    client: Arc<dyn ObjectStore>,
    access: S3Access,
}

impl S3Storage {
    /// Storage for `config`: credentials are resolved on first use, not here.
    pub fn new(config: &S3StorageConfig) -> Result<Self> {
        Self::with_credentials(config, credential_provider(&config.credentials)?)
    }

    /// Storage for `config` signing with `credentials` instead of the ones
    /// `config` names, e.g. a vendor's credentials for one namespace
    /// ([`rat_core::ScopedCredentials`]); `None` sends unsigned requests.
    pub fn with_credentials(
        config: &S3StorageConfig,
        credentials: Option<Arc<dyn rat_core::CredentialProvider>>,
    ) -> Result<Self> {
        let settings = config.settings();
        let access = S3Access {
            endpoint: settings.endpoint.clone(),
            region: settings.region.clone(),
            path_style: settings.path_style,
            credentials,
        };
        let client = S3Buckets::new(access.clone()).bucket(&config.bucket)?;
        Ok(Self {
            bucket: config.bucket.clone(),
            prefix: config
                .prefix
                .as_deref()
                .map(|p| format!("{}/", p.trim_matches('/')))
                .unwrap_or_default(),
            client,
            access,
        })
    }

    fn path(&self, key: &ObjectKey) -> Path {
        Path::from(format!("{}{}", self.prefix, key.as_str()))
    }

    fn key_of(&self, path: &Path) -> Option<ObjectKey> {
        let full = path.as_ref();
        ObjectKey::new(full.strip_prefix(&self.prefix)?).ok()
    }
}

#[async_trait]
impl Storage for S3Storage {
    async fn get_stream(&self, key: &ObjectKey) -> Result<ByteStream> {
        let got = self
            .client
            .get(&self.path(key))
            .await
            .map_err(|e| s3_error(key.as_str(), e))?;
        let key = key.clone();
        Ok(got
            .into_stream()
            .map_err(move |e| s3_error(key.as_str(), e))
            .boxed())
    }

    async fn put_stream(&self, key: &ObjectKey, mut data: ByteStream) -> Result<()> {
        // S3 makes an object visible only once its upload completes.
        let mut writer = BufWriter::new(self.client.clone(), self.path(key));
        while let Some(chunk) = data.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            };
            if let Err(e) = writer.put(chunk).await {
                let _ = writer.abort().await;
                return Err(s3_error(key.as_str(), e));
            }
        }
        writer.shutdown().await.map_err(|e| {
            Error::new(
                rat_core::ErrorKind::Storage,
                format!("S3 upload failed: {e}"),
            )
            .with_context("object", key.as_str())
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        // object_store lists by path segments; a plain string prefix lists
        // its folder and keeps the keys that start with it.
        let full = format!("{}{prefix}", self.prefix);
        let folder = full.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
        let folder = (!folder.is_empty()).then(|| Path::from(folder));
        let mut listed: Vec<ObjectMeta> = Vec::new();
        let stream = async move {
            let mut pages = self.client.list(folder.as_ref());
            while let Some(meta) = pages.next().await {
                let meta = meta.map_err(|e| s3_error(prefix, e))?;
                if !meta.location.as_ref().starts_with(&full) {
                    continue;
                }
                if let Some(key) = self.key_of(&meta.location) {
                    listed.push(ObjectMeta {
                        key,
                        size: meta.size,
                        last_modified: Some(meta.last_modified),
                    });
                }
            }
            listed.sort_by(|a, b| a.key.cmp(&b.key));
            Ok::<_, Error>(futures::stream::iter(listed.into_iter().map(Ok)))
        };
        futures::stream::once(stream).try_flatten().boxed()
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        match self.client.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3_error(key.as_str(), e)),
        }
    }

    async fn exists(&self, key: &ObjectKey) -> Result<bool> {
        match self.client.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(s3_error(key.as_str(), e)),
        }
    }

    fn engine_url(&self, key: &ObjectKey) -> String {
        format!("s3://{}/{}{}", self.bucket, self.prefix, key.as_str())
    }

    fn s3_access(&self) -> Option<S3Access> {
        Some(self.access.clone())
    }
}
