//! Who the caller is: the principal its credentials establish, with its
//! roles and the namespaces it may see.

use async_trait::async_trait;
use rat_core::Result;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;

/// `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Me {
    /// The principal: id, name, email, roles.
    #[serde(flatten)]
    pub principal: Principal,
    /// Whether it may do everything (`admin` role, or no authentication).
    pub admin: bool,
    /// The namespaces it may see.
    pub namespaces: Vec<String>,
}

/// The caller itself.
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi) -> rat_core::Result<()> {
/// let me = api.me().await?;
/// println!("{} {:?}", me.principal.id, me.principal.roles);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait AccessApi: Send + Sync {
    /// Who the caller is.
    async fn me(&self) -> Result<Me>;
}
