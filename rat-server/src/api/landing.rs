//! The values of the landing zone verbs: zones, their files, uploads and
//! previews.

use std::fmt;

use chrono::{DateTime, Utc};
use rat_core::project::ZoneSettings;
use rat_core::{Error, Identifier, Result};
use serde::{Deserialize, Serialize};

pub use rat_runner::landing::{DetectedColumn, FilePreview};

/// Which zone: a namespace and the zone's name, both validated.
///
/// ```
/// use rat_server::api::ZoneRef;
///
/// let zone = ZoneRef::parse("default", "orders").unwrap();
/// assert_eq!(zone.to_string(), "default.orders");
/// assert!(ZoneRef::parse("default", "../x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneRef {
    /// The namespace holding the zone.
    pub namespace: Identifier,
    /// The zone's name.
    pub zone: Identifier,
}

impl ZoneRef {
    /// A zone from its two names; errors name the field at fault.
    pub fn parse(namespace: &str, zone: &str) -> Result<Self> {
        Ok(Self {
            namespace: rat_core::ident::namespace(namespace)
                .map_err(|e| e.with_context("field", "namespace"))?,
            zone: Identifier::new(zone).map_err(|e: Error| e.with_context("field", "zone"))?,
        })
    }
}

impl fmt::Display for ZoneRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.zone)
    }
}

/// A landing zone: where it is, what its `_zone.yaml` says, what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LandingZone {
    /// The namespace holding the zone.
    pub namespace: String,
    /// The zone's name (what `landing_zone('...')` takes).
    pub name: String,
    /// Description, expected format, archiving.
    #[serde(flatten)]
    pub settings: ZoneSettings,
    /// Files waiting to be read (the archive not counted).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// `POST /api/v1/landing-zones`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLandingZone {
    /// Namespace (`default` when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The zone's name: lowercase letters, digits and `_`.
    pub name: String,
    /// Description, expected format, archiving.
    #[serde(flatten)]
    pub settings: ZoneSettings,
}

/// One file of a zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LandingFile {
    /// Its path inside the zone (`orders.csv`, or
    /// `_processed/{run}/orders.csv` in the archive).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was written, when storage knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<DateTime<Utc>>,
}

/// `POST .../files`: what an upload stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Uploaded {
    /// The files, in the order they came.
    pub files: Vec<LandingFile>,
}
