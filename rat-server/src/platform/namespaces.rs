//! Namespaces: listed from the catalog, described by its `comment`
//! property, deleted with everything stored under them.

use futures::{StreamExt, TryStreamExt};
use rat_core::storage::StorageExt;
use rat_core::{
    Error, ErrorKind, Identifier, NAMESPACE_COMMENT, NamespaceProperties, ProjectSource, Result,
    RunFilter, RunStatus, TableRef,
};

use rat_core::authz::{Action, Grantee};

use super::{Platform, parse_namespace};
use crate::api::{Namespace, NamespaceRemoved, NewNamespace, UpdateNamespace};

/// How many namespaces' descriptions are read at once.
const DESCRIBE_AT_ONCE: usize = 8;

impl Platform {
    /// Every namespace by name: `default` (unless storage is scoped per
    /// namespace), and those the catalog knows.
    pub(super) async fn namespace_names(&self) -> Result<Vec<Identifier>> {
        let mut names = self.catalog().list_namespaces().await?;
        let default = rat_core::ident::namespace(rat_core::DEFAULT_NAMESPACE)?;
        match self.inner.options.access {
            None => names.push(default),
            // Even when the catalog has one: its files would be the root.
            Some(_) => names.retain(|n| *n != default),
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Every namespace with its description.
    pub(super) async fn namespace_list(&self) -> Result<Vec<Namespace>> {
        let names = self.namespace_names().await?;
        futures::stream::iter(self.visible_namespaces(names).await?)
            .map(|name| async move { self.describe(name).await })
            .buffered(DESCRIBE_AT_ONCE)
            .try_collect()
            .await
    }

    pub(super) async fn add_namespace(&self, new: &NewNamespace) -> Result<Namespace> {
        let namespace = parse_namespace(&new.name)?;
        let description = rat_core::versions::free_text("description", new.description.as_deref())?;
        self.check_admin("create a namespace")?;
        if self.namespace_exists(&namespace).await? {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("namespace '{namespace}' already exists"),
            ));
        }
        self.catalog().create_namespace(&namespace).await?;
        if description.is_some() {
            self.set_description(&namespace, description).await?;
        }
        self.describe(namespace).await
    }

    pub(super) async fn read_namespace(&self, name: &str) -> Result<Namespace> {
        let namespace = self.checked_namespace(Action::Discover, name).await?;
        self.describe(namespace).await
    }

    /// `name`, validated, when the namespace exists and the caller may do
    /// `action` to it; hidden as missing when it may not discover it.
    pub(super) async fn checked_namespace(&self, action: Action, name: &str) -> Result<Identifier> {
        let namespace = parse_namespace(name)?;
        self.check_namespace(action, &namespace, || no_namespace(&namespace))
            .await?;
        self.existing_namespace(name).await
    }

    /// The members of a namespace.
    pub(super) async fn members_of(&self, name: &str) -> Result<Vec<Grantee>> {
        let namespace = self.checked_namespace(Action::Discover, name).await?;
        self.grant_store().members(&namespace).await
    }

    /// Adds (or, `member == false`, removes) a member: an admin's verb.
    pub(super) async fn change_member(
        &self,
        name: &str,
        grantee: &str,
        member: bool,
    ) -> Result<Vec<Grantee>> {
        let grantee: Grantee = grantee.parse()?;
        let namespace = self.checked_namespace(Action::Manage, name).await?;
        match member {
            true => self.grant_store().add_member(&namespace, &grantee).await?,
            false => {
                self.grant_store()
                    .remove_member(&namespace, &grantee)
                    .await?
            }
        }
        self.grant_store().members(&namespace).await
    }

    pub(super) async fn change_namespace(
        &self,
        name: &str,
        update: &UpdateNamespace,
    ) -> Result<Namespace> {
        let namespace = self.checked_namespace(Action::Manage, name).await?;
        if let Some(description) = &update.description {
            let description = rat_core::versions::free_text("description", description.as_deref())?;
            self.set_description(&namespace, description).await?;
        }
        self.describe(namespace).await
    }

    /// `name`, validated, when the namespace exists; else `not_found`.
    pub(super) async fn existing_namespace(&self, name: &str) -> Result<Identifier> {
        let namespace = parse_namespace(name)?;
        if self.namespace_exists(&namespace).await? {
            Ok(namespace)
        } else {
            Err(no_namespace(&namespace))
        }
    }

    async fn namespace_exists(&self, namespace: &Identifier) -> Result<bool> {
        Ok(namespace.as_str() == rat_core::DEFAULT_NAMESPACE
            || self.catalog().list_namespaces().await?.contains(namespace))
    }

    /// Its description, from the catalog (`default` may have no catalog
    /// entry yet: then it has none).
    async fn describe(&self, namespace: Identifier) -> Result<Namespace> {
        let description = match self.catalog().namespace_properties(&namespace).await {
            Ok(mut properties) => properties.remove(NAMESPACE_COMMENT),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(Namespace {
            name: namespace.to_string(),
            description,
        })
    }

    async fn set_description(
        &self,
        namespace: &Identifier,
        description: Option<String>,
    ) -> Result<()> {
        // `default` is implicit until something is written to it; any
        // other namespace here exists.
        if namespace.as_str() == rat_core::DEFAULT_NAMESPACE {
            self.catalog().create_namespace(namespace).await?;
        }
        let (updates, removals) = match description {
            Some(text) => (
                NamespaceProperties::from([(NAMESPACE_COMMENT.to_owned(), text)]),
                vec![],
            ),
            None => (
                NamespaceProperties::new(),
                vec![NAMESPACE_COMMENT.to_owned()],
            ),
        };
        self.catalog()
            .update_namespace_properties(namespace, updates, removals)
            .await
    }

    /// Schedules first (nothing fires into a namespace going away), the
    /// catalog's namespace last (until then it is still listed, and a
    /// failed step can be retried).
    pub(super) async fn remove_namespace(
        &self,
        name: &str,
        force: bool,
    ) -> Result<NamespaceRemoved> {
        let namespace = self.checked_namespace(Action::Manage, name).await?;
        if namespace.as_str() == rat_core::DEFAULT_NAMESPACE {
            return Err(Error::invalid("the default namespace cannot be deleted")
                .with_context("field", "namespace"));
        }
        let pipelines = self.pipeline_tables(&namespace).await?;
        let tables = self.catalog().list_tables(&namespace).await?;
        if !force && (!pipelines.is_empty() || !tables.is_empty()) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "namespace '{namespace}' holds {} pipeline(s) and {} table(s): \
                     delete them first, or delete it with force",
                    pipelines.len(),
                    tables.len()
                ),
            )
            .with_context("namespace", &namespace));
        }
        self.refuse_while_running(&namespace).await?;
        let schedules = self.remove_schedules_of(&namespace).await?;
        let notification_hooks = self.remove_hooks_of(&namespace).await?;
        for table in &tables {
            self.purge_table(table).await?;
        }
        let (files, landing_zones) = self.remove_files_of(&namespace).await?;
        match self.catalog().drop_namespace(&namespace).await {
            Ok(()) => {}
            // Only storage knew it (files, no catalog entry).
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(NamespaceRemoved {
            name: namespace.to_string(),
            pipelines: pipelines.len() as u64,
            tables: tables.len() as u64,
            landing_zones,
            files,
            schedules,
            notification_hooks,
        })
    }

    async fn refuse_while_running(&self, namespace: &Identifier) -> Result<()> {
        let going = self
            .store()
            .list(&RunFilter {
                namespace: Some(namespace.clone()),
                statuses: vec![RunStatus::Pending, RunStatus::Running],
                limit: Some(1),
                ..RunFilter::default()
            })
            .await?;
        match going.first() {
            Some(run) => Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "run {} of {} is {}: cancel it or wait before deleting namespace '{namespace}'",
                    run.run_id, run.table, run.status
                ),
            )
            .with_context("namespace", namespace)),
            None => Ok(()),
        }
    }

    async fn remove_schedules_of(&self, namespace: &Identifier) -> Result<u64> {
        let mut removed = 0;
        for schedule in self.schedule_store().schedules().await? {
            if schedule.pipeline.namespace == *namespace {
                self.schedule_store().delete_schedule(&schedule.id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn remove_hooks_of(&self, namespace: &Identifier) -> Result<u64> {
        let hooks = self.notification_store().hooks(Some(namespace)).await?;
        for hook in &hooks {
            self.notification_store().delete_hook(&hook.id).await?;
        }
        Ok(hooks.len() as u64)
    }

    /// Drops a table and deletes every file under its location.
    async fn purge_table(&self, table: &TableRef) -> Result<()> {
        let loaded = self.catalog().load_table(table).await?;
        self.catalog().drop_table(table).await?;
        let location = format!("{}/", loaded.metadata.location().trim_end_matches('/'));
        loaded.file_io.delete_prefix(&location).await.map_err(|e| {
            Error::new(ErrorKind::Storage, "cannot delete a dropped table's files")
                .with_context("table", table)
                .with_context("location", &location)
                .with_source(e)
        })
    }

    /// Every object under the namespace's folder; how many, and how many
    /// landing zones were among them.
    async fn remove_files_of(&self, namespace: &Identifier) -> Result<(u64, u64)> {
        let source = ProjectSource::of(namespace);
        let storage = self.storage(namespace)?;
        let landing = format!("{}landing/", source.prefix);
        let mut zones = std::collections::BTreeSet::new();
        let objects = storage.list_all(&source.prefix).await?;
        for object in &objects {
            if let Some((zone, _)) = object
                .key
                .as_str()
                .strip_prefix(&landing)
                .and_then(|rest| rest.split_once('/'))
            {
                zones.insert(zone.to_owned());
            }
            storage.delete(&object.key).await?;
        }
        Ok((objects.len() as u64, zones.len() as u64))
    }
}

pub(super) fn no_namespace(namespace: &Identifier) -> Error {
    Error::not_found(format!("no namespace '{namespace}'")).with_context("field", "namespace")
}
