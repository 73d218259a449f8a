//! Firings and webhooks over HTTP.

use async_trait::async_trait;
use rat_core::Result;
use reqwest::Method;

use super::{Client, escaped, query_string};
use crate::api::{FiringRecord, Page, TriggersApi};

#[async_trait]
impl TriggersApi for Client {
    async fn schedule_firings(
        &self,
        schedule: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<FiringRecord>> {
        let query = query_string(&[
            ("limit", Some(limit.to_string())),
            ("offset", Some(offset.to_string())),
        ]);
        self.get(&format!("/schedules/{}/firings{query}", escaped(schedule)))
            .await
    }

    async fn fire_webhook(&self, schedule: &str, token: &str) -> Result<FiringRecord> {
        // The webhook's token, not the client's: the route is outside auth.
        let url = format!("{}/webhooks/{}", self.api, escaped(schedule));
        let request = self.http.request(Method::POST, url).bearer_auth(token);
        self.send(request).await
    }
}
