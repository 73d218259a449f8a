//! `object_store` clients for S3 buckets, signed with a rat
//! [`CredentialProvider`] so every request uses current credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use object_store::path::Path;
use rat_core::{CredentialProvider, Error, ErrorKind, Result, S3Access};

use super::credentials::expose;

/// One client per bucket over the same [`S3Access`], built on first use.
#[derive(Debug, Clone)]
pub struct S3Buckets {
    access: S3Access,
    clients: Arc<Mutex<HashMap<String, Arc<AmazonS3>>>>,
}

impl S3Buckets {
    /// Clients for buckets reached through `access`.
    pub fn new(access: S3Access) -> Self {
        Self {
            access,
            clients: Arc::default(),
        }
    }

    /// The access these clients use.
    pub fn access(&self) -> &S3Access {
        &self.access
    }

    /// The client of `bucket`.
    pub fn bucket(&self, bucket: &str) -> Result<Arc<AmazonS3>> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| Error::internal("S3 client cache poisoned"))?;
        if let Some(client) = clients.get(bucket) {
            return Ok(client.clone());
        }
        let client = Arc::new(build_client(&self.access, bucket)?);
        clients.insert(bucket.to_owned(), client.clone());
        Ok(client)
    }

    /// The client and object path of an `s3://bucket/key` URL.
    pub fn locate(&self, url: &str) -> Result<(Arc<AmazonS3>, Path)> {
        let (bucket, key) = split_s3_url(url)?;
        Ok((self.bucket(bucket)?, Path::from(key)))
    }
}

/// Splits `s3://bucket/key` (also `s3a://`) into bucket and key.
///
/// ```
/// use rat_runner::s3::split_s3_url;
///
/// assert_eq!(split_s3_url("s3://lake/a/b.parquet").unwrap(), ("lake", "a/b.parquet"));
/// assert!(split_s3_url("/tmp/x").is_err());
/// ```
pub fn split_s3_url(url: &str) -> Result<(&str, &str)> {
    let rest = url
        .strip_prefix("s3://")
        .or_else(|| url.strip_prefix("s3a://"))
        .ok_or_else(|| Error::invalid(format!("'{}' is not an s3:// URL", url.escape_default())))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::invalid(format!(
            "'{}' names no bucket",
            url.escape_default()
        )));
    }
    Ok((bucket, key))
}

fn build_client(access: &S3Access, bucket: &str) -> Result<AmazonS3> {
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(&access.region)
        .with_virtual_hosted_style_request(!access.path_style);
    if let Some(endpoint) = &access.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    builder = match &access.credentials {
        Some(provider) => builder.with_credentials(Arc::new(Signer(provider.clone()))),
        None => builder.with_skip_signature(true),
    };
    builder.build().map_err(|e| {
        Error::new(ErrorKind::Storage, format!("cannot configure S3: {e}"))
            .with_context("bucket", bucket)
    })
}

/// Adapts a rat provider to `object_store`'s.
#[derive(Debug)]
struct Signer(Arc<dyn CredentialProvider>);

#[async_trait]
impl object_store::CredentialProvider for Signer {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let credentials = self
            .0
            .credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        let (key_id, secret_key, token) = expose(&credentials);
        Ok(Arc::new(AwsCredential {
            key_id,
            secret_key,
            token,
        }))
    }
}

/// rat's error for a failed S3 call on `what`: not found stays not found;
/// throttling and server errors are retryable.
pub(crate) fn s3_error(what: &str, e: object_store::Error) -> Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => ErrorKind::NotFound,
        _ => ErrorKind::Storage,
    };
    let text = e.to_string();
    let retryable = kind == ErrorKind::Storage
        && (text.contains("503") || text.contains("500") || text.contains("SlowDown"));
    Error::new(kind, format!("S3 request failed: {text}"))
        .with_context("object", what)
        .with_retryable(retryable)
}
