//! The HTTPS listener: TLS with optional client certificates, HTTP/1.1 and
//! HTTP/2, authentication, then the handlers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::response::IntoResponse;
use bosun_store::Store;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::auth::{self, Authenticator, ServiceAccountAuthenticator};
use crate::cache::WatchCache;
use crate::error::ApiError;
use crate::handler::Handler;
use crate::pki::{Pki, PkiError};
use crate::rest::Rest;
use crate::serviceaccount::TokenKeys;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    /// The address written into kubeconfigs and discovery.
    pub advertise: String,
    pub extra_sans: Vec<String>,
    /// How often node agents' resource metrics are scraped for
    /// `metrics.k8s.io` (metrics-server's `--metric-resolution`).
    pub metric_resolution: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("TLS configuration failed: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] bosun_store::StoreError),
    #[error("bootstrap failed: {0}")]
    Bootstrap(ApiError),
}

/// A started API server.
pub struct ApiServer {
    pub handler: Arc<Handler>,
    pub local_addr: SocketAddr,
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    auth: Arc<Authenticator>,
}

fn tls_config(pki: &Pki) -> Result<rustls::ServerConfig, ServerError> {
    let tls = |e: &dyn std::fmt::Display| ServerError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca_cert_pem.as_bytes()) {
        roots.add(cert.map_err(|e| tls(&e))?).map_err(|e| tls(&e))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls(&e))?;
    let chain = CertificateDer::pem_slice_iter(pki.server_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls(&e))?;
    let key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).map_err(|e| tls(&e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

impl ApiServer {
    /// Prepares certificates, fills the watch cache, bootstraps default
    /// objects and binds the listener.
    pub async fn start(config: ServerConfig, store: Arc<dyn Store>) -> Result<Self, ServerError> {
        let pki = Pki::load_or_create(&config.data_dir, &config.extra_sans)?;
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| ServerError::Listen {
                    addr: config.bind,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                addr: config.bind,
                source,
            })?;
        let advertise = if config.advertise.is_empty() {
            local_addr.to_string()
        } else {
            config.advertise.clone()
        };
        pki.write_kubeconfigs(&config.data_dir, &format!("https://{advertise}"))?;
        let tls = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(&pki)?));
        let cache = WatchCache::start(store.clone()).await?;
        let token_keys = Arc::new(TokenKeys::load_or_create(&pki.dir)?);
        let handler = Arc::new(Handler {
            rest: Rest::new(store, cache),
            server_address: advertise,
            metrics: Arc::new(crate::metrics::MetricsStore::new()),
            kubelet: crate::kubelet::KubeletClient::new(&pki)
                .map_err(|e| ServerError::Tls(e.to_string()))?,
            token_keys: token_keys.clone(),
        });
        tokio::spawn(crate::metrics::scraper::run(
            handler.metrics.clone(),
            handler.rest.cache.clone(),
            Arc::new(handler.kubelet.clone()),
            config.metric_resolution,
        ));
        crate::bootstrap::run(&handler.rest)
            .await
            .map_err(ServerError::Bootstrap)?;
        // Build the OpenAPI documents off the request path.
        tokio::task::spawn_blocking(bosun_openapi::index);
        let auth = Arc::new(Authenticator::new(
            vec![(pki.admin_token.clone(), "admin".to_string())],
            Some(ServiceAccountAuthenticator {
                keys: token_keys,
                cache: handler.rest.cache.clone(),
            }),
        ));
        Ok(ApiServer {
            handler,
            local_addr,
            listener,
            tls,
            auth,
        })
    }

    /// Serves until the process ends.
    pub async fn serve(self) {
        let ApiServer {
            handler,
            listener,
            tls,
            auth,
            ..
        } = self;
        spawn_compaction(handler.rest.store.clone());
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let tls = tls.clone();
            let handler = handler.clone();
            let auth = auth.clone();
            tokio::spawn(async move {
                let stream = match tls.accept(tcp).await {
                    Ok(s) => s,
                    Err(err) => {
                        tracing::debug!(%peer, %err, "TLS handshake failed");
                        return;
                    }
                };
                let cert_user = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .and_then(|c| auth::common_name(c));
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let handler = handler.clone();
                        let auth = auth.clone();
                        let cert_user = cert_user.clone();
                        async move {
                            let req = req.map(Body::new);
                            let public = auth::is_public(req.uri().path());
                            let user = auth.authenticate(req.headers(), cert_user.as_deref());
                            let response = match (user, public) {
                                (Some(_), _) | (None, true) => handler.handle(req).await,
                                (None, false) => ApiError::unauthorized().into_response(),
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(err) = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%peer, %err, "connection ended with an error");
                }
            });
        }
    }
}

/// How often history is compacted; what was current one interval ago goes.
const COMPACTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// Compacts the store's history every interval to the revision that was
/// current at the previous tick, as upstream's API server does for etcd.
fn spawn_compaction(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        let mut previous: Option<i64> = None;
        let mut tick = tokio::time::interval(COMPACTION_INTERVAL);
        loop {
            tick.tick().await;
            let current = match store.current_revision().await {
                Ok(rev) => rev,
                Err(err) => {
                    tracing::warn!(%err, "cannot read the store revision for compaction");
                    continue;
                }
            };
            if let Some(rev) = previous.filter(|r| *r > 0) {
                if let Err(err) = store.compact(rev).await {
                    tracing::warn!(%err, revision = rev, "compaction failed");
                }
            }
            previous = Some(current);
        }
    });
}
