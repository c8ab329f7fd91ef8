//! `bosun controller-manager` and the controllers inside `bosun server`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bosun_apiserver::handler::Handler;
use bosun_controllers::podgc::PodGcOptions;
use bosun_controllers::{parse_duration, ControllerSet, ManagerOptions, NodeLifecycleOptions};
use bosun_leaderelection::LeaderElectionConfig;

use crate::leader_cmd::run_led;
use crate::scheduler_cmd::{client_from, shutdown_signal, spawn_component};

#[derive(clap::Args)]
pub struct ControllerManagerArgs {
    /// Kubeconfig of the API server to control (default: $KUBECONFIG, then
    /// ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    flags: ControllerFlags,
    #[command(flatten)]
    leader: crate::leader_cmd::LeaderElectionFlags,
    /// Name of the leader election Lease.
    #[arg(long, default_value = "kube-controller-manager")]
    leader_elect_resource_name: String,
}

/// kube-controller-manager's flags, shared by `bosun server` and `bosun
/// controller-manager`.
#[derive(clap::Args, Clone)]
pub struct ControllerFlags {
    /// Controllers to run, as kube-controller-manager's flag: `*` is all,
    /// `name` enables one, `-name` disables one.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    /// How long a node may stay silent (no Lease renewal, no status)
    /// before its conditions become Unknown.
    #[arg(long, default_value = "50s", value_parser = parse_duration)]
    node_monitor_grace_period: Duration,
    /// How often node health is checked.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    node_monitor_period: Duration,
    /// Grace for a node that never posted status.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    node_startup_grace_period: Duration,
    /// Nodes per second tainted for eviction in a healthy zone.
    #[arg(long, default_value_t = 0.1)]
    node_eviction_rate: f64,
    /// Nodes per second tainted for eviction in a partly disrupted zone.
    #[arg(long, default_value_t = 0.01)]
    secondary_node_eviction_rate: f64,
    /// Zones up to this many nodes get no evictions when partly disrupted.
    #[arg(long, default_value_t = 50)]
    large_cluster_size_threshold: usize,
    /// Fraction of not-ready nodes that makes a zone partly disrupted.
    #[arg(long, default_value_t = 0.55)]
    unhealthy_zone_threshold: f64,
    /// Terminated pods kept before the pod garbage collector deletes the
    /// oldest (0 keeps them all).
    #[arg(long, default_value_t = bosun_controllers::podgc::DEFAULT_TERMINATED_THRESHOLD)]
    terminated_pod_gc_threshold: usize,
    /// How often the pod garbage collector runs (20 s as upstream; for
    /// tests).
    #[arg(long, default_value = "20s", value_parser = parse_duration, hide = true)]
    pod_gc_period: Duration,
    /// How long a node must be missing before its pods are collected (40 s
    /// as upstream; for tests).
    #[arg(long, default_value = "40s", value_parser = parse_duration, hide = true)]
    pod_gc_quarantine: Duration,
    /// The cluster CA bundle published as ConfigMap `kube-root-ca.crt` in
    /// every namespace (default: `bosun server` its own CA, `bosun
    /// controller-manager` the CA its kubeconfig trusts).
    #[arg(long)]
    root_ca_file: Option<PathBuf>,
}

impl ControllerFlags {
    pub fn set(&self) -> anyhow::Result<ControllerSet> {
        Ok(ControllerSet::parse(&self.controllers)?)
    }

    pub fn options(&self) -> anyhow::Result<ManagerOptions> {
        let root_ca = match &self.root_ca_file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read --root-ca-file {}: {e}", path.display())
            })?),
            None => None,
        };
        Ok(ManagerOptions {
            node_lifecycle: NodeLifecycleOptions {
                monitor_period: self.node_monitor_period,
                grace_period: self.node_monitor_grace_period,
                startup_grace_period: self.node_startup_grace_period,
                eviction_rate: self.node_eviction_rate,
                secondary_eviction_rate: self.secondary_node_eviction_rate,
                large_cluster_threshold: self.large_cluster_size_threshold,
                unhealthy_zone_threshold: self.unhealthy_zone_threshold,
            },
            pod_gc: PodGcOptions {
                terminated_threshold: self.terminated_pod_gc_threshold,
                period: self.pod_gc_period,
                quarantine: self.pod_gc_quarantine,
            },
            root_ca,
        })
    }
}

/// Runs the controllers in this process (see [`spawn_component`]).
pub fn spawn_in_process(
    handler: Arc<Handler>,
    set: ControllerSet,
    options: ManagerOptions,
    election: Option<LeaderElectionConfig>,
) -> anyhow::Result<()> {
    spawn_component(
        "controllers",
        "kube-controller-manager",
        handler,
        move |client| {
            let lead_client = client.clone();
            run_led(
                client,
                election,
                move |stop| {
                    bosun_controllers::run(lead_client.clone(), set.clone(), options.clone(), stop)
                },
                std::future::pending(),
            )
        },
    )
}

/// The CA bundle the kubeconfig trusts, as PEM (the root-ca-cert-publisher's
/// default when `--root-ca-file` is not given).
async fn kubeconfig_root_ca(kubeconfig: Option<&std::path::Path>) -> Option<String> {
    use base64::Engine;
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).ok()?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .ok()?
        }
        None => kube::Config::infer().await.ok()?,
    };
    let mut pem = String::new();
    for der in config.root_cert? {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    Some(pem).filter(|p| !p.is_empty())
}

pub async fn run(args: ControllerManagerArgs) -> anyhow::Result<()> {
    let set = args.flags.set()?;
    let mut options = args.flags.options()?;
    if options.root_ca.is_none() {
        options.root_ca = kubeconfig_root_ca(args.kubeconfig.as_deref()).await;
    }
    let client = client_from(args.kubeconfig.as_deref(), "kube-controller-manager").await?;
    let election = crate::leader_cmd::standalone(
        &args.leader,
        &args.leader_elect_resource_name,
        "controller-manager",
        "kube-controller-manager",
    );
    let lead_client = client.clone();
    run_led(
        client,
        election,
        move |stop| bosun_controllers::run(lead_client.clone(), set.clone(), options.clone(), stop),
        shutdown_signal(),
    )
    .await
}
