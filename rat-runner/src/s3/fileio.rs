//! Iceberg [`FileIO`] over rat's S3 clients, so manifests, manifest lists
//! and footers are read and written with the same refreshing credentials
//! as everything else (iceberg-rust's own S3 storage takes keys once).
//! Paths that are not `s3://` URLs go to the local file system.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use iceberg::io::{
    FileIO, FileIOBuilder, FileMetadata, FileRead, FileWrite, InputFile, LocalFsStorage,
    OutputFile, Storage, StorageConfig, StorageFactory,
};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use rat_core::S3Access;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::io::AsyncWriteExt;

use super::store::{S3Buckets, split_s3_url};

/// A [`FileIO`] reaching `s3://` paths through `access` and other paths on
/// the local file system.
pub fn file_io(access: S3Access) -> FileIO {
    FileIOBuilder::new(Arc::new(TableFilesFactory(TableFiles {
        buckets: S3Buckets::new(access),
    })))
    .build()
}

/// The storage behind [`file_io`].
#[derive(Debug, Clone)]
struct TableFiles {
    buckets: S3Buckets,
}

#[derive(Debug)]
struct TableFilesFactory(TableFiles);

fn is_s3(path: &str) -> bool {
    path.starts_with("s3://") || path.starts_with("s3a://")
}

fn io_error(path: &str, e: impl std::fmt::Display) -> iceberg::Error {
    iceberg::Error::new(
        iceberg::ErrorKind::Unexpected,
        format!("S3 request failed for {path}: {e}"),
    )
}

impl TableFiles {
    fn locate(&self, path: &str) -> iceberg::Result<(Arc<dyn ObjectStore>, Path)> {
        let (client, key) = self.buckets.locate(path).map_err(|e| io_error(path, e))?;
        Ok((client, key))
    }
}

// The trait requires serde (iceberg can ship a FileIO's storage across
// processes); this one holds live credential providers, so it serializes
// only its description and cannot be rebuilt from it.
impl Serialize for TableFiles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let access = self.buckets.access();
        (&access.endpoint, &access.region, access.path_style).serialize(s)
    }
}

impl<'de> Deserialize<'de> for TableFiles {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "rat's S3 file I/O holds live credentials and cannot be deserialized",
        ))
    }
}

impl Serialize for TableFilesFactory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TableFilesFactory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        TableFiles::deserialize(d).map(TableFilesFactory)
    }
}

#[typetag::serde]
impl StorageFactory for TableFilesFactory {
    fn build(&self, _config: &StorageConfig) -> iceberg::Result<Arc<dyn Storage>> {
        Ok(Arc::new(self.0.clone()))
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for TableFiles {
    async fn exists(&self, path: &str) -> iceberg::Result<bool> {
        if !is_s3(path) {
            return LocalFsStorage.exists(path).await;
        }
        let (store, key) = self.locate(path)?;
        match store.head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(io_error(path, e)),
        }
    }

    async fn metadata(&self, path: &str) -> iceberg::Result<FileMetadata> {
        if !is_s3(path) {
            return LocalFsStorage.metadata(path).await;
        }
        let (store, key) = self.locate(path)?;
        let meta = store.head(&key).await.map_err(|e| io_error(path, e))?;
        Ok(FileMetadata { size: meta.size })
    }

    async fn read(&self, path: &str) -> iceberg::Result<Bytes> {
        if !is_s3(path) {
            return LocalFsStorage.read(path).await;
        }
        let (store, key) = self.locate(path)?;
        let got = store.get(&key).await.map_err(|e| io_error(path, e))?;
        got.bytes().await.map_err(|e| io_error(path, e))
    }

    async fn reader(&self, path: &str) -> iceberg::Result<Box<dyn FileRead>> {
        if !is_s3(path) {
            return LocalFsStorage.reader(path).await;
        }
        let (store, key) = self.locate(path)?;
        Ok(Box::new(RangeReader {
            store,
            key,
            path: path.to_owned(),
        }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> iceberg::Result<()> {
        if !is_s3(path) {
            return LocalFsStorage.write(path, bs).await;
        }
        let (store, key) = self.locate(path)?;
        store
            .put(&key, bs.into())
            .await
            .map_err(|e| io_error(path, e))?;
        Ok(())
    }

    async fn writer(&self, path: &str) -> iceberg::Result<Box<dyn FileWrite>> {
        if !is_s3(path) {
            return LocalFsStorage.writer(path).await;
        }
        let (store, key) = self.locate(path)?;
        Ok(Box::new(UploadWriter {
            writer: BufWriter::new(store, key),
            path: path.to_owned(),
        }))
    }

    async fn delete(&self, path: &str) -> iceberg::Result<()> {
        if !is_s3(path) {
            return LocalFsStorage.delete(path).await;
        }
        let (store, key) = self.locate(path)?;
        match store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(path, e)),
        }
    }

    async fn delete_prefix(&self, path: &str) -> iceberg::Result<()> {
        if !is_s3(path) {
            return LocalFsStorage.delete_prefix(path).await;
        }
        let (store, key) = self.locate(path)?;
        let listed = store
            .list(Some(&key))
            .map(|m| m.map(|m| m.location))
            .boxed();
        let mut deleted = store.delete_stream(listed);
        while let Some(result) = deleted.next().await {
            result.map_err(|e| io_error(path, e))?;
        }
        Ok(())
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> iceberg::Result<()> {
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> iceberg::Result<InputFile> {
        if is_s3(path) {
            split_s3_url(path).map_err(|e| io_error(path, e))?;
        }
        Ok(InputFile::new(Arc::new(self.clone()), path.to_owned()))
    }

    fn new_output(&self, path: &str) -> iceberg::Result<OutputFile> {
        if is_s3(path) {
            split_s3_url(path).map_err(|e| io_error(path, e))?;
        }
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_owned()))
    }
}

/// Ranged GETs of one object.
struct RangeReader {
    store: Arc<dyn ObjectStore>,
    key: Path,
    path: String,
}

#[async_trait]
impl FileRead for RangeReader {
    async fn read(&self, range: Range<u64>) -> iceberg::Result<Bytes> {
        self.store
            .get_range(&self.key, range)
            .await
            .map_err(|e| io_error(&self.path, e))
    }
}

/// A streaming upload: one PUT for small objects, multipart for large ones.
struct UploadWriter {
    writer: BufWriter,
    path: String,
}

#[async_trait]
impl FileWrite for UploadWriter {
    async fn write(&mut self, bs: Bytes) -> iceberg::Result<()> {
        self.writer
            .put(bs)
            .await
            .map_err(|e| io_error(&self.path, e))
    }

    async fn close(&mut self) -> iceberg::Result<()> {
        self.writer
            .shutdown()
            .await
            .map_err(|e| io_error(&self.path, e))
    }
}
