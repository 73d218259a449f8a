//! The inline session policy that confines vended credentials to one
//! namespace's prefix of a bucket.

use rat_core::{Error, Identifier, Result};
use serde_json::json;

/// STS refuses packed session policies over this many characters.
pub const MAX_POLICY_CHARS: usize = 2048;

/// What a policy grants: objects under `<bucket>/<namespace>/`, listing
/// that prefix only, and (when a key is configured) using a KMS key.
/// Without a namespace, the whole bucket: the platform's own access (the
/// server reading every namespace's files), never a run's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyScope {
    /// The bucket.
    pub bucket: String,
    /// The namespace: its prefix is `<namespace>/`; `None` for the bucket.
    pub namespace: Option<Identifier>,
    /// A KMS key ARN for SSE-KMS objects.
    pub kms_key_arn: Option<String>,
}

/// The session policy JSON for `scope`, or an error naming the limit when
/// it would exceed [`MAX_POLICY_CHARS`]. The namespace is an [`Identifier`]
/// (lowercase letters, digits, `_`), so it cannot widen the policy with
/// `*`, `/` or `..`.
///
/// ```
/// use rat_cloud_aws::{PolicyScope, session_policy};
///
/// let scope = PolicyScope {
///     bucket: "lake".into(),
///     namespace: Some(rat_core::ident::namespace("shop").unwrap()),
///     kms_key_arn: None,
/// };
/// let policy = session_policy(&scope).unwrap();
/// assert!(policy.contains("arn:aws:s3:::lake/shop/*"));
/// assert!(policy.contains("\"s3:prefix\""));
///
/// let platform = PolicyScope { namespace: None, ..scope };
/// assert!(session_policy(&platform).unwrap().contains("arn:aws:s3:::lake/*"));
/// ```
pub fn session_policy(scope: &PolicyScope) -> Result<String> {
    validate_bucket(&scope.bucket)?;
    let bucket = &scope.bucket;
    let (objects, listing) = match &scope.namespace {
        Some(ns) => (
            format!("arn:aws:s3:::{bucket}/{ns}/*"),
            json!({
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [format!("arn:aws:s3:::{bucket}")],
                "Condition": {"StringLike": {"s3:prefix": [format!("{ns}/*"), ns.as_str()]}},
            }),
        ),
        None => (
            format!("arn:aws:s3:::{bucket}/*"),
            json!({
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [format!("arn:aws:s3:::{bucket}")],
            }),
        ),
    };
    let mut statements = vec![
        json!({
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                       "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": [objects],
        }),
        listing,
        json!({
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation"],
            "Resource": [format!("arn:aws:s3:::{bucket}")],
        }),
    ];
    if let Some(key) = &scope.kms_key_arn {
        statements.push(json!({
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": [key],
        }));
    }
    let policy = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    if policy.len() > MAX_POLICY_CHARS {
        let ns = scope
            .namespace
            .as_ref()
            .map_or("(whole bucket)", |ns| ns.as_str());
        return Err(Error::invalid(format!(
            "the session policy for namespace '{ns}' in bucket '{bucket}' is {} characters, over STS's limit of {MAX_POLICY_CHARS}; use shorter names",
            policy.len()
        ))
        .with_context("namespace", ns));
    }
    Ok(policy)
}

/// S3 bucket naming rules, so a bucket cannot smuggle wildcards or paths
/// into the policy either.
fn validate_bucket(bucket: &str) -> Result<()> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.'])
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid bucket name '{}': 3-63 lowercase letters, digits, '-' or '.'",
            bucket.escape_default()
        ))
        .with_context("field", "bucket"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(bucket: &str, ns: &str) -> PolicyScope {
        PolicyScope {
            bucket: bucket.into(),
            namespace: Some(rat_core::ident::namespace(ns).unwrap()),
            kms_key_arn: None,
        }
    }

    #[test]
    fn the_policy_names_only_the_namespace_prefix() {
        let policy: serde_json::Value =
            serde_json::from_str(&session_policy(&scope("lake", "ns1")).unwrap()).unwrap();
        let text = policy.to_string();
        assert!(text.contains("arn:aws:s3:::lake/ns1/*"));
        assert!(!text.contains("arn:aws:s3:::lake/*"));
        assert_eq!(
            policy["Statement"][1]["Condition"]["StringLike"]["s3:prefix"][0],
            "ns1/*"
        );
    }

    #[test]
    fn the_whole_bucket_scope_lists_and_reaches_that_bucket_only() {
        let platform = PolicyScope {
            namespace: None,
            ..scope("lake", "ns1")
        };
        let policy: serde_json::Value =
            serde_json::from_str(&session_policy(&platform).unwrap()).unwrap();
        assert_eq!(policy["Statement"][0]["Resource"][0], "arn:aws:s3:::lake/*");
        assert_eq!(policy["Statement"][1]["Resource"][0], "arn:aws:s3:::lake");
        assert!(policy["Statement"][1].get("Condition").is_none());
        assert!(!policy.to_string().contains("ns1"));
    }

    #[test]
    fn wildcards_and_paths_never_reach_a_policy() {
        for bad in ["ns1/*", "*", "..", "a/b", ""] {
            assert!(rat_core::ident::namespace(bad).is_err(), "{bad}");
        }
        for bad in ["la*ke", "lake/x", "LAKE", "..lake"] {
            assert!(session_policy(&scope(bad, "ns1")).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_oversized_policy_is_refused_with_the_limit() {
        let mut s = scope("lake", "ns1");
        s.kms_key_arn = Some(format!("arn:aws:kms:us-east-1:1:key/{}", "k".repeat(1800)));
        let err = session_policy(&s).unwrap_err();
        assert!(err.to_string().contains("2048"), "{err}");
    }
}
