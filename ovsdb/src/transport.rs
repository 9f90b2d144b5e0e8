//! The byte stream under JSON-RPC: a unix socket, TCP, or TLS over TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, StreamOwned,
};

use crate::{Endpoint, Error};

/// The files of an `ssl:` endpoint, as `ovs-vsctl --private-key --certificate --ca-cert` take
/// them (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The client's private key.
    pub private_key: PathBuf,
    /// The client's certificate.
    pub certificate: PathBuf,
    /// The CA certificate(s) the server's certificate must chain to.
    pub ca_certificate: PathBuf,
}

/// A connected stream.
#[derive(Debug)]
pub(crate) enum Transport {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Transport {
    pub(crate) fn connect(
        endpoint: &Endpoint,
        tls: Option<&TlsFiles>,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let connect_err = |source| Error::Connect {
            endpoint: endpoint.to_string(),
            source,
        };
        let tcp = |addr: &str| -> Result<TcpStream, Error> {
            use std::net::ToSocketAddrs;
            let mut last = std::io::Error::from(std::io::ErrorKind::AddrNotAvailable);
            for a in addr.to_socket_addrs().map_err(connect_err)? {
                match TcpStream::connect_timeout(&a, timeout) {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        return Ok(s);
                    }
                    Err(e) => last = e,
                }
            }
            Err(connect_err(last))
        };
        Ok(match endpoint {
            Endpoint::Unix(p) => Self::Unix(UnixStream::connect(p).map_err(connect_err)?),
            Endpoint::Tcp(a) => Self::Tcp(tcp(a)?),
            Endpoint::Ssl(a) => {
                let files = tls.ok_or_else(|| {
                    Error::Tls(format!(
                        "{endpoint} needs a private key, a certificate and a CA certificate"
                    ))
                })?;
                let host = endpoint.host().unwrap_or_default().to_owned();
                let name = ServerName::try_from(host)
                    .map_err(|e| Error::Tls(format!("server name of {endpoint}: {e}")))?;
                let conn = ClientConnection::new(client_config(files)?, name)
                    .map_err(|e| Error::Tls(e.to_string()))?;
                Self::Tls(Box::new(StreamOwned::new(conn, tcp(a)?)))
            }
        })
    }

    fn socket_timeouts(
        &self,
        read: Option<Duration>,
        write: Option<Duration>,
    ) -> std::io::Result<()> {
        match self {
            Self::Unix(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
            Self::Tcp(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
            Self::Tls(s) => {
                s.sock.set_read_timeout(read)?;
                s.sock.set_write_timeout(write)
            }
        }
    }

    pub(crate) fn set_timeouts(&self, read: Duration, write: Duration) -> std::io::Result<()> {
        self.socket_timeouts(Some(read), Some(write))
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Unix(s) => s.read(buf),
            Self::Tcp(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Unix(s) => s.write(buf),
            Self::Tcp(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Unix(s) => s.flush(),
            Self::Tcp(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, Error> {
    let tls = |what: &str, path: &std::path::Path, e: String| {
        Error::Tls(format!("{what} {}: {e}", path.display()))
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&files.ca_certificate)
        .map_err(|e| tls("CA certificate", &files.ca_certificate, e.to_string()))?
    {
        let cert = cert.map_err(|e| tls("CA certificate", &files.ca_certificate, e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| tls("CA certificate", &files.ca_certificate, e.to_string()))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.certificate)
        .map_err(|e| tls("certificate", &files.certificate, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls("certificate", &files.certificate, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&files.private_key)
        .map_err(|e| tls("private key", &files.private_key, e.to_string()))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
        .with_client_auth_cert(chain, key)
        .map_err(|e| Error::Tls(format!("client certificate and key: {e}")))?;
    Ok(Arc::new(config))
}

/// OVS' own SSL streams check that the server's certificate chains to the CA and do not match
/// it against the host name (OVN's certificates name the daemon, not the host): the same here.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
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

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
