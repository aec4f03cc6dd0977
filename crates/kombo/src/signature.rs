//! `X-Kombo-Signature`: base64url (no padding) of HMAC-SHA256 over the raw body,
//! keyed with the webhook secret's UTF-8 bytes. Several secrets may be configured
//! so that a secret can be rotated without dropping events signed with the old one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header Kombo signs with.
pub const SIGNATURE_HEADER: &str = "x-kombo-signature";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Kombo-Signature header is missing")]
    Missing,
    #[error("the X-Kombo-Signature header is not base64url")]
    Malformed,
    #[error("the signature matches none of the configured secrets")]
    Mismatch,
}

/// Signs `body` with `secret`, as Kombo does.
pub fn sign(secret: &str, body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, body).finalize().into_bytes())
}

fn mac(secret: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    mac
}

/// The configured webhook secrets; any one of them may sign.
#[derive(Clone, Default)]
pub struct WebhookSecrets(Vec<String>);

impl std::fmt::Debug for WebhookSecrets {
    // Secrets are never printed, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets({} configured)", self.0.len())
    }
}

impl WebhookSecrets {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Self(
            secrets
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }

    /// Parses `KOMBO_WEBHOOK_SECRETS`: comma-separated.
    pub fn from_comma_separated(value: &str) -> Self {
        Self::new(value.split(',').map(str::to_owned))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks `header` against every secret in constant time per comparison.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.map(str::trim).filter(|h| !h.is_empty());
        let header = header.ok_or(SignatureError::Missing)?;
        // Tolerate padding: some proxies and libraries add it back.
        let expected = URL_SAFE_NO_PAD
            .decode(header.trim_end_matches('='))
            .map_err(|_| SignatureError::Malformed)?;
        let matched = self
            .0
            .iter()
            .any(|secret| mac(secret, body).verify_slice(&expected).is_ok());
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &[u8] = br#"{"id":"e1","type":"data-changed","data":{}}"#;

    #[test]
    fn valid_signature_verifies() {
        let secrets = WebhookSecrets::from_comma_separated("s3cret");
        assert_eq!(secrets.verify(Some(&sign("s3cret", BODY)), BODY), Ok(()));
    }

    #[test]
    fn tampered_body_is_rejected() {
        let secrets = WebhookSecrets::from_comma_separated("s3cret");
        let sig = sign("s3cret", BODY);
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            secrets.verify(Some(&sig), &tampered),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let secrets = WebhookSecrets::from_comma_separated("s3cret");
        assert_eq!(
            secrets.verify(Some(&sign("other", BODY)), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rotated_secrets_both_verify() {
        let secrets = WebhookSecrets::from_comma_separated("old-secret, new-secret");
        assert!(
            secrets
                .verify(Some(&sign("old-secret", BODY)), BODY)
                .is_ok()
        );
        assert!(
            secrets
                .verify(Some(&sign("new-secret", BODY)), BODY)
                .is_ok()
        );
        assert!(secrets.verify(Some(&sign("retired", BODY)), BODY).is_err());
    }

    #[test]
    fn missing_and_malformed_headers_are_rejected() {
        let secrets = WebhookSecrets::from_comma_separated("s3cret");
        assert_eq!(secrets.verify(None, BODY), Err(SignatureError::Missing));
        assert_eq!(
            secrets.verify(Some("  "), BODY),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            secrets.verify(Some("not base64!"), BODY),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn padded_signature_is_accepted() {
        let secrets = WebhookSecrets::from_comma_separated("s3cret");
        let padded = format!("{}=", sign("s3cret", BODY));
        assert!(secrets.verify(Some(&padded), BODY).is_ok());
    }

    #[test]
    fn no_secrets_verifies_nothing() {
        let secrets = WebhookSecrets::default();
        assert_eq!(
            secrets.verify(Some(&sign("", BODY)), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let secrets = WebhookSecrets::from_comma_separated("hunter2");
        assert!(!format!("{secrets:?}").contains("hunter2"));
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(secret in "[ -~]{1,64}", body in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let secrets = WebhookSecrets::new([secret.clone()]);
            prop_assume!(!secrets.is_empty());
            let trimmed = secret.trim().to_owned();
            prop_assert!(secrets.verify(Some(&sign(&trimmed, &body)), &body).is_ok());
        }

        #[test]
        fn any_other_body_fails(secret in "[a-z]{8}", body in proptest::collection::vec(any::<u8>(), 1..512), flip in any::<prop::sample::Index>()) {
            let secrets = WebhookSecrets::new([secret.clone()]);
            let sig = sign(&secret, &body);
            let mut other = body.clone();
            let i = flip.index(other.len());
            other[i] ^= 0x5a;
            prop_assert_eq!(secrets.verify(Some(&sig), &other), Err(SignatureError::Mismatch));
        }

        #[test]
        fn any_header_is_refused_without_panic(header in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let secrets = WebhookSecrets::new(["s3cret".to_owned()]);
            prop_assume!(header != sign("s3cret", &body));
            prop_assert!(secrets.verify(Some(&header), &body).is_err());
        }
    }
}
