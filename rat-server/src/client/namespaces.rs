//! One namespace, and the caller itself, over HTTP.

use async_trait::async_trait;
use rat_core::Result;
use reqwest::Method;

use super::{Client, escaped};
use crate::api::{AccessApi, Me, Namespace, NamespaceRemoved, NamespacesApi, UpdateNamespace};

#[async_trait]
impl AccessApi for Client {
    async fn me(&self) -> Result<Me> {
        self.get("/me").await
    }
}

#[async_trait]
impl NamespacesApi for Client {
    async fn namespace(&self, name: &str) -> Result<Namespace> {
        self.get(&format!("/namespaces/{}", escaped(name))).await
    }

    async fn update_namespace(&self, name: &str, update: &UpdateNamespace) -> Result<Namespace> {
        let path = format!("/namespaces/{}", escaped(name));
        self.send(self.request(Method::PATCH, &path).json(update))
            .await
    }

    async fn delete_namespace(&self, name: &str, force: bool) -> Result<NamespaceRemoved> {
        let path = format!("/namespaces/{}?force={force}", escaped(name));
        self.send(self.request(Method::DELETE, &path)).await
    }
}
