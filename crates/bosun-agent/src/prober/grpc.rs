//! The gRPC health checking protocol's Check call (grpc.health.v1), with
//! its two messages written by hand over tonic.

use std::time::Duration;

use http::uri::PathAndQuery;
use tonic::transport::Endpoint;

#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    pub service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckResponse {
    /// UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3.
    #[prost(int32, tag = "1")]
    pub status: i32,
}

#[derive(Debug)]
pub enum CheckError {
    /// No connection within the timeout.
    Connect,
    /// The call failed (its message as grpc-go prints it).
    Rpc(String),
}

pub fn status_name(status: i32) -> &'static str {
    match status {
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    }
}

/// Calls Check on `addr` (`host:port`, plaintext) for `service`; returns
/// the reported status.
pub async fn check(addr: &str, service: &str, timeout: Duration) -> Result<i32, CheckError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| CheckError::Rpc(e.to_string()))?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
        Ok(Ok(c)) => c,
        _ => return Err(CheckError::Connect),
    };
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| CheckError::Rpc(e.to_string()))?;
    let path = PathAndQuery::from_static("/grpc.health.v1.Health/Check");
    let request = tonic::Request::new(HealthCheckRequest {
        service: service.to_string(),
    });
    let answer: Result<tonic::Response<HealthCheckResponse>, tonic::Status> = client
        .unary(request, path, tonic_prost::ProstCodec::default())
        .await;
    match answer {
        Ok(r) => Ok(r.into_inner().status),
        Err(s) => Err(CheckError::Rpc(format!(
            "rpc error: code = {:?} desc = {}",
            s.code(),
            s.message()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::StreamBody;
    use hyper::body::{Frame, Incoming};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tokio::net::TcpListener;

    use super::*;

    type Frames = futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>;

    /// A one-call gRPC server over plain HTTP/2 answering Check with
    /// `status`; returns its port and the requests' (path, body).
    async fn health_server(
        status: u8,
    ) -> (u16, tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let tx = tx.clone();
                let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        use http_body_util::BodyExt;
                        let path = req.uri().path().to_string();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        let _ = tx.send((path, body));
                        // Length-prefixed HealthCheckResponse{status}.
                        let msg = Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]);
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                        let frames: Frames = futures::stream::iter(vec![
                            Ok(Frame::data(msg)),
                            Ok(Frame::trailers(trailers)),
                        ]);
                        let resp = http::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(StreamBody::new(frames))
                            .unwrap();
                        Ok::<_, Infallible>(resp)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn check_reports_the_serving_status() {
        let (port, mut calls) = health_server(1).await;
        let addr = format!("127.0.0.1:{port}");
        assert_eq!(
            check(&addr, "svc", Duration::from_secs(2)).await.ok(),
            Some(1)
        );
        let (path, body) = calls.recv().await.unwrap();
        assert_eq!(path, "/grpc.health.v1.Health/Check");
        // Length-prefixed HealthCheckRequest{service: "svc"}.
        assert_eq!(body, [0, 0, 0, 0, 5, 0x0a, 3, b's', b'v', b'c']);

        let (port, _calls) = health_server(2).await;
        let action: k8s_openapi::api::core::v1::GRPCAction =
            serde_json::from_value(serde_json::json!({"port": port})).unwrap();
        assert_eq!(
            crate::prober::action::grpc(&action, "127.0.0.1", Duration::from_secs(2)).await,
            crate::prober::action::Outcome::Failure(
                "service unhealthy (responded with \"NOT_SERVING\")".into()
            )
        );
    }
}
