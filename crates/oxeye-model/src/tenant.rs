//! Tenant identifiers.
//!
//! A tenant is named by the `X-Scope-OrgID` header (the Grafana/Loki/Tempo/Mimir convention) and its data lives in a
//! directory of that name, so a tenant id must be safe as a single path component: the characters Mimir allows
//! (letters, digits, `!-_.*'()`), minus the names `.` and `..`, at most [`MAX_TENANT_ID_LEN`] bytes.

use std::fmt;

/// The tenant used when a request names none.
pub const DEFAULT_TENANT: &str = "default";

/// The longest tenant id accepted, in bytes (Mimir's limit).
pub const MAX_TENANT_ID_LEN: usize = 150;

/// Why a tenant id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantIdError {
    #[error("tenant id is empty")]
    Empty,
    #[error("tenant id is {len} bytes long, the limit is {MAX_TENANT_ID_LEN}")]
    TooLong { len: usize },
    #[error("tenant id {id:?} contains the character {character:?}; allowed are letters, digits and !-_.*'()")]
    BadCharacter { id: String, character: char },
    #[error("tenant id {id:?} is reserved")]
    Reserved { id: String },
}

/// A validated tenant id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// Validates `id` (see the module documentation for the rules).
    pub fn new(id: &str) -> Result<Self, TenantIdError> {
        if id.is_empty() {
            return Err(TenantIdError::Empty);
        }
        if id.len() > MAX_TENANT_ID_LEN {
            return Err(TenantIdError::TooLong { len: id.len() });
        }
        if let Some(character) = id.chars().find(|c| !is_allowed_tenant_char(*c)) {
            return Err(TenantIdError::BadCharacter { id: id.to_string(), character });
        }
        if id == "." || id == ".." {
            return Err(TenantIdError::Reserved { id: id.to_string() });
        }
        Ok(Self(id.to_string()))
    }

    /// The tenant used when none is named.
    pub fn default_tenant() -> Self {
        Self(DEFAULT_TENANT.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_allowed_tenant_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '!' | '-' | '_' | '.' | '*' | '\'' | '(' | ')')
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_validated() {
        let ok = |id: &str| assert_eq!(TenantId::new(id).unwrap().as_str(), id);
        let bad = |id: &str| assert!(TenantId::new(id).is_err(), "{id:?} should be refused");
        ok("default");
        ok("team-a_1.prod");
        ok("a(b)*'!");
        bad("");
        bad(".");
        bad("..");
        bad("a/b");
        bad("a b");
        bad("ü");
        bad(&"x".repeat(MAX_TENANT_ID_LEN + 1));
        ok(&"x".repeat(MAX_TENANT_ID_LEN));
    }
}
