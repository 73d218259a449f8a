//! Namespace properties and drops over the REST protocol: `GET` and
//! `DELETE /namespaces/{ns}`, `POST /namespaces/{ns}/properties`.

use rat_core::{Catalog, Error, ErrorKind, Identifier, Layer, NamespaceProperties, Result};
use serde::Deserialize;
use serde_json::json;

use super::client::Request;
use super::{RestCatalog, namespace_segment};

/// `GetNamespaceResponse` of the REST spec.
#[derive(Debug, Deserialize)]
struct GetNamespaceResponse {
    #[serde(default)]
    properties: Option<NamespaceProperties>,
}

impl RestCatalog {
    pub(super) async fn properties_of(
        &self,
        namespace: &Identifier,
    ) -> Result<NamespaceProperties> {
        let segment = namespace_segment(&[namespace.as_str()]);
        let answer: GetNamespaceResponse = self
            .client
            .json(Request::get(&["namespaces", &segment]))
            .await
            .map_err(|f| with_namespace(f.error, namespace))?;
        Ok(answer.properties.unwrap_or_default())
    }

    pub(super) async fn update_properties(
        &self,
        namespace: &Identifier,
        updates: NamespaceProperties,
        removals: Vec<String>,
    ) -> Result<()> {
        let segment = namespace_segment(&[namespace.as_str()]);
        let body = json!({ "updates": updates, "removals": removals });
        self.client
            .send(Request::post(
                &["namespaces", &segment, "properties"],
                &body,
            ))
            .await
            .map_err(|f| with_namespace(f.error, namespace))?;
        Ok(())
    }

    /// Layers first, then the top level: a catalog refuses to drop a
    /// namespace that still has children.
    pub(super) async fn drop_levels(&self, namespace: &Identifier) -> Result<()> {
        self.properties_of(namespace).await?;
        let tables = self.list_tables(namespace).await?;
        if !tables.is_empty() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "namespace '{namespace}' still holds {} table(s)",
                    tables.len()
                ),
            )
            .with_context("namespace", namespace));
        }
        for layer in Layer::ALL {
            self.drop_level(&[namespace.as_str(), layer.as_str()])
                .await?;
        }
        self.drop_level(&[namespace.as_str()]).await
    }

    async fn drop_level(&self, levels: &[&str]) -> Result<()> {
        let segment = namespace_segment(levels);
        match self
            .client
            .send(Request::delete(&["namespaces", &segment]))
            .await
        {
            Ok(_) => Ok(()),
            Err(f) if f.error.kind() == ErrorKind::NotFound => Ok(()),
            Err(f) => Err(f.error.with_context("namespace", levels.join("."))),
        }
    }
}

fn with_namespace(error: Error, namespace: &Identifier) -> Error {
    if error.kind() == ErrorKind::NotFound {
        Error::not_found(format!("no namespace '{namespace}'"))
            .with_context("namespace", namespace)
            .with_context("detail", error.message())
    } else {
        error.with_context("namespace", namespace)
    }
}
