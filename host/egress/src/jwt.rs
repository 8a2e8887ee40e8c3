//! Client assertions for SMART Backend Services: a JWT signed with the
//! client's private key (RFC 7523, as profiled by SMART App Launch 2.x).

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p384::pkcs8::DecodePrivateKey as _;
use rand::TryRng as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde::Serialize;
use sha2::Sha384;

use crate::config::Algorithm;
use crate::secret::Secret;

/// Lifetime of an assertion. SMART allows at most five minutes; four leave
/// a margin for a server clock that runs behind ours.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(240);

/// A parsed private key, ready to sign.
pub(crate) enum AssertionKey {
    Rs384(rsa::pkcs1v15::SigningKey<Sha384>),
    Es384(p384::ecdsa::SigningKey),
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AssertionKey({} {})",
            self.algorithm(),
            crate::secret::REDACTED
        )
    }
}

impl AssertionKey {
    /// Parses a PEM private key for `algorithm`. Returns a message naming the
    /// PEM forms accepted; it never quotes the key.
    pub(crate) fn from_pem(pem: &Secret, algorithm: Algorithm) -> Result<Self, String> {
        let text = pem.expose().trim();
        match algorithm {
            Algorithm::Rs384 => {
                let key = rsa::PrivateKey::from_pkcs8_pem(text)
                    .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(text))
                    .map_err(|_| {
                        "the private key is not an RSA key in PEM form; use PKCS#8 (BEGIN PRIVATE KEY) or PKCS#1 (BEGIN RSA PRIVATE KEY)".to_string()
                    })?;
                Ok(AssertionKey::Rs384(rsa::pkcs1v15::SigningKey::new(key)))
            }
            Algorithm::Es384 => {
                let key = p384::ecdsa::SigningKey::from_pkcs8_pem(text)
                    .or_else(|_| p384::SecretKey::from_sec1_pem(text).map(Into::into))
                    .map_err(|_| {
                        "the private key is not a P-384 key in PEM form; use PKCS#8 (BEGIN PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY)".to_string()
                    })?;
                Ok(AssertionKey::Es384(key))
            }
        }
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            AssertionKey::Rs384(_) => Algorithm::Rs384,
            AssertionKey::Es384(_) => Algorithm::Es384,
        }
    }

    /// Signs `message`. ES384 gives the 96-byte `r || s` form JWS requires,
    /// not DER.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            AssertionKey::Rs384(key) => key.sign(message).to_vec(),
            AssertionKey::Es384(key) => {
                let signature: p384::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
}

/// What goes into one assertion.
pub(crate) struct AssertionInput<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) token_url: &'a str,
    pub(crate) key_id: Option<&'a str>,
    pub(crate) now: SystemTime,
    pub(crate) jti: &'a str,
}

/// Builds and signs a client assertion: `iss` and `sub` are the client id,
/// `aud` the token URL, `exp` [`ASSERTION_LIFETIME`] after `now`.
pub(crate) fn client_assertion(key: &AssertionKey, input: &AssertionInput<'_>) -> String {
    let iat = input
        .now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let header = Header {
        alg: key.algorithm().as_str(),
        typ: "JWT",
        kid: input.key_id,
    };
    let claims = Claims {
        iss: input.client_id,
        sub: input.client_id,
        aud: input.token_url,
        iat,
        exp: iat + ASSERTION_LIFETIME.as_secs(),
        jti: input.jti,
    };

    let signing_input = format!("{}.{}", encode_json(&header), encode_json(&claims));
    let signature = URL_SAFE_NO_PAD.encode(key.sign(signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

fn encode_json(value: &impl Serialize) -> String {
    // Serializing these plain structs of strings and numbers cannot fail.
    let json = serde_json::to_vec(value).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// A fresh `jti`: 128 random bits from the operating system, in hex.
///
/// # Errors
///
/// A message when the operating system's random source fails.
pub(crate) fn new_jti() -> Result<String, String> {
    let mut bytes = [0_u8; 16];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| format!("the operating system's random source failed: {e}"))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jti_is_unique_hex() {
        let first = new_jti().unwrap();
        let second = new_jti().unwrap();

        assert_eq!(first.len(), 32);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[test]
    fn garbage_pem_rejected_without_echo() {
        let pem = Secret::new("not a key: hunter2");

        let error = AssertionKey::from_pem(&pem, Algorithm::Es384).unwrap_err();

        assert!(error.contains("P-384"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn debug_names_algorithm_only() {
        let key = p384::ecdsa::SigningKey::from_slice(&[7_u8; 48]).unwrap();
        let key = AssertionKey::Es384(key);

        assert_eq!(format!("{key:?}"), "AssertionKey(ES384 [redacted])");
    }

    #[test]
    fn es384_assertion_has_claims_and_raw_signature() {
        let key = AssertionKey::Es384(p384::ecdsa::SigningKey::from_slice(&[7_u8; 48]).unwrap());
        let input = AssertionInput {
            client_id: "client-1",
            token_url: "https://auth.example.test/token",
            key_id: Some("k1"),
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
            jti: "abc",
        };

        let jwt = client_assertion(&key, &input);

        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "ES384", "typ": "JWT", "kid": "k1"})
        );
        assert_eq!(
            claims,
            serde_json::json!({
                "iss": "client-1",
                "sub": "client-1",
                "aud": "https://auth.example.test/token",
                "iat": 1000,
                "exp": 1240,
                "jti": "abc"
            })
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 96);
    }
}
