//! Credential providers for S3: from the environment, from references to
//! secrets, from an AWS `credential_process` command, and a cache that
//! fetches new credentials before the current ones expire.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rat_core::config::CredentialsConfig;
use rat_core::{CredentialProvider, Error, ErrorKind, Result, StorageCredentials};
use secrecy::ExposeSecret;
use tokio::sync::Mutex;

/// Credentials are replaced once half their life has passed. Request
/// signers could wait longer, but DuckDB takes credentials per statement
/// (a secret), so a statement must start with enough life left to finish:
/// at least half, 30 minutes for one-hour credentials.
const MARGIN_SHARE: f64 = 0.5;

/// The provider a config names; `None` for anonymous access.
pub fn provider(config: &CredentialsConfig) -> Result<Option<Arc<dyn CredentialProvider>>> {
    let source: Arc<dyn CredentialSource> = match config {
        CredentialsConfig::Anonymous => return Ok(None),
        CredentialsConfig::Env => Arc::new(EnvSource),
        CredentialsConfig::Static {
            access_key_id,
            secret_access_key,
            session_token,
        } => {
            let secret = secret_access_key.clone();
            let token = session_token.clone();
            let id = access_key_id.clone();
            Arc::new(FnSource(move || {
                Ok(StorageCredentials {
                    access_key_id: id.clone(),
                    secret_access_key: secret.resolve()?,
                    session_token: token.as_ref().map(|t| t.resolve()).transpose()?,
                    expires_at: None,
                })
            }))
        }
        CredentialsConfig::Process { command } => Arc::new(ProcessSource {
            command: command.clone(),
        }),
    };
    Ok(Some(Arc::new(RefreshingProvider::new(source))))
}

/// Fetches fresh credentials; [`RefreshingProvider`] decides when.
#[async_trait]
pub trait CredentialSource: Send + Sync + fmt::Debug {
    /// New credentials.
    async fn fetch(&self) -> Result<StorageCredentials>;
}

/// Caches a source's credentials and fetches new ones when the current
/// ones are past half their life (see [`MARGIN_SHARE`]).
/// Credentials without expiry are fetched once.
#[derive(Debug)]
pub struct RefreshingProvider {
    source: Arc<dyn CredentialSource>,
    current: Mutex<Option<Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    credentials: StorageCredentials,
    refresh_at: Option<DateTime<Utc>>,
}

impl RefreshingProvider {
    /// A provider over `source`.
    pub fn new(source: Arc<dyn CredentialSource>) -> Self {
        Self {
            source,
            current: Mutex::new(None),
        }
    }

    /// A provider that starts with `first` (say, credentials a catalog
    /// vended along with a table) and asks `source` when they near expiry.
    pub fn seeded(source: Arc<dyn CredentialSource>, first: StorageCredentials) -> Self {
        let refresh_at = first.expires_at.map(|e| refresh_time(Utc::now(), e));
        Self {
            source,
            current: Mutex::new(Some(Cached {
                credentials: first,
                refresh_at,
            })),
        }
    }
}

/// When credentials fetched at `fetched` and expiring at `expires` should be
/// replaced.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rat_runner::s3::refresh_time;
///
/// let t0 = Utc.timestamp_opt(0, 0).unwrap();
/// // One hour: renew after 30 minutes.
/// assert_eq!(refresh_time(t0, t0 + chrono::Duration::minutes(60)).timestamp(), 30 * 60);
/// // Six seconds: after three.
/// assert_eq!(refresh_time(t0, t0 + chrono::Duration::seconds(6)).timestamp(), 3);
/// ```
pub fn refresh_time(fetched: DateTime<Utc>, expires: DateTime<Utc>) -> DateTime<Utc> {
    let life = (expires - fetched).to_std().unwrap_or_default();
    let margin = life.mul_f64(MARGIN_SHARE);
    expires - chrono::Duration::from_std(margin).unwrap_or_default()
}

#[async_trait]
impl CredentialProvider for RefreshingProvider {
    async fn credentials(&self) -> Result<StorageCredentials> {
        let mut current = self.current.lock().await;
        let now = Utc::now();
        if let Some(cached) = current.as_ref()
            && cached.refresh_at.is_none_or(|at| now < at)
        {
            return Ok(cached.credentials.clone());
        }
        let credentials = self.source.fetch().await?;
        if let Some(expires) = credentials.expires_at
            && expires <= now
        {
            return Err(Error::new(
                ErrorKind::Storage,
                format!(
                    "the credentials fetched for access key {} have already expired",
                    credentials.access_key_id
                ),
            ));
        }
        tracing::debug!(
            access_key_id = %credentials.access_key_id,
            expires_at = ?credentials.expires_at,
            "fetched storage credentials"
        );
        let refresh_at = credentials.expires_at.map(|e| refresh_time(now, e));
        *current = Some(Cached {
            credentials: credentials.clone(),
            refresh_at,
        });
        Ok(credentials)
    }
}

/// A closure as a source.
struct FnSource<F>(F);

impl<F> fmt::Debug for FnSource<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnSource")
    }
}

#[async_trait]
impl<F> CredentialSource for FnSource<F>
where
    F: Fn() -> Result<StorageCredentials> + Send + Sync,
{
    async fn fetch(&self) -> Result<StorageCredentials> {
        (self.0)()
    }
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
#[derive(Debug)]
struct EnvSource;

#[async_trait]
impl CredentialSource for EnvSource {
    async fn fetch(&self) -> Result<StorageCredentials> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Ok(StorageCredentials::new(
                id,
                secret,
                var("AWS_SESSION_TOKEN"),
                None,
            )),
            _ => Err(Error::invalid(
                "S3 credentials come from the environment, but AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY are not both set (or set credentials in the config)",
            )
            .with_context("field", "credentials")),
        }
    }
}

/// Runs a `credential_process` command.
#[derive(Debug)]
struct ProcessSource {
    command: Vec<String>,
}

/// The AWS `credential_process` output.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessOutput {
    version: u32,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: Option<DateTime<Utc>>,
}

/// How long a credentials command may take.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

#[async_trait]
impl CredentialSource for ProcessSource {
    async fn fetch(&self) -> Result<StorageCredentials> {
        let program = &self.command[0];
        let failed = |message: String| {
            Error::new(ErrorKind::Storage, message).with_context("command", program)
        };
        let child = tokio::process::Command::new(program)
            .args(&self.command[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(PROCESS_TIMEOUT, child)
            .await
            .map_err(|_| {
                failed(format!(
                    "the credentials command took over {PROCESS_TIMEOUT:?}"
                ))
            })?
            .map_err(|e| failed(format!("cannot run the credentials command: {e}")))?;
        if !output.status.success() {
            // Its stderr is the user's own message; its stdout may hold secrets.
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(failed(format!(
                "the credentials command failed ({}): {}",
                output.status,
                stderr.trim()
            )));
        }
        let parsed: ProcessOutput = serde_json::from_slice(&output.stdout).map_err(|e| {
            failed(format!(
                "the credentials command printed no credential_process JSON ({})",
                e.classify_name()
            ))
        })?;
        if parsed.version != 1 {
            return Err(failed(format!(
                "unsupported credential_process Version {}",
                parsed.version
            )));
        }
        Ok(StorageCredentials::new(
            parsed.access_key_id,
            parsed.secret_access_key,
            parsed.session_token,
            parsed.expiration,
        ))
    }
}

/// A name for a serde_json error's category that cannot echo the input.
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or mistyped fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// The secret parts of credentials, for handing to a client library.
pub(crate) fn expose(c: &StorageCredentials) -> (String, String, Option<String>) {
    (
        c.access_key_id.clone(),
        c.secret_access_key.expose_secret().to_owned(),
        c.session_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[derive(Debug)]
    struct Counting {
        calls: AtomicU32,
        life: chrono::Duration,
    }

    #[async_trait]
    impl CredentialSource for Counting {
        async fn fetch(&self) -> Result<StorageCredentials> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(StorageCredentials::new(
                format!("key{n}"),
                "secret",
                Some("token".into()),
                Some(Utc::now() + self.life),
            ))
        }
    }

    #[tokio::test]
    async fn renews_before_expiry_and_caches_otherwise() {
        let source = Arc::new(Counting {
            calls: AtomicU32::new(0),
            life: chrono::Duration::milliseconds(300),
        });
        let provider = RefreshingProvider::new(source.clone());
        assert_eq!(provider.credentials().await.unwrap().access_key_id, "key0");
        assert_eq!(provider.credentials().await.unwrap().access_key_id, "key0");
        // Past half of 300 ms, before expiry: renewed.
        tokio::time::sleep(Duration::from_millis(180)).await;
        assert_eq!(provider.credentials().await.unwrap().access_key_id, "key1");
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failing_command_is_named_and_its_output_not_shown() {
        let provider = provider(&CredentialsConfig::Process {
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo '{\"SecretAccessKey\": \"s3cr3t\"}'".into(),
            ],
        })
        .unwrap()
        .unwrap();
        let err = provider.credentials().await.unwrap_err();
        assert_eq!(err.context("command"), Some("sh"));
        assert!(!err.to_string().contains("s3cr3t"), "{err}");

        let ok = provider_for_script(
            r#"echo '{"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": "2999-01-01T00:00:00Z"}'"#,
        );
        let c = ok.credentials().await.unwrap();
        assert_eq!(expose(&c), ("AK".into(), "S".into(), Some("T".into())));
        assert_eq!(
            c.expires_at.unwrap().to_rfc3339(),
            "2999-01-01T00:00:00+00:00"
        );
    }

    fn provider_for_script(script: &str) -> Arc<dyn CredentialProvider> {
        provider(&CredentialsConfig::Process {
            command: vec!["sh".into(), "-c".into(), script.into()],
        })
        .unwrap()
        .unwrap()
    }
}
