use std::path::PathBuf;

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read {}: {source}", super::quote(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error(
        "invalid {}: {message} (line {line}, column {column})",
        super::quote(path)
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, naming the key.
        message: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// The file parsed but a value is not acceptable.
    #[error("invalid {}: {field}: {message}", super::quote(path))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key at fault, dotted (`limits.memory_mib`).
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ConfigError {
    /// Builds an [`ConfigError::Invalid`].
    pub fn invalid(
        path: &std::path::Path,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// The 1-based line and column, when the error has a position.
    pub fn position(&self) -> Option<(u32, u32)> {
        match self {
            ConfigError::Syntax { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }
}

/// Reads and parses a TOML file strictly.
pub(super) fn read_toml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<(T, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value = parse_toml(path, &text)?;
    Ok((value, text))
}

/// Parses TOML text strictly, naming `path` in errors.
pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    text: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |span| {
            switchboard_sdk::line_column(text, span.start)
        });
        ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.message().trim().to_string(),
            line,
            column,
        }
    })
}
