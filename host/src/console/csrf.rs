//! CSRF protection for the console's forms.
//!
//! Every POST under `/console` must carry a form field `csrf` whose value
//! the server can recompute:
//!
//! - for a signed-in session, HMAC-SHA256 of the session token under a
//!   secret the process generates when the router is built;
//! - for the sign-in form, HMAC-SHA256 of a random nonce kept in a
//!   short-lived cookie, so a cross-site page cannot sign a browser in to
//!   the attacker's token either.
//!
//! [`require_token`] checks the field before any handler runs, so no form
//! handler can forget it. A cross-site page can make the browser send the
//! cookie (it cannot here, because the cookie is `SameSite=Strict`, but
//! older browsers ignore that), yet it cannot read the page that contains
//! the field. A restart makes a new secret: forms open in a browser then fail
//! with 403 until the page is reloaded.

use std::sync::OnceLock;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};

use super::page;
use super::session::{SIGN_IN_COOKIE, SIGN_IN_PATH, cookie, presented_token};

/// Name of the form field that carries the token.
pub const FIELD: &str = "csrf";

/// Largest console form body read, in bytes. The largest form, a
/// reassignment with its reason, is a few hundred bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// SHA-256 block size, which HMAC pads the key to.
const BLOCK_BYTES: usize = 64;

static SECRET: OnceLock<[u8; 32]> = OnceLock::new();

/// Generates the process's secret, once. Called when the router is built
/// so a broken random source stops the host at start, not at a request.
///
/// # Panics
///
/// When the operating system's random source fails.
pub fn init() {
    secret();
}

fn secret() -> &'static [u8; 32] {
    SECRET.get_or_init(|| {
        let mut bytes = [0u8; 32];
        SysRng.try_fill_bytes(&mut bytes).expect(
            "the operating system's random source failed; the console cannot make CSRF tokens",
        );
        bytes
    })
}

/// Returns `count` random bytes from the operating system as lowercase hex.
///
/// # Panics
///
/// When the operating system's random source fails.
pub fn random_hex(count: usize) -> String {
    let mut bytes = vec![0u8; count];
    SysRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source failed");
    hex::encode(bytes)
}

/// Returns the CSRF token of the session that presents `session_token`.
pub fn session_token(session_token: &str) -> String {
    sign(b"session:", session_token)
}

/// Returns the CSRF token of the sign-in form whose cookie contains `nonce`.
pub fn sign_in_token(nonce: &str) -> String {
    sign(b"sign-in:", nonce)
}

fn sign(purpose: &[u8], value: &str) -> String {
    let mut message = purpose.to_vec();
    message.extend_from_slice(value.as_bytes());
    hex::encode(hmac_sha256(secret(), &message))
}

/// Computes HMAC-SHA256 (RFC 2104). Written here because the workspace's
/// `hmac` crate is built on a newer `digest` than the host's `sha2`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK_BYTES];
    if key.len() > BLOCK_BYTES {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();

    let inner = Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// True when `a` and `b` are equal, taking the same time for every pair of
/// equal-length inputs so the comparison leaks no prefix length.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: rejects a POST whose `csrf` field is missing or wrong with
/// 403, and passes every other request through unchanged.
pub async fn require_token(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }

    let path = request.uri().path().to_string();
    let expected = expected_token(&request);
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return page::error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the form is larger than {MAX_FORM_BYTES} bytes; shorten the text and submit again"
            ),
        )
        .into_response();
    };

    let submitted = form_field(&bytes, FIELD);
    match (expected, submitted) {
        (Some(expected), Some(submitted)) if same(&expected, &submitted) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        (expected, submitted) => {
            tracing::warn!(
                %path,
                session = expected.is_some(),
                field = submitted.is_some(),
                "console form rejected: missing or wrong CSRF token"
            );
            page::error_page(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or does not match your session; reload the page and submit the form again",
            )
            .into_response()
        }
    }
}

/// The token a POST to this path must carry: from the sign-in nonce
/// cookie for the sign-in form, else from the session token the request
/// authenticates with.
fn expected_token(request: &Request) -> Option<String> {
    let headers = request.headers();
    if request.uri().path() == SIGN_IN_PATH {
        cookie(headers, SIGN_IN_COOKIE).map(|nonce| sign_in_token(&nonce))
    } else {
        presented_token(headers).map(|token| session_token(&token))
    }
}

/// Reads one field of an `application/x-www-form-urlencoded` body. The
/// value is compared as sent: tokens are hex, which browsers never encode.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");

        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_hashes_long_key_first() {
        // RFC 4231 test case 6: a 131-byte key of 0xaa.
        let key = [0xaa_u8; 131];

        let mac = hmac_sha256(
            &key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );

        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn tokens_differ_by_purpose_and_session() {
        let session = session_token("abc");

        assert_ne!(session, sign_in_token("abc"));
        assert_ne!(session, session_token("abd"));
        assert_eq!(session, session_token("abc"));
        assert_eq!(session.len(), 64);
    }

    #[test]
    fn comparison_needs_equal_text() {
        assert!(same("00ff", "00ff"));
        assert!(!same("00ff", "00fe"));
        assert!(!same("00ff", "00ff00"));
        assert!(!same("", "0"));
    }

    #[test]
    fn form_field_finds_named_value() {
        let body = b"back=%2Fconsole&csrf=0a1b&reason=x";

        assert_eq!(form_field(body, "csrf").as_deref(), Some("0a1b"));
        assert_eq!(form_field(body, "missing"), None);
        assert_eq!(form_field(b"csrfx=1", "csrf"), None);
    }
}
