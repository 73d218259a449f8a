//! A throwaway embedded project for a benchmark.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use rat_core::{RunContext, RunEngine, RunResult, RunSpec, RunStatus, TableRef, TracingLogSink};
use rat_runner::Engine;
use rat_runner::catalog::SqlCatalog;
use rat_runner::storage::LocalStorage;

/// A project folder in a temp dir with the embedded catalog.
pub(crate) struct BenchProject {
    dir: tempfile::TempDir,
}

impl BenchProject {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            dir: tempfile::tempdir()?,
        })
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub(crate) fn write(&self, relative: &str, text: &str) -> Result<()> {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().context("parent")?)?;
        std::fs::write(path, text)?;
        Ok(())
    }

    pub(crate) async fn engine(&self) -> Result<Engine> {
        let storage = Arc::new(LocalStorage::new(self.path())?);
        let catalog = Arc::new(
            SqlCatalog::open(
                self.path().join(".rat/catalog.db"),
                self.path().join(".rat/warehouse"),
            )
            .await?,
        );
        Ok(Engine::new(storage, catalog))
    }

    /// Runs one pipeline; fails the benchmark if the run fails.
    pub(crate) async fn run(&self, engine: &Engine, table: &str) -> Result<(Duration, RunResult)> {
        let table: TableRef = table.parse()?;
        let ctx = RunContext {
            cancel: Default::default(),
            log: Arc::new(TracingLogSink),
        };
        let started = Instant::now();
        let result = engine.execute(RunSpec::new(table), ctx).await;
        let elapsed = started.elapsed();
        ensure!(
            result.status == RunStatus::Success,
            "run failed: {:?}",
            result.error
        );
        Ok((elapsed, result))
    }
}

/// Serves `server` on a loopback port; its base URL (`http://127.0.0.1:N`).
pub(crate) async fn serve(server: &rat_server::Server) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(base)
}
