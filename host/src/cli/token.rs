//! `switchboard token new` and `switchboard token hash [TOKEN]`: make API
//! tokens and the SHA-256 form that `switchboard.toml` stores.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, bail};
use rand::TryRng;
use rand::rngs::SysRng;

use super::output::outln;
use crate::app::tokens::hash_token;

/// Random bytes in a new token: 256 bits, written as 64 hex digits.
const TOKEN_BYTES: usize = 32;

/// Tokens shorter than this draw a warning: a short token can be guessed
/// offline from its hash in `switchboard.toml`.
const MIN_TOKEN_CHARS: usize = 20;

/// Largest standard input read as a token. A bearer token is one line.
const MAX_INPUT_BYTES: u64 = 64 * 1024;

/// Prints a new random token and its hash.
///
/// # Errors
///
/// When the operating system's random source fails, or standard output does.
pub fn new() -> anyhow::Result<ExitCode> {
    let mut bytes = [0u8; TOKEN_BYTES];
    SysRng
        .try_fill_bytes(&mut bytes)
        .context("the operating system's random source failed")?;
    let token = hex::encode(bytes);

    outln!("token   {token}")?;
    outln!("sha256  {}", hash_token(&token))?;
    eprintln!(
        "put the sha256 in a [[tokens]] entry of switchboard.toml and give the token to its user; \
         the host stores only the hash, so keep the token now"
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints the SHA-256 of `token`, or of the token on standard input.
///
/// Surrounding whitespace, such as the newline `echo` adds, is removed,
/// because the host trims the token it receives in `Authorization` too.
///
/// # Errors
///
/// When the token is empty or spans several lines, or standard input
/// cannot be read.
pub fn hash(token: Option<&str>) -> anyhow::Result<ExitCode> {
    let text = match token {
        Some(token) => token.to_string(),
        None => read_stdin()?,
    };
    let token = text.trim();
    if token.is_empty() {
        bail!("the token is empty; pass it as an argument or on standard input");
    }
    if token.contains(['\n', '\r']) {
        bail!("the token spans several lines; pass one token");
    }
    if token.chars().count() < MIN_TOKEN_CHARS {
        eprintln!(
            "warning: the token has {} characters, so it could be guessed from its hash; \
             `switchboard token new` makes a 64-character random one",
            token.chars().count()
        );
    }

    outln!("{}", hash_token(token))?;
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("type the token and press Enter, then Ctrl-D");
    }
    let mut text = String::new();
    stdin
        .lock()
        .take(MAX_INPUT_BYTES)
        .read_to_string(&mut text)
        .context("failed to read the token from standard input (it must be UTF-8 text)")?;
    Ok(text)
}
