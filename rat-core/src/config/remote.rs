//! Settings of remote backends: S3-compatible object storage, Iceberg REST
//! catalogs, and where their secrets come from.
//!
//! Secrets are never written in a config file: a config names an environment
//! variable or a file holding each one ([`SecretRef`]), so printing a config,
//! passing it to a runner process or logging it reveals nothing.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// Where a secret is read from at the moment it is needed.
///
/// ```
/// use rat_core::config::SecretRef;
///
/// let s: SecretRef = serde_yaml_ng::from_str("env: CATALOG_SECRET").unwrap();
/// assert_eq!(s, SecretRef::Env("CATALOG_SECRET".into()));
/// // A literal secret in a config file is refused.
/// let err = serde_yaml_ng::from_str::<SecretRef>("hunter2").unwrap_err();
/// assert!(err.to_string().contains("{env: VAR}"));
/// assert!(!err.to_string().contains("hunter2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable of the process that uses the secret.
    Env(String),
    /// A file whose content (trailing newline removed) is the secret.
    File(PathBuf),
}

impl SecretRef {
    /// A relative file path is taken relative to `base` (the folder of the
    /// config file naming it), so the secret is found from any working
    /// directory, a runner's included.
    pub fn relative_to(self, base: &std::path::Path) -> Self {
        match self {
            SecretRef::File(path) if path.is_relative() => SecretRef::File(base.join(path)),
            other => other,
        }
    }

    /// Reads the secret; the error names the variable or file, never a value.
    pub fn resolve(&self) -> Result<SecretString> {
        match self {
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
                _ => Err(Error::invalid(format!(
                    "the environment variable {var} that should hold a secret is not set"
                ))
                .with_context("env", var)),
            },
            SecretRef::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::invalid(format!("cannot read the secret file: {e}"))
                        .with_context("file", path.display())
                })?;
                Ok(SecretString::from(
                    text.trim_end_matches(['\n', '\r']).to_owned(),
                ))
            }
        }
    }
}

/// Written as a one-entry map (`{env: VAR}`), in YAML and JSON alike.
impl Serialize for SecretRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        match self {
            SecretRef::Env(var) => map.serialize_entry("env", var)?,
            SecretRef::File(path) => map.serialize_entry("file", path)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "lowercase", deny_unknown_fields)]
        enum Tagged {
            Env(String),
            File(PathBuf),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Tagged(Tagged),
            Other(serde::de::IgnoredAny),
        }
        match Form::deserialize(d)? {
            Form::Tagged(Tagged::Env(var)) if !var.is_empty() => Ok(SecretRef::Env(var)),
            Form::Tagged(Tagged::File(path)) => Ok(SecretRef::File(path)),
            _ => Err(serde::de::Error::custom(
                "secrets are not written in the config: use {env: VAR} or {file: PATH}",
            )),
        }
    }
}

/// Where S3 credentials come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CredentialsConfig {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally
    /// `AWS_SESSION_TOKEN` of the process that uses them.
    #[default]
    Env,
    /// A key pair (and session token) whose secret parts are references.
    Static {
        /// The access key id (it names the key; not secret).
        access_key_id: String,
        /// The secret key.
        secret_access_key: SecretRef,
        /// The session token of temporary credentials.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_token: Option<SecretRef>,
    },
    /// A command printing credentials as JSON in the AWS `credential_process`
    /// format (`Version`, `AccessKeyId`, `SecretAccessKey`, `SessionToken`,
    /// `Expiration`); run again before they expire.
    Process {
        /// The program and its arguments (no shell).
        command: Vec<String>,
    },
    /// Unsigned requests (public buckets).
    Anonymous,
}

/// How to reach an S3-compatible service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Endpoint URL of an S3-compatible service; AWS when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Region (the signing region for compatible services).
    #[serde(default = "default_region")]
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`); most compatible
    /// services need it.
    #[serde(default)]
    pub path_style: bool,
    /// Where credentials come from.
    #[serde(default)]
    pub credentials: CredentialsConfig,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: default_region(),
            path_style: false,
            credentials: CredentialsConfig::default(),
        }
    }
}

pub(super) fn default_region() -> String {
    "us-east-1".to_owned()
}

impl S3Settings {
    /// Checks the endpoint is an http(s) URL and the region is set.
    pub fn validate(&self) -> Result<()> {
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(Error::invalid(format!(
                "endpoint '{}' must start with http:// or https://",
                endpoint.escape_default()
            ))
            .with_context("field", "endpoint"));
        }
        if self.region.trim().is_empty() {
            return Err(Error::invalid("region must not be empty").with_context("field", "region"));
        }
        if let CredentialsConfig::Process { command } = &self.credentials
            && command.is_empty()
        {
            return Err(Error::invalid("credentials command must name a program")
                .with_context("field", "credentials.command"));
        }
        Ok(())
    }
}

/// How a client authenticates to an Iceberg REST catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RestAuth {
    /// No authentication.
    #[default]
    None,
    /// OAuth2 client credentials exchanged for a bearer token, renewed
    /// before it expires.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: SecretRef,
        /// Token scope (`catalog` when absent, as other Iceberg clients do).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// Token endpoint; `<uri>/v1/oauth/tokens` when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_uri: Option<String>,
    },
    /// A fixed bearer token.
    Bearer {
        /// The token.
        token: SecretRef,
    },
}

/// An Iceberg REST catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestCatalogConfig {
    /// Base URL, e.g. `https://catalog.example.com` (without `/v1`).
    pub uri: String,
    /// Warehouse to ask `GET /v1/config` for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// Authentication.
    #[serde(default)]
    pub auth: RestAuth,
    /// Ask the catalog to vend credentials for each table's files
    /// (`X-Iceberg-Access-Delegation: vended-credentials`).
    #[serde(default = "yes")]
    pub vended_credentials: bool,
    /// S3 access for table files when the catalog vends no credentials (and
    /// defaults under what it vends, e.g. the endpoint).
    #[serde(default)]
    pub s3: S3Settings,
}

fn yes() -> bool {
    true
}

impl RestCatalogConfig {
    /// Checks the URI and the S3 settings.
    pub fn validate(&self) -> Result<()> {
        if !(self.uri.starts_with("http://") || self.uri.starts_with("https://")) {
            return Err(Error::invalid(format!(
                "uri '{}' must start with http:// or https://",
                self.uri.escape_default()
            ))
            .with_context("field", "catalog.uri"));
        }
        self.s3
            .validate()
            .map_err(|e| e.with_context("section", "catalog.s3"))
    }
}

impl fmt::Display for CredentialsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialsConfig::Env => "env",
            CredentialsConfig::Static { .. } => "static",
            CredentialsConfig::Process { .. } => "process",
            CredentialsConfig::Anonymous => "anonymous",
        })
    }
}
