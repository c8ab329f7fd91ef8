//! The agent's HTTPS server (kubelet's `pkg/kubelet/server`): container
//! logs from CRI log files, and exec / attach / port-forward handed to the
//! runtime's streaming server. Only callers with a client certificate
//! signed by the cluster CA in `system:masters` (the API server's kubelet
//! client) are served.
//!
//! ```text
//! GET      /containerLogs/{ns}/{pod}/{container}?follow&previous&tailLines&sinceSeconds&sinceTime&timestamps&limitBytes
//! GET|POST /exec/{ns}/{pod}/{container}?command=..&stdin&stdout&stderr&tty   (Upgrade)
//! GET|POST /attach/{ns}/{pod}/{container}?stdin&stdout&stderr&tty            (Upgrade)
//! GET|POST /portForward/{ns}/{pod}?ports=..                                  (Upgrade)
//! ```

mod logs;
mod pods;
mod proxy;
mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use self::logs::{LineParser, LogLine, LogOptions};
use crate::config::AgentConfig;
use crate::cri::Runtime;
use crate::error::AgentError;

/// kubelet's `--port`.
pub const DEFAULT_PORT: u16 = 10250;

pub type ResponseBody = BoxBody<Bytes, std::io::Error>;

/// A bound, not yet serving, agent server.
pub struct AgentServer {
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    pub local_addr: SocketAddr,
}

struct State {
    cfg: Arc<AgentConfig>,
    runtime: Arc<dyn Runtime>,
}

impl AgentServer {
    /// Binds `cfg.port` on all addresses, with a serving certificate kept
    /// under the data dir, trusting `cfg.client_ca` for callers.
    pub async fn bind(cfg: &AgentConfig) -> Result<Self, AgentError> {
        let tls = tls::acceptor(cfg)?;
        let addr = SocketAddr::from(([0, 0, 0, 0], cfg.port));
        let io = |source| AgentError::Io {
            what: "listen on port",
            path: std::path::PathBuf::from(addr.to_string()),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(io)?;
        let local_addr = listener.local_addr().map_err(io)?;
        Ok(AgentServer {
            listener,
            tls,
            local_addr,
        })
    }

    /// Serves until `stop` turns true.
    pub async fn serve(
        self,
        cfg: Arc<AgentConfig>,
        runtime: Arc<dyn Runtime>,
        mut stop: watch::Receiver<bool>,
    ) {
        let state = Arc::new(State { cfg, runtime });
        loop {
            let (tcp, peer) = tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                conn = self.listener.accept() => match conn {
                    Ok(c) => c,
                    Err(err) => {
                        tracing::warn!(%err, "accept failed");
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let tls = self.tls.clone();
            let state = state.clone();
            tokio::spawn(async move {
                let stream = match tls.accept(tcp).await {
                    Ok(s) => s,
                    Err(err) => {
                        tracing::debug!(%peer, %err, "TLS handshake failed");
                        return;
                    }
                };
                let caller = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .map(|c| tls::is_authorized(c));
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move {
                        let resp = match caller {
                            None => text_response(StatusCode::UNAUTHORIZED, "Unauthorized".into()),
                            Some(false) => text_response(
                                StatusCode::FORBIDDEN,
                                "Forbidden (user is not in system:masters)".into(),
                            ),
                            Some(true) => state.route(req).await,
                        };
                        Ok::<_, Infallible>(resp)
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

impl State {
    async fn route(&self, req: Request<Incoming>) -> Response<ResponseBody> {
        let path = req.uri().path().to_string();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let method = req.method().clone();
        let query = Query::parse(req.uri().query());
        match (&method, segments.as_slice()) {
            (&Method::GET, ["healthz"]) => text_response(StatusCode::OK, "ok".into()),
            (&Method::GET, ["metrics", "resource"]) => self.resource_metrics().await,
            (&Method::GET, ["containerLogs", ns, pod, container]) => {
                self.container_logs(ns, pod, container, &query).await
            }
            (&Method::GET | &Method::POST, ["exec", ns, pod, container]) => {
                let url = pods::exec_url(&*self.runtime, ns, pod, container, &query).await;
                self.stream(req, url).await
            }
            (&Method::GET | &Method::POST, ["attach", ns, pod, container]) => {
                let url = pods::attach_url(&*self.runtime, ns, pod, container, &query).await;
                self.stream(req, url).await
            }
            (&Method::GET | &Method::POST, ["portForward", ns, pod]) => {
                let url = pods::port_forward_url(&*self.runtime, ns, pod, &query).await;
                self.stream(req, url).await
            }
            _ => text_response(
                StatusCode::NOT_FOUND,
                format!("404 page not found: {method} {path}"),
            ),
        }
    }

    async fn stream(
        &self,
        req: Request<Incoming>,
        url: Result<String, pods::PodError>,
    ) -> Response<ResponseBody> {
        match url {
            Ok(url) => proxy::forward_upgrade(req, &url).await,
            Err(e) => e.into_response(),
        }
    }

    /// kubelet's `/metrics/resource` (Prometheus text), for `kubectl top`.
    async fn resource_metrics(&self) -> Response<ResponseBody> {
        match crate::stats::resource_metrics(&*self.runtime).await {
            Ok((node, containers)) => {
                let mut resp =
                    text_response(StatusCode::OK, crate::stats::render(&node, &containers));
                resp.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                resp
            }
            Err(e) => text_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }

    async fn container_logs(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        query: &Query,
    ) -> Response<ResponseBody> {
        let opts = match log_options(query) {
            Ok(o) => o,
            Err(msg) => return text_response(StatusCode::BAD_REQUEST, msg),
        };
        let previous = query.flag("previous");
        let target =
            match pods::log_target(&*self.runtime, &self.cfg, ns, pod, container, previous).await {
                Ok(t) => t,
                Err(e) => return e.into_response(),
            };
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
        // Open before answering, so a missing file is an error status.
        if let Err(e) = tokio::fs::metadata(&target.path).await {
            return text_response(
                StatusCode::NOT_FOUND,
                format!("cannot read the log of container {container:?} in pod {pod:?}: {e}"),
            );
        }
        let runtime = self.runtime.clone();
        let container_id = target.container_id.clone();
        let follow = opts.follow && !previous;
        let opts = LogOptions { follow, ..opts };
        tokio::spawn(async move {
            let running = move || {
                let runtime = runtime.clone();
                let id = container_id.clone();
                async move { pods::is_running(&*runtime, &id).await }
            };
            if let Err(err) = logs::stream_file(&target.path, opts, tx, running).await {
                tracing::debug!(%err, path = %target.path.display(), "log stream ended");
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, std::io::Error>(hyper::body::Frame::data(b)), rx))
        });
        let body = http_body_util::StreamBody::new(stream);
        let mut resp = Response::new(BodyExt::boxed(body));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain"),
        );
        resp
    }
}

fn log_options(query: &Query) -> Result<LogOptions, String> {
    let int = |key: &str| -> Result<Option<i64>, String> {
        match query.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("invalid {key} {v:?}: not an integer")),
        }
    };
    let non_negative = |key: &str, v: Option<i64>| -> Result<Option<usize>, String> {
        match v {
            Some(n) if n < 0 => Err(format!(
                "{key}: Invalid value: {n}: must be greater than or equal to 0"
            )),
            Some(n) => Ok(usize::try_from(n).ok()),
            None => Ok(None),
        }
    };
    let since = match (int("sinceSeconds")?, query.get("sinceTime")) {
        (Some(s), _) if s < 1 => {
            return Err(format!(
                "sinceSeconds: Invalid value: {s}: must be greater than 0"
            ))
        }
        (Some(s), _) => Some(chrono::Utc::now() - chrono::Duration::seconds(s)),
        (None, Some(t)) if !t.is_empty() => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| format!("invalid sinceTime {t:?}: {e}"))?
                .with_timezone(&chrono::Utc),
        ),
        _ => None,
    };
    Ok(LogOptions {
        tail_lines: non_negative("tailLines", int("tailLines")?)?,
        since,
        timestamps: query.flag("timestamps"),
        limit_bytes: non_negative("limitBytes", int("limitBytes")?)?,
        follow: query.flag("follow"),
    })
}

pub(crate) fn full(data: Bytes) -> ResponseBody {
    http_body_util::Full::new(data)
        .map_err(|never| match never {})
        .boxed()
}

pub(crate) fn text_response(code: StatusCode, text: String) -> Response<ResponseBody> {
    let mut resp = Response::new(full(Bytes::from(text)));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Query parameters; repeated keys (exec's `command`) keep every value.
#[derive(Debug, Default)]
pub struct Query(HashMap<String, Vec<String>>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    pub fn all(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A boolean as upstream parses query strings: present and not
    /// `0`/`f`/`false`/`n`/`no` (any case).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            !["0", "f", "false", "n", "no"]
                .iter()
                .any(|f| v.eq_ignore_ascii_case(f))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_repeated_commands_and_decodes() {
        let q = Query::parse(Some(
            "command=sh&command=-c&command=echo+hi%21&tty=true&stdin=0",
        ));
        assert_eq!(q.all("command"), ["sh", "-c", "echo hi!"]);
        assert!(q.flag("tty"));
        assert!(!q.flag("stdin"));
        assert!(!q.flag("stderr"));
        assert_eq!(Query::parse(Some("a=%2")).get("a"), Some("%2"));
    }

    #[test]
    fn log_options_are_validated() {
        let q = Query::parse(Some("tailLines=3&timestamps=true&follow=1&limitBytes=10"));
        let o = log_options(&q).expect("valid");
        assert_eq!(
            (o.tail_lines, o.timestamps, o.follow, o.limit_bytes),
            (Some(3), true, true, Some(10))
        );
        assert!(log_options(&Query::parse(Some("tailLines=x"))).is_err());
        assert!(log_options(&Query::parse(Some("sinceSeconds=0"))).is_err());
        let o = log_options(&Query::parse(Some("sinceTime=2026-11-27T10:00:00Z"))).expect("valid");
        assert!(o.since.is_some());
    }
}
