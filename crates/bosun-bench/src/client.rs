//! A small HTTP/2-over-TLS client for the API server: a fixed set of
//! connections, requests spread over them round-robin (each connection
//! multiplexes many streams, as client-go does over its one connection).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

use crate::kubeconfig::Target;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("the server did not negotiate HTTP/2 over ALPN (got {0})")]
    NoHttp2(String),
    #[error("HTTP/2: {0}")]
    Http(#[from] hyper::Error),
    #[error("cannot build request: {0}")]
    Request(#[from] http::Error),
    #[error("{method} {path}: {status}: {body}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        body: String,
    },
}

pub type Result<T> = std::result::Result<T, ClientError>;

pub struct Client {
    server: String,
    auth: Option<HeaderValue>,
    senders: Vec<http2::SendRequest<Full<Bytes>>>,
    next: AtomicUsize,
}

fn tls_config(target: &Target) -> Result<rustls::ClientConfig> {
    let tls = |e: &dyn std::fmt::Display| ClientError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = target
        .ca_pem
        .as_deref()
        .ok_or_else(|| ClientError::Tls("the kubeconfig names no certificate authority".into()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca) {
        roots.add(cert.map_err(|e| tls(&e))?).map_err(|e| tls(&e))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_root_certificates(roots);
    let mut config = match (&target.client_cert_pem, &target.client_key_pem) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| tls(&e))?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| tls(&e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls(&e))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

async fn dial(
    target: &Target,
    tls: &tokio_rustls::TlsConnector,
) -> Result<http2::SendRequest<Full<Bytes>>> {
    let tcp = TcpStream::connect(&target.address)
        .await
        .map_err(|source| ClientError::Connect {
            address: target.address.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let name =
        ServerName::try_from(target.host.clone()).map_err(|e| ClientError::Tls(e.to_string()))?;
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    if alpn.as_deref() != Some(b"h2") {
        let got = alpn
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .unwrap_or_else(|| "nothing".into());
        return Err(ClientError::NoHttp2(got));
    }
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(8 << 20)
        .initial_connection_window_size(32 << 20)
        .max_frame_size(1 << 20)
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            eprintln!("bosun-bench: connection closed: {err:?}");
        }
    });
    Ok(sender)
}

impl Client {
    /// Opens `connections` HTTP/2 connections to the kubeconfig's server.
    pub async fn connect(target: &Target, connections: usize) -> Result<Client> {
        let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config(target)?));
        let mut senders = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            senders.push(dial(target, &tls).await?);
        }
        let auth = match &target.token {
            Some(token) => Some(
                HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|e| ClientError::Tls(format!("token is not a header value: {e}")))?,
            ),
            None => None,
        };
        Ok(Client {
            server: target.server.clone(),
            auth,
            senders,
            next: AtomicUsize::new(0),
        })
    }

    pub fn connections(&self) -> usize {
        self.senders.len()
    }

    /// Sends a request on the next connection; the response body is left
    /// to the caller (for watches and timing the last byte).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Response<Incoming>> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        self.send_on(index, method, path, body).await
    }

    /// Sends on connection `index % connections`.
    pub async fn send_on(
        &self,
        index: usize,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Response<Incoming>> {
        let mut sender = self.senders[index % self.senders.len()].clone();
        sender.ready().await?;
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.server, path))
            .header(ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        if let Some(auth) = &self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        let request = builder.body(Full::new(body.unwrap_or_default()))?;
        Ok(sender.send_request(request).await?)
    }

    /// Sends a request and reads the whole response body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes)> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// Like [`Client::call`] but a non-2xx status is an error.
    pub async fn call_ok(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<Bytes> {
        let (status, bytes) = self.call(method.clone(), path, body).await?;
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(ClientError::Status {
                method,
                path: path.to_string(),
                status,
                body: snippet(&bytes),
            })
        }
    }
}

/// The start of a response body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let mut text = text.replace('\n', " ");
    if body.len() > MAX {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_truncates_and_flattens() {
        assert_eq!(snippet(b"a\nb"), "a b");
        let long = vec![b'x'; 500];
        let s = snippet(&long);
        assert!(s.ends_with('…'));
        assert_eq!(s.chars().count(), 301);
    }

    #[test]
    fn tls_needs_a_ca() {
        let target = Target {
            server: "https://127.0.0.1:1".into(),
            host: "127.0.0.1".into(),
            address: "127.0.0.1:1".into(),
            ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            token: None,
        };
        assert!(matches!(tls_config(&target), Err(ClientError::Tls(_))));
    }
}
