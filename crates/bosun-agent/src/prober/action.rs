//! Running one probe or lifecycle handler action against a container:
//! exec (CRI ExecSync), httpGet, tcpSocket and grpc, with kubelet's
//! success rules and failure messages.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{
    Container, ExecAction, GRPCAction, HTTPGetAction, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::cri::RuntimeService;

/// kubelet's User-Agent for probes.
pub const PROBE_USER_AGENT: &str = "kube-probe/1.32";
/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 10;

/// What one run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Failed, with the message kubelet shows after "<type> probe failed: ".
    Failure(String),
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }
}

/// Where a network action connects: its host or the pod's IP.
fn host_or(host: Option<&str>, pod_ip: &str) -> String {
    host.filter(|h| !h.is_empty()).unwrap_or(pod_ip).to_string()
}

/// A port by number or by the name of one of the container's ports.
pub fn resolve_port(port: &IntOrString, c: &Container) -> Result<u16, String> {
    let n = match port {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => match s.parse::<i64>() {
            Ok(n) => n,
            Err(_) => c
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(s.as_str()))
                .map(|p| i64::from(p.container_port))
                .ok_or_else(|| format!("couldn't find port: {s} in {}", c.name))?,
        },
    };
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port number: {n}"))
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn dial_error(addr: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            format!("dial tcp {addr}: connect: connection refused")
        }
        std::io::ErrorKind::TimedOut => format!("dial tcp {addr}: i/o timeout"),
        _ => format!("dial tcp {addr}: {e}"),
    }
}

async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addr = host_port(host, port);
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(dial_error(&addr, &e)),
        Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
    }
}

/// exec: the command's exit code decides; its output is the message.
pub async fn exec(
    runtime: &dyn RuntimeService,
    container_id: &str,
    action: &ExecAction,
    timeout: Duration,
) -> Outcome {
    let cmd = action.command.clone().unwrap_or_default();
    match runtime.exec_sync(container_id, cmd.clone(), timeout).await {
        Ok(r) if r.exit_code == 0 => Outcome::Success,
        Ok(r) => {
            // kubelet's message is the command's output, even empty.
            let mut out = String::from_utf8_lossy(&r.stdout).into_owned();
            out.push_str(&String::from_utf8_lossy(&r.stderr));
            Outcome::Failure(out)
        }
        Err(e) if e.is_timeout() => {
            Outcome::Failure(format!("command {:?} timed out", cmd.join(" ")))
        }
        Err(e) => Outcome::Failure(e.to_string()),
    }
}

/// tcpSocket: a connection that opens is healthy.
pub async fn tcp(
    action: &TCPSocketAction,
    c: &Container,
    pod_ip: &str,
    timeout: Duration,
) -> Outcome {
    let port = match resolve_port(&action.port, c) {
        Ok(p) => p,
        Err(m) => return Outcome::Failure(m),
    };
    let host = host_or(action.host.as_deref(), pod_ip);
    match connect(&host, port, timeout).await {
        Ok(_) => Outcome::Success,
        Err(m) => Outcome::Failure(m),
    }
}

/// One parsed URL: scheme, host, port, path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl Url {
    fn render(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!(
            "{scheme}://{}{}",
            host_port(&self.host, self.port),
            self.path
        )
    }

    /// Where a redirect's Location points, relative to `self`.
    fn join(&self, location: &str) -> Option<Url> {
        if location.starts_with('/') {
            return Some(Url {
                path: location.to_string(),
                ..self.clone()
            });
        }
        let (https, rest) = if let Some(r) = location.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = location.strip_prefix("https://") {
            (true, r)
        } else {
            return None;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6.split_once(']')?;
            (
                h.to_string(),
                p.strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(default_port),
            )
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().ok()?),
                None => (authority.to_string(), default_port),
            }
        };
        Some(Url {
            https,
            host,
            port,
            path: path.to_string(),
        })
    }
}

async fn send_on<T>(
    io: T,
    url: &Url,
    headers: &[(String, String)],
) -> Result<(u16, Option<String>), String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = http::Request::get(url.path.as_str());
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has("host") {
        req = req.header("Host", host_port(&url.host, url.port));
    }
    if !has("user-agent") {
        req = req.header("User-Agent", PROBE_USER_AGENT);
    }
    if !has("accept") {
        req = req.header("Accept", "*/*");
    }
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let location = resp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((resp.status().as_u16(), location))
}

async fn send(
    url: &Url,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<(u16, Option<String>), String> {
    let stream = connect(&url.host, url.port, timeout).await?;
    if url.https {
        let connector = tokio_rustls::TlsConnector::from(super::tls::insecure_config());
        let name =
            rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|e| e.to_string())?;
        let tls = connector
            .connect(name, stream)
            .await
            .map_err(|e| e.to_string())?;
        send_on(tls, url, headers).await
    } else {
        send_on(stream, url, headers).await
    }
}

/// httpGet: a status from 200 to 399 is healthy; redirects to the same
/// host are followed, a redirect elsewhere counts as success (kubelet's
/// "Probe terminated redirects").
pub async fn http_get(
    action: &HTTPGetAction,
    c: &Container,
    pod_ip: &str,
    timeout: Duration,
) -> Outcome {
    let port = match resolve_port(&action.port, c) {
        Ok(p) => p,
        Err(m) => return Outcome::Failure(m),
    };
    let mut path = action.path.clone().unwrap_or_default();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let mut url = Url {
        https: action.scheme.as_deref() == Some("HTTPS"),
        host: host_or(action.host.as_deref(), pod_ip),
        port,
        path,
    };
    let headers: Vec<(String, String)> = action
        .http_headers
        .iter()
        .flatten()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    let first_host = url.host.clone();
    let deadline = tokio::time::Instant::now() + timeout;
    for _ in 0..=MAX_REDIRECTS {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let rendered = url.render();
        let answer = match tokio::time::timeout(left, send(&url, &headers, left)).await {
            Ok(a) => a,
            Err(_) => Err(
                "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into(),
            ),
        };
        let (code, location) = match answer {
            Ok(a) => a,
            Err(m) => return Outcome::Failure(format!("Get {rendered:?}: {m}")),
        };
        if (300..400).contains(&code) {
            match location.and_then(|l| url.join(&l)) {
                Some(next) if next.host == first_host => {
                    url = next;
                    continue;
                }
                // Elsewhere: kubelet does not follow, and calls it a success.
                _ => return Outcome::Success,
            }
        }
        return if (200..400).contains(&code) {
            Outcome::Success
        } else {
            Outcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
        };
    }
    Outcome::Success
}

/// grpc: grpc.health.v1.Health/Check must answer SERVING.
pub async fn grpc(action: &GRPCAction, pod_ip: &str, timeout: Duration) -> Outcome {
    let port = match u16::try_from(action.port) {
        Ok(p) if p > 0 => p,
        _ => return Outcome::Failure(format!("invalid port number: {}", action.port)),
    };
    let addr = host_port(pod_ip, port);
    let service = action.service.clone().unwrap_or_default();
    match super::grpc::check(&addr, &service, timeout).await {
        Ok(1) => Outcome::Success,
        Ok(status) => Outcome::Failure(format!(
            "service unhealthy (responded with {:?})",
            super::grpc::status_name(status)
        )),
        Err(super::grpc::CheckError::Connect) => Outcome::Failure(format!(
            "timeout: failed to connect service {addr:?} within {}s",
            timeout.as_secs()
        )),
        Err(super::grpc::CheckError::Rpc(m)) => Outcome::Failure(m),
    }
}

/// Runs a probe's action once, within its timeoutSeconds.
pub async fn run_probe(
    runtime: &dyn RuntimeService,
    probe: &Probe,
    c: &Container,
    container_id: &str,
    pod_ip: &str,
) -> Outcome {
    let timeout = super::timing(probe).timeout;
    if let Some(e) = &probe.exec {
        exec(runtime, container_id, e, timeout).await
    } else if let Some(h) = &probe.http_get {
        http_get(h, c, pod_ip, timeout).await
    } else if let Some(t) = &probe.tcp_socket {
        tcp(t, c, pod_ip, timeout).await
    } else if let Some(g) = &probe.grpc {
        grpc(g, pod_ip, timeout).await
    } else {
        Outcome::Failure("missing probe handler".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn container() -> Container {
        serde_json::from_value(
            json!({"name": "c", "ports": [{"name": "web", "containerPort": 8080}]}),
        )
        .unwrap()
    }

    #[test]
    fn ports_by_number_or_name() {
        let c = container();
        assert_eq!(resolve_port(&IntOrString::Int(80), &c), Ok(80));
        assert_eq!(
            resolve_port(&IntOrString::String("web".into()), &c),
            Ok(8080)
        );
        assert_eq!(resolve_port(&IntOrString::String("81".into()), &c), Ok(81));
        assert!(resolve_port(&IntOrString::String("nope".into()), &c).is_err());
        assert!(resolve_port(&IntOrString::Int(0), &c).is_err());
    }

    #[test]
    fn redirect_targets() {
        let u = Url {
            https: false,
            host: "10.0.0.1".into(),
            port: 80,
            path: "/a".into(),
        };
        assert_eq!(u.join("/b").unwrap().path, "/b");
        let other = u.join("https://example.com:8443/x").unwrap();
        assert_eq!(
            (
                other.https,
                other.host.as_str(),
                other.port,
                other.path.as_str()
            ),
            (true, "example.com", 8443, "/x")
        );
        assert_eq!(u.join("http://10.0.0.1").unwrap().port, 80);
    }

    /// A one-route HTTP server: answers `path` → status, anything else 404;
    /// returns its port and the requests' head lines.
    async fn server(
        routes: Vec<(&'static str, &'static str)>,
    ) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let _ = tx.send(head);
                let answer = routes
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, a)| a.to_string())
                    .unwrap_or_else(|| "404 Not Found\r\n".into());
                let _ = s
                    .write_all(
                        format!("HTTP/1.1 {answer}Content-Length: 0\r\nConnection: close\r\n\r\n")
                            .as_bytes(),
                    )
                    .await;
            }
        });
        (port, rx)
    }

    fn get(port: u16, path: &str) -> HTTPGetAction {
        serde_json::from_value(json!({"port": port, "path": path, "httpHeaders": [{"name": "X-Probe", "value": "yes"}]})).unwrap()
    }

    #[tokio::test]
    async fn http_statuses_headers_and_redirects() {
        let (port, mut heads) = server(vec![
            ("/ok", "200 OK\r\n"),
            ("/bad", "500 Internal Server Error\r\n"),
            ("/moved", "302 Found\r\nLocation: /ok\r\n"),
            ("/away", "302 Found\r\nLocation: http://192.0.2.1/x\r\n"),
        ])
        .await;
        let c = container();
        let t = Duration::from_secs(1);
        assert_eq!(
            http_get(&get(port, "/ok"), &c, "127.0.0.1", t).await,
            Outcome::Success
        );
        let head = heads.recv().await.unwrap();
        assert!(head.starts_with("GET /ok HTTP/1.1"), "{head}");
        assert!(
            head.contains("x-probe: yes") || head.contains("X-Probe: yes"),
            "{head}"
        );
        assert!(
            head.to_lowercase().contains("user-agent: kube-probe/"),
            "{head}"
        );
        assert_eq!(
            http_get(&get(port, "/bad"), &c, "127.0.0.1", t).await,
            Outcome::Failure("HTTP probe failed with statuscode: 500".into())
        );
        assert_eq!(
            http_get(&get(port, "/moved"), &c, "127.0.0.1", t).await,
            Outcome::Success
        );
        assert_eq!(
            http_get(&get(port, "/away"), &c, "127.0.0.1", t).await,
            Outcome::Success
        );
        assert!(
            matches!(http_get(&get(port, "/missing"), &c, "127.0.0.1", t).await, Outcome::Failure(m) if m.contains("404"))
        );
    }

    #[tokio::test]
    async fn tcp_and_refused_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let c = container();
        let t = Duration::from_secs(1);
        let action: TCPSocketAction = serde_json::from_value(json!({"port": port})).unwrap();
        assert_eq!(tcp(&action, &c, "127.0.0.1", t).await, Outcome::Success);
        drop(listener);
        let Outcome::Failure(m) = tcp(&action, &c, "127.0.0.1", t).await else {
            panic!("a closed port is healthy")
        };
        assert_eq!(
            m,
            format!("dial tcp 127.0.0.1:{port}: connect: connection refused")
        );
        let Outcome::Failure(m) = http_get(&get(port, "/"), &c, "127.0.0.1", t).await else {
            panic!("a closed port is healthy")
        };
        assert!(
            m.starts_with(&format!("Get \"http://127.0.0.1:{port}/\": dial tcp")),
            "{m}"
        );
        let action: GRPCAction = serde_json::from_value(json!({"port": port})).unwrap();
        assert!(!grpc(&action, "127.0.0.1", t).await.is_success());
    }

    #[tokio::test]
    async fn https_probes_skip_certificate_verification() {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["probe.invalid".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    continue;
                };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            }
        });
        let action: HTTPGetAction =
            serde_json::from_value(json!({"port": port, "scheme": "HTTPS", "path": "/healthz"}))
                .unwrap();
        assert_eq!(
            http_get(&action, &container(), "127.0.0.1", Duration::from_secs(2)).await,
            Outcome::Success
        );
    }
}
