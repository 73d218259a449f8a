//! Landing zones as objects of a namespace: folders under `landing/` of
//! its project, described by an optional `_zone.yaml`. Uploads stream
//! into storage within a size limit and appear whole or not at all.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rat_core::project::landing::{
    self, PROCESSED_DIR, ZONE_FILE, is_zone_data, zone_key, zone_prefix,
};
use rat_core::project::{FileFormat, ZoneSettings};
use rat_core::storage::ByteStream;
use rat_core::{
    Error, ErrorKind, Identifier, ObjectMeta, ProjectSource, Result, Storage, StorageExt,
};
use serde::Deserialize;

use rat_core::authz::Action;

use super::namespaces::no_namespace;
use super::{MAX_QUERY_ROWS, Platform};
use crate::api::{FilePreview, LandingFile, LandingZone, NewLandingZone, ZoneRef};

/// What landing uploads may be (`server.landing` of `rat.yaml`).
///
/// ```yaml
/// server:
///   landing: {max_file_bytes: 104857600}   # 100 MiB; default 32 MiB
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandingSettings {
    /// Largest file an upload stores; a larger one is refused with
    /// `too_large` and nothing is kept.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
}

fn default_max_file_bytes() -> u64 {
    32 * 1024 * 1024
}

impl Default for LandingSettings {
    fn default() -> Self {
        Self {
            max_file_bytes: default_max_file_bytes(),
        }
    }
}

/// How long a file preview may take.
const PREVIEW_TIME: Duration = Duration::from_secs(30);

impl Platform {
    /// The zones of `namespace` (every namespace when `None`), by name.
    pub(super) async fn list_zones(&self, namespace: Option<&str>) -> Result<Vec<LandingZone>> {
        let namespaces = self.namespaces_or_all(namespace).await?;
        let namespaces = self.visible_namespaces(namespaces).await?;
        let mut zones = Vec::new();
        for namespace in namespaces {
            let project = ProjectSource::of(&namespace);
            let root = format!("{}landing/", project.prefix);
            let storage = self.storage(&namespace)?;
            let mut names: Vec<Identifier> = Vec::new();
            for meta in storage.list_all(&root).await? {
                let rest = &meta.key.as_str()[root.len()..];
                if let Some((zone, _)) = rest.split_once('/')
                    && let Ok(zone) = Identifier::new(zone)
                    && names.last() != Some(&zone)
                {
                    names.push(zone);
                }
            }
            for zone in names {
                let zone = ZoneRef {
                    namespace: namespace.clone(),
                    zone,
                };
                zones.push(self.describe_zone(storage.as_ref(), &zone).await?);
            }
        }
        Ok(zones)
    }

    /// One zone; `not_found` when nothing is under its folder.
    pub(super) async fn read_zone(&self, zone: &ZoneRef) -> Result<LandingZone> {
        self.check_zone(Action::Discover, zone).await?;
        let storage = self.storage(&zone.namespace)?;
        let described = self.describe_zone(storage.as_ref(), zone).await?;
        if described.files == 0 && !self.zone_exists(storage.as_ref(), zone).await? {
            return Err(no_zone(zone));
        }
        Ok(described)
    }

    /// Creates a zone by writing its `_zone.yaml`.
    pub(super) async fn add_zone(&self, new: &NewLandingZone) -> Result<LandingZone> {
        let namespace = new
            .namespace
            .as_deref()
            .unwrap_or(rat_core::DEFAULT_NAMESPACE);
        let zone = ZoneRef::parse(namespace, &new.name)?;
        self.check_namespace(Action::Write, &zone.namespace, || {
            no_namespace(&zone.namespace)
        })
        .await?;
        self.existing_namespace(namespace).await?;
        let storage = self.storage(&zone.namespace)?;
        if self.zone_exists(storage.as_ref(), &zone).await? {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("landing zone '{zone}' already exists"),
            ));
        }
        let key = zone_key(&project_of(&zone), &zone.zone, ZONE_FILE)?;
        storage.put(&key, new.settings.to_yaml().into()).await?;
        self.describe_zone(storage.as_ref(), &zone).await
    }

    /// Deletes a zone: its settings, its files and its archive.
    pub(super) async fn remove_zone(&self, zone: &ZoneRef) -> Result<()> {
        self.check_zone(Action::Write, zone).await?;
        let storage = self.storage(&zone.namespace)?;
        let objects = storage
            .list_all(&zone_prefix(&project_of(zone), &zone.zone))
            .await?;
        if objects.is_empty() {
            return Err(no_zone(zone));
        }
        for object in objects {
            storage.delete(&object.key).await?;
        }
        Ok(())
    }

    /// The files of a zone waiting to be read, or those of its archive.
    pub(super) async fn list_zone_files(
        &self,
        zone: &ZoneRef,
        archived: bool,
    ) -> Result<Vec<LandingFile>> {
        self.check_zone(Action::Discover, zone).await?;
        let storage = self.storage(&zone.namespace)?;
        let prefix = zone_prefix(&project_of(zone), &zone.zone);
        let objects = storage.list_all(&prefix).await?;
        if objects.is_empty() {
            return Err(no_zone(zone));
        }
        let archive = format!("{PROCESSED_DIR}/");
        Ok(objects
            .into_iter()
            .filter(|o| {
                let relative = &o.key.as_str()[prefix.len()..];
                if archived {
                    relative.starts_with(&archive)
                } else {
                    is_zone_data(relative)
                }
            })
            .map(|o| landing_file(&prefix, o))
            .collect())
    }

    /// Streams `data` into the zone as file `name`, replacing a file of
    /// that name. Beyond the size limit, or when `data` fails (a body cut
    /// short), nothing is stored.
    pub(super) async fn store_upload(
        &self,
        zone: &ZoneRef,
        name: &str,
        data: ByteStream,
    ) -> Result<LandingFile> {
        self.check_zone(Action::Write, zone).await?;
        let name = landing::file_name(name)?;
        let storage = self.storage(&zone.namespace)?;
        let settings = self.zone_settings(storage.as_ref(), zone).await?;
        let format = FileFormat::of(name).ok_or_else(|| {
            Error::invalid(format!(
                "file '{name}' is not csv, json or parquet (by its extension), which landing zones hold"
            ))
            .with_context("field", "file")
        })?;
        if let Some(expected) = settings.expected_format.filter(|f| *f != format) {
            return Err(Error::invalid(format!(
                "landing zone '{zone}' expects {expected} files; '{name}' is {format}"
            ))
            .with_context("field", "file"));
        }
        let project = project_of(zone);
        let key = zone_key(&project, &zone.zone, name)?;
        let limited = Limited::new(self.inner.options.landing.max_file_bytes, name);
        match storage.put_stream(&key, limited.wrap(data)).await {
            Ok(()) => {}
            // The stream's own error says why (too large, cut short);
            // storage only saw "the body failed".
            Err(e) => return Err(limited.failure().unwrap_or(e)),
        }
        let meta = storage
            .meta(&key)
            .await?
            .ok_or_else(|| Error::internal(format!("'{key}' is missing right after its upload")))?;
        Ok(landing_file(&zone_prefix(&project, &zone.zone), meta))
    }

    /// The bytes of one file of a zone.
    pub(super) async fn open_zone_file(&self, zone: &ZoneRef, name: &str) -> Result<ByteStream> {
        self.check_zone(Action::Read, zone).await?;
        let (storage, meta) = self.zone_file(zone, name).await?;
        storage.get_stream(&meta.key).await
    }

    /// Deletes one file of a zone.
    pub(super) async fn remove_zone_file(&self, zone: &ZoneRef, name: &str) -> Result<()> {
        self.check_zone(Action::Write, zone).await?;
        let (storage, meta) = self.zone_file(zone, name).await?;
        storage.delete(&meta.key).await
    }

    /// The first `rows` rows of one file and the schema DuckDB detects,
    /// read in a session that may read only that file.
    pub(super) async fn preview_zone_file(
        &self,
        zone: &ZoneRef,
        name: &str,
        rows: u32,
    ) -> Result<FilePreview> {
        self.check_zone(Action::Read, zone).await?;
        let (storage, meta) = self.zone_file(zone, name).await?;
        let rows = rows.clamp(1, MAX_QUERY_ROWS) as usize;
        rat_runner::landing::preview_file(storage.as_ref(), &zone.zone, &meta, rows, PREVIEW_TIME)
            .await
    }

    /// [`Platform::check_namespace`] of a zone, hidden as missing.
    async fn check_zone(&self, action: Action, zone: &ZoneRef) -> Result<()> {
        self.check_namespace(action, &zone.namespace, || no_zone(zone))
            .await
    }

    /// A file of a zone, which must exist.
    async fn zone_file(
        &self,
        zone: &ZoneRef,
        name: &str,
    ) -> Result<(Arc<dyn Storage>, ObjectMeta)> {
        let name = landing::file_name(name)?;
        let storage = self.storage(&zone.namespace)?;
        let key = zone_key(&project_of(zone), &zone.zone, name)?;
        match storage.meta(&key).await? {
            Some(meta) => Ok((storage, meta)),
            None if self.zone_exists(storage.as_ref(), zone).await? => Err(Error::not_found(
                format!("landing zone '{zone}' has no file '{name}'"),
            )
            .with_context("field", "file")),
            None => Err(no_zone(zone)),
        }
    }

    /// A zone's settings; `not_found` when the zone does not exist.
    async fn zone_settings(&self, storage: &dyn Storage, zone: &ZoneRef) -> Result<ZoneSettings> {
        match read_settings(storage, zone).await? {
            Some(settings) => Ok(settings),
            None if self.zone_exists(storage, zone).await? => Ok(ZoneSettings::default()),
            None => Err(no_zone(zone)),
        }
    }

    async fn describe_zone(&self, storage: &dyn Storage, zone: &ZoneRef) -> Result<LandingZone> {
        let settings = read_settings(storage, zone).await?.unwrap_or_default();
        let prefix = zone_prefix(&project_of(zone), &zone.zone);
        let (mut files, mut bytes) = (0, 0);
        for object in storage.list_all(&prefix).await? {
            if is_zone_data(&object.key.as_str()[prefix.len()..]) {
                files += 1;
                bytes += object.size;
            }
        }
        Ok(LandingZone {
            namespace: zone.namespace.to_string(),
            name: zone.zone.to_string(),
            settings,
            files,
            bytes,
        })
    }

    /// Whether anything is under the zone's folder.
    async fn zone_exists(&self, storage: &dyn Storage, zone: &ZoneRef) -> Result<bool> {
        let prefix = zone_prefix(&project_of(zone), &zone.zone);
        Ok(storage.list(&prefix).next().await.transpose()?.is_some())
    }
}

/// The zone's `_zone.yaml`, if it has one.
async fn read_settings(storage: &dyn Storage, zone: &ZoneRef) -> Result<Option<ZoneSettings>> {
    let key = zone_key(&project_of(zone), &zone.zone, ZONE_FILE)?;
    match storage.get_string(&key).await {
        Ok(text) => ZoneSettings::parse(&text, key.as_str()).map(Some),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn project_of(zone: &ZoneRef) -> ProjectSource {
    ProjectSource::of(&zone.namespace)
}

fn no_zone(zone: &ZoneRef) -> Error {
    Error::not_found(format!("no landing zone '{zone}'")).with_context("field", "zone")
}

fn landing_file(prefix: &str, meta: ObjectMeta) -> LandingFile {
    LandingFile {
        name: meta.key.as_str()[prefix.len()..].to_owned(),
        size: meta.size,
        last_modified: meta.last_modified,
    }
}

/// An upload's bytes, counted: past the limit, or when the body fails,
/// the stream fails and remembers why.
struct Limited {
    max: u64,
    name: String,
    failure: Arc<Mutex<Option<Error>>>,
}

impl Limited {
    fn new(max: u64, name: &str) -> Self {
        Self {
            max,
            name: name.to_owned(),
            failure: Arc::default(),
        }
    }

    fn wrap(&self, data: ByteStream) -> ByteStream {
        let (max, name, failure) = (self.max, self.name.clone(), self.failure.clone());
        let mut seen: u64 = 0;
        data.map(move |chunk| {
            let outcome = chunk.and_then(|bytes| {
                seen += bytes.len() as u64;
                if seen > max {
                    Err(Error::new(
                        ErrorKind::TooLarge,
                        format!("file '{name}' is larger than the upload limit of {max} bytes"),
                    )
                    .with_context("field", "file"))
                } else {
                    Ok(bytes)
                }
            });
            // Storage gets a stand-in; why is kept for the caller.
            outcome.map_err(|e| {
                let stand_in = Error::new(e.kind(), e.message().to_owned());
                failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
                stand_in
            })
        })
        .boxed()
    }

    fn failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}
