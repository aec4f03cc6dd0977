//! The parts of `DATABASE_URL` that tokio-postgres does not understand.
//!
//! tokio-postgres parses `sslmode` but knows only `disable`, `prefer` and
//! `require`, and rejects `sslrootcert` as an unknown option. libpq (and so every
//! managed PostgreSQL's documentation) also has `verify-ca` and `verify-full`, and
//! a root certificate file. [`parse`] takes those two parameters out of the URL
//! (or the `key=value` connection string) and hands the rest to tokio-postgres
//! unchanged. Pure, so it is unit-tested without a database.

use std::path::PathBuf;

/// Why `DATABASE_URL` was refused. Never its text: a URL carries a password,
/// and a mistyped connection string may carry it where a key was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("sslmode=allow is not supported: use prefer (TLS when offered) or disable")]
    AllowUnsupported,
    /// The mode as typed (a libpq keyword, never secret).
    #[error("sslmode must be disable, prefer, require, verify-ca or verify-full, not {0:?}")]
    UnknownSslMode(String),
    #[error("sslrootcert=system needs sslmode=verify-ca or verify-full, not {0}")]
    SystemRootsNeedVerification(&'static str),
    #[error("invalid percent-encoding in a query parameter")]
    PercentEncoding,
    #[error("a query parameter is not UTF-8 once percent-decoded")]
    NotUtf8,
    #[error("expected `=` after a key in the connection string")]
    MissingEquals,
    #[error("a quoted value in the connection string is not terminated")]
    Unterminated,
}

/// How a connection uses TLS, with libpq's meaning of each mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, plain otherwise (libpq's default).
    #[default]
    Prefer,
    /// TLS or nothing; the certificate is not checked (unless `sslrootcert` is
    /// given, as in libpq: then the chain is, as under `verify-ca`).
    Require,
    /// TLS, and the certificate chains to a trusted root; the host name is not checked.
    VerifyCa,
    /// TLS, the chain, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<Self, UrlError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => return Err(UrlError::AllowUnsupported),
            other => return Err(UrlError::UnknownSslMode(other.to_owned())),
        })
    }
}

/// Which certificates a verifying mode trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    /// The platform's store (`sslrootcert=system`, or no `sslrootcert`).
    System,
    /// A PEM file of one or more certificates.
    File(PathBuf),
}

/// `DATABASE_URL` split into what tokio-postgres parses and what we handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// The URL or connection string without `sslmode` and `sslrootcert`.
    pub rest: String,
    pub ssl_mode: SslMode,
    /// `sslrootcert`, if given.
    pub root_cert: Option<RootCert>,
}

/// Splits `sslmode` and `sslrootcert` off a `postgres://` URL or a `key=value`
/// connection string. The last occurrence of a parameter wins, as in libpq.
pub fn parse(url: &str) -> Result<DatabaseUrl, UrlError> {
    let (rest, params) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url)?
    } else {
        split_key_value(url)?
    };
    let mut ssl_mode = None;
    let mut root_cert = None;
    for (key, value) in params {
        match key.as_str() {
            "sslmode" => ssl_mode = Some(SslMode::parse(&value)?),
            _ if value.is_empty() => root_cert = None,
            _ if value == "system" => root_cert = Some(RootCert::System),
            _ => root_cert = Some(RootCert::File(PathBuf::from(value))),
        }
    }
    // libpq: sslrootcert=system means "verify against the platform's roots", so it
    // defaults to verify-full and refuses a mode that would not check anything.
    let ssl_mode = match (ssl_mode, &root_cert) {
        (None, Some(RootCert::System)) => SslMode::VerifyFull,
        (
            Some(mode @ (SslMode::Disable | SslMode::Prefer | SslMode::Require)),
            Some(RootCert::System),
        ) => {
            return Err(UrlError::SystemRootsNeedVerification(mode.as_str()));
        }
        (mode, _) => mode.unwrap_or_default(),
    };
    Ok(DatabaseUrl {
        rest,
        ssl_mode,
        root_cert,
    })
}

/// Whether tokio-postgres must not see this parameter.
fn is_ours(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

/// `postgres://…?a=1&sslmode=verify-full&b=2` → (`postgres://…?a=1&b=2`, [sslmode]).
fn split_url(url: &str) -> Result<(String, Vec<(String, String)>), UrlError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key)?;
        if is_ours(&key) {
            ours.push((key, percent_decode(value)?));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, ours))
}

fn percent_decode(s: &str) -> Result<String, UrlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(UrlError::PercentEncoding)?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::NotUtf8)
}

/// `host=db sslmode=verify-full sslrootcert='/a b.pem'` → (`host=db`, [sslmode,
/// sslrootcert]), with libpq's quoting: values may be single-quoted, and `\`
/// escapes the next character.
fn split_key_value(s: &str) -> Result<(String, Vec<(String, String)>), UrlError> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = |i: usize| chars.get(i).map_or(s.len(), |&(o, _)| o);
    let mut rest = String::new();
    let mut ours = Vec::new();
    let mut i = 0;
    let mut copied_to = 0; // byte offset in `s` up to which `rest` has the text
    loop {
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let Some(_) = at(i) else { break };
        let start = i;
        let mut key = String::new();
        while let Some(c) = at(i).filter(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
            i += 1;
        }
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        if at(i) != Some('=') {
            return Err(UrlError::MissingEquals);
        }
        i += 1;
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let mut value = String::new();
        if at(i) == Some('\'') {
            i += 1;
            loop {
                match at(i) {
                    None => return Err(UrlError::Unterminated),
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        value.extend(at(i + 1));
                        i += 2;
                    }
                    Some(c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = at(i).filter(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(at(i + 1));
                    i += 2;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
        }
        if is_ours(&key) {
            rest.push_str(&s[copied_to..offset(start)]);
            copied_to = offset(i);
            ours.push((key, value));
        }
    }
    rest.push_str(&s[copied_to..]);
    Ok((rest.trim().to_owned(), ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> DatabaseUrl {
        parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn err(url: &str) -> String {
        parse(url).expect_err(url).to_string()
    }

    #[test]
    fn a_url_without_tls_parameters_passes_through_and_prefers_tls() {
        let u = ok("postgres://postgres@127.0.0.1:5432/hris_sync");
        assert_eq!(u.rest, "postgres://postgres@127.0.0.1:5432/hris_sync");
        assert_eq!(u.ssl_mode, SslMode::Prefer, "libpq's default");
        assert_eq!(u.root_cert, None);
    }

    #[test]
    fn every_libpq_mode_is_read_from_a_url() {
        for (text, mode) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let u = ok(&format!("postgresql://u@db.example.com/app?sslmode={text}"));
            assert_eq!(u.ssl_mode, mode, "{text}");
            assert_eq!(u.rest, "postgresql://u@db.example.com/app");
            assert_eq!(mode.as_str(), text);
        }
    }

    #[test]
    fn our_parameters_are_taken_out_and_the_others_kept_in_order() {
        let u = ok(
            "postgres://u:p%40ss@db:6432/app?application_name=me&sslmode=verify-full&connect_timeout=5&sslrootcert=%2Fetc%2Fssl%2Frds%20ca.pem&options=-c%20x%3D1",
        );
        assert_eq!(
            u.rest,
            "postgres://u:p%40ss@db:6432/app?application_name=me&connect_timeout=5&options=-c%20x%3D1"
        );
        assert_eq!(u.ssl_mode, SslMode::VerifyFull);
        assert_eq!(
            u.root_cert,
            Some(RootCert::File("/etc/ssl/rds ca.pem".into()))
        );
    }

    #[test]
    fn the_last_occurrence_wins() {
        let u = ok("postgres://db/app?sslmode=disable&sslmode=require");
        assert_eq!(u.ssl_mode, SslMode::Require);
        assert_eq!(u.rest, "postgres://db/app");
    }

    #[test]
    fn sslrootcert_system_means_verify_full_and_refuses_weak_modes() {
        let u = ok("postgres://db/app?sslrootcert=system");
        assert_eq!(u.ssl_mode, SslMode::VerifyFull);
        assert_eq!(u.root_cert, Some(RootCert::System));
        assert_eq!(
            ok("postgres://db/app?sslrootcert=system&sslmode=verify-ca").ssl_mode,
            SslMode::VerifyCa
        );
        let e = err("postgres://db/app?sslrootcert=system&sslmode=require");
        assert!(e.contains("verify-ca or verify-full"), "{e}");
    }

    #[test]
    fn unknown_and_unsupported_modes_are_errors_that_list_the_valid_ones() {
        let e = err("postgres://db/app?sslmode=verify_full");
        assert!(
            e.contains("verify-full") && e.contains("\"verify_full\""),
            "{e}"
        );
        let e = err("postgres://db/app?sslmode=allow");
        assert!(e.contains("not supported"), "{e}");
        let e = err("postgres://db/app?sslrootcert=%zz");
        assert!(e.contains("percent"), "{e}");
    }

    #[test]
    fn key_value_strings_are_handled_with_libpq_quoting() {
        let u = ok(
            "host=db.internal sslmode = verify-ca  sslrootcert='/etc/my certs/ca.pem' user=app password='it\\'s' dbname=x",
        );
        assert_eq!(u.ssl_mode, SslMode::VerifyCa);
        assert_eq!(
            u.root_cert,
            Some(RootCert::File("/etc/my certs/ca.pem".into()))
        );
        assert_eq!(
            u.rest,
            "host=db.internal    user=app password='it\\'s' dbname=x"
        );
        let u = ok("sslmode=require host=db");
        assert_eq!(u.rest, "host=db");
        assert_eq!(u.ssl_mode, SslMode::Require);
        assert!(parse("host=db sslrootcert='/unterminated").is_err());
        assert!(parse("host db").is_err());
    }

    #[test]
    fn the_remainder_is_what_tokio_postgres_accepts() {
        for url in [
            "postgres://u@127.0.0.1:5432/app?sslmode=verify-full&sslrootcert=/x.pem&application_name=a",
            "host=127.0.0.1 sslmode=verify-ca sslrootcert=/x.pem dbname=app",
        ] {
            let u = ok(url);
            let parsed: Result<tokio_postgres::Config, _> = u.rest.parse();
            assert!(parsed.is_ok(), "{} → {:?}", u.rest, parsed.err());
        }
    }
}
