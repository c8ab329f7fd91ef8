//! Node registration: create each Node (status included) and its Lease, or
//! adopt the ones a previous run left behind.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::config::SimConfig;
use crate::error::SimError;
use crate::node::{
    lease_object, node_object, node_status, parse_pod_cidr, time_string, NodeIdentity,
    LEASE_NAMESPACE,
};
use crate::retry::{is_already_exists, is_transient, Backoff};

const REGISTER_ATTEMPTS: usize = 6;

/// A registered simulated node.
#[derive(Debug)]
pub struct SimNode {
    pub id: NodeIdentity,
    /// The Node's uid (owner of its Lease); changes if the Node is recreated.
    pub uid: Mutex<String>,
    /// The node's pod range: its own podCIDR if it is a /24, else ours.
    pub pod_net: Ipv4Addr,
    /// lastTransitionTime of the node's conditions.
    pub transition: String,
    /// Set once the Node is found deleted: it is no longer simulated.
    pub gone: AtomicBool,
}

impl SimNode {
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    pub fn mark_gone(&self) {
        if !self.gone.swap(true, Ordering::Relaxed) {
            tracing::info!(node = %self.id.name, "node was deleted; no longer simulated");
        }
    }
}

fn to_typed<T: serde::de::DeserializeOwned>(what: &'static str, v: Value) -> Result<T, SimError> {
    serde_json::from_value(v).map_err(|source| SimError::Build { what, source })
}

/// Registers all nodes with at most `register_concurrency` in flight;
/// returns them in index order.
pub async fn register_all(client: &Client, cfg: &SimConfig) -> Result<Vec<SimNode>, SimError> {
    let mut nodes: Vec<SimNode> = stream::iter(0..cfg.nodes)
        .map(|i| register_with_retry(client, cfg, NodeIdentity::new(&cfg.name_prefix, i)))
        .buffer_unordered(cfg.register_concurrency)
        .try_collect()
        .await?;
    nodes.sort_by_key(|n| n.id.index);
    Ok(nodes)
}

async fn register_with_retry(
    client: &Client,
    cfg: &SimConfig,
    id: NodeIdentity,
) -> Result<SimNode, SimError> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    let mut attempt = 1;
    loop {
        match register_one(client, cfg, &id).await {
            Ok(node) => return Ok(node),
            Err(RegisterError::Build(e)) => return Err(e),
            Err(RegisterError::Api(e)) if is_transient(&e) && attempt < REGISTER_ATTEMPTS => {
                tracing::warn!(node = %id.name, error = %e, attempt, "node registration failed; retrying");
                attempt += 1;
                backoff.wait().await;
            }
            Err(RegisterError::Api(source)) => {
                return Err(SimError::Register {
                    node: id.name.clone(),
                    source: Box::new(source),
                })
            }
        }
    }
}

pub enum RegisterError {
    Build(SimError),
    Api(kube::Error),
}

impl From<kube::Error> for RegisterError {
    fn from(e: kube::Error) -> Self {
        RegisterError::Api(e)
    }
}

impl From<SimError> for RegisterError {
    fn from(e: SimError) -> Self {
        RegisterError::Build(e)
    }
}

fn has_conditions(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| !c.is_empty())
}

async fn register_one(
    client: &Client,
    cfg: &SimConfig,
    id: &NodeIdentity,
) -> Result<SimNode, RegisterError> {
    let now = time_string(chrono::Utc::now());
    let nodes: Api<Node> = Api::all(client.clone());
    let body: Node = to_typed("Node", node_object(cfg, id, &now))?;
    let status_patch = || Patch::Merge(json!({"status": node_status(cfg, id, &now, &now)}));
    let node = match nodes.create(&PostParams::default(), &body).await {
        Ok(created) if has_conditions(&created) => created,
        Ok(_) => {
            // The server dropped the status on create: post it.
            tracing::debug!(node = %id.name, "status not kept on create; writing /status");
            nodes
                .patch_status(&id.name, &PatchParams::default(), &status_patch())
                .await?
        }
        Err(e) if is_already_exists(&e) => {
            tracing::debug!(node = %id.name, "node exists; adopting it");
            nodes
                .patch_status(&id.name, &PatchParams::default(), &status_patch())
                .await?
        }
        Err(e) => return Err(e.into()),
    };
    let uid = node.metadata.uid.clone().unwrap_or_default();
    let pod_net = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .and_then(parse_pod_cidr)
        .unwrap_or(id.pod_net);
    ensure_lease(client, cfg, &id.name, &uid).await?;
    Ok(SimNode {
        id: id.clone(),
        uid: Mutex::new(uid),
        pod_net,
        transition: now,
        gone: AtomicBool::new(false),
    })
}

/// Creates the node's Lease, or takes over an existing one (owner, holder,
/// renew time).
pub async fn ensure_lease(
    client: &Client,
    cfg: &SimConfig,
    name: &str,
    uid: &str,
) -> Result<(), RegisterError> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let renew = crate::node::micro_time_string(chrono::Utc::now());
    let lease = lease_object(name, uid, cfg.lease_duration_seconds, &renew);
    let typed: Lease = to_typed("Lease", lease.clone())?;
    match leases.create(&PostParams::default(), &typed).await {
        Ok(_) => Ok(()),
        Err(e) if is_already_exists(&e) => {
            let patch = json!({
                "metadata": {"ownerReferences": lease["metadata"]["ownerReferences"]},
                "spec": lease["spec"],
            });
            leases
                .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `ensure_lease` for the heartbeat: API errors as `kube::Error`.
pub async fn recreate_lease(
    client: &Client,
    cfg: &SimConfig,
    name: &str,
    uid: &str,
) -> Result<(), kube::Error> {
    match ensure_lease(client, cfg, name, uid).await {
        Ok(()) => Ok(()),
        Err(RegisterError::Api(e)) => Err(e),
        Err(RegisterError::Build(e)) => {
            tracing::error!(node = name, error = %e, "cannot build the Lease");
            Ok(())
        }
    }
}
