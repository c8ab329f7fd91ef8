//! Shared setup for the API benchmarks: run ids, namespaces, worker pools.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{Method, StatusCode};

use crate::client::{snippet, Client, ClientError};
use crate::objects;

/// A short id that keeps one run's namespaces apart from earlier runs'.
pub fn run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{:x}", now % 0xff_ffff_ffff)
}

/// Creates a namespace; one that already exists is fine.
pub async fn create_namespace(client: &Client, name: &str) -> Result<(), ClientError> {
    let (status, body) = client
        .call(
            Method::POST,
            "/api/v1/namespaces",
            Some(objects::namespace(name)),
        )
        .await?;
    if status.is_success() || status == StatusCode::CONFLICT {
        Ok(())
    } else {
        Err(ClientError::Status {
            method: Method::POST,
            path: "/api/v1/namespaces".into(),
            status,
            body: snippet(&body),
        })
    }
}

/// Runs `count` workers as tasks and returns their results in order.
pub async fn workers<T, F, Fut>(count: usize, make: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = (0..count).map(|i| tokio::spawn(make(i))).collect();
    let mut out = Vec::with_capacity(count);
    for handle in handles {
        out.push(handle.await?);
    }
    Ok(out)
}

/// The error text of a failed request, for a recorder.
pub fn failure(status: StatusCode, body: &[u8]) -> String {
    format!("{status}: {}", snippet(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_dns_labels() {
        let id = run_id();
        assert!(!id.is_empty() && id.len() <= 10);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    }

    #[tokio::test]
    async fn workers_keep_order() {
        let out = workers(5, |i| async move { i * 2 }).await.unwrap();
        assert_eq!(out, vec![0, 2, 4, 6, 8]);
    }
}
