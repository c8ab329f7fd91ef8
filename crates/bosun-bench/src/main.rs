//! `bosun-bench`: reproducible benchmarks for the Bosun API server (over
//! HTTPS/HTTP/2 with the admin kubeconfig, as a client would) and for its
//! storage backends on their own.
//!
//! - `api`: create/update/get/list/watch throughput and latency with many
//!   concurrent clients, and a sustained durable-write phase;
//! - `list`: create many bound pods, then time full cluster-wide LISTs and
//!   the server's memory per 100k pods;
//! - `watch`: write-to-delivery delay across many concurrent watchers;
//! - `store`: `bosun_store` backends directly.

mod api;
mod client;
mod cpu;
mod kubeconfig;
mod list;
mod objects;
mod progress;
mod report;
mod rss;
mod scheduling;
mod setup;
mod stats;
mod store;
mod watch;
mod watchers;

/// mimalloc: the API path allocates many small, short-lived JSON nodes; glibc
/// malloc spent a quarter of the server's CPU on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::client::Client;
use crate::kubeconfig::Target;
use crate::report::Report;

#[derive(Parser)]
#[command(
    name = "bosun-bench",
    version,
    about = "Benchmarks for the Bosun API server and stores"
)]
struct Cli {
    /// Print the results as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Also write the results as JSON to this file.
    #[arg(long, global = true)]
    json_out: Option<PathBuf>,
    /// A label for the report header (e.g. the server's store).
    #[arg(long, global = true, default_value = "")]
    label: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Per-operation throughput and latency with concurrent clients.
    Api(ApiCmd),
    /// Mass pod creation, full LIST timing and memory per 100k pods.
    List(ListCmd),
    /// Delivery delay across many concurrent watchers.
    Watch(WatchCmd),
    /// The storage backends without a server.
    Store(StoreCmd),
    /// Pods created through the API until the cluster's scheduler has
    /// bound them all (scheduler_perf's SchedulingBasic).
    Scheduler(SchedulerCmd),
    /// The default scheduling profile alone, over an in-memory cache.
    SchedulerAlgorithm(AlgorithmCmd),
    /// Watches pods that something else creates (a Deployment scale-up)
    /// and reports when the last was created, bound and Running.
    PodProgress(PodProgressCmd),
}

#[derive(Args)]
struct PodProgressCmd {
    #[command(flatten)]
    conn: Connection,
    /// Namespace of the pods.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Label selector of the pods (e.g. app=scale).
    #[arg(long)]
    selector: String,
    /// How many pods to wait for.
    #[arg(long)]
    pods: usize,
    /// Give up after this long.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    timeout: Duration,
    /// Also print how many pods were created, bound and Running in each
    /// second.
    #[arg(long)]
    timeline: bool,
}

#[derive(Args)]
struct SchedulerCmd {
    #[command(flatten)]
    conn: Connection,
    /// Pods to create (unbound; the cluster's scheduler binds them).
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Nodes that must be registered before the clock starts.
    #[arg(long, default_value_t = 5_000)]
    nodes: usize,
    /// Concurrent create requests.
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Other processes whose memory to report, as NAME=PID (e.g.
    /// scheduler=1234, simulator=1235).
    #[arg(long = "memory-of", value_parser = parse_named_pid)]
    memory_of: Vec<(String, u32)>,
    /// Give up after this long.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    timeout: Duration,
    /// Also print how many pods were created, bound and Running in each
    /// second.
    #[arg(long)]
    timeline: bool,
}

#[derive(Args)]
struct AlgorithmCmd {
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    #[arg(long, default_value_t = 5_000)]
    nodes: usize,
}

fn parse_named_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=PID"))?;
    let pid = pid
        .parse()
        .map_err(|_| format!("{pid:?} is not a process id"))?;
    Ok((name.to_string(), pid))
}

#[derive(Args)]
struct Connection {
    /// Kubeconfig of the server to measure (its current context).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// HTTP/2 connections to spread requests over. One by default, as a
    /// client-go process shares one connection among all its goroutines.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// The API server's process id, to report its CPU use (and, for
    /// `list`, its memory).
    #[arg(long)]
    server_pid: Option<u32>,
    /// etcd's process id, likewise.
    #[arg(long)]
    etcd_pid: Option<u32>,
}

impl Connection {
    fn meter(&self) -> cpu::Meter {
        cpu::Meter::new(self.server_pid, self.etcd_pid)
    }
}

#[derive(Args)]
struct ApiCmd {
    #[command(flatten)]
    conn: Connection,
    /// Concurrent clients (each issues requests back to back).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Length of each phase (e.g. 20s, 1m, 500ms).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Objects in the namespace the list phase lists.
    #[arg(long, default_value_t = 100)]
    list_objects: usize,
    /// Writers during the watch phase (the watchers number --clients).
    #[arg(long, default_value_t = 10)]
    watch_writers: usize,
    /// Phases to run, in their fixed order (update and get need create).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "create,update,get,list,watch,sustained"
    )]
    phases: Vec<api::Phase>,
}

#[derive(Args)]
struct ListCmd {
    #[command(flatten)]
    conn: Connection,
    /// Pods to create before listing.
    #[arg(long, default_value_t = 150_000)]
    pods: usize,
    /// Namespaces the pods are spread over.
    #[arg(long, default_value_t = 100)]
    namespaces: usize,
    /// Fake node names the pods are bound to.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Concurrent create requests.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// How many times to LIST all pods.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

#[derive(Args)]
struct WatchCmd {
    #[command(flatten)]
    conn: Connection,
    /// Concurrent watches (at most 100 per connection are opened).
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Pods created, one at a time, once every watch is open.
    #[arg(long, default_value_t = 100)]
    writes: usize,
    /// Pause between writes.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    interval: Duration,
}

#[derive(Args)]
struct StoreCmd {
    #[arg(long, value_enum)]
    backend: store::Backend,
    /// Concurrent tasks.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Operations per phase (create, update, get, delete).
    #[arg(long, default_value_t = 20_000)]
    ops: usize,
    /// Where the redb file goes (a fresh subdirectory, removed afterwards).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    dir: PathBuf,
    /// etcd client URLs, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    etcd_endpoints: Vec<String>,
    /// Bytes per stored value (a pod body, padded).
    #[arg(long, default_value_t = 1500)]
    value_size: usize,
    /// Name keys in no order, as controllers name pods, instead of
    /// counting up.
    #[arg(long)]
    random_names: bool,
}

/// Parses `20s`, `1m`, `500ms`, `1.5s` or a plain number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 20s or 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

async fn connect(conn: &Connection, at_least: usize) -> anyhow::Result<(Arc<Client>, Target)> {
    let target = Target::load(&conn.kubeconfig)?;
    let client = Client::connect(&target, conn.connections.max(at_least))
        .await
        .with_context(|| format!("cannot reach {}", target.server))?;
    Ok((Arc::new(client), target))
}

fn header(server: &str, label: &str) -> String {
    if label.is_empty() {
        server.to_string()
    } else {
        format!("{server} ({label})")
    }
}

async fn run(cli: &Cli) -> anyhow::Result<Report> {
    match &cli.command {
        Command::Api(cmd) => {
            let (client, target) = connect(&cmd.conn, 1).await?;
            let mut report = Report::new("api", header(&target.server, &cli.label));
            let args = api::ApiArgs {
                clients: cmd.clients,
                duration: cmd.duration,
                list_objects: cmd.list_objects,
                watch_writers: cmd.watch_writers,
                phases: cmd.phases.clone(),
                meter: cmd.conn.meter(),
            };
            api::run(client, &target, &args, &mut report).await?;
            Ok(report)
        }
        Command::List(cmd) => {
            let (client, target) = connect(&cmd.conn, 1).await?;
            let mut report = Report::new("list", header(&target.server, &cli.label));
            let args = list::ListArgs {
                pods: cmd.pods,
                namespaces: cmd.namespaces,
                nodes: cmd.nodes,
                concurrency: cmd.concurrency,
                repeat: cmd.repeat,
                server_pid: cmd.conn.server_pid,
                etcd_pid: cmd.conn.etcd_pid,
            };
            list::run(client, &args, &mut report).await?;
            Ok(report)
        }
        Command::Watch(cmd) => {
            // The server allows 200 streams per connection; keep 100 each.
            let (client, target) = connect(&cmd.conn, cmd.watchers.div_ceil(100)).await?;
            let mut report = Report::new("watch", header(&target.server, &cli.label));
            let args = watch::WatchArgs {
                watchers: cmd.watchers,
                writes: cmd.writes,
                interval: cmd.interval,
                meter: cmd.conn.meter(),
            };
            watch::run(client, &args, &mut report).await?;
            Ok(report)
        }
        Command::Scheduler(cmd) => {
            let (client, target) = connect(&cmd.conn, 1).await?;
            let mut report = Report::new("scheduler", header(&target.server, &cli.label));
            let mut memory_of = cmd.memory_of.clone();
            if let Some(pid) = cmd.conn.server_pid {
                memory_of.insert(0, ("server".to_string(), pid));
            }
            let args = scheduling::SchedulingArgs {
                pods: cmd.pods,
                nodes: cmd.nodes,
                concurrency: cmd.concurrency,
                meter: cmd.conn.meter(),
                memory_of,
                timeout: cmd.timeout,
                timeline: cmd.timeline,
            };
            scheduling::run_through_api(client, &args, &mut report).await?;
            Ok(report)
        }
        Command::PodProgress(cmd) => {
            let (client, target) = connect(&cmd.conn, 1).await?;
            let mut report = Report::new("pod-progress", header(&target.server, &cli.label));
            let args = progress::PodProgressArgs {
                namespace: cmd.namespace.clone(),
                selector: cmd.selector.clone(),
                want: cmd.pods,
                timeout: cmd.timeout,
                timeline: cmd.timeline,
            };
            progress::run_pod_progress(client, &args, &cmd.conn.meter(), &mut report).await?;
            Ok(report)
        }
        Command::SchedulerAlgorithm(cmd) => {
            let mut report = Report::new("scheduler-algorithm", header("no server", &cli.label));
            let args = scheduling::SchedulingArgs {
                pods: cmd.pods,
                nodes: cmd.nodes,
                concurrency: 1,
                meter: cpu::Meter::new(None, None),
                memory_of: Vec::new(),
                timeout: Duration::from_secs(600),
                timeline: false,
            };
            scheduling::run_algorithm(&args, &mut report)?;
            Ok(report)
        }
        Command::Store(cmd) => {
            let mut report = Report::new("store", header("no server", &cli.label));
            let args = store::StoreArgs {
                backend: cmd.backend,
                clients: cmd.clients,
                ops: cmd.ops,
                dir: cmd.dir.clone(),
                etcd_endpoints: cmd.etcd_endpoints.clone(),
                value_size: cmd.value_size,
                random_names: cmd.random_names,
            };
            store::run(&args, &mut report).await?;
            Ok(report)
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(run(&cli))?;
    let json = report.to_json();
    if let Some(path) = &cli.json_out {
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("20s", Duration::from_secs(20)),
            ("20", Duration::from_secs(20)),
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in ["", "s", "10x", "-1s", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cli_parses_the_documented_commands() {
        let cli = Cli::try_parse_from([
            "bosun-bench",
            "api",
            "--kubeconfig",
            "k",
            "--clients",
            "100",
            "--duration",
            "20s",
            "--json",
        ])
        .unwrap();
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Api(ApiCmd { clients: 100, .. })
        ));
        let cli = Cli::try_parse_from([
            "bosun-bench",
            "list",
            "--kubeconfig",
            "k",
            "--pods",
            "150000",
            "--server-pid",
            "42",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::List(ListCmd {
                pods: 150_000,
                conn: Connection {
                    server_pid: Some(42),
                    ..
                },
                ..
            })
        ));
        let cli = Cli::try_parse_from([
            "bosun-bench",
            "watch",
            "--kubeconfig",
            "k",
            "--watchers",
            "1000",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Watch(WatchCmd { watchers: 1000, .. })
        ));
        let cli = Cli::try_parse_from([
            "bosun-bench",
            "store",
            "--backend",
            "etcd",
            "--clients",
            "100",
            "--ops",
            "5",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Store(StoreCmd {
                backend: store::Backend::Etcd,
                ops: 5,
                ..
            })
        ));
    }

    #[test]
    fn headers() {
        assert_eq!(header("https://h:1", ""), "https://h:1");
        assert_eq!(header("https://h:1", "etcd"), "https://h:1 (etcd)");
    }
}
