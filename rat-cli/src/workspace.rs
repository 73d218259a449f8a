//! The embedded setup: a project folder with its tables under `.rat/`.

use std::path::Path;
use std::sync::Arc;

use rat_core::{Error, ErrorKind, Result};
use rat_runner::Engine;
use rat_runner::catalog::SqlCatalog;
use rat_runner::storage::LocalStorage;

/// Where the embedded catalog and warehouse live, inside the project.
pub(crate) const STATE_DIR: &str = ".rat";

/// Opens the engine over the project folder: local storage rooted at the
/// project, the SQLite catalog and warehouse under `.rat/`.
pub(crate) async fn open(project: &Path) -> Result<Engine> {
    if !project.is_dir() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "project folder '{}' does not exist (create one with `rat init {}`)",
                project.display(),
                project.display()
            ),
        ));
    }
    let storage = LocalStorage::new(project)?;
    let state = project.join(STATE_DIR);
    let catalog = SqlCatalog::open(state.join("catalog.db"), state.join("warehouse")).await?;
    Ok(Engine::new(Arc::new(storage), Arc::new(catalog)))
}
