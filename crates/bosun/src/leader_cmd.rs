//! Leader election flags (kube-scheduler's and kube-controller-manager's
//! `--leader-elect*`) and running a component under them.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::Duration;

use bosun_controllers::parse_duration;
use bosun_leaderelection::{LeaderElectionConfig, LeaderElector, Stop};

#[derive(clap::Args, Clone)]
pub struct LeaderElectionFlags {
    /// Compete for a Lease before running, so that only one instance
    /// works at a time (`--leader-elect=false` to run unconditionally).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: bool,
    /// How long a Lease that is not renewed stays taken.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_elect_lease_duration: Duration,
    /// How long the leader tries to renew before it stops leading.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_elect_renew_deadline: Duration,
    /// Time between attempts to acquire or renew the Lease.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_elect_retry_period: Duration,
    /// Namespace of the Lease.
    #[arg(long, default_value = "kube-system")]
    leader_elect_resource_namespace: String,
}

impl LeaderElectionFlags {
    /// The election settings for the Lease `name`, or `None` when leader
    /// election is off.
    pub fn config(
        &self,
        name: &str,
        identity: String,
        component: &str,
    ) -> Option<LeaderElectionConfig> {
        self.leader_elect.then(|| LeaderElectionConfig {
            namespace: self.leader_elect_resource_namespace.clone(),
            lease_duration: self.leader_elect_lease_duration,
            renew_deadline: self.leader_elect_renew_deadline,
            retry_period: self.leader_elect_retry_period,
            ..LeaderElectionConfig::new(name, identity, component)
        })
    }
}

/// The election settings of a standalone component (`bosun scheduler`,
/// `bosun controller-manager`) under a fresh identity, announced on
/// stderr.
pub fn standalone(
    flags: &LeaderElectionFlags,
    lease: &str,
    who: &str,
    component: &str,
) -> Option<LeaderElectionConfig> {
    let identity = bosun_leaderelection::default_identity();
    let election = flags.config(lease, identity.clone(), component);
    match &election {
        Some(e) => eprintln!(
            "bosun {who}: running as {identity} (leader election on Lease {}/{})",
            e.namespace, e.name
        ),
        None => eprintln!("bosun {who}: running"),
    }
    election
}

/// The identity of a component inside `bosun server`: stable across
/// restarts of the same server (host, data directory, address), so a
/// restarted server takes its Leases back at once instead of waiting for
/// its previous incarnation's to expire.
pub fn server_identity(data_dir: &Path, bind: &str) -> String {
    let host = bosun_leaderelection::hostname();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(data_dir)
        .unwrap_or_else(|_| data_dir.to_path_buf())
        .hash(&mut h);
    bind.hash(&mut h);
    format!("{host}_{:016x}", h.finish())
}

/// Runs `lead` under leader election when `election` is set (restarting
/// it whenever leadership comes back), or once with `shutdown` otherwise.
pub async fn run_led<F, Fut, E>(
    client: kube::Client,
    election: Option<LeaderElectionConfig>,
    mut lead: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    F: FnMut(Stop) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    match election {
        Some(config) => {
            LeaderElector::new(client, config)?
                .run(lead, shutdown)
                .await?;
        }
        None => lead(Box::pin(shutdown))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    }
    Ok(())
}
