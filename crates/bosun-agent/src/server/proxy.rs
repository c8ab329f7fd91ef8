//! Forwards a client's upgrade request (SPDY/3.1 or websocket) to the
//! runtime's streaming server and, after its `101 Switching Protocols`,
//! copies bytes both ways (kubelet's `proxy.NewUpgradeAwareHandler` in
//! redirect-less mode). The streaming protocol itself is the runtime's.

use http::{header, HeaderValue, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::{full, text_response, ResponseBody};

/// Forwards `req` to `url` (the runtime's streaming URL), keeping the
/// client's method, headers and query string.
pub async fn forward_upgrade(mut req: Request<Incoming>, url: &str) -> Response<ResponseBody> {
    let target: Uri = match url.parse() {
        Ok(u) => u,
        Err(e) => {
            return text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("bad streaming URL {url:?}: {e}"),
            )
        }
    };
    let Some(authority) = target.authority().cloned() else {
        return text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("streaming URL {url:?} has no host"),
        );
    };
    let mut path = target.path().to_string();
    if let Some(q) = req.uri().query() {
        path.push('?');
        path.push_str(q);
    }
    let tcp = match tokio::net::TcpStream::connect(authority.as_str()).await {
        Ok(t) => t,
        Err(e) => {
            return text_response(
                StatusCode::BAD_GATEWAY,
                format!("cannot reach the runtime's streaming server: {e}"),
            )
        }
    };
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await {
        Ok(pair) => pair,
        Err(e) => {
            return text_response(
                StatusCode::BAD_GATEWAY,
                format!("streaming server handshake: {e}"),
            )
        }
    };
    tokio::spawn(async move {
        if let Err(err) = conn.with_upgrades().await {
            tracing::debug!(%err, "streaming server connection ended");
        }
    });
    let mut upstream = Request::builder().method(req.method().clone()).uri(path);
    for (name, value) in req.headers() {
        if name != header::HOST && name != header::CONTENT_LENGTH && name != header::AUTHORIZATION {
            upstream = upstream.header(name, value);
        }
    }
    upstream = upstream.header(header::HOST, authority.as_str());
    let upstream = match upstream.body(http_body_util::Empty::<bytes::Bytes>::new()) {
        Ok(r) => r,
        Err(e) => return text_response(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let client_upgrade = hyper::upgrade::on(&mut req);
    let mut resp = match sender.send_request(upstream).await {
        Ok(r) => r,
        Err(e) => return text_response(StatusCode::BAD_GATEWAY, format!("streaming server: {e}")),
    };
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        // Not upgraded: hand the runtime's answer back as it is.
        let (parts, body) = resp.into_parts();
        let body = http_body_util::BodyExt::collect(body)
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let mut out = Response::new(full(body));
        *out.status_mut() = parts.status;
        *out.headers_mut() = parts.headers;
        return out;
    }
    let upstream_upgrade = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok((client, runtime)) => {
                let mut client = TokioIo::new(client);
                let mut runtime = TokioIo::new(runtime);
                if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut runtime).await {
                    tracing::debug!(%err, "stream copy ended");
                }
            }
            Err(err) => tracing::debug!(%err, "upgrade failed"),
        }
    });
    let mut out = Response::new(full(bytes::Bytes::new()));
    *out.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *out.headers_mut() = resp.headers().clone();
    if !out.headers().contains_key(header::CONNECTION) {
        out.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
    out
}
