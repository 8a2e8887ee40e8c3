//! The SMART Backend Services side of the mock: registered clients, client
//! assertion checks, and issued bearer tokens.
//!
//! This verifier is written apart from the signer in `switchboard-egress`,
//! so a test that passes shows the two agree on the standard, not only with
//! themselves.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p384::pkcs8::DecodePublicKey as _;
use rand::TryRng as _;
use rsa::signature::Verifier as _;
use serde::Deserialize;
use sha2::Sha384;
use switchboard_egress::Algorithm;

/// SMART's limit on how far in the future an assertion's `exp` may be.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

/// A client's public key.
#[derive(Clone, Debug)]
pub(crate) enum PublicKey {
    Rs384(Box<rsa::pkcs1v15::VerifyingKey<Sha384>>),
    Es384(p384::ecdsa::VerifyingKey),
}

impl PublicKey {
    pub(crate) fn from_pem(pem: &str, algorithm: Algorithm) -> Result<Self, String> {
        match algorithm {
            Algorithm::Rs384 => rsa::PublicKey::from_public_key_pem(pem)
                .map(|key| PublicKey::Rs384(Box::new(rsa::pkcs1v15::VerifyingKey::new(key))))
                .map_err(|e| format!("not an RSA public key in SPKI PEM: {e}")),
            Algorithm::Es384 => p384::ecdsa::VerifyingKey::from_public_key_pem(pem)
                .map(PublicKey::Es384)
                .map_err(|e| format!("not a P-384 public key in SPKI PEM: {e}")),
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Rs384(_) => Algorithm::Rs384,
            PublicKey::Es384(_) => Algorithm::Es384,
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Rs384(key) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
            PublicKey::Es384(key) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
        }
    }
}

/// A registered client.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub(crate) key: PublicKey,
    pub(crate) key_id: Option<String>,
}

/// A token the mock issued.
#[derive(Clone, Debug)]
pub(crate) struct Issued {
    pub(crate) expires: SystemTime,
}

/// An OAuth error response: status and `error` code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status: 400, or 401 for `invalid_client`.
    pub status: u16,
    /// The RFC 6749 `error` code.
    pub error: &'static str,
    /// Why, for `error_description`.
    pub description: String,
}

impl OAuthError {
    fn request(description: impl Into<String>) -> Self {
        OAuthError {
            status: 400,
            error: "invalid_request",
            description: description.into(),
        }
    }

    fn client(description: impl Into<String>) -> Self {
        OAuthError {
            status: 401,
            error: "invalid_client",
            description: description.into(),
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: u64,
    jti: String,
}

/// Clients, issued tokens and seen `jti` values.
#[derive(Debug, Default)]
pub(crate) struct Auth {
    pub(crate) clients: HashMap<String, Client>,
    pub(crate) tokens: HashMap<String, Issued>,
    seen_jti: HashSet<String>,
}

/// A token grant for a verified client.
#[derive(Debug)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
}

impl Auth {
    /// Checks a token request's form fields and client assertion.
    pub(crate) fn check_grant(
        &mut self,
        form: &HashMap<String, String>,
        token_url: &str,
        now: SystemTime,
    ) -> Result<Grant, OAuthError> {
        match form.get("grant_type").map(String::as_str) {
            Some("client_credentials") => {}
            Some(_) => {
                return Err(OAuthError {
                    status: 400,
                    error: "unsupported_grant_type",
                    description: "grant_type must be client_credentials".to_string(),
                });
            }
            None => return Err(OAuthError::request("grant_type is missing")),
        }
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(OAuthError::request(
                "client_assertion_type must be the jwt-bearer URN",
            ));
        }
        if form
            .get("scope")
            .is_none_or(|scope| scope.trim().is_empty())
        {
            return Err(OAuthError {
                status: 400,
                error: "invalid_scope",
                description: "scope is missing".to_string(),
            });
        }
        let assertion = form
            .get("client_assertion")
            .ok_or_else(|| OAuthError::request("client_assertion is missing"))?;

        let client_id = self.check_assertion(assertion, token_url, now)?;
        Ok(Grant { client_id })
    }

    fn check_assertion(
        &mut self,
        jwt: &str,
        token_url: &str,
        now: SystemTime,
    ) -> Result<String, OAuthError> {
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header_b64, claims_b64, signature_b64] = parts[..] else {
            return Err(OAuthError::client(
                "the assertion is not three dot-separated parts",
            ));
        };
        let header: Header = decode_json(header_b64)?;
        let claims: Claims = decode_json(claims_b64)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| OAuthError::client("the signature is not base64url"))?;

        let client = self.clients.get(&claims.iss).ok_or_else(|| {
            OAuthError::client(format!("client {:?} is not registered", claims.iss))
        })?;
        if claims.sub != claims.iss {
            return Err(OAuthError::client("sub must equal iss"));
        }
        if header.alg != client.key.algorithm().as_str() {
            return Err(OAuthError::client(format!(
                "alg {:?} does not match the registered {} key",
                header.alg,
                client.key.algorithm()
            )));
        }
        if let (Some(registered), Some(sent)) = (&client.key_id, &header.kid)
            && registered != sent
        {
            return Err(OAuthError::client(format!(
                "kid {sent:?} is not registered"
            )));
        }
        let signing_input = format!("{header_b64}.{claims_b64}");
        if !client.key.verify(signing_input.as_bytes(), &signature) {
            return Err(OAuthError::client(
                "the assertion's signature does not verify",
            ));
        }

        let audience_matches = match &claims.aud {
            serde_json::Value::String(aud) => aud == token_url,
            serde_json::Value::Array(items) => items.iter().any(|a| a.as_str() == Some(token_url)),
            _ => false,
        };
        if !audience_matches {
            return Err(OAuthError::client(format!("aud must be {token_url}")));
        }

        let now_secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if claims.exp <= now_secs {
            return Err(OAuthError::client("the assertion has expired"));
        }
        if claims.exp > now_secs + MAX_ASSERTION_LIFETIME.as_secs() {
            return Err(OAuthError::client(
                "exp is more than five minutes in the future",
            ));
        }
        if !self
            .seen_jti
            .insert(format!("{}/{}", claims.iss, claims.jti))
        {
            return Err(OAuthError::client("this jti was already used"));
        }
        Ok(claims.iss)
    }

    /// Issues a token that lasts `lifetime` from `now`.
    pub(crate) fn issue(&mut self, now: SystemTime, lifetime: Duration) -> String {
        let mut bytes = [0_u8; 16];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .expect("the OS random source works");
        let token = format!("mock-{}", hex::encode(bytes));
        self.tokens.insert(
            token.clone(),
            Issued {
                expires: now + lifetime,
            },
        );
        token
    }

    /// Judges an `Authorization` header.
    pub(crate) fn judge(&self, values: &[&str], now: SystemTime) -> crate::AuthSeen {
        let value = match values {
            [] => return crate::AuthSeen::Missing,
            [value] => *value,
            _ => return crate::AuthSeen::Invalid,
        };
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return crate::AuthSeen::Invalid;
        };
        match self.tokens.get(token.trim()) {
            None => crate::AuthSeen::Invalid,
            Some(issued) if issued.expires <= now => crate::AuthSeen::Expired,
            Some(_) => crate::AuthSeen::Valid,
        }
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, OAuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| OAuthError::client("a JWT part is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| OAuthError::client(format!("a JWT part is not the expected JSON: {e}")))
}
