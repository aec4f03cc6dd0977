//! The admin API's bearer token (`ADMIN_TOKEN`).

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Shorter tokens are refused at start: they are too easy to guess.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("ADMIN_TOKEN is too short: use {MIN_TOKEN_LEN} characters or more")]
    TooShort,
}

/// A token long enough to use; `Debug` prints `[REDACTED]`, so a logged
/// configuration never shows it.
#[derive(Clone, Debug)]
pub struct AdminToken(SecretString);

impl AdminToken {
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort);
        }
        Ok(Self(SecretString::from(token)))
    }

    /// SHA-256 of the token: comparing digests keeps the comparison from
    /// revealing how much of a guessed token was right.
    pub(crate) fn digest(&self) -> [u8; 32] {
        digest(self.0.expose_secret())
    }
}

pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_refused_and_none_is_printed() {
        assert!(matches!(
            AdminToken::parse("fifteen-chars.."),
            Err(TokenError::TooShort)
        ));
        let token = AdminToken::parse("sixteen-chars..!").expect("long enough");
        assert!(!format!("{token:?}").contains("sixteen"));
    }
}
