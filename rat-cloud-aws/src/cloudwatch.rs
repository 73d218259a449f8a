//! Reading a run's output from CloudWatch Logs: `GetLogEvents` from a
//! forward token, page after page, until CloudWatch hands the same token
//! back (the end of the stream for now).

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use rat_core::{Error, ErrorKind, Result};

/// Pages read per call at most, so one busy stream cannot starve others.
const MAX_PAGES_PER_READ: usize = 50;

/// Lines of one stream read past a token.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LogPage {
    /// The events' messages, in order. Events sharing a timestamp are all
    /// kept: paging follows the token, not the time.
    pub(crate) lines: Vec<String>,
    /// Where to continue; unchanged when nothing new arrived.
    pub(crate) token: Option<String>,
}

/// A CloudWatch Logs reader.
#[derive(Debug, Clone)]
pub(crate) struct CloudWatchLogs {
    client: aws_sdk_cloudwatchlogs::Client,
    page_size: i32,
}

impl CloudWatchLogs {
    pub(crate) fn new(client: aws_sdk_cloudwatchlogs::Client, page_size: i32) -> Self {
        Self { client, page_size }
    }

    /// Everything in `group`/`stream` after `token` (from the start when
    /// `None`). A stream that does not exist yet has no lines.
    pub(crate) async fn read(
        &self,
        group: &str,
        stream: &str,
        token: Option<&str>,
    ) -> Result<LogPage> {
        let mut page = LogPage {
            lines: Vec::new(),
            token: token.map(str::to_owned),
        };
        for _ in 0..MAX_PAGES_PER_READ {
            let response = self
                .client
                .get_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .start_from_head(true)
                .limit(self.page_size)
                .set_next_token(page.token.clone())
                .send()
                .await;
            let response = match response {
                Ok(r) => r,
                Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(page),
                Err(e) => {
                    let text = aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e);
                    return Err(Error::new(
                        ErrorKind::Executor,
                        format!("CloudWatch GetLogEvents failed: {text}"),
                    )
                    .with_context("stream", format!("{group}/{stream}"))
                    .with_retryable(true));
                }
            };
            page.lines.extend(
                response
                    .events()
                    .iter()
                    .filter_map(|e| e.message().map(str::to_owned)),
            );
            let next = response.next_forward_token().map(str::to_owned);
            if next.is_none() || next == page.token {
                return Ok(page);
            }
            page.token = next;
        }
        Ok(page)
    }
}
