//! Orphan files: files under a table's location that no metadata
//! references. They are removed once older than a safety age, so a writer
//! still at work is never hurt; files named after a run that is over (its
//! data folder `data/<run>/`, its manifests `<run>-…-m0.avro` and manifest
//! list `snap-…-<run>.avro`) go at once, since nothing will reference them.

use std::collections::HashSet;

use rat_core::{LoadedTable, RunId};

use super::reachable::{Referenced, normalise};
use crate::table::ListedFile;

/// The files of `listed` that nothing references: not the current metadata
/// file, not in the metadata log, not referenced by any snapshot.
pub(crate) fn unreferenced(
    table: &LoadedTable,
    listed: Vec<ListedFile>,
    referenced: &Referenced,
) -> Vec<ListedFile> {
    let mut metadata_files: HashSet<String> = table
        .metadata
        .metadata_log()
        .iter()
        .map(|m| normalise(&m.metadata_file))
        .collect();
    metadata_files.insert(normalise(&table.metadata_location));
    listed
        .into_iter()
        .filter(|file| {
            let path = normalise(&file.path);
            !metadata_files.contains(&path) && !referenced.mentions(&path)
        })
        .collect()
}

/// The run a file of a table is named after, if any: `data/<run>/…`,
/// `metadata/<run>-…-m0.avro` or `metadata/snap-<id>-<n>-<run>.avro`.
pub(crate) fn run_of(path: &str) -> Option<RunId> {
    let len = RunId::generate().as_str().len();
    if let Some((_, rest)) = path.rsplit_once("/data/").filter(|(_, r)| r.len() > len)
        && let Some(run) = rest.get(..len).and_then(|r| r.parse().ok())
    {
        return Some(run);
    }
    let name = path.rsplit('/').next()?;
    if let Some(stem) = name
        .strip_prefix("snap-")
        .and_then(|n| n.strip_suffix(".avro"))
    {
        return stem.get(stem.len().checked_sub(len)?..)?.parse().ok();
    }
    if name.ends_with("-m0.avro") {
        return name.get(..len)?.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_traced_to_their_run() {
        let run = RunId::generate();
        for path in [
            format!("/lake/t/data/{run}/append/data_0.parquet"),
            format!("/lake/t/metadata/{run}-0f3a-m0.avro"),
            format!("/lake/t/metadata/snap-12345-1-{run}.avro"),
        ] {
            assert_eq!(run_of(&path), Some(run.clone()), "{path}");
        }
        assert_eq!(run_of("/lake/t/metadata/00001-abc.metadata.json"), None);
        assert_eq!(run_of("/lake/t/data/x.parquet"), None);
    }
}
