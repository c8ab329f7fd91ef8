//! `bosun scheduler` and the scheduler inside `bosun server`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bosun_apiserver::handler::{Handler, OmitManagedFields};
use bosun_leaderelection::LeaderElectionConfig;
use bosun_scheduler::KubeSchedulerConfiguration;

use crate::leader_cmd::run_led;

#[derive(clap::Args)]
pub struct SchedulerArgs {
    /// Kubeconfig of the API server to schedule for (default: $KUBECONFIG,
    /// then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// A KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    leader: crate::leader_cmd::LeaderElectionFlags,
    /// Name of the leader election Lease.
    #[arg(long, default_value = "kube-scheduler")]
    leader_elect_resource_name: String,
}

/// Reads a KubeSchedulerConfiguration, or the defaults when none is given.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<KubeSchedulerConfiguration> {
    let Some(path) = path else {
        return Ok(KubeSchedulerConfiguration::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = KubeSchedulerConfiguration::from_yaml(&text)
        .with_context(|| format!("invalid scheduler configuration {}", path.display()))?;
    // Refuse a bad profile before serving anything.
    config.frameworks()?;
    Ok(config)
}

/// A kube client from a kubeconfig file, or inferred from the environment.
pub async fn client_from(
    kubeconfig: Option<&Path>,
    component: &str,
) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .context("invalid kubeconfig")?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig: pass --kubeconfig or set KUBECONFIG")?,
    };
    crate::client::http2(config, component)
}

/// A client that calls the API server's handlers in this process: same
/// requests and answers as over HTTPS, without TLS or sockets, except that
/// objects come without `metadata.managedFields` (see
/// [`OmitManagedFields`]: the in-process scheduler and controllers never
/// read them). Requests run on `api` (the server's runtime), whichever
/// runtime the client is used from. Requests carry `component`'s
/// [`user_agent`](crate::client::user_agent), as over HTTPS.
pub fn in_process_client(
    handler: Arc<Handler>,
    api: tokio::runtime::Handle,
    component: &str,
) -> kube::Client {
    let agent = crate::client::user_agent(component);
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let handler = handler.clone();
        let api = api.clone();
        let agent = agent.clone();
        async move {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(OmitManagedFields);
            req.headers_mut()
                .entry(http::header::USER_AGENT)
                .or_insert(agent);
            api.spawn(async move { handler.handle(req).await })
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
        }
    });
    kube::Client::new(service, "default")
}

/// Runs `component` on a thread of its own with a single-threaded
/// runtime, given a client to this process's API handlers: its CPU work
/// (scheduling cycles, controller syncs, decoding watch events) must
/// neither wait behind nor hold up the server's request tasks. API calls
/// still run on the server's runtime.
pub fn spawn_component<F, Fut, E>(
    name: &str,
    user_agent: &'static str,
    handler: Arc<Handler>,
    component: F,
) -> anyhow::Result<()>
where
    F: FnOnce(kube::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let api = tokio::runtime::Handle::current();
    let label = name.to_string();
    std::thread::Builder::new()
        .name(label.clone())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(err) => {
                    tracing::error!(%err, component = %label, "cannot start the runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                let client = in_process_client(handler, api, user_agent);
                if let Err(err) = component(client).await {
                    tracing::error!(%err, component = %label, "stopped");
                }
            });
        })
        .with_context(|| format!("cannot start the {name} thread"))?;
    Ok(())
}

/// Runs the scheduler in this process (see [`spawn_component`]).
pub fn spawn_in_process(
    handler: Arc<Handler>,
    config: KubeSchedulerConfiguration,
    election: Option<LeaderElectionConfig>,
) -> anyhow::Result<()> {
    spawn_component("scheduler", "kube-scheduler", handler, move |client| {
        let lead_client = client.clone();
        run_led(
            client,
            election,
            move |stop| bosun_scheduler::run(lead_client.clone(), config.clone(), stop),
            std::future::pending(),
        )
    })
}

pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let client = client_from(args.kubeconfig.as_deref(), "kube-scheduler").await?;
    let election = crate::leader_cmd::standalone(
        &args.leader,
        &args.leader_elect_resource_name,
        "scheduler",
        "default-scheduler",
    );
    let lead_client = client.clone();
    run_led(
        client,
        election,
        move |stop| bosun_scheduler::run(lead_client.clone(), config.clone(), stop),
        shutdown_signal(),
    )
    .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{StreamExt, TryStreamExt};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};

    async fn server() -> (tempfile::TempDir, bosun_apiserver::ApiServer) {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = bosun_apiserver::ServerConfig {
            data_dir: dir.path().to_path_buf(),
            bind: "127.0.0.1:0".parse().expect("address"),
            advertise: "127.0.0.1".into(),
            extra_sans: Vec::new(),
            metric_resolution: std::time::Duration::from_secs(60),
        };
        let store = Arc::new(bosun_store::MemStore::new());
        let server = bosun_apiserver::ApiServer::start(config, store)
            .await
            .expect("server starts");
        (dir, server)
    }

    /// The same handlers without the in-process marker, as a request over
    /// HTTPS reaches them.
    fn plain_client(handler: Arc<Handler>) -> kube::Client {
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let handler = handler.clone();
            async move {
                Ok::<_, std::convert::Infallible>(
                    handler.handle(req.map(axum::body::Body::new)).await,
                )
            }
        });
        kube::Client::new(service, "default")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_process_clients_get_objects_without_managed_fields() {
        let (_dir, server) = server().await;
        let in_process: Api<ConfigMap> = Api::namespaced(
            in_process_client(
                server.handler.clone(),
                tokio::runtime::Handle::current(),
                "kube-scheduler",
            ),
            "default",
        );
        let plain: Api<ConfigMap> =
            Api::namespaced(plain_client(server.handler.clone()), "default");
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("c".into());
        cm.data = Some([("k".to_string(), "v".to_string())].into());
        let pp = PostParams {
            field_manager: Some("test".into()),
            ..Default::default()
        };

        // The write's answer, a get, a list and a watch event: no managed
        // fields for the in-process client, everything else intact.
        let created = in_process.create(&pp, &cm).await.expect("create");
        assert_eq!(created.metadata.managed_fields, None);
        assert_eq!(created.data, cm.data);
        let got = in_process.get("c").await.expect("get");
        assert_eq!(got.metadata.managed_fields, None);
        assert!(got.metadata.uid.is_some() && got.metadata.resource_version.is_some());
        let listed = in_process.list(&ListParams::default()).await.expect("list");
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].metadata.managed_fields, None);
        let mut events = in_process
            .watch(&WatchParams::default(), "0")
            .await
            .expect("watch")
            .boxed();
        match events.try_next().await.expect("event") {
            Some(WatchEvent::Added(o)) => {
                assert_eq!(o.metadata.managed_fields, None);
                assert_eq!(o.data, cm.data);
            }
            other => panic!("expected ADDED, got {other:?}"),
        }

        // Other clients still see them, and writing the stripped object
        // back keeps them.
        let full = plain.get("c").await.expect("get");
        let managers = |o: &ConfigMap| {
            o.metadata
                .managed_fields
                .iter()
                .flatten()
                .filter_map(|e| e.manager.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(managers(&full), ["test"]);
        let mut changed = got.clone();
        changed.data = Some([("k".to_string(), "w".to_string())].into());
        in_process
            .replace("c", &pp, &changed)
            .await
            .expect("replace");
        let after = plain.get("c").await.expect("get");
        assert_eq!(managers(&after), ["test"]);
        assert_eq!(after.data, changed.data);
    }
}
