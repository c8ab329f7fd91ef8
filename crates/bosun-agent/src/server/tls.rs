//! The server's TLS: a self-signed serving certificate kept under the data
//! dir (kubelet's default when no certificate is given), and client
//! certificates verified against the cluster CA.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::AgentConfig;
use crate::error::AgentError;

/// The group whose members may use the server (upstream authorizes the
/// API server's kubelet client through RBAC; Bosun has no RBAC yet).
const ALLOWED_GROUP: &str = "system:masters";

fn tls_error(e: impl std::fmt::Display) -> AgentError {
    AgentError::Config(format!("agent server TLS: {e}"))
}

/// Loads or creates `<data-dir>/pki/kubelet.{crt,key}`.
fn serving_cert(cfg: &AgentConfig) -> Result<(String, String), AgentError> {
    let dir = cfg.data_dir.join("pki");
    let cert_path = dir.join("kubelet.crt");
    let key_path = dir.join("kubelet.key");
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| AgentError::Io { what, path, source }
    };
    if cert_path.exists() && key_path.exists() {
        let cert = std::fs::read_to_string(&cert_path).map_err(io("read", &cert_path))?;
        let key = std::fs::read_to_string(&key_path).map_err(io("read", &key_path))?;
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let mut sans = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        cfg.node_name.clone(),
    ];
    if let Some(ip) = cfg.node_ip {
        sans.push(ip.to_string());
    }
    let mut params = rcgen::CertificateParams::new(sans).map_err(tls_error)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("{}@bosun-agent", cfg.node_name),
    );
    let key = rcgen::KeyPair::generate().map_err(tls_error)?;
    let cert = params.self_signed(&key).map_err(tls_error)?;
    let (cert, key) = (cert.pem(), key.serialize_pem());
    std::fs::write(&key_path, &key).map_err(io("write", &key_path))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("chmod", &key_path))?;
    }
    std::fs::write(&cert_path, &cert).map_err(io("write", &cert_path))?;
    Ok((cert, key))
}

/// The TLS acceptor: client certificates optional at the handshake (so an
/// anonymous caller gets a 401, not a broken connection), verified
/// against `cfg.client_ca` when given.
pub fn acceptor(cfg: &AgentConfig) -> Result<tokio_rustls::TlsAcceptor, AgentError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for der in &cfg.client_ca {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(tls_error)?;
    }
    if roots.is_empty() {
        return Err(AgentError::Config(
            "the kubeconfig names no certificate authority; the agent's server cannot verify the API server".into(),
        ));
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(tls_error)?;
    let (cert, key) = serving_cert(cfg)?;
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(tls_error)?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(tls_error)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(tls_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Whether a verified client certificate belongs to [`ALLOWED_GROUP`].
pub fn is_authorized(der: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    let allowed = cert
        .subject()
        .iter_organization()
        .any(|o| o.as_str().ok() == Some(ALLOWED_GROUP));
    allowed
}
