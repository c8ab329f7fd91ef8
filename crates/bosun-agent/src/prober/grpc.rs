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
