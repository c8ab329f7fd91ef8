//! `bosun agent` (the node agent) and `bosun images` (image tarballs).

use std::path::PathBuf;

use anyhow::Context;
use bosun_agent::cni::PodCidr;
use bosun_agent::AgentConfig;

#[derive(clap::Args)]
pub struct AgentArgs {
    /// Kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Where the agent and its containerd keep their state.
    #[arg(long, default_value = "/var/lib/bosun-agent")]
    data_dir: PathBuf,
    /// The Node's name (default: the host name).
    #[arg(long)]
    node_name: Option<String>,
    /// The node's pod range (IPv4).
    #[arg(long, default_value = "10.244.0.0/24")]
    pod_cidr: String,
    /// The Linux bridge pods attach to; two agents on one host (tests) need
    /// different bridges and pod ranges.
    #[arg(long, default_value = bosun_agent::cni::DEFAULT_BRIDGE)]
    cni_bridge: String,
    /// Use this CRI endpoint (unix:///path) instead of running our own
    /// containerd.
    #[arg(long)]
    container_runtime_endpoint: Option<String>,
    /// The OCI runtime binary our containerd runs containers with (runc
    /// unless set; crun is a faster drop-in). Ignored with
    /// --container-runtime-endpoint.
    #[arg(long)]
    runtime_binary: Option<String>,
    /// How many pod sandboxes start at once; a burst beyond it queues, so
    /// pods become ready in order instead of all at the end.
    #[arg(long, default_value_t = 4)]
    max_parallel_sandbox_starts: usize,
    /// The InternalIP to report (default: the address of the default route).
    #[arg(long)]
    node_ip: Option<std::net::Ipv4Addr>,
    /// Hard eviction thresholds that set MemoryPressure/DiskPressure
    /// (kubelet's flag; no eviction yet).
    #[arg(long, default_value = "memory.available<100Mi,nodefs.available<10%")]
    eviction_hard: String,
    /// The HTTPS port for logs, exec, attach and port-forward (kubelet's
    /// flag; 0 picks a free port). Callers need a client certificate from
    /// the kubeconfig's certificate authority.
    #[arg(long, default_value_t = bosun_agent::server::DEFAULT_PORT)]
    port: u16,
}

#[derive(clap::Subcommand)]
pub enum ImagesCommand {
    /// Writes a small busybox OCI image tarball (Debian's busybox-static).
    BuildBusybox {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Image reference.
        #[arg(long, default_value = "docker.io/library/busybox:bosun")]
        name: String,
    },
    /// Imports image tarballs into an agent's containerd (namespace k8s.io).
    Import {
        /// The agent's data dir (its containerd's socket is used).
        #[arg(long, default_value = "/var/lib/bosun-agent")]
        data_dir: PathBuf,
        /// Or a CRI endpoint unix:///path.
        #[arg(long)]
        container_runtime_endpoint: Option<String>,
        files: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct ImagesArgs {
    #[command(subcommand)]
    command: ImagesCommand,
}

pub async fn images(args: ImagesArgs) -> anyhow::Result<()> {
    match args.command {
        ImagesCommand::BuildBusybox { out, name } => {
            let data = bosun_agent::images::busybox_image(
                &name,
                std::path::Path::new(bosun_agent::images::BUSYBOX),
            )?;
            std::fs::write(&out, data)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{name} written to {}", out.display());
            Ok(())
        }
        ImagesCommand::Import {
            data_dir,
            container_runtime_endpoint,
            files,
        } => {
            let endpoint = container_runtime_endpoint.unwrap_or_else(|| {
                bosun_agent::containerd::ContainerdLayout::new(&data_dir).endpoint()
            });
            let socket = bosun_agent::cri::remote::socket_path(&endpoint)?;
            bosun_agent::images::import("ctr", &socket, &files).await?;
            Ok(())
        }
    }
}

pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agent = run_until(args, stop_rx);
    tokio::pin!(agent);
    tokio::select! {
        r = &mut agent => return r,
        r = crate::sim_cmd::shutdown_signal() => r?,
    }
    tracing::info!("bosun agent: stopping (pods keep running)");
    let _ = stop_tx.send(true);
    agent.await
}

impl AgentArgs {
    /// The agent `bosun server --agent` runs next to the control plane:
    /// defaults everywhere, its state under the server's data dir, the
    /// server's admin kubeconfig.
    pub fn in_server(server_data_dir: &std::path::Path, node_name: Option<String>) -> Self {
        use clap::FromArgMatches;
        let matches = <AgentArgs as clap::Args>::augment_args(clap::Command::new("agent"))
            .get_matches_from(["agent"]);
        let mut args =
            AgentArgs::from_arg_matches(&matches).expect("the agent's flags all have defaults");
        args.kubeconfig = Some(server_data_dir.join("admin.kubeconfig"));
        args.data_dir = server_data_dir.join("agent");
        args.node_name = node_name;
        args
    }
}

/// Runs the agent until `stop` turns true (pods keep running after it).
pub async fn run_until(
    args: AgentArgs,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let node_name = match args.node_name {
        Some(n) => n,
        // Node names are lower-case DNS names, as kubelet's from the host name.
        None => bosun_leaderelection::hostname().to_lowercase(),
    };
    let pod_cidr = PodCidr::parse(&args.pod_cidr)?;
    let mut cfg = AgentConfig::new(node_name, args.data_dir, pod_cidr);
    cfg.cni_bridge = args.cni_bridge;
    cfg.runtime_endpoint = args.container_runtime_endpoint;
    cfg.runtime_binary = args.runtime_binary;
    cfg.max_parallel_sandbox_starts = args.max_parallel_sandbox_starts;
    cfg.node_ip = args.node_ip;
    cfg.eviction_hard = bosun_agent::node::machine::Thresholds::parse(&args.eviction_hard)
        .map_err(|e| anyhow::anyhow!("--eviction-hard: {e}"))?;
    cfg.port = args.port;
    let config = crate::sim_cmd::config(args.kubeconfig.as_ref()).await?;
    cfg.client_ca = config.root_cert.clone().unwrap_or_default();
    let client = crate::client::http2(config, "kubelet")?;
    bosun_agent::agent::run(cfg, client, stop)
        .await
        .context("agent stopped")
}
