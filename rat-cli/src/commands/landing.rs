//! `rat landing`: landing zones and their files — list, create, upload,
//! ls, rm, preview, delete.

use std::path::Path;

use futures::StreamExt;
use rat_core::project::ZoneSettings;
use rat_core::{Error, Result};
use rat_server::api::{NewLandingZone, PlatformApi, ZoneRef};
use serde_json::json;
use tokio_util::io::ReaderStream;

use crate::cli::LandingAction;
use crate::output::{EXIT_OK, print_json, print_output, print_table};

/// A zone named `zone` (namespace `default`) or `namespace.zone`.
fn zone_ref(name: &str) -> Result<ZoneRef> {
    match name.split_once('.') {
        Some((namespace, zone)) => ZoneRef::parse(namespace, zone),
        None => ZoneRef::parse(rat_core::DEFAULT_NAMESPACE, name),
    }
}

pub(crate) async fn landing(
    api: &dyn PlatformApi,
    action: Option<LandingAction>,
    json: bool,
) -> Result<u8> {
    match action.unwrap_or(LandingAction::List { namespace: None }) {
        LandingAction::List { namespace } => list(api, namespace.as_deref(), json).await,
        LandingAction::Create {
            zone,
            description,
            format,
            archive,
        } => {
            let zone = zone_ref(&zone)?;
            let new = NewLandingZone {
                namespace: Some(zone.namespace.to_string()),
                name: zone.zone.to_string(),
                settings: ZoneSettings {
                    description,
                    expected_format: format,
                    archive,
                },
            };
            let created = api.create_landing_zone(&new).await?;
            if json {
                print_json(&created);
            } else {
                println!(
                    "landing zone {}.{} created",
                    created.namespace, created.name
                );
            }
            Ok(EXIT_OK)
        }
        LandingAction::Upload { zone, files } => upload(api, &zone_ref(&zone)?, &files, json).await,
        LandingAction::Ls { zone, archived } => {
            let files = api.landing_files(&zone_ref(&zone)?, archived).await?;
            if json {
                print_json(&files);
            } else if files.is_empty() {
                println!("No files.");
            } else {
                let rows: Vec<Vec<String>> = files
                    .iter()
                    .map(|f| {
                        let at = f
                            .last_modified
                            .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
                        vec![f.name.clone(), f.size.to_string(), at]
                    })
                    .collect();
                print_table(&["file", "bytes", "modified (UTC)"], &rows);
            }
            Ok(EXIT_OK)
        }
        LandingAction::Rm { zone, files } => {
            let zone = zone_ref(&zone)?;
            for file in &files {
                api.delete_landing_file(&zone, file).await?;
                if !json {
                    println!("deleted {zone}/{file}");
                }
            }
            if json {
                print_json(&json!({"zone": zone.to_string(), "deleted": files}));
            }
            Ok(EXIT_OK)
        }
        LandingAction::Preview { zone, file, rows } => {
            let preview = api
                .preview_landing_file(&zone_ref(&zone)?, &file, rows)
                .await?;
            if json {
                print_json(&preview);
            } else {
                let schema: Vec<String> = preview
                    .schema
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.data_type))
                    .collect();
                println!("columns: {}", schema.join(", "));
                print_output(&preview.output);
                if preview.output.truncated {
                    println!("(showing the first {rows} rows; use --rows for more)");
                }
            }
            Ok(EXIT_OK)
        }
        LandingAction::Delete { zone } => {
            let zone = zone_ref(&zone)?;
            api.delete_landing_zone(&zone).await?;
            if json {
                print_json(&json!({"zone": zone.to_string(), "deleted": true}));
            } else {
                println!("landing zone {zone} deleted with its files");
            }
            Ok(EXIT_OK)
        }
    }
}

async fn list(api: &dyn PlatformApi, namespace: Option<&str>, json: bool) -> Result<u8> {
    let zones = api.landing_zones(namespace).await?;
    if json {
        print_json(&zones);
    } else if zones.is_empty() {
        println!("No landing zones yet; `rat landing create NAME` makes one.");
    } else {
        let rows: Vec<Vec<String>> = zones
            .iter()
            .map(|z| {
                vec![
                    format!("{}.{}", z.namespace, z.name),
                    z.files.to_string(),
                    z.bytes.to_string(),
                    z.settings
                        .expected_format
                        .map_or("-".into(), |f| f.to_string()),
                    if z.settings.archive { "yes" } else { "no" }.into(),
                    z.settings.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        print_table(
            &["zone", "files", "bytes", "format", "archive", "description"],
            &rows,
        );
    }
    Ok(EXIT_OK)
}

/// Streams each local file into the zone under its own file name.
async fn upload(
    api: &dyn PlatformApi,
    zone: &ZoneRef,
    files: &[std::path::PathBuf],
    json: bool,
) -> Result<u8> {
    let mut stored = Vec::new();
    for path in files {
        let name = file_name(path)?;
        let file = tokio::fs::File::open(path).await.map_err(|e| {
            Error::invalid(format!("cannot read {}: {e}", path.display()))
                .with_context("file", path.display().to_string())
        })?;
        let shown = path.display().to_string();
        let data = ReaderStream::new(file)
            .map(move |chunk| {
                chunk.map_err(|e| {
                    Error::new(
                        rat_core::ErrorKind::Storage,
                        format!("reading {shown}: {e}"),
                    )
                })
            })
            .boxed();
        let landed = api.upload_landing_file(zone, name, data).await?;
        if !json {
            println!("uploaded {} to {zone} ({} bytes)", landed.name, landed.size);
        }
        stored.push(landed);
    }
    if json {
        print_json(&json!({"zone": zone.to_string(), "files": stored}));
    }
    Ok(EXIT_OK)
}

fn file_name(path: &Path) -> Result<&str> {
    path.file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::invalid(format!("'{}' is not a file name", path.display())))
}
