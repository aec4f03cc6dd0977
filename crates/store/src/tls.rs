//! TLS to PostgreSQL with rustls: libpq's `sslmode` semantics on top of
//! tokio-postgres, which itself only knows "TLS or not".
//!
//! | sslmode | TLS | certificate chain | host name |
//! |---|---|---|---|
//! | `disable` | no | | |
//! | `prefer` | if offered | not checked¹ | not checked |
//! | `require` | yes | not checked¹ | not checked |
//! | `verify-ca` | yes | checked | not checked |
//! | `verify-full` | yes | checked | checked |
//!
//! ¹ checked when `sslrootcert` is given, as libpq does. Roots: `sslrootcert`'s PEM
//! file, else the platform's store. The crypto provider is ring (what lapin and
//! reqwest use), passed explicitly rather than installed process-wide.

use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;
use crate::database_url::{self, RootCert, SslMode};

/// What a connection needs: tokio-postgres's config (with `sslmode` and
/// `application_name` set) and the TLS connector matching the mode.
pub(crate) struct Prepared {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
}

/// Reads `database_url`; `application_name` is used unless the URL sets one.
pub(crate) fn prepare(database_url: &str, application_name: &str) -> Result<Prepared, StoreError> {
    let url = database_url::parse(database_url)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
    let mut config = tokio_postgres::Config::from_str(&url.rest)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
    config.ssl_mode(match url.ssl_mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    if config.get_application_name().is_none() && !application_name.is_empty() {
        config.application_name(application_name);
    }
    let tls = MakeRustlsConnect::new(client_config(url.ssl_mode, url.root_cert.as_ref())?);
    Ok(Prepared { config, tls })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(mode: SslMode, root: Option<&RootCert>) -> Result<ClientConfig, StoreError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(format!("TLS: {e}")))?;
    let chain_only = |roots| {
        Arc::new(Verifier {
            roots: Some(Arc::new(roots)),
            provider: provider.clone(),
        })
    };
    let config = match (mode, root) {
        (SslMode::VerifyFull, root) => builder
            .with_root_certificates(roots(root.unwrap_or(&RootCert::System))?)
            .with_no_client_auth(),
        (SslMode::VerifyCa, root) => builder
            .dangerous()
            .with_custom_certificate_verifier(chain_only(roots(root.unwrap_or(&RootCert::System))?))
            .with_no_client_auth(),
        (SslMode::Prefer | SslMode::Require, Some(root)) => builder
            .dangerous()
            .with_custom_certificate_verifier(chain_only(roots(root)?))
            .with_no_client_auth(),
        // Disable never starts TLS; the connector is there for the type only.
        (SslMode::Disable, _) | (SslMode::Prefer | SslMode::Require, None) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier {
                roots: None,
                provider: provider.clone(),
            }))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// The trusted roots: a PEM file, or the platform's store.
fn roots(root: &RootCert) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match root {
        RootCert::File(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| StoreError::Config(format!("sslrootcert {shown}: {e}")))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| StoreError::Config(format!("sslrootcert {shown}: {e}")))?;
                store
                    .add(cert)
                    .map_err(|e| StoreError::Config(format!("sslrootcert {shown}: {e}")))?;
            }
            if store.is_empty() {
                return Err(StoreError::Config(format!(
                    "sslrootcert {shown}: no PEM certificate in it"
                )));
            }
        }
        RootCert::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(StoreError::Config(format!(
                    "no root certificate found in the platform's store ({why}); set sslrootcert"
                )));
            }
        }
    }
    Ok(store)
}

/// `verify-ca` (with roots): the certificate chains to a trusted root, whatever
/// host name it names. `require`/`prefer` without `sslrootcert` (no roots): the
/// certificate is not checked, as libpq does. Either way the handshake
/// signatures are verified, so the session is bound to the certificate's key.
#[derive(Debug)]
struct Verifier {
    roots: Option<Arc<RootCertStore>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The TLS failure inside a connection error, as a typed, readable error: a
/// certificate for another host says so, instead of "error performing TLS
/// handshake: io error".
pub(crate) fn classify(error: &(dyn std::error::Error + 'static)) -> Option<StoreError> {
    let mut next = Some(error);
    while let Some(e) = next {
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = tls {
            return Some(match tls {
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForNameContext {
                        expected,
                        presented,
                    },
                ) => StoreError::TlsHostMismatch {
                    host: expected.to_str().into_owned(),
                    presented: presented.iter().map(|n| plain_name(n)).collect(),
                },
                other => StoreError::Tls(other.to_string()),
            });
        }
        next = e.source();
    }
    None
}

/// webpki describes a certificate's names as `DnsName("db.example.com")` or
/// `IpAddress(10.0.0.1)`: the name alone reads better in an error.
fn plain_name(presented: &str) -> String {
    let inner = presented
        .strip_prefix("DnsName(")
        .or_else(|| presented.strip_prefix("IpAddress("))
        .and_then(|rest| rest.strip_suffix(')'));
    match inner {
        Some(name) => name.trim_matches('"').to_owned(),
        None => presented.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_name_is_set_unless_the_url_has_one() {
        let p = prepare("postgres://u@db/app?sslmode=require", "hris-sync cli").expect("ok");
        assert_eq!(p.config.get_application_name(), Some("hris-sync cli"));
        assert_eq!(
            p.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let p = prepare("postgres://u@db/app?application_name=mine", "hris-sync cli").expect("ok");
        assert_eq!(p.config.get_application_name(), Some("mine"));
        assert_eq!(
            p.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Prefer
        );
    }

    #[test]
    fn verifying_modes_always_need_tls_from_tokio_postgres() {
        for mode in ["verify-ca", "verify-full"] {
            let url = format!(
                "postgres://u@db/app?sslmode={mode}&sslrootcert=/etc/ssl/certs/ssl-cert-snakeoil.pem"
            );
            if let Ok(p) = prepare(&url, "x") {
                assert_eq!(
                    p.config.get_ssl_mode(),
                    tokio_postgres::config::SslMode::Require
                );
            }
        }
        let p = prepare("postgres://u@db/app?sslmode=disable", "x").expect("ok");
        assert_eq!(
            p.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
    }

    #[test]
    fn a_missing_or_empty_root_file_is_a_config_error_naming_it() {
        let e = prepare(
            "postgres://u@db/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "x",
        )
        .err()
        .expect("error");
        assert!(
            matches!(&e, StoreError::Config(m) if m.contains("/nonexistent/ca.pem")),
            "{e}"
        );
        let e = prepare(
            "postgres://u@db/app?sslmode=verify-ca&sslrootcert=/dev/null",
            "x",
        )
        .err()
        .expect("error");
        assert!(
            matches!(&e, StoreError::Config(m) if m.contains("no PEM certificate")),
            "{e}"
        );
    }

    #[test]
    fn a_name_mismatch_inside_an_io_error_is_recognised() {
        let inner =
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("127.0.0.1").expect("ip"),
                presented: vec!["DnsName(\"vm\")".to_owned()],
            });
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        let e = classify(&io).expect("classified");
        assert!(
            matches!(&e, StoreError::TlsHostMismatch { host, .. } if host == "127.0.0.1"),
            "{e:?}"
        );
        assert!(
            matches!(&e, StoreError::TlsHostMismatch { presented, .. } if presented == &["vm"]),
            "{e:?}"
        );
        assert!(e.to_string().contains("host name"), "{e}");
        assert_eq!(plain_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert!(classify(&std::io::Error::other("plain")).is_none());
    }
}
