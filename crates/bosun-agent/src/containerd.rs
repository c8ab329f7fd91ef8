//! The agent's own containerd: configuration, root, state and socket under
//! `<data-dir>/containerd`, so it never disturbs a system containerd; the
//! agent starts it, restarts it when it exits, and stops it on shutdown.
//! Running containers survive a containerd restart (their shims keep them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::error::AgentError;

/// The longest socket path containerd accepts (it refuses to start on a
/// longer one: "unix socket path too long (> 104)").
const MAX_SOCKET_PATH: usize = 104;
/// Where sockets go when the data dir's path is too long for them.
const SHORT_SOCKET_ROOT: &str = "/run/bosun-agent";

/// Where the agent's containerd keeps everything.
#[derive(Debug, Clone)]
pub struct ContainerdLayout {
    pub dir: PathBuf,
    /// The directory of containerd's gRPC and ttrpc sockets: `dir`, unless
    /// that path is too long for a Unix socket; then a directory under
    /// /run named by a hash of `dir` (the same for every process that
    /// computes the layout of one data dir).
    pub socket_dir: PathBuf,
}

impl ContainerdLayout {
    pub fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join("containerd");
        let longest = dir.join("containerd.sock.ttrpc");
        let socket_dir = if longest.as_os_str().len() <= MAX_SOCKET_PATH {
            dir.clone()
        } else {
            Path::new(SHORT_SOCKET_ROOT).join(format!("{:016x}", fnv1a(dir.as_os_str())))
        };
        ContainerdLayout { dir, socket_dir }
    }
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    pub fn socket(&self) -> PathBuf {
        self.socket_dir.join("containerd.sock")
    }
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("containerd.log")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("containerd.pid")
    }
    /// The CNI configuration directory containerd's CRI plugin reads.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("net.d")
    }
    /// host-local IPAM's allocation records.
    pub fn ipam_dir(&self) -> PathBuf {
        self.dir.join("ipam")
    }
}

/// FNV-1a: a hash that is the same in every build (std's is not promised to be).
fn fnv1a(s: &std::ffi::OsStr) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where the CNI plugin binaries live (Debian's containernetworking-plugins).
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";

/// containerd's configuration (version 2) for this machine: CRI with
/// `restrict_oom_score_adj` (without it no sandbox starts where the agent
/// lacks CAP_SYS_RESOURCE), overlayfs, runc v2 with cgroupfs, CNI from
/// `conf_dir`, and the given sandbox (pause) image.
/// containerd's configuration; `runtime_binary` is the OCI runtime its runc
/// shim executes (containerd's `BinaryName`; `runc` from the PATH if unset).
pub fn config_toml(
    layout: &ContainerdLayout,
    sandbox_image: &str,
    runtime_binary: Option<&str>,
) -> String {
    let d = layout.dir.display();
    let binary_name = runtime_binary
        // A JSON string is a valid TOML basic string (same escapes).
        .map(|b| format!("\n        BinaryName = {}", serde_json::Value::from(b)))
        .unwrap_or_default();
    let socket = layout.socket();
    let socket = socket.display();
    format!(
        r#"# Written by bosun agent at every start; edits are overwritten.
version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{d}/runc"{binary_name}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{d}/net.d"
    max_conf_num = 1
"#
    )
}

/// Writes the configuration and creates the directories.
pub fn prepare(
    layout: &ContainerdLayout,
    sandbox_image: &str,
    runtime_binary: Option<&str>,
) -> Result<(), AgentError> {
    for dir in [
        layout.dir.clone(),
        layout.socket_dir.clone(),
        layout.cni_conf_dir(),
        layout.ipam_dir(),
    ] {
        std::fs::create_dir_all(&dir).map_err(|source| AgentError::Io {
            what: "create directory",
            path: dir.clone(),
            source,
        })?;
    }
    let path = layout.config();
    let text = config_toml(layout, sandbox_image, runtime_binary);
    std::fs::write(&path, text).map_err(|source| AgentError::Io {
        what: "write containerd config",
        path,
        source,
    })
}

/// A containerd left running by an earlier agent (killed without a chance
/// to stop it) holds the metadata database lock: stop it first. Only a
/// process whose command line names our config is touched.
async fn stop_leftover(layout: &ContainerdLayout) {
    let Ok(text) = std::fs::read_to_string(layout.pid_file()) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains(&*layout.config().to_string_lossy()))
        .unwrap_or(false);
    let Some(pid) = rustix::process::Pid::from_raw(pid).filter(|_| ours) else {
        return;
    };
    tracing::info!(
        pid = pid.as_raw_nonzero().get(),
        "stopping the containerd an earlier agent left running"
    );
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{}", pid.as_raw_nonzero())).exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
}

fn spawn(layout: &ContainerdLayout, binary: &str) -> Result<Child, AgentError> {
    let log_path = layout.log();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| AgentError::Io {
            what: "open containerd log",
            path: log_path.clone(),
            source,
        })?;
    let err = log.try_clone().map_err(|source| AgentError::Io {
        what: "open containerd log",
        path: log_path,
        source,
    })?;
    let child = Command::new(binary)
        .arg("--config")
        .arg(layout.config())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        // Its own process group: a Ctrl-C meant for the agent does not
        // reach containerd; the agent stops it in order.
        .process_group(0)
        .spawn()
        .map_err(|source| AgentError::Spawn {
            what: binary.to_string(),
            source,
        })?;
    if let Some(pid) = child.id() {
        let _ = std::fs::write(layout.pid_file(), pid.to_string());
    }
    Ok(child)
}

async fn stop_child(child: &mut Child) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

/// Supervises containerd until `stop` turns true: starts it, restarts it
/// (after 1 s, doubling to 30 s while it keeps dying fast) whenever it
/// exits, and stops it with SIGTERM at the end.
pub struct Supervisor {
    pub layout: ContainerdLayout,
    pub binary: String,
}

impl Supervisor {
    /// Starts containerd once (so the caller learns at once if it cannot
    /// be run at all) and returns the supervising future.
    pub async fn start(
        self,
        mut stop: watch::Receiver<bool>,
    ) -> Result<impl std::future::Future<Output = ()>, AgentError> {
        stop_leftover(&self.layout).await;
        let first = spawn(&self.layout, &self.binary)?;
        Ok(async move {
            let mut child = first;
            let mut delay = Duration::from_secs(1);
            loop {
                let started = tokio::time::Instant::now();
                let stopping = tokio::select! {
                    status = child.wait() => {
                        tracing::warn!(?status, log = %self.layout.log().display(), "containerd exited; restarting it");
                        false
                    }
                    // A dropped sender means the agent is gone: stop too.
                    _ = stop.wait_for(|s| *s) => true,
                };
                if stopping {
                    stop_child(&mut child).await;
                    let _ = std::fs::remove_file(self.layout.pid_file());
                    return;
                }
                if started.elapsed() > Duration::from_secs(60) {
                    delay = Duration::from_secs(1);
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                delay = (delay * 2).min(Duration::from_secs(30));
                match spawn(&self.layout, &self.binary) {
                    Ok(c) => child = c,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot restart containerd");
                        // Keep trying: wait on a process that is already gone.
                        loop {
                            tokio::select! {
                                _ = tokio::time::sleep(delay) => {}
                                _ = stop.wait_for(|s| *s) => return,
                            }
                            if let Ok(c) = spawn(&self.layout, &self.binary) {
                                child = c;
                                break;
                            }
                        }
                    }
                }
            }
        })
    }
}

/// Waits until the socket answers CRI `Version`.
pub async fn wait_ready(
    runtime: &dyn crate::cri::RuntimeService,
    timeout: Duration,
) -> Result<String, AgentError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match runtime.version().await {
            Ok(v) => return Ok(format!("{}://{}", v.runtime_name, v.runtime_version)),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(AgentError::RuntimeNotReady(e.to_string()))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_the_required_settings() {
        let layout = ContainerdLayout::new(Path::new("/var/lib/bosun-agent"));
        let text = config_toml(&layout, "bosun.local/pause:1", None);
        assert!(text.contains("restrict_oom_score_adj = true"));
        assert!(!text.contains("BinaryName"));
        assert!(text.contains("address = \"/var/lib/bosun-agent/containerd/containerd.sock\""));
        assert!(text.contains("sandbox_image = \"bosun.local/pause:1\""));
        assert!(text.contains("conf_dir = \"/var/lib/bosun-agent/containerd/net.d\""));
        assert!(text.contains("SystemdCgroup = false"));
        assert_eq!(
            layout.endpoint(),
            "unix:///var/lib/bosun-agent/containerd/containerd.sock"
        );
    }

    #[test]
    fn another_oci_runtime_is_named_for_the_runc_shim() {
        let layout = ContainerdLayout::new(Path::new("/d"));
        let text = config_toml(&layout, "p", Some("/usr/bin/crun"));
        assert!(text
            .contains("Root = \"/d/containerd/runc\"\n        BinaryName = \"/usr/bin/crun\"\n"));
        let odd = config_toml(&layout, "p", Some("/o\"d\\d"));
        assert!(odd.contains(r#"BinaryName = "/o\"d\\d""#), "{odd}");
    }

    #[test]
    fn sockets_of_a_deep_data_dir_go_under_run() {
        let deep = Path::new("/tmp").join("d".repeat(90));
        let layout = ContainerdLayout::new(&deep);
        let socket = layout.socket();
        assert!(socket.starts_with(SHORT_SOCKET_ROOT), "{socket:?}");
        assert!(socket.as_os_str().len() + ".ttrpc".len() <= MAX_SOCKET_PATH);
        // Every process computing the layout finds the same socket.
        assert_eq!(ContainerdLayout::new(&deep).socket(), socket);
        assert_ne!(ContainerdLayout::new(&deep.join("x")).socket(), socket);
        let text = config_toml(&layout, "p", None);
        assert!(text.contains(&format!("address = \"{}.ttrpc\"", socket.display())));
        // Everything else stays in the data dir.
        assert!(layout.config().starts_with(&deep));
    }
}
