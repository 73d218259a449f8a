//! `rat.yaml`: the lakehouse a project runs against, with environment
//! overrides.
//!
//! ```yaml
//! storage:
//!   type: s3
//!   bucket: lake
//!   prefix: shop
//!   endpoint: http://127.0.0.1:8333
//!   path_style: true
//!   credentials: {type: static, access_key_id: AKID, secret_access_key: {env: S3_SECRET}}
//! catalog:
//!   type: rest
//!   uri: http://127.0.0.1:8181
//!   warehouse: s3://warehouse
//!   auth: {type: oauth2, client_id: AKID, client_secret: {env: S3_SECRET}}
//! ```
//!
//! Any field can be overridden by an environment variable named after its
//! path, upper case, segments joined by `__` under the prefix `RAT__`:
//! `RAT__CATALOG__URI=https://...`, `RAT__STORAGE__PATH_STYLE=true`,
//! `RAT__CATALOG__AUTH__CLIENT_SECRET__ENV=NAME`.

use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::{
    CatalogConfig, CredentialsConfig, LakehouseConfig, RestAuth, SecretRef, StorageConfig,
};
use crate::error::{Error, Result};

/// Prefix of override variables.
pub const ENV_PREFIX: &str = "RAT__";

impl LakehouseConfig {
    /// Reads a config file, applies the process's `RAT__*` overrides,
    /// resolves relative local paths against the file's folder and
    /// validates. Errors name the file and the field.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(format!("cannot read the config file: {e}"))
                .with_context("file", path.display())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_yaml(&text, base, std::env::vars())
            .map_err(|e| e.with_context("file", path.display()))
    }

    /// Parses `text`, applies overrides from `env` (`(name, value)` pairs;
    /// names without the `RAT__` prefix are ignored) and resolves relative
    /// local paths against `base`.
    ///
    /// ```
    /// use rat_core::config::{CatalogConfig, LakehouseConfig};
    ///
    /// let yaml = "storage: {type: local, root: .}\ncatalog: {type: rest, uri: http://a}\n";
    /// let env = [("RAT__CATALOG__URI".to_owned(), "https://b".to_owned())];
    /// let config = LakehouseConfig::from_yaml(yaml, "/p".as_ref(), env).unwrap();
    /// let CatalogConfig::Rest(rest) = &config.catalog else { panic!() };
    /// assert_eq!(rest.uri, "https://b");
    /// ```
    pub fn from_yaml(
        text: &str,
        base: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        Self::from_tree(config_tree(text, env)?, base)
    }

    /// The lakehouse sections of a parsed config ([`config_tree`]), with
    /// relative local paths resolved against `base`, validated. Sections
    /// other parts of rat read (`server`) must be taken out first.
    pub fn from_tree(tree: Value, base: &Path) -> Result<Self> {
        let mut config: LakehouseConfig = serde_yaml_ng::from_value(tree)
            .map_err(|e| Error::invalid(format!("invalid config: {e}")))?;
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    /// Checks every section; errors name the field.
    pub fn validate(&self) -> Result<()> {
        match &self.storage {
            StorageConfig::Local { .. } => {}
            StorageConfig::S3(s3) => {
                if s3.bucket.is_empty() || s3.bucket.contains('/') {
                    return Err(Error::invalid(format!(
                        "bucket '{}' must be a bucket name without '/'",
                        s3.bucket.escape_default()
                    ))
                    .with_context("field", "storage.bucket"));
                }
                if let Some(prefix) = &s3.prefix {
                    crate::ObjectKey::new(prefix.as_str())
                        .map_err(|e| e.with_context("field", "storage.prefix"))?;
                }
                s3.settings()
                    .validate()
                    .map_err(|e| e.with_context("section", "storage"))?;
            }
        }
        match &self.catalog {
            CatalogConfig::Sql { .. } => Ok(()),
            CatalogConfig::Rest(rest) => rest.validate(),
        }
    }

    /// The config as YAML, as `rat config` prints it: secrets show as the
    /// references they are, never as values.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }

    fn resolve_paths(&mut self, base: &Path) {
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let StorageConfig::Local { root } = &mut self.storage {
            absolute(root);
        }
        if let CatalogConfig::Sql { path, warehouse } = &mut self.catalog {
            absolute(path);
            absolute(warehouse);
        }
        let secret = |s: &mut SecretRef| *s = s.clone().relative_to(base);
        let credentials = |c: &mut CredentialsConfig| {
            if let CredentialsConfig::Static {
                secret_access_key,
                session_token,
                ..
            } = c
            {
                secret(secret_access_key);
                session_token.iter_mut().for_each(secret);
            }
        };
        if let StorageConfig::S3(s3) = &mut self.storage {
            credentials(&mut s3.credentials);
        }
        if let CatalogConfig::Rest(rest) = &mut self.catalog {
            credentials(&mut rest.s3.credentials);
            match &mut rest.auth {
                RestAuth::OAuth2 { client_secret, .. } => secret(client_secret),
                RestAuth::Bearer { token } => secret(token),
                RestAuth::None => {}
            }
        }
    }
}

/// Parses a config file's text and applies the `RAT__*` overrides among
/// `env` (`(name, value)` pairs; other names are ignored), in name order.
///
/// ```
/// let tree = rat_core::config::config_tree(
///     "server: {listen: 127.0.0.1:8080}",
///     [("RAT__SERVER__LISTEN".to_owned(), "0.0.0.0:80".to_owned())],
/// ).unwrap();
/// assert_eq!(tree["server"]["listen"].as_str(), Some("0.0.0.0:80"));
/// ```
pub fn config_tree(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Value> {
    let mut tree: Value =
        serde_yaml_ng::from_str(text).map_err(|e| Error::invalid(format!("invalid YAML: {e}")))?;
    if tree.is_null() {
        tree = Value::Mapping(Mapping::new());
    }
    let mut overrides: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    overrides.sort();
    for (name, value) in overrides {
        apply_override(&mut tree, &name, &value)?;
    }
    Ok(tree)
}

/// Sets the field `RAT__A__B__C` names (`a.b.c`) to `value`: a YAML flow
/// list or map when it looks like one, a boolean for `true`/`false`, else a
/// string (so a bucket named `2024` stays a string).
fn apply_override(tree: &mut Value, name: &str, value: &str) -> Result<()> {
    let path: Vec<String> = name[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    if path.iter().any(|s| s.is_empty()) {
        return Err(Error::invalid(format!(
            "environment override {name}: empty field name"
        )));
    }
    let parsed = match value.trim_start().chars().next() {
        Some('[') | Some('{') => serde_yaml_ng::from_str(value).map_err(|e| {
            Error::invalid(format!("environment override {name}: invalid YAML: {e}"))
        })?,
        _ if value == "true" || value == "false" => Value::Bool(value == "true"),
        _ => Value::String(value.to_owned()),
    };
    let mut node = tree;
    for (i, segment) in path.iter().enumerate() {
        let Value::Mapping(map) = node else {
            return Err(Error::invalid(format!(
                "environment override {name}: '{}' is not a section",
                path[..i].join(".")
            )));
        };
        let key = Value::String(segment.clone());
        if i + 1 == path.len() {
            map.insert(key, parsed);
            return Ok(());
        }
        node = map
            .entry(key)
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CredentialsConfig, RestAuth, SecretRef};

    const YAML: &str = "
storage:
  type: s3
  bucket: lake
  endpoint: http://127.0.0.1:8333
  path_style: true
  credentials: {type: static, access_key_id: AKID, secret_access_key: {env: S3_SECRET}}
catalog:
  type: rest
  uri: http://127.0.0.1:8181
  auth: {type: oauth2, client_id: AKID, client_secret: {file: secret.txt}}
";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_remote_sections_and_overrides() {
        let config = LakehouseConfig::from_yaml(
            YAML,
            Path::new("/p"),
            env(&[
                ("RAT__STORAGE__BUCKET", "2024"),
                ("RAT__STORAGE__CREDENTIALS__TYPE", "process"),
                ("RAT__STORAGE__CREDENTIALS__COMMAND", "[creds, --json]"),
                ("RAT__STORAGE__CREDENTIALS__ACCESS_KEY_ID", ""),
                ("UNRELATED", "x"),
            ]),
        );
        // A field of another credentials type left behind is an error that
        // names it.
        let err = config.unwrap_err();
        assert!(err.to_string().contains("access_key_id"), "{err}");

        let mut yaml = YAML.replace(
            "credentials: {type: static, access_key_id: AKID, secret_access_key: {env: S3_SECRET}}",
            "",
        );
        yaml.push('\n');
        let config = LakehouseConfig::from_yaml(
            &yaml,
            Path::new("/p"),
            env(&[
                ("RAT__STORAGE__BUCKET", "2024"),
                ("RAT__STORAGE__CREDENTIALS__TYPE", "process"),
                ("RAT__STORAGE__CREDENTIALS__COMMAND", "[creds, --json]"),
            ]),
        )
        .unwrap();
        let StorageConfig::S3(s3) = &config.storage else {
            panic!("not s3")
        };
        assert_eq!(s3.bucket, "2024");
        assert!(s3.path_style);
        assert_eq!(
            s3.credentials,
            CredentialsConfig::Process {
                command: vec!["creds".into(), "--json".into()]
            }
        );
        let CatalogConfig::Rest(rest) = &config.catalog else {
            panic!("not rest")
        };
        assert!(rest.vended_credentials);
        assert!(matches!(
            &rest.auth,
            RestAuth::OAuth2 { client_secret: SecretRef::File(p), .. } if p == Path::new("/p/secret.txt")
        ));
    }

    #[test]
    fn literal_secrets_and_typos_are_refused_by_name() {
        let literal = YAML.replace("{env: S3_SECRET}", "hunter2");
        let err = LakehouseConfig::from_yaml(&literal, Path::new("."), []).unwrap_err();
        assert!(err.to_string().contains("{env: VAR}"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");

        let typo = YAML.replace("path_style", "path_styl");
        let err = LakehouseConfig::from_yaml(&typo, Path::new("."), []).unwrap_err();
        assert!(err.to_string().contains("path_styl"), "{err}");

        let bad_uri = YAML.replace("uri: http://", "uri: ftp://");
        let err = LakehouseConfig::from_yaml(&bad_uri, Path::new("."), []).unwrap_err();
        assert_eq!(err.context("field"), Some("catalog.uri"));
    }

    #[test]
    fn printing_shows_references_not_values() {
        let config = LakehouseConfig::from_yaml(YAML, Path::new("."), []).unwrap();
        let printed = config.to_yaml();
        assert!(printed.contains("S3_SECRET"), "{printed}");
        let again = LakehouseConfig::from_yaml(&printed, Path::new("."), []).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn relative_local_paths_follow_the_file() {
        let yaml = "storage: {type: local, root: project}\ncatalog: {type: sql, path: c.db, warehouse: /abs}\n";
        let config = LakehouseConfig::from_yaml(yaml, Path::new("/base"), []).unwrap();
        assert_eq!(
            config.storage,
            StorageConfig::Local {
                root: "/base/project".into()
            }
        );
        let CatalogConfig::Sql { path, warehouse } = &config.catalog else {
            panic!()
        };
        assert_eq!(path, Path::new("/base/c.db"));
        assert_eq!(warehouse, Path::new("/abs"));
    }

    #[test]
    fn relative_secret_files_follow_the_file() {
        let yaml = "storage: {type: s3, bucket: lake, credentials: {type: static, access_key_id: A, secret_access_key: {file: s3.key}, session_token: {file: /run/token}}}\n\
                    catalog: {type: rest, uri: http://c, auth: {type: bearer, token: {file: keys/catalog}}, s3: {credentials: {type: static, access_key_id: A, secret_access_key: {env: S}}}}\n";
        let config = LakehouseConfig::from_yaml(yaml, Path::new("/etc/rat"), []).unwrap();
        let (StorageConfig::S3(s3), CatalogConfig::Rest(rest)) = (&config.storage, &config.catalog)
        else {
            panic!("{config:?}")
        };
        let CredentialsConfig::Static {
            secret_access_key,
            session_token,
            ..
        } = &s3.credentials
        else {
            panic!()
        };
        assert_eq!(
            *secret_access_key,
            SecretRef::File("/etc/rat/s3.key".into())
        );
        assert_eq!(*session_token, Some(SecretRef::File("/run/token".into())));
        assert_eq!(
            rest.auth,
            RestAuth::Bearer {
                token: SecretRef::File("/etc/rat/keys/catalog".into())
            }
        );
        let CredentialsConfig::Static {
            secret_access_key, ..
        } = &rest.s3.credentials
        else {
            panic!()
        };
        assert_eq!(*secret_access_key, SecretRef::Env("S".into()));
    }
}
