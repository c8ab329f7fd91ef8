//! Simulated (kwok-style) nodes: registered with capacity and healthy
//! conditions, heartbeated through Leases, and running the pods bound to
//! them without any containers.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) -> Result<(), bosun_sim::SimError> {
//! let (stop, stopped) = tokio::sync::watch::channel(false);
//! let cfg = bosun_sim::SimConfig { nodes: 100, ..Default::default() };
//! let sim = bosun_sim::Simulator::register(client, cfg).await?;
//! // ... later: stop.send(true) ends `run`.
//! # drop(stop);
//! sim.run(stopped).await
//! # }
//! ```
//!
//! Modules: `config` (flags and their parsers), `node` (Node and Lease
//! objects), `register` (creation/adoption), `heartbeat` (Lease renewal and
//! node status), `pod_status` (pod status construction, QoS), `pods` (the
//! pod lifecycle loop), `ipam` (pod addresses).

pub mod config;
mod error;
mod heartbeat;
mod ipam;
pub mod node;
pub mod pod_status;
mod pods;
mod register;
mod retry;

use std::sync::Arc;

use kube::Client;
use tokio::sync::watch;

pub use config::{ConfigError, SimConfig, Taint};
pub use error::SimError;

/// A set of registered simulated nodes, ready to run.
pub struct Simulator {
    client: Client,
    cfg: Arc<SimConfig>,
    nodes: Arc<Vec<register::SimNode>>,
}

impl Simulator {
    /// Validates `cfg` and registers (or adopts) every node with its Lease.
    pub async fn register(client: Client, cfg: SimConfig) -> Result<Self, SimError> {
        cfg.validate()?;
        let nodes = register::register_all(&client, &cfg).await?;
        Ok(Simulator {
            client,
            cfg: Arc::new(cfg),
            nodes: Arc::new(nodes),
        })
    }

    /// How many nodes are simulated.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The simulated nodes' names, in index order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.id.name.as_str())
    }

    /// Heartbeats the nodes and runs their pods until `shutdown` turns true
    /// (or its sender is dropped). The nodes are left registered.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), SimError> {
        let heartbeats = heartbeat::run(self.client.clone(), self.cfg.clone(), self.nodes.clone());
        let pods = pods::run(self.client, self.cfg, self.nodes);
        tokio::select! {
            () = heartbeats => Ok(()),
            r = pods => r,
            () = stopped(shutdown) => Ok(()),
        }
    }
}

/// Registers the nodes, then runs them until `shutdown` turns true.
pub async fn run(
    client: Client,
    cfg: SimConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<(), SimError> {
    let mut early = shutdown.clone();
    let sim = tokio::select! {
        sim = Simulator::register(client, cfg) => sim?,
        () = stopped_ref(&mut early) => return Ok(()),
    };
    sim.run(shutdown).await
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    stopped_ref(&mut rx).await
}

/// Resolves once the value is true or the sender is gone.
async fn stopped_ref(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
