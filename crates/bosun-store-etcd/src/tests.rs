//! Runs the conformance suite against a real etcd started for the test.
//!
//! The `etcd` binary comes from Debian's `etcd-server` package; set
//! `BOSUN_ETCD_BIN` to use another. When it is missing the test fails (it is
//! not skipped): `.ci/run` installs it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::EtcdStore;

struct EtcdProcess {
    child: Child,
    _dir: tempfile::TempDir,
    endpoint: String,
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_etcd() -> EtcdProcess {
    let bin = std::env::var("BOSUN_ETCD_BIN").unwrap_or_else(|_| "etcd".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let client_port = free_port();
    let peer_port = free_port();
    let endpoint = format!("http://127.0.0.1:{client_port}");
    let child = Command::new(&bin)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen-client-urls", &endpoint])
        .args(["--advertise-client-urls", &endpoint])
        .args([
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer_port}"),
        ])
        .args([
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer_port}"),
        ])
        .args([
            "--initial-cluster",
            &format!("default=http://127.0.0.1:{peer_port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin} (apt-get install etcd-server): {e}"));
    EtcdProcess {
        child,
        _dir: dir,
        endpoint,
    }
}

#[tokio::test]
async fn etcd_store_passes_conformance() {
    let etcd = start_etcd();
    let mut store = None;
    for _ in 0..100 {
        if let Ok(s) = EtcdStore::connect(std::slice::from_ref(&etcd.endpoint)).await {
            if s.current_revision().await.is_ok() {
                store = Some(s);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let store = store.expect("etcd did not come up within 10s");
    use bosun_store::Store;
    // etcd starts at revision 1 with no keys; the suite only relies on
    // relative revisions.
    bosun_store::conformance::run_all(&store).await;
}
