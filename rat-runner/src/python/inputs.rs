//! What a script reads, found before it runs: the literal arguments of its
//! `ref()` and `landing_zone()` calls, by Python's own `ast` in the
//! bootstrap (standard library only). The answer depends only on the
//! interpreter and the script's text, so it is remembered: planning and
//! each run of an unchanged script ask the interpreter once.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rat_core::{Error, ErrorKind, Result};
use serde::Deserialize;

use super::{BOOTSTRAP, PythonConfig, process};

/// Scripts remembered.
const REMEMBERED: u64 = 4096;

/// A name a script passes to `ref()` or `landing_zone()`, and where.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamedInput {
    /// The literal argument.
    pub name: String,
    /// 1-based line of the call.
    pub line: usize,
}

/// What one script reads, found without running it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScriptInputs {
    /// `ref('...')` arguments.
    #[serde(default)]
    pub refs: Vec<NamedInput>,
    /// `landing_zone('...')` arguments.
    #[serde(default)]
    pub landing_zones: Vec<NamedInput>,
}

#[derive(Clone, Deserialize)]
struct Found {
    #[serde(flatten)]
    inputs: ScriptInputs,
    error: Option<Located>,
}

#[derive(Clone, Deserialize)]
struct Located {
    message: String,
    line: Option<usize>,
}

/// The `ref()` and `landing_zone()` calls of each `(file, source)` script,
/// in one interpreter start for all of them. A syntax error or a call whose
/// argument is not a literal is an error naming the file and line.
///
/// Blocking (it waits for the interpreter, tens of milliseconds with only
/// the standard library imported); async callers use
/// [`find_inputs_async`].
pub fn find_inputs(python: &PythonConfig, scripts: &[(&str, &str)]) -> Result<Vec<ScriptInputs>> {
    static REMEMBER: OnceLock<moka::sync::Cache<(PathBuf, String, String), Found>> =
        OnceLock::new();
    let remembered = REMEMBER.get_or_init(|| moka::sync::Cache::new(REMEMBERED));
    let key = |(file, source): &(&str, &str)| {
        (
            python.interpreter.clone(),
            (*file).to_owned(),
            (*source).to_owned(),
        )
    };
    let unknown: Vec<(&str, &str)> = scripts
        .iter()
        .filter(|s| !remembered.contains_key(&key(s)))
        .copied()
        .collect();
    for (script, found) in unknown.iter().zip(ask(python, &unknown)?) {
        remembered.insert(key(script), found);
    }
    scripts
        .iter()
        .map(|script| {
            let found = remembered
                .get(&key(script))
                .ok_or_else(|| Error::internal("a script's inputs were forgotten at once"))?;
            match found.error {
                None => Ok(found.inputs),
                Some(err) => {
                    let e = Error::invalid(err.message).with_context("file", script.0);
                    Err(match err.line {
                        Some(line) => e.with_context("line", line),
                        None => e,
                    })
                }
            }
        })
        .collect()
}

/// One interpreter start reading every script of `scripts`.
fn ask(python: &PythonConfig, scripts: &[(&str, &str)]) -> Result<Vec<Found>> {
    if scripts.is_empty() {
        return Ok(Vec::new());
    }
    let request = serde_json::json!({
        "scripts": scripts.iter().map(|(file, source)| serde_json::json!({"file": file, "source": source})).collect::<Vec<_>>()
    });
    let mut child = Command::new(&python.interpreter)
        .args(["-c", BOOTSTRAP, "deps"])
        .env_clear()
        .envs(process::base_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| python.not_started(&e))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || serde_json::to_writer(stdin, &request));
    let output = child
        .wait_with_output()
        .map_err(|e| python.not_started(&e))?;
    let _ = writer.join();
    if !output.status.success() {
        return Err(Error::new(
            ErrorKind::Executor,
            format!(
                "Python '{}' could not read the pipeline scripts: {}",
                python.interpreter.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    let found: Vec<Found> = serde_json::from_slice(&output.stdout)
        .map_err(|e| Error::internal(format!("the Python bootstrap answered badly: {e}")))?;
    if found.len() != scripts.len() {
        return Err(Error::internal("the Python bootstrap skipped a script"));
    }
    Ok(found)
}

/// [`find_inputs`] on the blocking pool.
pub async fn find_inputs_async(
    python: &PythonConfig,
    scripts: Vec<(String, String)>,
) -> Result<Vec<ScriptInputs>> {
    let python = python.clone();
    tokio::task::spawn_blocking(move || {
        let borrowed: Vec<(&str, &str)> = scripts
            .iter()
            .map(|(f, s)| (f.as_str(), s.as_str()))
            .collect();
        find_inputs(&python, &borrowed)
    })
    .await
    .map_err(|e| Error::internal(format!("finding a script's inputs: {e}")))?
}
