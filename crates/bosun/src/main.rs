//! The `bosun` binary: every Bosun component behind one command.

/// mimalloc: the API path allocates many small, short-lived JSON nodes; glibc
/// malloc spent a quarter of the server's CPU on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bosun_apiserver::{ApiServer, ServerConfig};
use bosun_store::Store;
use clap::{Parser, Subcommand, ValueEnum};

mod agent_cmd;
mod client;
mod controller_cmd;
mod leader_cmd;
mod scheduler_cmd;
mod sim_cmd;

#[derive(Parser)]
#[command(
    name = "bosun",
    version,
    about = "A Kubernetes-compatible container orchestrator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the control plane: the Kubernetes API server on a store.
    Server(ServerArgs),
    /// Runs the scheduler alone against any API server.
    Scheduler(scheduler_cmd::SchedulerArgs),
    /// Runs the workload controllers alone against any API server.
    ControllerManager(controller_cmd::ControllerManagerArgs),
    /// Registers simulated nodes that run bound pods without containers.
    Sim(sim_cmd::SimArgs),
    /// Runs the node agent: registers this machine as a Node and runs the
    /// pods bound to it through containerd.
    Agent(agent_cmd::AgentArgs),
    /// Builds and imports container image tarballs.
    Images(agent_cmd::ImagesArgs),
}

impl Command {
    /// Whether this process may start containerd, whose children (the
    /// containers) inherit process-wide settings such as the THP flag.
    fn starts_containers(&self) -> bool {
        match self {
            Command::Server(args) => args.agent,
            Command::Agent(_) | Command::Images(_) => true,
            Command::Scheduler(_) | Command::ControllerManager(_) | Command::Sim(_) => false,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreKind {
    /// The embedded durable store in the data directory (default).
    Embedded,
    /// An etcd v3 cluster (`--etcd-endpoints`).
    Etcd,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where certificates, kubeconfigs and the embedded store live.
    #[arg(long, default_value = "/var/lib/bosun", env = "BOSUN_DATA_DIR")]
    data_dir: PathBuf,
    /// Address of the HTTPS listener.
    #[arg(long, default_value = "127.0.0.1:6443")]
    bind: SocketAddr,
    /// Address clients should use (written into kubeconfigs); defaults to
    /// the bound address.
    #[arg(long, default_value = "")]
    advertise_address: String,
    /// Extra subject alternative names for the serving certificate.
    #[arg(long = "tls-san")]
    tls_sans: Vec<String>,
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// Comma-separated etcd client URLs, for `--store etcd`.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    etcd_endpoints: Vec<String>,
    /// Don't run the scheduler in this process (run `bosun scheduler`
    /// elsewhere, or another scheduler).
    #[arg(long)]
    disable_scheduler: bool,
    /// A KubeSchedulerConfiguration file for the built-in scheduler.
    #[arg(long)]
    scheduler_config: Option<PathBuf>,
    /// Don't run the controllers in this process (run `bosun
    /// controller-manager` elsewhere).
    #[arg(long)]
    disable_controllers: bool,
    #[command(flatten)]
    controller_flags: controller_cmd::ControllerFlags,
    /// Leader election of the built-in scheduler and controllers (Leases
    /// `kube-scheduler` and `kube-controller-manager`), for several servers
    /// sharing one etcd.
    #[command(flatten)]
    leader: leader_cmd::LeaderElectionFlags,
    /// How often node agents' resource metrics are read for `kubectl top`
    /// (metrics-server's flag).
    #[arg(long, default_value = "15s", value_parser = bosun_controllers::parse_duration)]
    metric_resolution: std::time::Duration,
    /// Also run the node agent in this process (like `k3s server`): this
    /// machine joins as a Node and runs pods through its own containerd,
    /// with state under `<data-dir>/agent`. Needs root and containerd.
    #[arg(long)]
    agent: bool,
    /// The Node name of `--agent` (default: the host name).
    #[arg(long, requires = "agent")]
    node_name: Option<String>,
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data dir {}", args.data_dir.display()))?;
    let store: Arc<dyn Store> = match args.store {
        StoreKind::Embedded => {
            let path = args.data_dir.join("bosun.redb");
            Arc::new(
                bosun_store_redb::RedbStore::open(&path)
                    .context("cannot open the embedded store")?,
            )
        }
        StoreKind::Etcd => Arc::new(
            bosun_store_etcd::EtcdStore::connect(&args.etcd_endpoints)
                .await
                .context("cannot connect to etcd")?,
        ),
    };
    let scheduler_config = if args.disable_scheduler {
        None
    } else {
        Some(scheduler_cmd::load_config(
            args.scheduler_config.as_deref(),
        )?)
    };
    let controllers = if args.disable_controllers {
        None
    } else {
        Some(args.controller_flags.set()?)
    };
    let config = ServerConfig {
        data_dir: args.data_dir.clone(),
        bind: args.bind,
        advertise: args.advertise_address,
        extra_sans: args.tls_sans,
        metric_resolution: args.metric_resolution,
    };
    let server = ApiServer::start(config, store)
        .await
        .context("API server failed to start")?;
    let identity = leader_cmd::server_identity(&args.data_dir, &args.bind.to_string());
    if let Some(config) = scheduler_config {
        let election = args
            .leader
            .config("kube-scheduler", identity.clone(), "default-scheduler");
        scheduler_cmd::spawn_in_process(server.handler.clone(), config, election)?;
    }
    if let Some(set) = controllers.filter(|s| !s.is_empty()) {
        let election = args.leader.config(
            "kube-controller-manager",
            identity,
            "kube-controller-manager",
        );
        let mut options = args.controller_flags.options()?;
        if options.root_ca.is_none() {
            options.root_ca =
                std::fs::read_to_string(args.data_dir.join("pki").join("ca.crt")).ok();
        }
        controller_cmd::spawn_in_process(server.handler.clone(), set, options, election)?;
    }
    tracing::info!(
        address = %server.local_addr,
        kubeconfig = %args.data_dir.join("admin.kubeconfig").display(),
        "bosun API server ready"
    );
    eprintln!(
        "bosun: serving on https://{}; export KUBECONFIG={}",
        server.local_addr,
        args.data_dir.join("admin.kubeconfig").display()
    );
    if !args.agent {
        server.serve().await;
        return Ok(());
    }
    // The agent talks to this server as any agent would (HTTPS, the admin
    // kubeconfig), so everything it does goes through the API.
    let agent_args = agent_cmd::AgentArgs::in_server(&args.data_dir, args.node_name);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The API server keeps serving while the agent stops.
    let _serving = tokio::spawn(server.serve());
    let agent = agent_cmd::run_until(agent_args, stop_rx);
    tokio::pin!(agent);
    tokio::select! {
        r = &mut agent => return r,
        r = sim_cmd::shutdown_signal() => r?,
    }
    // Containers keep running, as when kubelet stops.
    tracing::info!("bosun server: stopping the agent (pods keep running)");
    let _ = stop_tx.send(true);
    agent.await
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if !cli.command.starts_containers() {
        // mimalloc asks for transparent huge pages on its arenas; the
        // control plane's heap grows fast and this machine spends more
        // zeroing fresh 2 MiB pages than it saves in TLB misses (the
        // scheduler benchmark runs ~12 % faster without them; see
        // docs/PERFORMANCE.md). The flag is inherited across fork and exec,
        // so a process that starts containerd (and so every container)
        // keeps the system's setting.
        if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
            tracing::debug!("cannot turn off transparent huge pages: {e}");
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.command {
        Command::Server(args) => runtime.block_on(server(args)),
        Command::Scheduler(args) => runtime.block_on(scheduler_cmd::run(args)),
        Command::ControllerManager(args) => runtime.block_on(controller_cmd::run(args)),
        Command::Sim(args) => runtime.block_on(sim_cmd::run(args)),
        Command::Agent(args) => runtime.block_on(agent_cmd::run(args)),
        Command::Images(args) => runtime.block_on(agent_cmd::images(args)),
    }
}
