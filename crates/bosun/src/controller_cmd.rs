//! `bosun controller-manager` and the controllers inside `bosun server`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bosun_apiserver::handler::Handler;
use bosun_controllers::ControllerSet;

use crate::scheduler_cmd::{client_from, in_process_client, shutdown_signal};

#[derive(clap::Args)]
pub struct ControllerManagerArgs {
    /// Kubeconfig of the API server to control (default: $KUBECONFIG, then
    /// ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Controllers to run, as kube-controller-manager's flag: `*` is all,
    /// `name` enables one, `-name` disables one.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
}

pub fn parse_set(items: &[String]) -> anyhow::Result<ControllerSet> {
    Ok(ControllerSet::parse(items)?)
}

/// Runs the controllers on a thread and runtime of their own, calling the
/// API server's handlers in this process.
pub fn spawn_in_process(handler: Arc<Handler>, set: ControllerSet) -> anyhow::Result<()> {
    let api = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("controllers".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(err) => {
                    tracing::error!(%err, "cannot start the controllers' runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                let client = in_process_client(handler, api);
                if let Err(err) = bosun_controllers::run(client, set, std::future::pending()).await
                {
                    tracing::error!(%err, "controllers stopped");
                }
            });
        })
        .context("cannot start the controllers' thread")?;
    Ok(())
}

pub async fn run(args: ControllerManagerArgs) -> anyhow::Result<()> {
    let set = parse_set(&args.controllers)?;
    let client = client_from(args.kubeconfig.as_deref()).await?;
    eprintln!("bosun controller-manager: running");
    bosun_controllers::run(client, set, shutdown_signal()).await?;
    Ok(())
}
