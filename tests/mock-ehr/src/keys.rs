//! Key pairs for SMART Backend Services tests, made fresh at test time so
//! that no private key is ever committed.

use std::sync::OnceLock;

use p384::elliptic_curve::Generate as _;
use p384::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use switchboard_egress::Algorithm;

/// A private key in PKCS#8 PEM and its public key in SPKI PEM.
#[derive(Clone)]
pub struct TestKeyPair {
    /// Signature algorithm the key is for.
    pub algorithm: Algorithm,
    /// `-----BEGIN PRIVATE KEY-----`, for the client side.
    pub private_pem: String,
    /// `-----BEGIN PUBLIC KEY-----`, to register with [`MockEhr`](crate::MockEhr).
    pub public_pem: String,
}

impl std::fmt::Debug for TestKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKeyPair")
            .field("algorithm", &self.algorithm)
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

/// Generates a P-384 key pair for ES384.
///
/// # Panics
///
/// When the operating system's random source fails.
pub fn p384_key_pair() -> TestKeyPair {
    let mut rng = rand::rngs::SysRng;
    let secret =
        p384::SecretKey::try_generate_from_rng(&mut rng).expect("the OS random source works");
    let private_pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .expect("a P-384 key encodes as PKCS#8")
        .to_string();
    let public_pem = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("a P-384 public key encodes as SPKI");
    TestKeyPair {
        algorithm: Algorithm::Es384,
        private_pem,
        public_pem,
    }
}

/// Generates an RSA 2048 key pair for RS384.
///
/// Generating RSA keys is slow in unoptimized builds (seconds), so tests
/// that need any RSA key should share [`shared_rsa_key_pair`].
///
/// # Panics
///
/// When the operating system's random source fails.
pub fn rsa_key_pair() -> TestKeyPair {
    let mut rng = rand::rngs::SysRng;
    let private = rsa::PrivateKey::new(&mut rng, 2048).expect("RSA 2048 key generation works");
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an RSA key encodes as PKCS#8")
        .to_string();
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("an RSA public key encodes as SPKI");
    TestKeyPair {
        algorithm: Algorithm::Rs384,
        private_pem,
        public_pem,
    }
}

/// Returns one RSA key pair per test process, generated on first use.
pub fn shared_rsa_key_pair() -> &'static TestKeyPair {
    static PAIR: OnceLock<TestKeyPair> = OnceLock::new();
    PAIR.get_or_init(rsa_key_pair)
}
