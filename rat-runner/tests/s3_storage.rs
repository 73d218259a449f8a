//! S3Storage against SeaweedFS: streaming multipart uploads, listings past
//! one page, plain string prefixes, failures that leave nothing behind.
//! Needs `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::remote::*;
use common::run_python;
use futures::{StreamExt, TryStreamExt};
use rat_core::{Error, ErrorKind, ObjectKey, Storage, StorageExt};
use rat_runner::storage::S3Storage;

fn storage(dir: &std::path::Path) -> (S3Storage, String) {
    require_seaweedfs();
    let prefix = unique_namespace();
    let storage = S3Storage::new(&s3_storage_config(&prefix, admin_credentials(dir))).unwrap();
    (storage, prefix)
}

fn key(k: &str) -> ObjectKey {
    ObjectKey::new(k).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_streamed_object_goes_up_in_parts_and_comes_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, prefix) = storage(dir.path());
    // 24 MiB in 1 MiB chunks, each chunk a different byte.
    let chunks: Vec<Bytes> = (0..24u8).map(|i| Bytes::from(vec![i; 1 << 20])).collect();
    let expected: Vec<u8> = chunks.iter().flat_map(|c| c.to_vec()).collect();
    let stream = futures::stream::iter(chunks.into_iter().map(Ok)).boxed();
    storage
        .put_stream(&key("big/blob.bin"), stream)
        .await
        .unwrap();

    let back = storage.get(&key("big/blob.bin")).await.unwrap();
    assert_eq!(back.len(), expected.len());
    assert!(back.as_ref() == expected.as_slice(), "content differs");
    // A multipart upload's ETag ends in -<parts>.
    let head = run_python(
        &format!(
            "import boto3, json\n\
             s3 = boto3.client('s3', endpoint_url='{S3_ENDPOINT}', region_name='us-east-1', \
             aws_access_key_id='{ADMIN_KEY}', aws_secret_access_key='{ADMIN_SECRET}')\n\
             h = s3.head_object(Bucket='{BUCKET}', Key='{prefix}/big/blob.bin')\n\
             print(json.dumps({{'etag': h['ETag'], 'size': h['ContentLength']}}))"
        ),
        dir.path(),
    );
    assert_eq!(head["size"].as_u64(), Some(24 << 20));
    let etag = head["etag"].as_str().unwrap();
    assert!(
        etag.trim_matches('"').contains('-'),
        "not multipart: {etag}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_page_past_a_thousand_keys_and_honour_string_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _) = storage(dir.path());
    let n = 1_100;
    futures::stream::iter(0..n)
        .map(|i| {
            let storage = &storage;
            async move {
                storage
                    .put(
                        &key(&format!("many/obj-{i:04}")),
                        Bytes::from(i.to_string()),
                    )
                    .await
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    storage.put(&key("many-other/x"), "x".into()).await.unwrap();

    let all = storage.list_all("many/").await.unwrap();
    assert_eq!(all.len(), n);
    assert!(
        all.windows(2).all(|w| w[0].key < w[1].key),
        "not in key order"
    );
    assert_eq!(all[0].key.as_str(), "many/obj-0000");
    // A plain string prefix, not a folder: obj-100x and obj-10xx.
    let some = storage.list_all("many/obj-10").await.unwrap();
    assert_eq!(some.len(), 100);
    // "many" matches both folders, as an S3 prefix does.
    assert_eq!(storage.list_all("many").await.unwrap().len(), n + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_objects_and_failed_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _) = storage(dir.path());
    let err = storage.get(&key("nope")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(!storage.exists(&key("nope")).await.unwrap());
    storage.delete(&key("nope")).await.unwrap();

    // A stream that fails after 12 MiB: the upload is aborted, no object.
    let failing =
        futures::stream::iter((0..12).map(|_| Ok(Bytes::from(vec![7u8; 1 << 20]))).chain(
            std::iter::once(Err(Error::new(ErrorKind::Storage, "source broke"))),
        ))
        .boxed();
    let err = storage
        .put_stream(&key("broken.bin"), failing)
        .await
        .unwrap_err();
    assert_eq!(err.message(), "source broke");
    assert!(!storage.exists(&key("broken.bin")).await.unwrap());

    storage.put(&key("a/b.txt"), "hello".into()).await.unwrap();
    assert!(storage.exists(&key("a/b.txt")).await.unwrap());
    assert_eq!(storage.get_string(&key("a/b.txt")).await.unwrap(), "hello");
    storage.delete(&key("a/b.txt")).await.unwrap();
    assert!(!storage.exists(&key("a/b.txt")).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_are_a_storage_error_that_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    require_seaweedfs();
    let bad = rat_core::config::CredentialsConfig::Static {
        access_key_id: ADMIN_KEY.into(),
        secret_access_key: secret_file(dir.path(), "wrong", "not-the-secret-1234"),
        session_token: None,
    };
    let storage = S3Storage::new(&s3_storage_config(&unique_namespace(), bad)).unwrap();
    let err = storage.put(&key("x"), "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(!format!("{err} {err:?}").contains("not-the-secret-1234"));
}
