//! One namespace, the caller itself and sharing, over HTTP.

use async_trait::async_trait;
use rat_core::Result;
use reqwest::Method;

use super::{Client, escaped};
use crate::api::{
    AccessApi, AuditEntry, AuditQuery, Grant, Me, Namespace, NamespaceMembers, NamespaceRemoved,
    NamespacesApi, NewGrant, Ownership, Page, Transfer, UpdateNamespace,
};

#[async_trait]
impl AccessApi for Client {
    async fn me(&self) -> Result<Me> {
        self.get("/me").await
    }

    async fn share(&self, grant: &NewGrant) -> Result<Grant> {
        self.post("/sharing", grant).await
    }

    async fn grants(&self, limit: u32, offset: u32) -> Result<Page<Grant>> {
        self.get(&format!("/sharing?limit={limit}&offset={offset}"))
            .await
    }

    async fn unshare(&self, id: &str) -> Result<()> {
        self.delete(&format!("/sharing/{}", escaped(id))).await
    }

    async fn transfer(&self, transfer: &Transfer) -> Result<Ownership> {
        self.post("/sharing/transfer", transfer).await
    }

    async fn audit_log(
        &self,
        query: &AuditQuery,
        limit: u32,
        offset: u32,
    ) -> Result<Page<AuditEntry>> {
        let mut request = self.request(Method::GET, "/audit").query(query);
        request = request.query(&[("limit", limit), ("offset", offset)]);
        self.send(request).await
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

    async fn namespace_members(&self, name: &str) -> Result<NamespaceMembers> {
        self.get(&format!("/namespaces/{}/members", escaped(name)))
            .await
    }

    async fn add_namespace_member(&self, name: &str, member: &str) -> Result<NamespaceMembers> {
        let path = format!("/namespaces/{}/members/{}", escaped(name), escaped(member));
        self.send(self.request(Method::PUT, &path)).await
    }

    async fn remove_namespace_member(&self, name: &str, member: &str) -> Result<NamespaceMembers> {
        let path = format!("/namespaces/{}/members/{}", escaped(name), escaped(member));
        self.send(self.request(Method::DELETE, &path)).await
    }
}
