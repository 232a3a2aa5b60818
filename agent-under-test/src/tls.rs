//! The HTTPS certificate for WHIP signalling: either a throwaway CA made at start-up (tests,
//! local runs: the client trusts that CA, never "any certificate") or PEM files.

use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsSource;

/// What the server needs to terminate TLS.
pub struct ServerTls {
    pub acceptor: TlsAcceptor,
    /// The generated CA certificate (PEM) clients must trust; `None` for [`TlsSource::Files`].
    pub ca_pem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate the test certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{}: cannot write the CA certificate: {source}", path.display())]
    WriteCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot read the certificate chain (expected PEM CERTIFICATE blocks): {source}", path.display())]
    Cert {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{}: cannot read the private key (expected a PEM PKCS#8, PKCS#1 or SEC1 key): {source}", path.display())]
    Key {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{what}: rejected by rustls: {source}")]
    Config {
        what: String,
        #[source]
        source: rustls::Error,
    },
}

/// Builds the acceptor for `source`; `listen` is added to a generated leaf's names.
pub fn server_tls(source: &TlsSource, listen: IpAddr) -> Result<ServerTls, TlsError> {
    match source {
        TlsSource::Generate { ca_out } => {
            let generated = generate(listen)?;
            if let Some(path) = ca_out {
                std::fs::write(path, &generated.ca_pem)
                    .map_err(|source| TlsError::WriteCa { path: path.clone(), source })?;
            }
            let acceptor = acceptor(generated.chain, generated.key, "generated certificate")?;
            Ok(ServerTls { acceptor, ca_pem: Some(generated.ca_pem) })
        }
        TlsSource::Files { cert, key } => {
            let (chain, key_der) = load(cert, key)?;
            let acceptor = acceptor(chain, key_der, &format!("{} + {}", cert.display(), key.display()))?;
            Ok(ServerTls { acceptor, ca_pem: None })
        }
    }
}

struct Generated {
    ca_pem: String,
    leaf_pem: String,
    key_pem: String,
    leaf_spki_der: Vec<u8>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A throwaway CA and a leaf it signs, as PEM text for other servers (coturn's TLS listener)
/// whose clients are told to trust the CA.
pub struct TestPki {
    pub ca_pem: String,
    /// The leaf, then the CA.
    pub chain_pem: String,
    /// The leaf's PKCS#8 key.
    pub key_pem: String,
    /// The leaf's SubjectPublicKeyInfo (DER): what Chromium's SPKI allow-list pins.
    pub leaf_spki_der: Vec<u8>,
}

/// A CA and a leaf for loopback names (`localhost`, 127.0.0.1, ::1) plus `extra`.
pub fn test_pki(extra: IpAddr) -> Result<TestPki, TlsError> {
    let generated = generate(extra)?;
    Ok(TestPki {
        chain_pem: format!("{}{}", generated.leaf_pem, generated.ca_pem),
        ca_pem: generated.ca_pem,
        key_pem: generated.key_pem,
        leaf_spki_der: generated.leaf_spki_der,
    })
}

/// A CA and a leaf it signs, valid for loopback names and the listen address.
fn generate(listen: IpAddr) -> Result<Generated, TlsError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name.push(DnType::CommonName, "Jitterbug test CA");
    // A unique subject per CA: a client trusting another run's CA then reports UnknownIssuer
    // instead of a signature failure against a same-named CA.
    let tag = RandomState::new().hash_one(SystemTime::now());
    ca_params.distinguished_name.push(DnType::OrganizationalUnitName, format!("generated {tag:016x}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec!["localhost".to_string(), Ipv4Addr::LOCALHOST.to_string(), Ipv6Addr::LOCALHOST.to_string()];
    if !listen.is_unspecified() && !listen.is_loopback() {
        names.push(listen.to_string());
    }
    let mut leaf_params = CertificateParams::new(names)?;
    leaf_params.distinguished_name.push(DnType::CommonName, "jitterbug-agent");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;

    Ok(Generated {
        ca_pem: ca_cert.pem(),
        leaf_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
        leaf_spki_der: leaf_key.subject_public_key_info(),
        chain: vec![leaf.der().clone(), ca_cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    })
}

fn load(cert: &Path, key: &Path) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let cert_err = |source| TlsError::Cert { path: cert.to_path_buf(), source };
    let chain =
        CertificateDer::pem_file_iter(cert).map_err(cert_err)?.collect::<Result<Vec<_>, _>>().map_err(cert_err)?;
    if chain.is_empty() {
        return Err(cert_err(rustls::pki_types::pem::Error::NoItemsFound));
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key { path: key.to_path_buf(), source })?;
    Ok((chain, key_der))
}

fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    what: &str,
) -> Result<TlsAcceptor, TlsError> {
    let config_err = |source| TlsError::Config { what: what.to_string(), source };
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(config_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(config_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ca_is_written_and_returned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_out = dir.path().join("ca.pem");
        let tls = server_tls(&TlsSource::Generate { ca_out: Some(ca_out.clone()) }, IpAddr::from([10, 0, 0, 7]))
            .expect("generated TLS");
        let pem = tls.ca_pem.expect("a generated CA");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert_eq!(std::fs::read_to_string(&ca_out).expect("ca_out written"), pem);
    }

    #[test]
    fn files_are_loaded_and_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let localhost = IpAddr::from([127, 0, 0, 1]);
        let files = || TlsSource::Files { cert: cert.clone(), key: key.clone() };

        let err = server_tls(&files(), localhost).err().expect("missing cert fails").to_string();
        assert!(err.contains("cert.pem"), "{err}");

        let self_signed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("self-signed");
        std::fs::write(&cert, self_signed.cert.pem()).expect("write cert");
        std::fs::write(&key, "not a key").expect("write key");
        let err = server_tls(&files(), localhost).err().expect("bad key fails").to_string();
        assert!(err.contains("key.pem"), "{err}");

        std::fs::write(&key, self_signed.signing_key.serialize_pem()).expect("write key");
        let tls = server_tls(&files(), localhost).expect("PEM files load");
        assert!(tls.ca_pem.is_none());
    }
}
