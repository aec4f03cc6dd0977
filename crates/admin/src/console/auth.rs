//! Who is looking at the console, and what they may do.
//!
//! Two tokens: `ADMIN_TOKEN` may act, `ADMIN_READONLY_TOKEN` may only look.
//! A token is given once, at the login form (or as a bearer header on each
//! request, for scripts); the login sets a session cookie (HttpOnly,
//! SameSite=Strict) signed with a key derived from both tokens, so every
//! admin replica accepts it and rotating a token ends its sessions. Every
//! form carries a CSRF token derived from the session; a POST without the
//! right one, or from a read-only session, is refused (403) before its
//! handler runs. Tokens are compared as digests, in constant time, and are
//! never logged or echoed.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::token::AdminToken;

/// The session cookie's name; its path is the console's.
pub const COOKIE_NAME: &str = "hris_console";
/// How long a session lasts before the token must be given again.
pub const SESSION_SECS: u64 = 12 * 3600;

/// What a viewer may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    Write,
}

impl Access {
    fn tag(self) -> &'static str {
        match self {
            Access::ReadOnly => "r",
            Access::Write => "w",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "r" => Some(Access::ReadOnly),
            "w" => Some(Access::Write),
            _ => None,
        }
    }

    /// The actor the audit records for an action of this viewer.
    pub fn actor(self) -> &'static str {
        match self {
            Access::ReadOnly => "console:read-only-token",
            Access::Write => "console:admin-token",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Access::ReadOnly => "read-only",
            Access::Write => "write",
        }
    }
}

/// A request's viewer: what it may do and the CSRF token its forms carry
/// (`None` for a bearer-header request: no cookie, nothing to forge).
#[derive(Debug, Clone)]
pub struct Viewer {
    pub access: Access,
    pub csrf: Option<String>,
}

impl Viewer {
    pub fn can_write(&self) -> bool {
        self.access == Access::Write
    }
}

/// The console's tokens (as digests) and session key.
pub struct ConsoleAuth {
    write: [u8; 32],
    read_only: Option<[u8; 32]>,
    key: [u8; 32],
}

impl ConsoleAuth {
    pub fn new(write: &AdminToken, read_only: Option<&AdminToken>) -> Self {
        let write = write.digest();
        let read_only = read_only.map(AdminToken::digest);
        let mut key = Sha256::new();
        key.update(b"hris-sync console session key\0");
        key.update(write);
        key.update(read_only.unwrap_or_default());
        Self {
            write,
            read_only,
            key: key.finalize().into(),
        }
    }

    /// What `token` grants, if anything.
    pub fn access_for_token(&self, token: &str) -> Option<Access> {
        let given = crate::token::digest(token.trim());
        // Both comparisons run whatever the first says.
        let write = constant_time_eq(&given, &self.write);
        let read_only = self.read_only.is_some_and(|d| constant_time_eq(&given, &d));
        match (write, read_only) {
            (true, _) => Some(Access::Write),
            (false, true) => Some(Access::ReadOnly),
            _ => None,
        }
    }

    /// A fresh session's cookie value: access, expiry, a nonce, their MAC.
    pub fn new_session(&self, access: Access) -> String {
        let expires = now_secs() + SESSION_SECS;
        let nonce: [u8; 16] = rand::random();
        let body = format!("{}.{expires}.{}", access.tag(), hex(&nonce));
        format!("{body}.{}", hex(&self.mac(b"session\0", &body)))
    }

    /// The viewer of a request: its bearer token, else its session cookie.
    pub fn viewer(&self, headers: &HeaderMap) -> Option<Viewer> {
        if let Some(token) = bearer(headers) {
            return self
                .access_for_token(token)
                .map(|access| Viewer { access, csrf: None });
        }
        let session = session_cookie(headers)?;
        let access = self.verify_session(session)?;
        Some(Viewer {
            access,
            csrf: Some(self.csrf_for(session)),
        })
    }

    /// Whether a POST of this request may act: a write viewer, and for a
    /// session the form's CSRF token matches.
    pub fn may_act(&self, headers: &HeaderMap, form_csrf: Option<&str>) -> bool {
        match self.viewer(headers) {
            Some(Viewer {
                access: Access::Write,
                csrf: None,
            }) => true,
            Some(Viewer {
                access: Access::Write,
                csrf: Some(expected),
            }) => form_csrf
                .is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())),
            _ => false,
        }
    }

    /// Whether a POST of this request carries its session's CSRF token
    /// (whatever the session may do: logging out needs no write access).
    pub fn csrf_matches(&self, headers: &HeaderMap, form_csrf: Option<&str>) -> bool {
        match self.viewer(headers) {
            Some(Viewer { csrf: None, .. }) => true,
            Some(Viewer {
                csrf: Some(expected),
                ..
            }) => form_csrf
                .is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())),
            None => false,
        }
    }

    fn verify_session(&self, value: &str) -> Option<Access> {
        let (body, mac) = value.rsplit_once('.')?;
        let expected = hex(&self.mac(b"session\0", body));
        if !constant_time_eq(mac.as_bytes(), expected.as_bytes()) {
            return None;
        }
        let mut parts = body.split('.');
        let access = Access::from_tag(parts.next()?)?;
        let expires: u64 = parts.next()?.parse().ok()?;
        (expires > now_secs()).then_some(access)
    }

    fn csrf_for(&self, session: &str) -> String {
        hex(&self.mac(b"csrf\0", session))
    }

    fn mac(&self, purpose: &[u8], message: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(purpose);
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// The `Set-Cookie` value of a session (empty value and no age: ends it).
pub fn set_cookie(value: Option<&str>) -> String {
    // No `Secure`: the console is served over plain HTTP inside the cluster
    // (and on localhost by the demo), where a Secure cookie would never be
    // sent back. SameSite=Strict keeps other sites' forms from using it.
    match value {
        Some(v) => format!(
            "{COOKIE_NAME}={v}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}"
        ),
        None => format!("{COOKIE_NAME}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal or not, in a time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn auth() -> ConsoleAuth {
        let write = AdminToken::parse("the-write-token-1234").expect("long enough");
        let read = AdminToken::parse("the-read-token-12345").expect("long enough");
        ConsoleAuth::new(&write, Some(&read))
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; {COOKIE_NAME}={value}");
        headers.insert(COOKIE, HeaderValue::from_str(&cookie).expect("ascii"));
        headers
    }

    #[test]
    fn each_token_grants_its_access_and_nothing_else_does() {
        let auth = auth();
        assert_eq!(
            auth.access_for_token("the-write-token-1234"),
            Some(Access::Write)
        );
        assert_eq!(
            auth.access_for_token("the-read-token-12345"),
            Some(Access::ReadOnly)
        );
        assert_eq!(auth.access_for_token("the-read-token-1234"), None);
    }

    #[test]
    fn a_session_acts_only_with_write_access_and_its_own_csrf_token() {
        let auth = auth();
        let write = with_cookie(&auth.new_session(Access::Write));
        let csrf = auth.viewer(&write).and_then(|v| v.csrf).expect("session");
        assert!(auth.may_act(&write, Some(&csrf)));
        assert!(!auth.may_act(&write, None));
        assert!(!auth.may_act(&write, Some("0000")));
        let read = with_cookie(&auth.new_session(Access::ReadOnly));
        let read_csrf = auth.viewer(&read).and_then(|v| v.csrf).expect("session");
        assert!(!auth.may_act(&read, Some(&read_csrf)));
        assert!(auth.csrf_matches(&read, Some(&read_csrf)));
        // Another session's CSRF token does not fit.
        assert!(!auth.may_act(&write, Some(&read_csrf)));
    }

    #[test]
    fn a_tampered_session_is_no_session() {
        let auth = auth();
        let session = auth.new_session(Access::ReadOnly);
        let forged = session.replacen("r.", "w.", 1);
        assert!(auth.viewer(&with_cookie(&forged)).is_none());
        let other = ConsoleAuth::new(
            &AdminToken::parse("another-write-token!").expect("long enough"),
            None,
        );
        assert!(other.viewer(&with_cookie(&session)).is_none());
    }
}
