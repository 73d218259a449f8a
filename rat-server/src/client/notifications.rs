//! A namespace's notification hooks over HTTP.

use async_trait::async_trait;
use rat_core::Result;

use super::{Client, escaped, query_string};
use crate::api::{Delivery, NewHook, NotificationHook, NotificationsApi, Page};

fn hooks_url(namespace: &str) -> String {
    format!("/namespaces/{}/notifications", escaped(namespace))
}

fn hook_url(namespace: &str, id: &str) -> String {
    format!("{}/{}", hooks_url(namespace), escaped(id))
}

#[async_trait]
impl NotificationsApi for Client {
    async fn notification_hooks(&self, namespace: &str) -> Result<Vec<NotificationHook>> {
        self.all(&hooks_url(namespace)).await
    }

    async fn notification_hook(&self, namespace: &str, id: &str) -> Result<NotificationHook> {
        self.get(&hook_url(namespace, id)).await
    }

    async fn create_notification_hook(
        &self,
        namespace: &str,
        hook: &NewHook,
    ) -> Result<NotificationHook> {
        self.post(&hooks_url(namespace), hook).await
    }

    async fn delete_notification_hook(&self, namespace: &str, id: &str) -> Result<()> {
        self.delete(&hook_url(namespace, id)).await
    }

    async fn hook_deliveries(
        &self,
        namespace: &str,
        id: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Delivery>> {
        let query = query_string(&[
            ("limit", Some(limit.to_string())),
            ("offset", Some(offset.to_string())),
        ]);
        self.get(&format!("{}/deliveries{query}", hook_url(namespace, id)))
            .await
    }
}
