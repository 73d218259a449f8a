//! Prometheus metrics of one server (`GET /metrics`, text format): HTTP
//! requests by route, method and status with their latency, runs that
//! ended by pipeline and status with their duration (counted once across
//! instances, by the lease holder as it follows finished runs), runs
//! waiting and running now (from the run store, at each scrape), and
//! scheduler firings by trigger and outcome.
//!
//! Each [`Platform`](crate::Platform) has its own registry, so servers in
//! one process (tests) never mix their counts.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rat_core::{Error, Result, RunRecord, RunStatus, TriggerKind};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    pipeline: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabels {
    pipeline: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FiringLabels {
    trigger: String,
    outcome: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<RouteLabels>,
    runs: Family<RunLabels, Counter>,
    run_seconds: Histograms<PipelineLabels>,
    runs_now: Family<StateLabels, Gauge>,
    firings: Family<FiringLabels, Counter>,
    /// Rendering is exclusive: the gauges set for a scrape are its own.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Request latencies: 1 ms to about 33 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Run durations: 0.1 s to about 3.6 h.
fn run_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rat");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Histograms<RouteLabels> = Family::new_with_constructor(latency_histogram);
        let runs = Family::<RunLabels, Counter>::default();
        let run_seconds: Histograms<PipelineLabels> = Family::new_with_constructor(run_histogram);
        let runs_now = Family::<StateLabels, Gauge>::default();
        let firings = Family::<FiringLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route and method",
            latency.clone(),
        );
        registry.register(
            "runs_finished",
            "Runs that ended, by pipeline and status",
            runs.clone(),
        );
        registry.register(
            "run_duration_seconds",
            "Time from a run's start to its end, by pipeline",
            run_seconds.clone(),
        );
        registry.register(
            "runs",
            "Runs not ended yet: pending (the queue) and running",
            runs_now.clone(),
        );
        registry.register(
            "schedule_firings",
            "Schedule firings, by trigger and outcome (started, skipped)",
            firings.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            runs,
            run_seconds,
            runs_now,
            firings,
            scrape: Mutex::new(()),
        }
    }
}

impl Metrics {
    /// Counts one answered request of `route` (the matched route pattern,
    /// so ids do not make new series).
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let route = route.to_owned();
        let method = method.to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method: method.clone(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }

    /// Counts a run that ended, with its duration.
    pub fn run_finished(&self, run: &RunRecord) {
        let pipeline = run.table.to_string();
        self.runs
            .get_or_create(&RunLabels {
                pipeline: pipeline.clone(),
                status: run.status.to_string(),
            })
            .inc();
        if let (Some(start), Some(end)) = (run.started_at, run.finished_at) {
            let seconds = (end - start).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
            self.run_seconds
                .get_or_create(&PipelineLabels { pipeline })
                .observe(seconds);
        }
    }

    /// Counts a firing of a `trigger`: a run started, or none.
    pub fn firing(&self, trigger: TriggerKind, started: bool) {
        let outcome = if started { "started" } else { "skipped" };
        self.firings
            .get_or_create(&FiringLabels {
                trigger: trigger.to_string(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The text exposition, with the unfinished runs of `unfinished` as
    /// the runs-now gauges.
    pub fn render(&self, unfinished: &[RunRecord]) -> Result<String> {
        let _exclusive = self
            .scrape
            .lock()
            .map_err(|_| Error::internal("a metrics scrape panicked"))?;
        for status in [RunStatus::Pending, RunStatus::Running] {
            let count = unfinished.iter().filter(|r| r.status == status).count();
            self.runs_now
                .get_or_create(&StateLabels {
                    state: status.to_string(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|e| Error::internal(format!("cannot render the metrics: {e}")))?;
        Ok(text)
    }
}
