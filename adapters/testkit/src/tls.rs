//! https for simulators and tests (feature `tls`).
//!
//! - [`Ca`]: a certificate authority made at run time with rcgen, issuing loopback
//!   server and client leaves as PEM.
//! - [`ServerTls`]: a server certificate and key, optionally with the CA client
//!   certificates must be signed by; [`serve_front`] terminates TLS on a listener and
//!   relays the plain bytes to a backend address (the simulator's HTTP server),
//!   counting TCP connections and failed handshakes in [`TlsCounters`].

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

fn invalid(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
}

/// A test certificate authority.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    /// A new self-signed CA with this common name.
    pub fn new(name: &str) -> io::Result<Ca> {
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| invalid("CA", e))?;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.distinguished_name
            .push(rcgen::DnType::CommonName, name.to_owned());
        let key = KeyPair::generate().map_err(|e| invalid("CA key", e))?;
        let issuer = CertifiedIssuer::self_signed(p, key).map_err(|e| invalid("CA", e))?;
        Ok(Ca { issuer })
    }

    /// The CA certificate as PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn leaf(&self, purpose: ExtendedKeyUsagePurpose) -> io::Result<(String, String)> {
        let mut p = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(|e| invalid("leaf", e))?;
        p.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().map_err(|e| invalid("leaf key", e))?;
        let cert = p
            .signed_by(&key, &self.issuer)
            .map_err(|e| invalid("leaf", e))?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// (certificate PEM, key PEM) of a server leaf for 127.0.0.1 and localhost.
    pub fn server_leaf(&self) -> io::Result<(String, String)> {
        self.leaf(ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// (certificate PEM, key PEM) of a client leaf.
    pub fn client_leaf(&self) -> io::Result<(String, String)> {
        self.leaf(ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A server configuration with a fresh leaf of this CA, requiring client
    /// certificates signed by `client_ca` when given.
    pub fn server_tls(&self, client_ca: Option<&Ca>) -> io::Result<ServerTls> {
        let (cert_pem, key_pem) = self.server_leaf()?;
        Ok(ServerTls {
            cert_pem,
            key_pem,
            client_ca_pem: client_ca.map(Ca::pem),
        })
    }
}

/// Writes `pem` to a temporary file that lives as long as the returned value.
pub fn pem_file(pem: &str) -> io::Result<tempfile::NamedTempFile> {
    let mut f = tempfile::NamedTempFile::new()?;
    f.write_all(pem.as_bytes())?;
    f.flush()?;
    Ok(f)
}

/// What an https server presents, and whom it accepts.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// Certificate chain (leaf first), PEM.
    pub cert_pem: String,
    /// Private key of the leaf, PEM.
    pub key_pem: String,
    /// When set, clients must present a certificate signed by this CA (PEM).
    pub client_ca_pem: Option<String>,
}

impl ServerTls {
    /// Reads the PEM files of a certificate chain, its key and an optional client CA.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> io::Result<ServerTls> {
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
        };
        Ok(ServerTls {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
            client_ca_pem: client_ca.map(read).transpose()?,
        })
    }

    /// The rustls configuration (checks the PEM contents).
    pub fn config(&self) -> io::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| invalid("certificate", e))?;
        if certs.is_empty() {
            return Err(invalid("certificate", "no certificate in the PEM"));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| invalid("private key", e))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("TLS versions", e))?;
        let builder = match &self.client_ca_pem {
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots
                        .add(c.map_err(|e| invalid("client CA", e))?)
                        .map_err(|e| invalid("client CA", e))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| invalid("client CA", e))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| invalid("certificate and key", e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Counters of a TLS front.
#[derive(Debug, Default)]
pub struct TlsCounters {
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// Handshakes that failed (untrusted server certificate, missing client certificate).
    pub failed_handshakes: AtomicUsize,
}

impl TlsCounters {
    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Failed handshakes so far.
    pub fn failed_handshakes(&self) -> usize {
        self.failed_handshakes.load(Ordering::SeqCst)
    }
}

/// Accepts TLS on `listener` and relays each connection's plain bytes to `backend`,
/// until the task running it is dropped. Must run inside a tokio runtime.
pub async fn serve_front(
    config: Arc<rustls::ServerConfig>,
    listener: std::net::TcpListener,
    backend: SocketAddr,
    counters: Arc<TlsCounters>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let (sock, _) = listener.accept().await?;
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let acceptor = acceptor.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut tls = match acceptor.accept(sock).await {
                Ok(tls) => tls,
                Err(_) => {
                    counters.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            };
            let Ok(mut plain) = TcpStream::connect(backend).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
        });
    }
}
