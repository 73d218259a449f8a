//! The [`Storage`] trait: objects by key, shaped to fit a local folder and S3
//! alike (keys, not paths).

use std::fmt;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A validated object key: `/`-separated segments, none empty, `.` or `..`,
/// no backslash or control character, no leading `/`.
///
/// ```
/// use rat_core::ObjectKey;
///
/// assert!(ObjectKey::new("pipelines/silver/orders/pipeline.sql").is_ok());
/// assert!(ObjectKey::new("../etc/passwd").is_err());
/// assert!(ObjectKey::new("/abs").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key`.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        let bad_segment = key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
        let bad_char = key.chars().any(|c| c == '\\' || c.is_control());
        if key.is_empty() || bad_segment || bad_char {
            return Err(Error::invalid(format!(
                "invalid object key '{}': use '/'-separated names without '.', '..' or empty parts",
                key.escape_default()
            )));
        }
        Ok(Self(key))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self/child`, validating the result.
    pub fn join(&self, child: &str) -> Result<Self> {
        Self::new(format!("{}/{child}", self.0))
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl From<ObjectKey> for String {
    fn from(value: ObjectKey) -> Self {
        value.0
    }
}

/// What a listing says about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: ObjectKey,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time, when the backend knows it.
    pub last_modified: Option<DateTime<Utc>>,
}

/// A stream of byte chunks.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// Objects by key: pipeline sources, quality tests and landing files live here.
///
/// The core is deliberately small; [`StorageExt`] adds conveniences on top.
/// Implementations: `rat_runner::storage::LocalStorage` (a folder),
/// `rat_runner::storage::S3Storage` (a bucket prefix on any S3 endpoint).
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// Streams an object's bytes. A missing object is [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
    async fn get_stream(&self, key: &ObjectKey) -> Result<ByteStream>;

    /// Writes an object from a stream of chunks, replacing any previous one.
    /// Readers never see a partially written object.
    async fn put_stream(&self, key: &ObjectKey, data: ByteStream) -> Result<()>;

    /// Lists objects whose key starts with `prefix` (a plain string prefix, as
    /// in S3), in key order.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>>;

    /// Deletes an object; deleting a missing object is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<()>;

    /// Whether an object exists.
    async fn exists(&self, key: &ObjectKey) -> Result<bool>;

    /// Where the SQL engine reads the object: a local path or an `s3://` URL.
    fn engine_url(&self, key: &ObjectKey) -> String;

    /// How the SQL engine reaches [`Storage::engine_url`]s that are remote;
    /// `None` for local files.
    fn s3_access(&self) -> Option<crate::S3Access> {
        None
    }

    /// The folder holding the objects, when they are local files.
    fn local_root(&self) -> Option<&std::path::Path> {
        None
    }
}

/// Conveniences over any [`Storage`].
#[async_trait]
pub trait StorageExt: Storage {
    /// Reads a whole object.
    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let mut stream = self.get_stream(key).await?;
        let mut buf = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Reads a whole object as UTF-8, naming the key when it is not.
    async fn get_string(&self, key: &ObjectKey) -> Result<String> {
        let bytes = self.get(key).await?;
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            Error::invalid("the file is not valid UTF-8").with_context("file", key.as_str())
        })
    }

    /// Writes a whole object.
    async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()> {
        self.put_stream(key, futures::stream::once(async { Ok(data) }).boxed())
            .await
    }

    /// Lists every object under `prefix`.
    async fn list_all(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.list(prefix).try_collect().await
    }

    /// What a listing says of exactly `key` (size, time), if it exists.
    async fn meta(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>> {
        Ok(self
            .list_all(key.as_str())
            .await?
            .into_iter()
            .find(|o| &o.key == key))
    }
}

impl<S: Storage + ?Sized> StorageExt for S {}
