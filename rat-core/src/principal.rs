//! [`Principal`]: who a request or a run acts for, as authentication
//! established it, with the roles grants and checks name.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The role that may do everything.
pub const ADMIN_ROLE: &str = "admin";

/// Most characters of a principal's id or a role's name.
pub const MAX_NAME_CHARS: usize = 256;

/// Who acts: an OIDC token's subject, a named API key, or the one local
/// user of an embedded platform (auth `none`), with their roles.
///
/// ```
/// use rat_core::principal::Principal;
///
/// let ann = Principal::new("ann").unwrap().with_roles(["analyst"]).unwrap();
/// assert!(!ann.is_admin());
/// assert!(Principal::local("me").is_admin());
/// assert!(Principal::new("bad\nid").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Principal {
    /// A stable id: the token's `sub`, the API key's name, the local user.
    pub id: String,
    /// A display name (the token's `name`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The token's `email`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Its roles: from the token's roles claim or the API key's
    /// configuration; `admin` may do everything.
    #[serde(default)]
    pub roles: BTreeSet<String>,
}

impl Principal {
    /// A principal without roles; the id is validated as [`name`].
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = name("principal", id.into())?;
        Ok(Self {
            id,
            name: None,
            email: None,
            roles: BTreeSet::new(),
        })
    }

    /// The single user of an embedded platform (auth `none`): an admin.
    /// An id that is not a valid name becomes `local`.
    pub fn local(id: &str) -> Self {
        let mut me = Self::new(id).unwrap_or_else(|_| Self {
            id: "local".to_owned(),
            name: None,
            email: None,
            roles: BTreeSet::new(),
        });
        me.roles.insert(ADMIN_ROLE.to_owned());
        me
    }

    /// The same principal with `roles` added, each validated as [`name`].
    pub fn with_roles<I, S>(mut self, roles: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for role in roles {
            self.roles.insert(name("role", role.into())?);
        }
        Ok(self)
    }

    /// Whether it holds the `admin` role.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(ADMIN_ROLE)
    }
}

/// A principal id or role name: 1 to [`MAX_NAME_CHARS`] characters, no
/// whitespace but inner spaces, no control characters. The error names
/// `what`.
///
/// ```
/// use rat_core::principal::name;
///
/// assert_eq!(name("role", "data-engineer".into()).unwrap(), "data-engineer");
/// assert!(name("role", " ".into()).is_err());
/// assert!(name("role", "x".repeat(257)).is_err());
/// ```
pub fn name(what: &'static str, text: String) -> Result<String> {
    let invalid = |why: &str| {
        Err(
            Error::invalid(format!("{why}: '{}'", text.escape_default()))
                .with_context("field", what),
        )
    };
    if text.trim().is_empty() || text.trim() != text {
        return invalid(&format!(
            "a {what} must be non-empty, without surrounding spaces"
        ));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return invalid(&format!("a {what} is at most {MAX_NAME_CHARS} characters"));
    }
    if text.chars().any(char::is_control) {
        return invalid(&format!("a {what} holds no control characters"));
    }
    Ok(text)
}
