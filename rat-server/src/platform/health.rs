//! Readiness: whether the components a request needs answer now — the run
//! store, the catalog and storage — each asked the cheapest question it
//! has, all at once, each within [`CHECK_TIME`].

use std::future::Future;
use std::time::{Duration, Instant};

use rat_core::{ObjectKey, Result, RunFilter};

use super::Platform;
use crate::api::{Readiness, ReadinessCheck};

/// How long one component may take to answer.
pub(crate) const CHECK_TIME: Duration = Duration::from_secs(5);

impl Platform {
    /// Asks each component at once; ready when every one answered.
    pub(crate) async fn readiness_now(&self) -> Readiness {
        let engine = &self.inner.engine;
        let newest = RunFilter {
            limit: Some(1),
            ..RunFilter::default()
        };
        let checks = vec![
            check("run_store", self.inner.stores.runs.list(&newest)),
            check("catalog", engine.catalog().list_namespaces()),
            check("storage", async {
                // One stat or HEAD, whatever the answer: listing could walk
                // a whole folder tree.
                engine.storage().exists(&ObjectKey::new("rat.yaml")?).await
            }),
        ];
        let checks = futures::future::join_all(checks).await;
        Readiness {
            ready: checks.iter().all(|c| c.ok),
            checks,
        }
    }
}

/// Times one probe; a failure is logged in full and reported by kind.
fn check<'a, T>(
    component: &'static str,
    probe: impl Future<Output = Result<T>> + Send + 'a,
) -> futures::future::BoxFuture<'a, ReadinessCheck> {
    Box::pin(async move {
        let started = Instant::now();
        let outcome = tokio::time::timeout(CHECK_TIME, probe).await;
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let error_kind = match outcome {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                tracing::warn!(component, "readiness check failed: {e}");
                Some(e.kind().to_string())
            }
            Err(_) => {
                tracing::warn!(component, "readiness check took over {CHECK_TIME:?}");
                Some("timeout".to_owned())
            }
        };
        ReadinessCheck {
            component: component.to_owned(),
            ok: error_kind.is_none(),
            millis,
            error_kind,
        }
    })
}
