//! [`LocalStorage`]: a folder as object storage.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rat_core::storage::ByteStream;
use rat_core::{Error, ErrorKind, ObjectKey, ObjectMeta, Result, Storage};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

const TMP_SUFFIX: &str = ".rat-tmp";

/// Objects as files under a root folder. Keys map to relative paths; writes
/// go to a temporary file renamed into place, so readers never see half an
/// object.
///
/// ```
/// # async fn demo() -> rat_core::Result<()> {
/// use rat_core::{ObjectKey, StorageExt};
/// use rat_runner::storage::LocalStorage;
///
/// let dir = std::env::temp_dir().join("rat-doc-local-storage");
/// let storage = LocalStorage::new(&dir)?;
/// let key = ObjectKey::new("landing/orders/a.csv")?;
/// storage.put(&key, "id\n1\n".into()).await?;
/// assert_eq!(storage.get_string(&key).await?, "id\n1\n");
/// assert_eq!(storage.list_all("landing/").await?.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// Storage rooted at `root` (created if missing; made absolute).
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        std::fs::create_dir_all(root).map_err(|e| {
            Error::new(ErrorKind::Storage, "cannot create storage folder")
                .with_context("path", root.display())
                .with_source(e)
        })?;
        let root = std::fs::canonicalize(root)?;
        Ok(Self { root })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file path of a key.
    pub fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn not_found(key: &ObjectKey) -> Error {
        Error::not_found("no such object").with_context("file", key.as_str())
    }

    fn storage_error(key: &ObjectKey, err: std::io::Error) -> Error {
        if err.kind() == std::io::ErrorKind::NotFound {
            return Self::not_found(key);
        }
        Error::new(ErrorKind::Storage, "local storage failure")
            .with_context("file", key.as_str())
            .with_source(err)
    }
}

#[async_trait]
impl Storage for LocalStorage {
    async fn get_stream(&self, key: &ObjectKey) -> Result<ByteStream> {
        let file = tokio::fs::File::open(self.path(key))
            .await
            .map_err(|e| Self::storage_error(key, e))?;
        let key = key.clone();
        Ok(ReaderStream::new(file)
            .map(move |chunk| chunk.map_err(|e| Self::storage_error(&key, e)))
            .boxed())
    }

    async fn put_stream(&self, key: &ObjectKey, mut data: ByteStream) -> Result<()> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.root).to_owned();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| Self::storage_error(key, e))?;
        let tmp = parent.join(format!(
            ".{}.{}{TMP_SUFFIX}",
            key.file_name(),
            uuid::Uuid::new_v4().simple()
        ));
        let write = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(std::io::Error::other)?;
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await
        };
        if let Err(e) = write.await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(Self::storage_error(key, e));
        }
        Ok(())
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        futures::stream::once(async move {
            tokio::task::spawn_blocking(move || list_sync(&root, &prefix))
                .await
                .map_err(|e| Error::internal(format!("listing task failed: {e}")))?
        })
        .map(|listed| match listed {
            Ok(items) => futures::stream::iter(items.into_iter().map(Ok)).boxed(),
            Err(e) => futures::stream::once(async { Err(e) }).boxed(),
        })
        .flatten()
        .boxed()
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Self::storage_error(key, e)),
            _ => Ok(()),
        }
    }

    async fn exists(&self, key: &ObjectKey) -> Result<bool> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Self::storage_error(key, e)),
        }
    }

    fn engine_url(&self, key: &ObjectKey) -> String {
        self.path(key).display().to_string()
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

/// Walks only the folder the prefix points into, then filters by prefix.
fn list_sync(root: &Path, prefix: &str) -> Result<Vec<ObjectMeta>> {
    let start_rel = match prefix.rfind('/') {
        Some(i) => &prefix[..i],
        None => "",
    };
    let start = root.join(start_rel);
    if !start.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&start).follow_links(false) {
        let entry = entry.map_err(|e| {
            Error::new(ErrorKind::Storage, "cannot list folder")
                .with_context("path", start.display())
                .with_source(e)
        })?;
        if !entry.file_type().is_file() || entry.file_name().to_string_lossy().ends_with(TMP_SUFFIX)
        {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else { continue };
        if !rel.starts_with(prefix) {
            continue;
        }
        // Files whose names are not valid keys cannot be addressed; skip them.
        let Ok(key) = ObjectKey::new(rel) else {
            continue;
        };
        let meta = entry.metadata().ok();
        out.push(ObjectMeta {
            key,
            size: meta.as_ref().map_or(0, |m| m.len()),
            last_modified: meta
                .and_then(|m| m.modified().ok())
                .map(chrono::DateTime::<chrono::Utc>::from),
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rat_core::StorageExt;

    use super::*;

    #[tokio::test]
    async fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path()).unwrap();
        for k in ["a/b/1.txt", "a/b/2.txt", "a/c.txt", "ab.txt"] {
            s.put(&ObjectKey::new(k).unwrap(), k.as_bytes().to_vec().into())
                .await
                .unwrap();
        }
        let keys =
            |v: Vec<ObjectMeta>| v.into_iter().map(|m| m.key.to_string()).collect::<Vec<_>>();
        assert_eq!(
            keys(s.list_all("a/b/").await.unwrap()),
            ["a/b/1.txt", "a/b/2.txt"]
        );
        assert_eq!(keys(s.list_all("a").await.unwrap()).len(), 4);
        assert!(s.list_all("missing/").await.unwrap().is_empty());
        let k = ObjectKey::new("a/c.txt").unwrap();
        assert!(s.exists(&k).await.unwrap());
        s.delete(&k).await.unwrap();
        s.delete(&k).await.unwrap();
        let err = s.get(&k).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.context("file"), Some("a/c.txt"));
    }
}
