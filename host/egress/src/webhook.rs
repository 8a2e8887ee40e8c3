//! Signatures of webhook notifications sent to the host.
//!
//! A sender computes HMAC-SHA256 over the exact request body with the
//! connector's shared secret and sends it as
//!
//! ```text
//! X-Switchboard-Signature: sha256=<64 lowercase hex digits>
//! ```
//!
//! The host recomputes it with [`verify`], which compares in constant time.

use hmac::Mac as _;
use sha2::Sha256;

/// Name of the header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Switchboard-Signature";

/// Text before the hex digest in the header value.
pub const SIGNATURE_PREFIX: &str = "sha256=";

type HmacSha256 = hmac::Hmac<Sha256>;

/// A signature that did not verify, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header value does not start with `sha256=`.
    #[error("the {SIGNATURE_HEADER} value does not start with {SIGNATURE_PREFIX:?}")]
    MissingPrefix,
    /// The digest is not 64 hex digits.
    #[error("the {SIGNATURE_HEADER} digest is not 64 hex digits")]
    Malformed,
    /// The digest does not match the body and secret.
    #[error("the {SIGNATURE_HEADER} digest does not match the body; check the shared secret")]
    Mismatch,
}

/// HMAC-SHA256 of `body` under `secret`, as 64 lowercase hex digits.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    hex::encode(mac(secret, body).finalize().into_bytes())
}

/// Computes the header value for `body`: `sha256=<hex>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("{SIGNATURE_PREFIX}{}", hmac_sha256_hex(secret, body))
}

/// Checks a header value made by [`sign`]. Hex digits may be either case.
///
/// # Errors
///
/// [`SignatureError`] saying whether the value is malformed or does not
/// match.
pub fn verify(secret: &[u8], body: &[u8], header_value: &str) -> Result<(), SignatureError> {
    let digest = header_value
        .trim()
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(SignatureError::MissingPrefix)?;
    let expected = hex::decode(digest).map_err(|_| SignatureError::Malformed)?;
    if expected.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    mac(secret, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_case_2() {
        // RFC 4231, test case 2: key "Jefe".
        let digest = hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?");

        assert_eq!(
            digest,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signed_body_verifies() {
        let header = sign(b"secret", b"{\"a\":1}");

        assert!(header.starts_with("sha256="));
        assert_eq!(verify(b"secret", b"{\"a\":1}", &header), Ok(()));
    }

    #[test]
    fn uppercase_hex_verifies() {
        let header = format!("sha256={}", hmac_sha256_hex(b"k", b"body").to_uppercase());

        assert_eq!(verify(b"k", b"body", &header), Ok(()));
    }

    #[test]
    fn changed_body_mismatches() {
        let header = sign(b"secret", b"{\"a\":1}");

        assert_eq!(
            verify(b"secret", b"{\"a\":2}", &header),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn wrong_secret_mismatches() {
        let header = sign(b"secret", b"body");

        assert_eq!(
            verify(b"other", b"body", &header),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_values_rejected() {
        assert_eq!(
            verify(b"k", b"b", "md5=00"),
            Err(SignatureError::MissingPrefix)
        );
        assert_eq!(
            verify(b"k", b"b", "sha256=zz"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"k", b"b", "sha256=abcd"),
            Err(SignatureError::Malformed)
        );
    }
}
