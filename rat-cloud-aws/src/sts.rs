//! [`StsCredentialVendor`]: `AssumeRole` with an inline session policy per
//! namespace, cached for half the credentials' remaining life.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use moka::Expiry;
use moka::future::Cache;
use rat_core::{
    CredentialScope, CredentialVendor, Error, ErrorKind, Identifier, Result, StorageCredentials,
};

use serde::{Deserialize, Serialize};

use crate::policy::{PolicyScope, session_policy};

/// What a vendor assumes and for which bucket. In `rat.yaml` it is
/// `server.credential_vendor: {type: sts, role_arn, duration_secs,
/// external_id, kms_key_arn, credentials_command}`; the bucket is the
/// storage's.
///
/// ```
/// use rat_cloud_aws::StsVendorConfig;
///
/// let config: StsVendorConfig =
///     serde_yaml_ng::from_str("{role_arn: 'arn:aws:iam::1:role/ns', duration_secs: 900}").unwrap();
/// let config = config.with_bucket("lake");
/// config.validate().unwrap();
/// assert_eq!(
///     config.credentials_command("rat-aws-credentials"),
///     ["rat-aws-credentials", "--role-arn", "arn:aws:iam::1:role/ns", "--bucket", "lake", "--duration-seconds", "900"],
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsVendorConfig {
    /// The role to assume (its own policy bounds what any session can do).
    pub role_arn: String,
    /// The bucket whose `<namespace>/` prefixes sessions may touch.
    #[serde(skip)]
    pub bucket: String,
    /// Lifetime asked for (STS allows 900 s to the role's maximum).
    #[serde(
        rename = "duration_secs",
        default = "an_hour",
        with = "rat_core::config::de::secs"
    )]
    pub duration: Duration,
    /// A KMS key sessions may use for SSE-KMS objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// External id the role's trust policy may require.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The program runners run for their credentials (`rat-aws-credentials`
    /// beside the server for a process runner, on the image's `PATH` for
    /// ECS, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_command: Option<String>,
}

fn an_hour() -> Duration {
    Duration::from_secs(3600)
}

/// STS's bounds on a session's lifetime, in seconds.
const SESSION_SECONDS: std::ops::RangeInclusive<u64> = 900..=43_200;

/// The program printing a namespace's credentials (this crate's binary).
pub const CREDENTIALS_PROGRAM: &str = "rat-aws-credentials";

impl StsVendorConfig {
    /// One-hour sessions of `role_arn` on `bucket`.
    pub fn new(role_arn: impl Into<String>, bucket: impl Into<String>) -> Self {
        Self {
            role_arn: role_arn.into(),
            bucket: bucket.into(),
            duration: an_hour(),
            kms_key_arn: None,
            external_id: None,
            credentials_command: None,
        }
    }

    /// The same on `bucket`.
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = bucket.into();
        self
    }

    /// Checks the role and the lifetime; errors name
    /// `server.credential_vendor.<field>`.
    pub fn validate(&self) -> Result<()> {
        let field = |name: &str| format!("server.credential_vendor.{name}");
        if !self.role_arn.starts_with("arn:") {
            return Err(Error::invalid(format!(
                "role_arn '{}' is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                self.role_arn.escape_default()
            ))
            .with_context("field", field("role_arn")));
        }
        let secs = self.duration.as_secs();
        if !SESSION_SECONDS.contains(&secs) {
            return Err(Error::invalid(format!(
                "duration_secs {secs} is outside STS's {}..={} seconds",
                SESSION_SECONDS.start(),
                SESSION_SECONDS.end()
            ))
            .with_context("field", field("duration_secs")));
        }
        Ok(())
    }

    /// The command a runner runs for its namespace's credentials
    /// (`credential_process` JSON on stdout; the namespace and run come
    /// from its environment): `credentials_command`, else `program`, with
    /// the flags [`CREDENTIALS_PROGRAM`] reads.
    pub fn credentials_command(&self, program: &str) -> Vec<String> {
        let mut command = vec![
            self.credentials_command
                .clone()
                .unwrap_or_else(|| program.to_owned()),
            "--role-arn".into(),
            self.role_arn.clone(),
            "--bucket".into(),
            self.bucket.clone(),
            "--duration-seconds".into(),
            self.duration.as_secs().to_string(),
        ];
        if let Some(id) = &self.external_id {
            command.extend(["--external-id".into(), id.clone()]);
        }
        // SSE-KMS objects are unreadable to a session the key is not in.
        if let Some(key) = &self.kms_key_arn {
            command.extend(["--kms-key-arn".into(), key.clone()]);
        }
        command
    }
}

/// Vends credentials confined to one namespace: `AssumeRole` with a session
/// policy allowing objects under `<bucket>/<namespace>/*`, listing with
/// `s3:prefix` under it, and `s3:GetBucketLocation` (plus KMS when a key is
/// configured).
///
/// Credentials are cached per namespace for half their remaining life;
/// concurrent requests for one namespace make one STS call; failures are not
/// cached. The STS client comes from an `aws_config::SdkConfig`, so the
/// vendor's own identity is whatever the standard provider chain finds:
/// keys, a profile, the ECS task role, or OIDC web identity
/// (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, no long-lived keys).
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// use rat_cloud_aws::{StsCredentialVendor, StsVendorConfig};
/// use rat_core::{CredentialScope, CredentialVendor};
///
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let vendor = StsCredentialVendor::new(
///     &sdk,
///     StsVendorConfig::new("arn:aws:iam::123456789012:role/rat-runner", "lake"),
/// );
/// let scope = CredentialScope { namespace: rat_core::ident::namespace("shop")?, run_id: None };
/// let credentials = vendor.vend(&scope).await?;
/// println!("valid until {:?}", credentials.expires_at);
/// # Ok(()) }
/// ```
pub struct StsCredentialVendor {
    client: aws_sdk_sts::Client,
    config: StsVendorConfig,
    cache: Cache<Identifier, StorageCredentials>,
}

impl fmt::Debug for StsCredentialVendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsCredentialVendor")
            .field("config", &self.config)
            .field("cached", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

/// Cached credentials live for half of what remains of them.
struct HalfLife;

impl Expiry<Identifier, StorageCredentials> for HalfLife {
    fn expire_after_create(
        &self,
        _key: &Identifier,
        value: &StorageCredentials,
        _created_at: Instant,
    ) -> Option<Duration> {
        value
            .expires_at
            .map(|at| (at - Utc::now()).to_std().unwrap_or_default().div_f64(2.0))
    }
}

impl StsCredentialVendor {
    /// A vendor whose own identity is the standard AWS provider chain's
    /// (the environment, a profile, the task role, web identity).
    pub async fn from_environment(config: StsVendorConfig) -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(&sdk, config)
    }

    /// A vendor using STS as `sdk` configures it (region, endpoint, the
    /// vendor's own credentials).
    pub fn new(sdk: &aws_types::SdkConfig, config: StsVendorConfig) -> Self {
        Self {
            client: aws_sdk_sts::Client::new(sdk),
            config,
            cache: Cache::builder()
                .max_capacity(10_000)
                .expire_after(HalfLife)
                .build(),
        }
    }

    /// Credentials for the whole bucket (no namespace in the session
    /// policy): the platform's own access to every namespace's files, as
    /// `rat-aws-credentials --whole-bucket` prints them for a server
    /// whose identity is only allowed to assume the vending role. Runs
    /// never get these: theirs are [`CredentialVendor::vend`]'s.
    pub async fn whole_bucket(&self) -> Result<StorageCredentials> {
        let policy = session_policy(&PolicyScope {
            bucket: self.config.bucket.clone(),
            namespace: None,
            kms_key_arn: self.config.kms_key_arn.clone(),
        })?;
        self.assume_with(policy, "rat-platform".to_owned(), None)
            .await
    }

    async fn assume(&self, scope: &CredentialScope) -> Result<StorageCredentials> {
        let policy = session_policy(&PolicyScope {
            bucket: self.config.bucket.clone(),
            namespace: Some(scope.namespace.clone()),
            kms_key_arn: self.config.kms_key_arn.clone(),
        })?;
        self.assume_with(policy, session_name(scope), Some(&scope.namespace))
            .await
    }

    /// `AssumeRole` of the configured role with `policy`.
    async fn assume_with(
        &self,
        policy: String,
        session_name: String,
        namespace: Option<&Identifier>,
    ) -> Result<StorageCredentials> {
        let duration = i32::try_from(self.config.duration.as_secs()).map_err(|_| {
            Error::invalid("the session duration is too long").with_context("field", "duration")
        })?;
        let response = self
            .client
            .assume_role()
            .role_arn(&self.config.role_arn)
            .role_session_name(session_name)
            .policy(policy)
            .duration_seconds(duration)
            .set_external_id(self.config.external_id.clone())
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_sts::error::ProvideErrorMetadata;
                // A service's refusal is its code and message; the rest of
                // the SDK's error (raw response, headers) is noise here.
                let text = match (e.code(), e.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_owned(),
                    _ => aws_sdk_sts::error::DisplayErrorContext(&e).to_string(),
                };
                let throttled =
                    text.contains("Throttling") || text.contains("RequestLimitExceeded");
                let error = Error::new(
                    ErrorKind::Storage,
                    format!("STS refused AssumeRole of {}: {text}", self.config.role_arn),
                )
                .with_context("role", &self.config.role_arn)
                .with_retryable(throttled);
                match namespace {
                    Some(ns) => error.with_context("namespace", ns),
                    None => error,
                }
            })?;
        let c = response.credentials().ok_or_else(|| {
            Error::new(ErrorKind::Storage, "STS AssumeRole returned no credentials")
        })?;
        let expires_at =
            DateTime::<Utc>::from_timestamp(c.expiration().secs(), c.expiration().subsec_nanos());
        Ok(StorageCredentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expires_at,
        ))
    }
}

/// `rat-<namespace>-<run>` cut to STS's 64 characters: which run asked
/// shows in CloudTrail.
fn session_name(scope: &CredentialScope) -> String {
    let mut name = format!("rat-{}", scope.namespace);
    if let Some(run) = &scope.run_id {
        name.push('-');
        name.push_str(run.as_str());
    }
    name.chars().take(64).collect()
}

#[async_trait]
impl CredentialVendor for StsCredentialVendor {
    async fn vend(&self, scope: &CredentialScope) -> Result<StorageCredentials> {
        self.cache
            .try_get_with(scope.namespace.clone(), self.assume(scope))
            .await
            .map_err(|e: Arc<Error>| {
                Error::new(e.kind(), e.message().to_owned())
                    .with_retryable(e.is_retryable())
                    .with_context("namespace", &scope.namespace)
            })
    }
}
