"""Shared pieces of the agent e2e modules: one server (scheduler and
controllers on) and one `bosun agent` with its own containerd under a
temporary data dir, importing a busybox image built by `bosun images
build-busybox`. Needs root, containerd, runc, the CNI plugins and
busybox-static (scripts/deps.sh installs them); modules using it skip with
the reason otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from support import Server, bosun_bin, free_port, start_bosun, stop_process, wait_for

NEEDED = ["containerd", "ctr", "runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback", "/bin/busybox"]
IMAGE = "busybox:bosun"
# Parallel runs on one host need their own bridge and pod range (a /24).
CNI_BRIDGE = os.environ.get("BOSUN_E2E_CNI_BRIDGE", "cni0")
POD_CIDR = os.environ.get("BOSUN_E2E_POD_CIDR", "10.244.0.0/24")


def missing() -> list[str]:
    out = []
    for tool in NEEDED:
        if tool.startswith("/"):
            if not Path(tool).exists():
                out.append(tool)
        elif shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            out.append(tool)
    return out


skip_unless_agent_can_run = pytest.mark.skipif(
    os.geteuid() != 0 or bool(missing()),
    reason=f"the agent needs root and containerd; missing: {missing()} (root: {os.geteuid() == 0})",
)


class Agent:
    def __init__(self, server: Server, node: str, data_dir: Path, proc, log: Path):
        self.server = server
        # The agent's HTTPS port (kubelet's --port); free, as other
        # agents may run on this host.
        self.port = free_port()
        self.node = node
        self.data_dir = data_dir
        self.proc = proc
        self.log = log

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    @property
    def runtime_log(self) -> Path:
        """Every invocation of the OCI runtime, one line each (see
        runtime_wrapper)."""
        return self.data_dir.parent / "oci-runtime.log"

    def runtime_wrapper(self) -> Path:
        """A `--runtime-binary` that logs its arguments, then runs runc: the
        tests see that containerd executes the binary the agent names."""
        wrapper = self.data_dir.parent / "oci-runtime"
        if not wrapper.exists():
            runc = shutil.which("runc") or "/usr/sbin/runc"
            wrapper.write_text(f'#!/bin/sh\necho "$*" >> {self.runtime_log}\nexec {runc} "$@"\n')
            wrapper.chmod(0o755)
        return wrapper

    def start(self) -> None:
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info,kube=warn")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [bosun_bin(), "agent", "--kubeconfig", self.server.kubeconfig, "--data-dir", str(self.data_dir), "--node-name", self.node,
                 "--cni-bridge", CNI_BRIDGE, "--pod-cidr", POD_CIDR, "--port", str(self.port),
                 # CI disks may be nearly full: DiskPressure (and the taint it
                 # brings) would stop scheduling.
                 "--eviction-hard", "memory.available<100Mi,nodefs.available<1%",
                 "--runtime-binary", str(self.runtime_wrapper())],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )

    @property
    def socket(self) -> Path:
        return self.data_dir / "containerd" / "containerd.sock"

    def ctr(self, *args: str) -> str:
        return subprocess.run(
            ["ctr", "--address", str(self.socket), "-n", "k8s.io", *args],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout


def shim_pids(socket: Path) -> list[int]:
    """containerd-shim processes that belong to this containerd."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "containerd-shim" in cmd and str(socket) in cmd:
            pids.append(int(entry.name))
    return pids


@contextlib.contextmanager
def agent_cluster(base: Path) -> Iterator[Agent]:
    """A server and an agent for a test module; everything is stopped and
    cleaned up on exit."""
    # Resource metrics every 2 s, so `kubectl top` answers within seconds.
    srv = start_bosun(base / "srv", extra=["--metric-resolution", "2s"])
    node = f"e2e-agent-{uuid.uuid4().hex[:6]}"
    data_dir = base / "data"
    (data_dir / "images").mkdir(parents=True)
    subprocess.run([bosun_bin(), "images", "build-busybox", "--out", str(data_dir / "images" / "busybox.tar")], check=True, capture_output=True)
    log = base / "agent.log"
    a = Agent(srv, node, data_dir, None, log)
    a.start()
    proc = a.proc
    try:
        def registered() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"bosun agent exited with {proc.returncode}:\n{a.output()}")
            return f"node {node} registered" in a.output()

        wait_for(registered, timeout=60, interval=0.2, desc="the agent to register its node")
        yield a
    finally:
        # Pods first (the agent stops their containers), then the agent,
        # which stops its containerd; shims left over are killed last.
        srv.kubectl("delete", "pods", "--all", "-A", "--wait=false", check=False)
        try:
            wait_for(lambda: not srv.api.ok("GET", "/api/v1/pods")["items"], timeout=40, interval=0.5, desc="pods gone")
        except AssertionError:
            pass
        proc = a.proc
        stop_process(proc)
        for pid in shim_pids(a.socket):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stop_process(srv.proc)
    assert proc.returncode == 0, f"bosun agent exited with {proc.returncode}:\n{a.output()}"
    # containerd went down with the agent.
    pid_file = data_dir / "containerd" / "containerd.pid"
    assert not pid_file.exists(), a.output()


def pod_json(srv: Server, ns: str, name: str) -> dict:
    return srv.api.ok("GET", f"/api/v1/namespaces/{ns}/pods/{name}")


def condition(pod: dict, ty: str) -> str:
    for c in pod.get("status", {}).get("conditions", []):
        if c["type"] == ty:
            return c["status"]
    return ""

