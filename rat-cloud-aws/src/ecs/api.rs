//! Calling ECS: which failures are worth another attempt, a bounded
//! jittered retry, and the client-side RunTask rate limit.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use rat_core::{Error, ErrorKind, Result};
use tokio::time::Instant;

use super::config::EcsConfig;

/// What kind of failure an ECS answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The API refused for rate (also when wrapped in
    /// `InvalidParameterException` or `ClientException`).
    Throttled,
    /// No capacity now (RunTask failures, tasks that failed to start).
    Capacity,
    /// A server error or a lost connection.
    Transient,
    /// Anything else: retrying would not help.
    Fatal,
}

impl Fault {
    pub(crate) fn retryable(self) -> bool {
        self != Fault::Fatal
    }
}

const THROTTLE_CODES: [&str; 5] = [
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];

/// Classifies an error code and message as ECS returns them.
pub(crate) fn classify(code: Option<&str>, message: &str) -> Fault {
    let lower = message.to_ascii_lowercase();
    let throttled_text = lower.contains("rate exceeded")
        || lower.contains("throttl")
        || lower.contains("too many concurrent attempts");
    match code {
        Some(c) if THROTTLE_CODES.contains(&c) => Fault::Throttled,
        Some("InvalidParameterException" | "ClientException") if throttled_text => Fault::Throttled,
        Some("ServerException" | "ServiceUnavailableException" | "InternalFailure") => {
            Fault::Transient
        }
        _ if capacity_text(&lower) => Fault::Capacity,
        _ => Fault::Fatal,
    }
}

/// Reasons ECS gives for capacity and provisioning problems (RunTask
/// `failures`, stopped tasks' reasons), lowercased.
pub(crate) fn capacity_text(lower: &str) -> bool {
    [
        "capacity is unavailable",
        "insufficient capacity",
        "resource:",
        "timeout waiting for network interface provisioning",
        "eni provisioning",
        "ephemeral storage",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// An SDK failure as a rat error with its fault class.
pub(crate) fn sdk_error<E>(action: &str, err: SdkError<E, HttpResponse>) -> (Fault, Error)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = match &err {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        SdkError::ResponseError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    };
    let fault = match &err {
        // A server error without an AWS code (a proxy's or an outage's
        // page) is the server's, as a 5xx always is: worth another try.
        SdkError::ServiceError(e) if e.err().code().is_none() && status >= Some(500) => {
            Fault::Transient
        }
        SdkError::ServiceError(e) => {
            classify(e.err().code(), e.err().message().unwrap_or_default())
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Fault::Transient,
        SdkError::ResponseError(_) => Fault::Transient,
        _ => Fault::Fatal,
    };
    // The service's code and message; never the SDK's dump of the raw
    // response (headers, body) when there is no code.
    let text = match (err.code(), status) {
        (Some(code), _) => format!("{code}: {}", err.message().unwrap_or_default()),
        (None, Some(status)) => format!("HTTP {status} without an AWS error code"),
        (None, None) => aws_sdk_ecs::error::DisplayErrorContext(&err).to_string(),
    };
    let error = Error::new(ErrorKind::Executor, format!("ECS {action} failed: {text}"))
        .with_retryable(fault.retryable());
    (fault, error)
}

/// The delay before attempt `attempt + 1` (from 1): exponential from
/// `base`, capped at `max`, with full jitter over its upper half.
pub(crate) fn backoff(config: &EcsConfig, attempt: u32) -> Duration {
    let exp = config
        .retry_base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    let capped = exp.min(config.retry_max);
    capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

/// Calls `call` until it succeeds, fails for good, or `max_attempts` ran;
/// `on_retry` hears of each retried failure.
pub(crate) async fn with_retries<T, F, Fut>(
    config: &EcsConfig,
    mut call: F,
    mut on_retry: impl FnMut(u32, &Error),
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, (Fault, Error)>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err((fault, e)) if fault.retryable() && attempt < config.max_attempts => {
                on_retry(attempt, &e);
                tokio::time::sleep(backoff(config, attempt)).await;
                attempt += 1;
            }
            Err((_, e)) => {
                let message = format!("{} (after {attempt} attempt(s))", e.message());
                return Err(Error::new(e.kind(), message).with_retryable(e.is_retryable()));
            }
        }
    }
}

/// Spaces calls at least `1 / rate` seconds apart across all callers.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub(crate) fn per_second(rate: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(None),
        }
    }

    /// Waits for this caller's slot.
    pub(crate) async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_recognised_even_when_wrapped() {
        assert_eq!(
            classify(Some("ThrottlingException"), "Rate exceeded"),
            Fault::Throttled
        );
        assert_eq!(
            classify(
                Some("InvalidParameterException"),
                "Rate exceeded for RunTask"
            ),
            Fault::Throttled
        );
        assert_eq!(
            classify(
                Some("ClientException"),
                "Too many concurrent attempts to create a new revision of the specified family."
            ),
            Fault::Throttled
        );
        assert_eq!(
            classify(
                Some("InvalidParameterException"),
                "No Container Instances were found"
            ),
            Fault::Fatal
        );
        assert_eq!(classify(Some("ServerException"), "boom"), Fault::Transient);
        assert_eq!(
            classify(
                None,
                "Capacity is unavailable at this time. Please try again later"
            ),
            Fault::Capacity
        );
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_by_the_rate() {
        let limiter = RateLimiter::per_second(20.0);
        let start = Instant::now();
        for _ in 0..41 {
            limiter.acquire().await;
        }
        // 41 calls at 20/s: the last one two seconds after the first.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
