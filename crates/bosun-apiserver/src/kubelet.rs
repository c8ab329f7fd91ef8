//! The API server's client to node agents (upstream's kubelet client):
//! HTTPS to a Node's InternalIP and `status.daemonEndpoints.kubeletEndpoint`
//! port, presenting `CN=kube-apiserver-kubelet-client, O=system:masters`.
//! As upstream without `--kubelet-certificate-authority`, the agent's
//! self-signed serving certificate is not verified.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::pki::Pki;

/// A failure reaching an agent.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error("TLS configuration failed: {0}")]
    Tls(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("error talking to {addr}: {detail}")]
    Http { addr: String, detail: String },
}

/// How long connecting to an agent may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
pub struct KubeletClient {
    connector: tokio_rustls::TlsConnector,
}

impl KubeletClient {
    pub fn new(pki: &Pki) -> Result<Self, KubeletError> {
        let tls = |e: &dyn std::fmt::Display| KubeletError::Tls(e.to_string());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = CertificateDer::pem_slice_iter(pki.kubelet_client_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls(&e))?;
        let key = PrivateKeyDer::from_pem_slice(pki.kubelet_client_key_pem.as_bytes())
            .map_err(|e| tls(&e))?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(&e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
            .with_client_auth_cert(chain, key)
            .map_err(|e| tls(&e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    /// Sends one request to `host:port` on a new connection (upgrades
    /// allowed) and returns the answer.
    pub async fn send(
        &self,
        host: &str,
        port: u16,
        req: Request<http_body_util::Empty<Bytes>>,
    ) -> Result<Response<Incoming>, KubeletError> {
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        // An unreachable node (say a simulated one) must not hold the
        // request for the kernel's whole SYN retry time.
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&addr))
            .await
            .unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection timed out",
                ))
            })
            .map_err(|source| KubeletError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let name =
            ServerName::try_from(host.to_string()).map_err(|e| KubeletError::Tls(e.to_string()))?;
        let stream =
            self.connector
                .connect(name, tcp)
                .await
                .map_err(|source| KubeletError::Connect {
                    addr: addr.clone(),
                    source,
                })?;
        let http = |e: hyper::Error| KubeletError::Http {
            addr: addr.clone(),
            detail: e.to_string(),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        tokio::spawn(async move {
            if let Err(err) = conn.with_upgrades().await {
                tracing::debug!(%err, "agent connection ended");
            }
        });
        sender.send_request(req).await.map_err(http)
    }
}

/// Accepts any server certificate (signatures still checked).
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
