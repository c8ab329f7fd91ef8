//! The agent's main loop (kubelet's Run/syncLoop): starts (or connects
//! to) containerd, imports images, registers the node, then feeds pod
//! updates from the API and PLEG events to the pod workers.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::Client;
use tokio::sync::{mpsc, watch};

use crate::config::AgentConfig;
use crate::containerd::{self, ContainerdLayout, Supervisor};
use crate::cri::remote::{socket_path, RemoteRuntime};
use crate::cri::Runtime;
use crate::error::AgentError;
use crate::kuberuntime::config::pod_uid;
use crate::kuberuntime::manager::RuntimeManager;
use crate::node;
use crate::node::machine::MachineInfo;
use crate::pod_workers::{PodWorkers, WorkerContext};
use crate::server::AgentServer;
use crate::status::manager::{KubePodApi, StatusManager};
use crate::{cni, images, pleg};

/// Runs the agent until `stop` turns true.
pub async fn run(
    cfg: AgentConfig,
    client: Client,
    stop: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let mut cfg = cfg;
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| AgentError::Io {
        what: "create data dir",
        path: cfg.data_dir.clone(),
        source,
    })?;
    // Bound first: the Node reports the port actually bound.
    let server = AgentServer::bind(&cfg).await?;
    cfg.port = server.local_addr.port();
    let cfg = Arc::new(cfg);
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| AgentError::Io {
        what: "create data dir",
        path: cfg.data_dir.clone(),
        source,
    })?;
    let mut supervisor_task = None;
    // containerd stops after the agent has finished removing pods it was
    // removing (see the end of this function), not at once with `stop`.
    let (containerd_stop_tx, containerd_stop) = watch::channel(false);
    let endpoint = match &cfg.runtime_endpoint {
        Some(e) => e.clone(),
        None => {
            let layout = ContainerdLayout::new(&cfg.data_dir);
            containerd::prepare(&layout, images::PAUSE_IMAGE, cfg.runtime_binary.as_deref())?;
            cni::write(
                &layout.cni_conf_dir(),
                &layout.ipam_dir(),
                &cfg.cni_bridge,
                &cfg.pod_cidr,
            )?;
            if let Err(e) = cni::ensure_masquerade("iptables", &cfg.pod_cidr).await {
                tracing::warn!(error = %e, "pods cannot reach beyond this machine");
            }
            let sup = Supervisor {
                layout: layout.clone(),
                binary: cfg.containerd_bin.clone(),
            };
            supervisor_task = Some(tokio::spawn(sup.start(containerd_stop).await?));
            layout.endpoint()
        }
    };
    let runtime: Arc<dyn Runtime> = Arc::new(RemoteRuntime::connect(&endpoint)?);
    let runtime_version = containerd::wait_ready(&*runtime, Duration::from_secs(30)).await?;
    tracing::info!(%endpoint, %runtime_version, "container runtime ready");
    let server_task = tokio::spawn(server.serve(cfg.clone(), runtime.clone(), stop.clone()));

    let socket = socket_path(&endpoint)?;
    images::import_at_start(
        &cfg.ctr_bin,
        &socket,
        &cfg.data_dir,
        &cfg.images_dir(),
        &cfg.busybox,
    )
    .await?;

    let machine = MachineInfo::gather(&cfg.data_dir);
    let host_ip = cfg
        .node_ip
        .or(machine.internal_ip)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let health = node::health(&*runtime, &cfg).await;
    let node_uid = node::register(&client, &cfg, &machine, &runtime_version, &health).await?;
    node::renew_lease(&client, &cfg, &node_uid).await?;
    eprintln!(
        "bosun agent: node {} registered ({runtime_version})",
        cfg.node_name
    );
    let heartbeat = tokio::spawn(node::heartbeat(
        client.clone(),
        cfg.clone(),
        runtime.clone(),
        node_uid,
        health,
    ));

    let mut manager = RuntimeManager::new(
        runtime.clone(),
        cfg.clone(),
        host_ip,
        Arc::new(crate::kuberuntime::env::KubeConfigSource(client.clone())),
        Arc::new(crate::volume::host::KubeVolumeHost {
            client: client.clone(),
            node_name: cfg.node_name.clone(),
        }),
    )
    .with_events(Arc::new(crate::events::KubeRecorder::new(
        client.clone(),
        cfg.node_name.clone(),
    )));
    manager.pod_cgroups = pod_cgroups(&cfg, &machine);
    let mut probe_updates = manager
        .take_probe_updates()
        .ok_or_else(|| AgentError::Config("probe updates already taken".into()))?;
    let ctx = Arc::new(WorkerContext {
        manager,
        status: StatusManager::new(Arc::new(KubePodApi(client.clone()))),
    });
    let mut workers = PodWorkers::new(ctx);
    let (pleg_tx, mut pleg_rx) = mpsc::channel(16);
    let pleg_task = tokio::spawn(pleg::run(runtime.clone(), cfg.relist_period, pleg_tx));

    let pods: Api<Pod> = Api::all(client.clone());
    let watch_cfg = watcher::Config::default().fields(&format!("spec.nodeName={}", cfg.node_name));
    let mut events = watcher::watcher(pods, watch_cfg).boxed();
    // uids seen in the current (re)list; orphans are judged only after one.
    let mut listing: Option<std::collections::HashSet<String>> = None;
    let mut synced = false;
    let mut stop = stop;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            ev = events.next() => match ev {
                Some(Ok(Event::Apply(pod))) | Some(Ok(Event::InitApply(pod))) => {
                    if let Some(l) = listing.as_mut() {
                        l.insert(pod_uid(&pod).to_string());
                    }
                    workers.update_pod(Arc::new(pod));
                }
                Some(Ok(Event::Delete(pod))) => workers.remove_pod(pod_uid(&pod)),
                Some(Ok(Event::Init)) => listing = Some(Default::default()),
                Some(Ok(Event::InitDone)) => {
                    if let Some(seen) = listing.take() {
                        // Pods deleted while the watch was down.
                        let known: Vec<String> = workers_uids(&workers, &seen);
                        for uid in known {
                            workers.remove_pod(&uid);
                        }
                    }
                    synced = true;
                }
                Some(Err(e)) => tracing::warn!(error = %e, "pod watch failed; retrying"),
                None => break,
            },
            Some(uid) = probe_updates.recv() => workers.wake(&uid),
            Some(relist) = pleg_rx.recv() => {
                for uid in &relist.changed {
                    workers.wake(uid);
                }
                if synced {
                    for uid in relist.present {
                        if !workers.knows(&uid) {
                            workers.kill_orphan(uid);
                        }
                    }
                }
            }
        }
    }
    heartbeat.abort();
    pleg_task.abort();
    server_task.abort();
    // Pods already gone from the API whose sandboxes are being removed
    // would otherwise keep their network namespaces (and pod IPs) when
    // containerd stops under them; running pods keep running.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_CLEANUP_WAIT;
    while workers.cleaning() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = containerd_stop_tx.send(true);
    if let Some(task) = supervisor_task {
        let _ = task.await;
    }
    Ok(())
}

/// How long a stopping agent waits for pod removals in flight.
const SHUTDOWN_CLEANUP_WAIT: Duration = Duration::from_secs(15);

/// Pod-level cgroups below `/kubepods`, bounded by allocatable memory;
/// `None` (with a warning) without cgroup v1.
fn pod_cgroups(cfg: &AgentConfig, machine: &MachineInfo) -> Option<crate::cm::PodCgroups> {
    let Some(cgroups) = crate::cm::PodCgroups::detect(std::path::Path::new("/sys/fs/cgroup"))
    else {
        tracing::warn!("no cgroup v1 hierarchy: pods get no pod-level cgroups");
        return None;
    };
    let allocatable = machine
        .memory_bytes
        .saturating_sub(cfg.reserved_memory_bytes);
    match cgroups.ensure_node(Some(allocatable)) {
        Ok(()) => Some(cgroups),
        Err(e) => {
            tracing::warn!(error = %e, "cannot set up /kubepods: pods get no pod-level cgroups");
            None
        }
    }
}

/// Workers whose pod was not in the latest list (deleted meanwhile).
fn workers_uids(workers: &PodWorkers, seen: &std::collections::HashSet<String>) -> Vec<String> {
    workers
        .uids()
        .filter(|u| !seen.contains(*u))
        .cloned()
        .collect()
}
