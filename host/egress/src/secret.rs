//! Values that must never reach a log line, an error message or `Debug`
//! output.

use std::fmt;

/// Printed in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// A secret: a bearer token, a private key in PEM form, a webhook key.
///
/// `Debug` and `Display` print `[redacted]`, so a secret inside a config
/// struct, an error or a `tracing` field stays hidden. The value is read only
/// through [`Secret::expose`], which makes every use easy to audit.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text. Pass it straight to the place that needs it, and
    /// never into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for an empty secret, which the config checks reject.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::new("tok-123");

        let printed = format!("{secret:?}");

        assert_eq!(printed, "[redacted]");
    }

    #[test]
    fn display_is_redacted() {
        let secret = Secret::new("tok-123");

        let printed = format!("{secret}");

        assert_eq!(printed, "[redacted]");
    }

    #[test]
    fn expose_returns_value() {
        let secret = Secret::from("tok-123");

        assert_eq!(secret.expose(), "tok-123");
    }

    #[test]
    fn blank_secret_is_empty() {
        assert!(Secret::new("  ").is_empty());
        assert!(!Secret::new("x").is_empty());
    }
}
