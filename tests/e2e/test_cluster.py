"""The README's run command: `scripts/cluster.sh` brings up a single-machine
cluster (`bosun server --agent`: control plane + this machine as a Node
running real containers), like `k3s server`.

BOSUN_BIN makes the script skip installing and building. Needs root and
containerd (scripts/deps.sh); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import requests

from agent_support import skip_unless_agent_can_run
from support import bosun_bin, free_port, run_kubectl, stop_process, wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = skip_unless_agent_can_run


def test_cluster_script_runs_server_and_agent(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    log = tmp_path / "cluster.log"
    env = dict(os.environ, BOSUN_BIN=bosun_bin(), RUST_LOG="info,kube=warn")
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "cluster.sh"), "--data-dir", str(data_dir), "--bind", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    kubeconfig = str(data_dir / "admin.kubeconfig")

    def output() -> str:
        return log.read_text(errors="replace")[-6000:]

    def kubectl(*args: str, check: bool = True):
        return run_kubectl(kubeconfig, *args, check=check)

    try:
        def node_ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"cluster.sh exited with {proc.returncode}:\n{output()}")
            if not Path(kubeconfig).exists():
                return False
            r = kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}", check=False)
            return r.rc == 0 and r.stdout.strip() == "True"

        wait_for(node_ready, timeout=90, interval=0.5, desc="the built-in agent's node to be Ready")
        # The node is this machine, named after it as kubelet names it.
        name = kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").stdout.strip()
        assert name == os.uname().nodename.lower()

        # The busybox image the script placed in the agent's images/ dir
        # was imported at start: a Deployment runs from it.
        kubectl("create", "deployment", "hello", "--image=busybox:bosun", "--replicas=2", "--",
                "sh", "-c", "mkdir -p /www && echo hello-bosun > /www/index.html && exec httpd -f -p 8080 -h /www")
        kubectl("rollout", "status", "deployment/hello", "--timeout=90s")
        ips = kubectl("get", "pods", "-l", "app=hello", "-o", "jsonpath={.items[*].status.podIP}").stdout.split()
        assert len(ips) == 2, ips
        for ip in ips:
            assert requests.get(f"http://{ip}:8080/", timeout=5).text.strip() == "hello-bosun"

    finally:
        # Pods first, as an operator would (containers outlive the agent).
        if proc.poll() is None and Path(kubeconfig).exists():
            kubectl("delete", "deployment", "hello", "--ignore-not-found", check=False)
            wait_for(lambda: not kubectl("get", "pods", "-o", "name", check=False).stdout.strip(), timeout=60,
                     interval=0.5, desc="the Deployment's pods to be gone")
        stop_process(proc, signal.SIGTERM)
    assert proc.returncode == 0, output()
    # The agent stopped its containerd when the server stopped.
    assert not (data_dir / "agent" / "containerd" / "containerd.pid").exists(), output()
