//! [`Sandbox`]: what untrusted SQL in a session may touch. Pipeline and
//! quality-test SQL (and `rat query`) run in a session locked down to
//! exactly the files its run resolved and the folders rat writes to:
//! nothing else on disk, no URL, no configuration change, no extension.
//!
//! DuckDB checks the path string it is given: `..` is normalized before the
//! check, but a symlink is not resolved. So files are allowed one by one
//! (a symlink among them is refused unless it is itself on the list) and
//! folders only when rat creates them and writes into them itself.

use std::collections::BTreeSet;
use std::path::Path;

use rat_core::{Error, ErrorKind, Result};

use super::session::{DuckSession, duck_error};
use super::sql::{engine_path, string_list};

/// Most project files a session lists (embedded mode); beyond it the rest
/// are not readable and the run says so.
pub const MAX_PROJECT_FILES: usize = 10_000;

/// The files and folders a locked-down session may read (and, for
/// folders, write).
///
/// ```
/// use rat_runner::duck::Sandbox;
///
/// let mut sandbox = Sandbox::default();
/// sandbox.allow_file("file:///lake/t/data/a.parquet");
/// sandbox.allow_folder("/tmp/rat-staging/run-1");
/// assert!(sandbox.statements().contains("'/lake/t/data/a.parquet'"));
/// assert!(sandbox.statements().contains("'/tmp/rat-staging/run-1/'"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    files: BTreeSet<String>,
    folders: BTreeSet<String>,
}

impl Sandbox {
    /// Allows reading exactly this file (a `file://` URI, a path or an
    /// `s3://` URL, as a view reads it).
    pub fn allow_file(&mut self, uri: &str) -> &mut Self {
        self.files.insert(engine_path(uri).to_owned());
        self
    }

    /// Allows each of `uris`.
    pub fn allow_files<'a>(&mut self, uris: impl IntoIterator<Item = &'a String>) -> &mut Self {
        for uri in uris {
            self.allow_file(uri);
        }
        self
    }

    /// Allows a folder and everything below it. Only for folders rat
    /// creates and fills itself (a run's output folder): a symlink placed
    /// inside would not be resolved by the check.
    pub fn allow_folder(&mut self, path: &str) -> &mut Self {
        self.folders
            .insert(format!("{}/", engine_path(path).trim_end_matches('/')));
        self
    }

    /// Allows every regular file under `root` except hidden ones (`.rat/`
    /// with the catalog and run records, `.git/`, `.env`) and symlinks, at
    /// most [`MAX_PROJECT_FILES`]; returns how many were left out past
    /// that number.
    pub fn allow_project_files(&mut self, root: &Path) -> usize {
        let walk = walkdir::WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        let mut left_out = 0;
        let mut added = 0;
        for entry in walk.filter_map(|e| e.ok()) {
            if !entry.file_type().is_file() {
                continue;
            }
            if added == MAX_PROJECT_FILES {
                left_out += 1;
                continue;
            }
            if let Some(path) = entry.path().to_str() {
                self.files.insert(path.to_owned());
                added += 1;
            }
        }
        left_out
    }

    /// The statements locking a session to this sandbox.
    pub fn statements(&self) -> String {
        let files: Vec<String> = self.files.iter().cloned().collect();
        let folders: Vec<String> = self.folders.iter().cloned().collect();
        format!(
            "SET allowed_paths = {}; SET allowed_directories = {}; \
             SET enable_external_access = false; SET lock_configuration = true;",
            string_list(&files),
            string_list(&folders),
        )
    }
}

impl DuckSession {
    /// Locks the session to `sandbox`: from now on statements read only
    /// its files and folders, reach no URL, and cannot change settings,
    /// attach databases or load extensions. Secrets and views made before
    /// stay; grants of new `s3://` locations are no longer possible.
    pub async fn lock_down(&self, sandbox: &Sandbox) -> Result<()> {
        let statements = sandbox.statements();
        self.run(move |c| {
            c.execute_batch(&statements)
                .map_err(|e| duck_error("cannot lock the SQL session down", e))
        })
        .await
    }
}

/// The error of a statement the sandbox refused, or `None` when `err` is
/// another failure. Names what was refused, as DuckDB does.
pub(crate) fn refusal(message: &str) -> Option<Error> {
    let at = message.find("Permission Error: ")?;
    let what = message[at + "Permission Error: ".len()..]
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches(" - file system operations are disabled by configuration");
    Some(Error::new(
        ErrorKind::InvalidInput,
        format!(
            "refused by the SQL sandbox: {what}; pipeline SQL reads only its ref()s, \
             landing zones and (embedded) project files"
        ),
    ))
}
