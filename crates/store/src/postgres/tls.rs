//! TLS to PostgreSQL, with libpq's meaning of `sslmode` and `sslrootcert`, so the URL an
//! operator already uses with `psql` works unchanged.
//!
//! - `sslmode=disable`: plain TCP.
//! - `sslmode=prefer` (the default, as in libpq): TLS when the server offers it, without
//!   verifying its certificate; plain TCP otherwise.
//! - `sslmode=require`: TLS or no connection; the certificate is not verified (libpq's
//!   meaning), unless `sslrootcert` is given, which then makes it `verify-ca`.
//! - `sslmode=verify-ca`: TLS, and the server's certificate must chain to `sslrootcert`.
//! - `sslmode=verify-full`: as `verify-ca`, and the certificate must name the host.
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the Mozilla roots built
//! into the binary (`webpki-roots`). The two verify modes need it. tokio-postgres knows only
//! `disable`, `prefer` and `require`, so this module takes `sslrootcert` and the verify modes
//! out of the connection string before handing it on. Nothing here ever echoes the string,
//! which may hold a password.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::types::StoreError;

/// What the connection string asks of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verification {
    /// Encrypt (when TLS is used) but accept any certificate.
    None,
    /// The certificate must chain to the roots; any host name.
    Chain,
    /// The certificate must chain to the roots and name the host.
    Full,
}

/// A connection string split into what tokio-postgres parses and what this module does.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    rest: String,
    mode: Option<String>,
    root_cert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL's query or a `key=value`
/// string.
fn split(url: &str) -> Split {
    let mut mode = None;
    let mut root_cert = None;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Split {
                rest: url.to_owned(),
                mode,
                root_cert,
            };
        };
        let mut kept = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "sslmode" => mode = Some(value.into_owned()),
                "sslrootcert" => root_cert = Some(value.into_owned()),
                _ => {
                    kept.append_pair(&key, &value);
                }
            }
        }
        let kept = kept.finish();
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{kept}")
        };
        return Split {
            rest,
            mode,
            root_cert,
        };
    }
    let mut kept = Vec::new();
    for part in url.split_whitespace() {
        match part.split_once('=') {
            Some(("sslmode", value)) => mode = Some(value.to_owned()),
            Some(("sslrootcert", value)) => root_cert = Some(value.to_owned()),
            _ => kept.push(part),
        }
    }
    Split {
        rest: kept.join(" "),
        mode,
        root_cert,
    }
}

/// A warning for a connection string that names no `sslmode` and a host off this machine: the
/// default (`prefer`) falls back to plain TCP when the server offers no TLS, and accepts any
/// certificate when it does, so tokens and personal data may cross the network readable.
/// `None` when `sslmode` is given (the operator chose) or every host is local (loopback,
/// `localhost`, a Unix socket). The warning names the host, never the string (which may hold
/// a password).
///
/// ```
/// use caseledger_store::postgres_sslmode_warning;
/// assert!(postgres_sslmode_warning("postgres://app@db.internal/caseledger").is_some());
/// assert!(postgres_sslmode_warning("postgres://app@db.internal/caseledger?sslmode=require").is_none());
/// assert!(postgres_sslmode_warning("postgres://app@127.0.0.1:5432/caseledger").is_none());
/// ```
pub fn postgres_sslmode_warning(url: &str) -> Option<String> {
    let Split { rest, mode, .. } = split(url);
    if mode.is_some() {
        return None;
    }
    let config: tokio_postgres::Config = rest.parse().ok()?;
    let remote: Vec<String> = config
        .get_hosts()
        .iter()
        .filter_map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) if !is_local_host(name) => Some(name.clone()),
            _ => None,
        })
        .chain(
            config
                .get_hostaddrs()
                .iter()
                .filter(|address| !address.is_loopback())
                .map(ToString::to_string),
        )
        .collect();
    if remote.is_empty() {
        return None;
    }
    Some(format!(
        "the PostgreSQL connection string names no sslmode and a host that is not local ({}): \
         the default, sslmode=prefer, falls back to plain TCP when the server offers no TLS and \
         accepts any certificate when it does; add sslmode=verify-full&sslrootcert=<CA file> \
         (or sslmode=disable to say plain TCP is meant)",
        remote.join(", ")
    ))
}

fn is_local_host(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let literal = name
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(&name);
    literal
        .parse::<std::net::IpAddr>()
        .is_ok_and(|address| address.is_loopback())
}

/// Parses a connection string into tokio-postgres's configuration and the TLS connector its
/// `sslmode` and `sslrootcert` call for.
pub(super) fn parse(url: &str) -> Result<(tokio_postgres::Config, MakeRustlsConnect), StoreError> {
    let Split {
        rest,
        mode,
        root_cert,
    } = split(url);
    let mut config: tokio_postgres::Config = rest.parse().map_err(|_| {
        StoreError::Storage(
            "the PostgreSQL URL is not valid (expected postgres://user[:password]@host[:port]/database)"
                .into(),
        )
    })?;
    let (ssl_mode, verification) = match mode.as_deref() {
        None | Some("prefer") => (SslMode::Prefer, Verification::None),
        Some("disable") => (SslMode::Disable, Verification::None),
        Some("require") if root_cert.is_some() => (SslMode::Require, Verification::Chain),
        Some("require") => (SslMode::Require, Verification::None),
        Some("verify-ca") => (SslMode::Require, Verification::Chain),
        Some("verify-full") => (SslMode::Require, Verification::Full),
        Some(other) => {
            return Err(StoreError::Storage(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )))
        }
    };
    config.ssl_mode(ssl_mode);
    let roots = match (&root_cert, verification) {
        (_, Verification::None) => None,
        (Some(path), _) => Some(load_roots(path)?),
        (None, _) => {
            return Err(StoreError::Storage(
                "sslmode=verify-ca and verify-full need sslrootcert=<PEM file> (or \
                 sslrootcert=system for the built-in Mozilla roots)"
                    .into(),
            ))
        }
    };
    Ok((
        config,
        MakeRustlsConnect::new(client_config(verification, roots)?),
    ))
}

fn load_roots(path: &str) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    if path == "system" {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    }
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| StoreError::Storage(format!("cannot read sslrootcert {path}: {error}")))?;
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(StoreError::Storage(format!(
            "sslrootcert {path} holds no usable CA certificate"
        )));
    }
    Ok(roots)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(
    verification: Verification,
    roots: Option<RootCertStore>,
) -> Result<ClientConfig, StoreError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| StoreError::Storage(format!("TLS setup failed: {error}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (verification, roots) {
        (Verification::None, _) | (_, None) => Arc::new(AnyCertificate { provider }),
        (verification, Some(roots)) => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|error| StoreError::Storage(format!("TLS setup failed: {error}")))?;
            if verification == Verification::Full {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// libpq's `prefer` and `require`: the connection is encrypted, and the handshake's signatures
/// are checked, but the certificate is not.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
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

/// `verify-ca`: the chain must verify; the name in the certificate may be any.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn a_non_local_host_without_sslmode_is_warned_about_and_nothing_else() {
        for warned in [
            "postgres://app:secret@db.internal:5432/caseledger",
            "postgresql://app@10.0.0.5/caseledger?application_name=x",
            "postgres://app@127.0.0.1,db2.internal/caseledger",
            "host=db.internal user=app dbname=caseledger",
            "host=localhost hostaddr=10.1.1.1 user=app",
        ] {
            let warning = postgres_sslmode_warning(warned).unwrap_or_else(|| panic!("{warned}"));
            assert!(warning.contains("sslmode"), "{warning}");
            assert!(!warning.contains("secret"), "{warning}");
        }
        assert!(
            postgres_sslmode_warning("postgres://app@db.internal/caseledger")
                .unwrap()
                .contains("db.internal")
        );
        for quiet in [
            "postgres://app:secret@db.internal/caseledger?sslmode=verify-full&sslrootcert=system",
            "postgres://app@db.internal/caseledger?sslmode=disable",
            "postgres://app@db.internal/caseledger?sslmode=prefer",
            "postgres://app@localhost/caseledger",
            "postgres://app@127.0.0.1:5432/caseledger",
            "postgres://app@[::1]:5432/caseledger",
            "postgres:///caseledger?host=/var/run/postgresql",
            "host=/var/run/postgresql user=app",
            "host=db.internal sslmode=require user=app",
        ] {
            assert_eq!(postgres_sslmode_warning(quiet), None, "{quiet}");
        }
    }

    #[test]
    fn the_tls_parameters_are_taken_out_of_a_url() {
        let split = split(
            "postgres://app:secret@db.internal:5433/cases?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        );
        assert_eq!(
            split,
            Split {
                rest: "postgres://app:secret@db.internal:5433/cases?application_name=x".into(),
                mode: Some("verify-full".into()),
                root_cert: Some("/etc/ca.pem".into()),
            }
        );
        let plain = super::split("postgres://app@db/cases");
        assert_eq!(plain.rest, "postgres://app@db/cases");
        assert_eq!(plain.mode, None);
    }

    #[test]
    fn the_tls_parameters_are_taken_out_of_a_key_value_string() {
        let split = split("host=db user=app sslmode=require sslrootcert=/etc/ca.pem dbname=cases");
        assert_eq!(split.rest, "host=db user=app dbname=cases");
        assert_eq!(split.mode.as_deref(), Some("require"));
        assert_eq!(split.root_cert.as_deref(), Some("/etc/ca.pem"));
    }

    #[test]
    fn modes_map_to_tokio_postgres_and_verification_needs_roots() {
        let (config, _) = parse("postgres://app@db/cases").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Prefer);
        let (config, _) = parse("postgres://app@db/cases?sslmode=disable").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Disable);
        let (config, _) =
            parse("postgres://app@db/cases?sslmode=verify-full&sslrootcert=system").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        let refused = parse("postgres://app@db/cases?sslmode=verify-ca")
            .err()
            .unwrap();
        assert!(refused.to_string().contains("sslrootcert"), "{refused}");
        let refused = parse("postgres://app@db/cases?sslmode=sometimes")
            .err()
            .unwrap();
        assert!(
            refused.to_string().contains("sslmode=sometimes"),
            "{refused}"
        );
        let missing = parse("postgres://app@db/cases?sslmode=verify-ca&sslrootcert=/nonexistent")
            .err()
            .unwrap();
        assert!(missing.to_string().contains("/nonexistent"), "{missing}");
        let password = parse("postgres://app:hunter2@db/cases?nonsense=1")
            .err()
            .unwrap();
        assert!(!password.to_string().contains("hunter2"), "{password}");
    }
}
