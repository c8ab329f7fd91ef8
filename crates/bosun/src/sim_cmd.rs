//! `bosun sim`: simulated (kwok-style) nodes against any API server.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use bosun_sim::{config, SimConfig, Simulator};
use kube::config::{KubeConfigOptions, Kubeconfig};

#[derive(clap::Args)]
pub struct SimArgs {
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Node names are this prefix followed by 0, 1, 2, ...
    #[arg(long, default_value = "sim-node-")]
    name_prefix: String,
    /// CPU capacity of each node.
    #[arg(long, default_value = "32")]
    node_cpu: String,
    /// Memory capacity of each node.
    #[arg(long, default_value = "256Gi")]
    node_memory: String,
    /// Pod capacity of each node.
    #[arg(long, default_value = "110")]
    node_pods: String,
    /// Ephemeral storage capacity of each node.
    #[arg(long, default_value = "1Ti")]
    node_ephemeral_storage: String,
    /// Extra node labels: k=v,k2=v2.
    #[arg(long, default_value = "")]
    labels: String,
    /// Node taints: key=value:Effect,key:Effect.
    #[arg(long, default_value = "")]
    taints: String,
    /// Spread the nodes over this many zones (topology.kubernetes.io/zone=zone-{i % Z}).
    #[arg(long)]
    zones: Option<u32>,
    /// Extra capacity: nvidia.com/gpu=8,example.com/foo=2.
    #[arg(long, default_value = "")]
    extended_resources: String,
    /// How often each node renews its Lease (kubelet: 10s).
    #[arg(long, default_value = "10s", value_parser = bosun_controllers::parse_duration)]
    lease_interval: std::time::Duration,
    /// How often each node posts its Ready condition when nothing changed
    /// (kubelet's nodeStatusReportFrequency: 5m; the Lease carries health).
    #[arg(long, default_value = "5m", value_parser = bosun_controllers::parse_duration)]
    status_interval: std::time::Duration,
}

impl SimArgs {
    fn config(&self) -> anyhow::Result<SimConfig> {
        let cfg = SimConfig {
            nodes: self.nodes,
            name_prefix: self.name_prefix.clone(),
            cpu: self.node_cpu.clone(),
            memory: self.node_memory.clone(),
            pods: self.node_pods.clone(),
            ephemeral_storage: self.node_ephemeral_storage.clone(),
            extended_resources: config::parse_extended_resources(&self.extended_resources)?,
            labels: config::parse_labels(&self.labels)?,
            taints: config::parse_taints(&self.taints)?,
            zones: self.zones,
            lease_interval: self.lease_interval,
            status_interval: self.status_interval,
            ..SimConfig::default()
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

pub async fn client(path: Option<&PathBuf>) -> anyhow::Result<kube::Client> {
    let config = config(path).await?;
    // Simulated kubelets write as kubelets do.
    crate::client::http2(config, "kubelet")
}

/// The client configuration from a kubeconfig (default: $KUBECONFIG, then
/// ~/.kube/config).
pub async fn config(path: Option<&PathBuf>) -> anyhow::Result<kube::Config> {
    let kubeconfig = match path {
        Some(p) => Kubeconfig::read_from(p)
            .with_context(|| format!("cannot read kubeconfig {}", p.display()))?,
        None => Kubeconfig::read()
            .context("cannot read the kubeconfig (set --kubeconfig or KUBECONFIG)")?,
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("invalid kubeconfig")
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let cfg = args.config()?;
    let client = client(args.kubeconfig.as_ref()).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signals = shutdown_signal();
    tokio::pin!(signals);
    let started = Instant::now();
    let sim = tokio::select! {
        sim = Simulator::register(client, cfg) => sim.context("cannot register the nodes")?,
        r = &mut signals => return r,
    };
    println!(
        "bosun sim: {} nodes registered in {:.1}s",
        sim.node_count(),
        started.elapsed().as_secs_f64()
    );
    let running = sim.run(stop_rx);
    tokio::pin!(running);
    tokio::select! {
        r = &mut running => return r.context("simulator stopped"),
        r = &mut signals => r?,
    }
    let _ = stop_tx.send(true);
    running.await.context("simulator stopped")?;
    tracing::info!("bosun sim: stopped");
    Ok(())
}
