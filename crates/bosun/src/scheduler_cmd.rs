//! `bosun scheduler` and the scheduler inside `bosun server`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bosun_apiserver::handler::Handler;
use bosun_scheduler::KubeSchedulerConfiguration;

#[derive(clap::Args)]
pub struct SchedulerArgs {
    /// Kubeconfig of the API server to schedule for (default: $KUBECONFIG,
    /// then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// A KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1).
    #[arg(long)]
    config: Option<PathBuf>,
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
pub async fn client_from(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
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
    kube::Client::try_from(config).context("cannot build an API client")
}

/// A client that calls the API server's handlers in this process: same
/// requests and answers as over HTTPS, without TLS or sockets.
pub fn in_process_client(handler: Arc<Handler>) -> kube::Client {
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let handler = handler.clone();
        async move {
            let req = req.map(axum::body::Body::new);
            Ok::<_, Infallible>(handler.handle(req).await)
        }
    });
    kube::Client::new(service, "default")
}

pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let client = client_from(args.kubeconfig.as_deref()).await?;
    eprintln!("bosun scheduler: running");
    bosun_scheduler::run(client, config, shutdown_signal()).await?;
    Ok(())
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
