//! Bearer tokens: stored as SHA-256 hashes, bound to a site and a person
//! or to a service, with scopes.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::config::{TokenConfig, TokenScope};

/// Who is calling, as established from a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's label, for logs and the audit trail.
    pub name: String,
    /// Site the token is bound to; `None` for host-wide tokens.
    pub site: Option<String>,
    /// Roster person the token acts as.
    pub person: Option<String>,
    /// Scopes granted.
    pub scopes: Vec<TokenScope>,
}

impl Principal {
    /// The actor name recorded in the audit trail: the person, else the token.
    pub fn actor(&self) -> &str {
        self.person.as_deref().unwrap_or(&self.name)
    }

    /// True when the token may act on `site` with `scope`. Host-wide admin
    /// tokens reach every site; any other token reaches only its own site.
    pub fn allows(&self, site: &str, scope: TokenScope) -> bool {
        let site_ok = match &self.site {
            Some(bound) => bound == site,
            None => self.scopes.contains(&TokenScope::Admin) || scope == TokenScope::Metrics,
        };
        let scope_ok = self.scopes.contains(&scope)
            || (scope == TokenScope::Staff && self.scopes.contains(&TokenScope::Admin));
        site_ok && scope_ok
    }
}

/// The host's tokens, looked up by hash.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_hash: HashMap<String, Principal>,
}

impl Tokens {
    /// Indexes the configured tokens.
    pub fn new(configs: &[TokenConfig]) -> Self {
        let by_hash = configs
            .iter()
            .map(|t| {
                (
                    t.sha256.clone(),
                    Principal {
                        name: t.name.clone(),
                        site: t.site.clone(),
                        person: t.person.clone(),
                        scopes: t.scopes.clone(),
                    },
                )
            })
            .collect();
        Tokens { by_hash }
    }

    /// Adds a token at run time (the demo makes its own).
    pub fn insert(&mut self, token: &str, principal: Principal) {
        self.by_hash.insert(hash_token(token), principal);
    }

    /// The principal of a presented bearer token.
    pub fn lookup(&self, token: &str) -> Option<&Principal> {
        self.by_hash.get(&hash_token(token))
    }
}

/// SHA-256 of a token as lowercase hex: the form stored in `switchboard.toml`.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(site: Option<&str>, scopes: Vec<TokenScope>) -> Principal {
        Principal {
            name: "t".into(),
            site: site.map(str::to_string),
            person: Some("ma-ana".into()),
            scopes,
        }
    }

    #[test]
    fn staff_token_reaches_only_its_site() {
        let staff = principal(Some("northside"), vec![TokenScope::Staff]);

        assert!(staff.allows("northside", TokenScope::Staff));
        assert!(!staff.allows("southside", TokenScope::Staff));
        assert!(!staff.allows("northside", TokenScope::Admin));
    }

    #[test]
    fn host_admin_reaches_every_site() {
        let admin = principal(None, vec![TokenScope::Admin]);

        assert!(admin.allows("northside", TokenScope::Admin));
        assert!(admin.allows("southside", TokenScope::Staff));
    }

    #[test]
    fn lookup_uses_the_hash() {
        let mut tokens = Tokens::default();
        tokens.insert(
            "secret-value",
            principal(Some("northside"), vec![TokenScope::Staff]),
        );

        assert!(tokens.lookup("secret-value").is_some());
        assert!(tokens.lookup("other").is_none());
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
