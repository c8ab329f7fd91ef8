//! metrics-server's loop: every resolution period, read `/metrics/resource`
//! from every node whose agent serves one (a kubelet endpoint port in its
//! status), concurrently and with a deadline, into the [`MetricsStore`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;

use super::{MetricsStore, NodeScrape};
use crate::cache::WatchCache;

/// How a node agent's metrics are fetched (HTTPS with the API server's
/// kubelet client certificate in the server; anything in tests).
pub trait NodeMetricsSource: Send + Sync + 'static {
    fn fetch(&self, host: String, port: u16) -> BoxFuture<'static, Result<String, String>>;
}

impl NodeMetricsSource for crate::kubelet::KubeletClient {
    fn fetch(&self, host: String, port: u16) -> BoxFuture<'static, Result<String, String>> {
        let client = self.clone();
        Box::pin(async move {
            let req = http::Request::get("/metrics/resource")
                .header(http::header::HOST, format!("{host}:{port}"))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .map_err(|e| e.to_string())?;
            let resp = client
                .send(&host, port, req)
                .await
                .map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("{} from the agent", resp.status()));
            }
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            String::from_utf8(body.to_vec()).map_err(|e| e.to_string())
        })
    }
}

/// Nodes scraped at once.
const CONCURRENCY: usize = 64;

/// A node worth scraping: (name, address, kubelet port), read from the
/// node's encoding without decoding the rest of it.
pub fn target(name: &str, node_json: &[u8]) -> Option<(String, String, u16)> {
    #[derive(serde::Deserialize)]
    struct Node {
        status: Option<Status>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Status {
        daemon_endpoints: Option<Endpoints>,
        addresses: Option<Vec<Address>>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Endpoints {
        kubelet_endpoint: Option<Endpoint>,
    }
    #[derive(serde::Deserialize)]
    struct Endpoint {
        #[serde(rename = "Port")]
        port: Option<i64>,
    }
    #[derive(serde::Deserialize)]
    struct Address {
        #[serde(rename = "type")]
        kind: String,
        address: String,
    }
    let status = serde_json::from_slice::<Node>(node_json).ok()?.status?;
    let port = status
        .daemon_endpoints?
        .kubelet_endpoint?
        .port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)?;
    let addresses = status.addresses?;
    let address = ["InternalIP", "ExternalIP", "Hostname"]
        .iter()
        .find_map(|ty| addresses.iter().find(|a| a.kind == *ty))?;
    Some((name.to_string(), address.address.clone(), port))
}

/// The nodes to scrape. The cache's lock is held only to copy the
/// entries (shared encodings), not while reading them: at 50,000 nodes
/// that would stall every write.
fn targets(cache: &WatchCache) -> Vec<(String, String, u16)> {
    let Some(def) = bosun_api::registry::lookup("", "v1", "nodes") else {
        return Vec::new();
    };
    let nodes: Vec<(String, crate::cache::Entry)> = cache
        .read()
        .range_entries(def, None, None)
        .map(|(name, entry)| (name.clone(), entry.clone()))
        .collect();
    nodes
        .iter()
        .filter_map(|(name, entry)| target(name, &entry.json))
        .collect()
}

/// One round over every node.
pub async fn scrape_once(
    store: &MetricsStore,
    cache: &WatchCache,
    source: &Arc<dyn NodeMetricsSource>,
    deadline: Duration,
) {
    let targets = targets(cache);
    let names: HashSet<String> = targets.iter().map(|t| t.0.clone()).collect();
    store.retain_nodes(|n| names.contains(n));
    let mut results = futures::stream::iter(targets)
        .map(|(name, host, port)| {
            let fetch = source.fetch(host, port);
            async move { (name, tokio::time::timeout(deadline, fetch).await) }
        })
        .buffer_unordered(CONCURRENCY);
    while let Some((name, result)) = results.next().await {
        match result {
            Ok(Ok(text)) => store.ingest(&name, NodeScrape::from_text(&text)),
            Ok(Err(e)) => tracing::debug!(node = %name, error = %e, "metrics scrape failed"),
            Err(_) => tracing::debug!(node = %name, "metrics scrape timed out"),
        }
    }
}

/// Scrapes every `resolution` for ever.
pub async fn run(
    store: Arc<MetricsStore>,
    cache: Arc<WatchCache>,
    source: Arc<dyn NodeMetricsSource>,
    resolution: Duration,
) {
    let mut timer = tokio::time::interval(resolution);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        scrape_once(
            &store,
            &cache,
            &source,
            resolution.max(Duration::from_secs(1)),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn only_nodes_with_an_agent_endpoint_are_scraped() {
        let node = json!({"status": {
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "addresses": [{"type": "Hostname", "address": "vm"}, {"type": "InternalIP", "address": "10.0.0.5"}],
        }});
        let enc = |v: &Value| serde_json::to_vec(v).unwrap();
        assert_eq!(
            target("n1", &enc(&node)),
            Some(("n1".to_string(), "10.0.0.5".to_string(), 10250))
        );
        let sim = json!({"status": {
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.6"}],
        }});
        assert_eq!(target("n2", &enc(&sim)), None);
        assert_eq!(target("n3", &enc(&json!({}))), None);
    }
}
