//! Namespaces: the unit a team's pipelines, tables, landing zones and
//! notifications live in. A description is kept as the Iceberg namespace
//! property `comment`, so other Iceberg tools show it too.

use async_trait::async_trait;
use rat_core::Result;
use serde::{Deserialize, Serialize};

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Namespace {
    /// Its name.
    pub name: String,
    /// What it holds, when someone said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /api/v1/namespaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNamespace {
    /// The name: lowercase letters, digits and `_`, starting with a letter.
    pub name: String,
    /// What it holds (at most 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PATCH /api/v1/namespaces/{namespace}`: what changes; a field left
/// out stays as it is.
///
/// ```
/// use rat_server::api::UpdateNamespace;
///
/// let update: UpdateNamespace = serde_json::from_str(r#"{"description": null}"#).unwrap();
/// assert_eq!(update.description, Some(None)); // cleared
/// let update: UpdateNamespace = serde_json::from_str("{}").unwrap();
/// assert_eq!(update.description, None); // kept
/// assert!(serde_json::from_str::<UpdateNamespace>(r#"{"owner": "x"}"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNamespace {
    /// The new description; `null` or blank clears it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub description: Option<Option<String>>,
}

/// A field that is there, even as `null`, is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// What deleting a namespace removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NamespaceRemoved {
    /// The namespace.
    pub name: String,
    /// Pipelines whose code was deleted (their versions stay).
    pub pipelines: u64,
    /// Tables dropped, their files deleted.
    pub tables: u64,
    /// Landing zones deleted with their files.
    pub landing_zones: u64,
    /// Project files deleted (pipelines, tests, docs, zone files).
    pub files: u64,
    /// Schedules of its pipelines deleted.
    pub schedules: u64,
    /// Notification hooks deleted.
    pub notification_hooks: u64,
}

/// `GET /api/v1/namespaces/{namespace}/members`: who discovers everything
/// in a namespace (principals `user:ID` and roles `role:NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NamespaceMembers {
    /// The namespace.
    pub namespace: String,
    /// Its members, by name.
    pub members: Vec<rat_core::authz::Grantee>,
}

/// Reading, describing and deleting one namespace, and its members.
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi) -> rat_core::Result<()> {
/// use rat_server::api::UpdateNamespace;
///
/// let update = UpdateNamespace { description: Some(Some("orders, daily".into())) };
/// api.update_namespace("sales", &update).await?;
/// // Refused (conflict) while it holds pipelines or tables, unless forced.
/// let removed = api.delete_namespace("sales", true).await?;
/// println!("{} tables dropped", removed.tables);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait NamespacesApi: Send + Sync {
    /// One namespace; `not_found` when it does not exist.
    async fn namespace(&self, name: &str) -> Result<Namespace>;

    /// Changes a namespace's description.
    async fn update_namespace(&self, name: &str, update: &UpdateNamespace) -> Result<Namespace>;

    /// Deletes a namespace with its code, landing zones, schedules and
    /// notification hooks. Refused (`conflict`) while a run of it is going,
    /// and while it holds pipelines or tables unless `force`, which drops
    /// its tables and deletes their files too. `default` is never deleted.
    async fn delete_namespace(&self, name: &str, force: bool) -> Result<NamespaceRemoved>;

    /// A namespace's members.
    async fn namespace_members(&self, name: &str) -> Result<NamespaceMembers>;

    /// Makes `member` (`user:ID` or `role:NAME`) a member (an admin's
    /// verb; no error if it is one).
    async fn add_namespace_member(&self, name: &str, member: &str) -> Result<NamespaceMembers>;

    /// Removes a member (an admin's verb; no error if it is none).
    async fn remove_namespace_member(&self, name: &str, member: &str) -> Result<NamespaceMembers>;
}
