//! After a run published: the landing files it read move to the zone's
//! `_processed/{run}/` when the zone's `_zone.yaml` says `archive: true`,
//! so the next run reads only what landed since.

use std::collections::BTreeMap;

use rat_core::project::ZoneSettings;
use rat_core::project::landing::{PROCESSED_DIR, ZONE_FILE, zone_key, zone_prefix};
use rat_core::{Identifier, LogLevel, ObjectKey, Result, Storage, StorageExt};

use super::Run;

impl Run<'_> {
    /// Archives what the published attempt read from zones that ask for
    /// it. The run has published: a failure here is a warning (the files
    /// stay where they are and the next run reads them again).
    pub(super) async fn archive_consumed(&mut self) {
        let mut by_zone: BTreeMap<Identifier, Vec<ObjectKey>> = BTreeMap::new();
        for (zone, key) in std::mem::take(&mut self.consumed) {
            by_zone.entry(zone).or_default().push(key);
        }
        for (zone, keys) in by_zone {
            match self.archive_zone(&zone, &keys).await {
                Ok(0) => {}
                Ok(moved) => self.log(
                    LogLevel::Info,
                    format!(
                        "archived {moved} files of landing zone '{zone}' to {PROCESSED_DIR}/{}/",
                        self.spec.run_id
                    ),
                ),
                Err(e) => {
                    let warning =
                        format!("could not archive the files of landing zone '{zone}': {e}");
                    self.log(LogLevel::Warn, warning.clone());
                    self.warnings.push(warning);
                }
            }
        }
    }

    /// Moves `keys` of `zone` into its archive when its settings say so;
    /// how many moved.
    async fn archive_zone(&self, zone: &Identifier, keys: &[ObjectKey]) -> Result<usize> {
        let storage = self.engine.storage.as_ref();
        let project = &self.spec.project;
        let settings_key = zone_key(project, zone, ZONE_FILE)?;
        let settings = match storage.get_string(&settings_key).await {
            Ok(text) => ZoneSettings::parse(&text, settings_key.as_str())?,
            Err(e) if e.kind() == rat_core::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        if !settings.archive {
            return Ok(0);
        }
        let prefix = zone_prefix(project, zone);
        for key in keys {
            let relative = &key.as_str()[prefix.len()..];
            let to = zone_key(
                project,
                zone,
                &format!("{PROCESSED_DIR}/{}/{relative}", self.spec.run_id),
            )?;
            move_object(storage, key, &to).await?;
        }
        Ok(keys.len())
    }
}

/// Copies `from` to `to`, then deletes `from`: a reader sees the file in
/// one place or both, never in neither.
async fn move_object(storage: &dyn Storage, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
    let data = storage.get_stream(from).await?;
    storage.put_stream(to, data).await?;
    storage.delete(from).await
}
