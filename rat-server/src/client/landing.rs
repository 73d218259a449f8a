//! The landing verbs that move bytes: uploads as a streamed multipart
//! body, downloads as the answer's byte stream.

use futures::{StreamExt, TryStreamExt};
use rat_core::storage::ByteStream;
use rat_core::{Error, ErrorKind, Result};
use reqwest::Method;
use reqwest::multipart::{Form, Part};

use super::{Client, escaped};
use crate::api::{LandingFile, Uploaded, ZoneRef};

/// `/landing-zones/{namespace}/{zone}`.
pub(super) fn zone_path(zone: &ZoneRef) -> String {
    format!("/landing-zones/{}/{}", zone.namespace, zone.zone)
}

/// `/landing-zones/{namespace}/{zone}/files/{name}`.
pub(super) fn file_path(zone: &ZoneRef, name: &str) -> String {
    format!("{}/files/{}", zone_path(zone), escaped(name))
}

impl Client {
    /// Sends `data` as the one file part of a multipart body, chunk by
    /// chunk as it is read.
    pub(super) async fn upload(
        &self,
        zone: &ZoneRef,
        name: &str,
        data: ByteStream,
    ) -> Result<LandingFile> {
        let body = reqwest::Body::wrap_stream(data);
        let part = Part::stream(body)
            .file_name(name.to_owned())
            .mime_str("application/octet-stream")
            .map_err(|e| Error::internal(format!("multipart part: {e}")))?;
        let form = Form::new().part("file", part);
        let request = self
            .request(Method::POST, &format!("{}/files", zone_path(zone)))
            .multipart(form);
        let uploaded: Uploaded = self.send(request).await?;
        uploaded
            .files
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("the server stored no file"))
    }

    /// The answer's body as it arrives.
    pub(super) async fn download(&self, zone: &ZoneRef, name: &str) -> Result<ByteStream> {
        let response = self
            .answer(self.request(Method::GET, &file_path(zone, name)))
            .await?;
        Ok(response
            .bytes_stream()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Executor,
                    format!("reading the server's answer: {e}"),
                )
            })
            .boxed())
    }
}
