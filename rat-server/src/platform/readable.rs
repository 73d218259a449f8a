//! [`Readable`]: a catalog as one principal may read it, for the sessions
//! of `POST /query` and previews. A table it may not read is not there
//! (the error a missing table gives), so the session resolves, and its
//! sandbox admits, only files of tables the caller may read; it cannot
//! write.

use std::sync::Arc;

use async_trait::async_trait;
use rat_core::authz::Action;
use rat_core::catalog::{LoadedTable, NamespaceProperties, NewTable, TableCommit, table_not_found};
use rat_core::{Catalog, Error, ErrorKind, Identifier, Result, TableRef};

use super::Platform;

/// The catalog of `platform` as its acting principal may read it.
#[derive(Debug)]
pub(super) struct Readable {
    platform: Platform,
    catalog: Arc<dyn Catalog>,
}

impl Readable {
    /// `catalog` as `platform`'s acting principal may read it.
    pub(super) fn over(platform: &Platform, catalog: &Arc<dyn Catalog>) -> Arc<dyn Catalog> {
        match platform.inner.options.authorizer {
            None => catalog.clone(),
            Some(_) => Arc::new(Self {
                platform: platform.clone(),
                catalog: catalog.clone(),
            }),
        }
    }

    fn inner(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }
}

fn read_only() -> Error {
    Error::new(
        ErrorKind::Forbidden,
        "queries and previews read; they change nothing",
    )
}

#[async_trait]
impl Catalog for Readable {
    async fn list_namespaces(&self) -> Result<Vec<Identifier>> {
        let all = self.inner().list_namespaces().await?;
        self.platform.visible_namespaces(all).await
    }

    async fn create_namespace(&self, _: &Identifier) -> Result<()> {
        Err(read_only())
    }

    async fn namespace_properties(&self, namespace: &Identifier) -> Result<NamespaceProperties> {
        self.inner().namespace_properties(namespace).await
    }

    async fn update_namespace_properties(
        &self,
        _: &Identifier,
        _: NamespaceProperties,
        _: Vec<String>,
    ) -> Result<()> {
        Err(read_only())
    }

    async fn drop_namespace(&self, _: &Identifier) -> Result<()> {
        Err(read_only())
    }

    async fn list_tables(&self, namespace: &Identifier) -> Result<Vec<TableRef>> {
        let all = self.inner().list_tables(namespace).await?;
        self.platform.visible(Action::Read, all).await
    }

    async fn load_table(&self, table: &TableRef) -> Result<LoadedTable> {
        if !self.platform.allows(Action::Read, table).await? {
            return Err(self.platform.denied(table_not_found(table)));
        }
        self.inner().load_table(table).await
    }

    async fn create_table(&self, _: &TableRef, _: NewTable) -> Result<LoadedTable> {
        Err(read_only())
    }

    async fn commit(&self, _: TableCommit) -> Result<LoadedTable> {
        Err(read_only())
    }

    async fn drop_table(&self, _: &TableRef) -> Result<()> {
        Err(read_only())
    }
}
