"""Node agent benchmark (issue 5): pod startup latency and the agent's
footprint, on this machine, with real containerd.

1. `bosun server` + `bosun agent` (its own containerd) on fresh data dirs;
   the busybox image is imported at agent start, so no pull happens.
2. Idle: the agent's and its containerd's CPU (utime+stime over WINDOW s)
   and RSS.
3. PODS pods (`sleep 3600`) created back to back (or one every INTERVAL
   seconds); each pod's latency runs
   from just before its create request to the moment a watch sees it
   Running with its container ready (upstream's pod startup SLO: p99 <= 5 s,
   image present).
4. The same footprint figures with the PODS pods running.

Run through scripts/bench-agent.sh (release build, root).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from support import bosun_bin, start_bosun, stop_process, wait_for  # noqa: E402

PODS = int(os.environ.get("PODS", "100"))
# Seconds between creations (upstream's node density test uses 0, 100 ms
# and 300 ms); 0 creates the pods back to back.
INTERVAL = float(os.environ.get("INTERVAL", "0"))
WINDOW = float(os.environ.get("WINDOW", "30"))
# The OCI runtime containerd runs (`--runtime-binary`); empty means runc.
RUNTIME_BINARY = os.environ.get("RUNTIME_BINARY", "")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_cpu_seconds(pid: int) -> float:
    """CPU of the process's waited-for children (containerd: CNI plugins and iptables)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all cores)."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(f) - f[3] - f[4]) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def footprint(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    time.sleep(WINDOW)
    return {
        k: {"cpu_percent": 100 * (cpu_seconds(p) - before[k]) / WINDOW, "rss_mib": rss_mib(p)}
        for k, p in pids.items()
    }


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bosun-agent-bench.", dir="/var/tmp"))
    srv = start_bosun(work / "srv")
    api = srv.api
    data = work / "agent"
    (data / "images").mkdir(parents=True)
    subprocess.run([bosun_bin(), "images", "build-busybox", "--out", str(data / "images" / "busybox.tar")], check=True)
    node = "bench-agent"
    log = open(work / "agent.log", "ab")
    agent = subprocess.Popen(
        [bosun_bin(), "agent", "--kubeconfig", srv.kubeconfig, "--data-dir", str(data), "--node-name", node,
         "--eviction-hard", "memory.available<100Mi,nodefs.available<1%"]
        + (["--runtime-binary", RUNTIME_BINARY] if RUNTIME_BINARY else []),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    containerd_pid = None
    try:
        def ready() -> bool:
            assert agent.poll() is None, (work / "agent.log").read_text()[-4000:]
            try:
                n = api.ok("GET", f"/api/v1/nodes/{node}")
            except AssertionError:
                return False
            return any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))

        wait_for(ready, timeout=90, interval=0.5, desc="agent node Ready")
        pid_file = data / "containerd" / "containerd.pid"
        wait_for(pid_file.exists, timeout=30, desc="containerd pid file")
        containerd_pid = int(pid_file.read_text().strip())
        time.sleep(5)
        idle = footprint({"agent": agent.pid, "containerd": containerd_pid})

        created: dict[str, float] = {}
        running: dict[str, float] = {}
        done = threading.Event()

        def watch() -> None:
            params = {"watch": "true", "labelSelector": "bench=startup", "timeoutSeconds": "600"}
            with api.get("/api/v1/namespaces/default/pods", params=params, stream=True, timeout=(5, 620)) as resp:
                for line in resp.iter_lines():
                    if not line:
                        continue
                    obj = json.loads(line)["object"]
                    name = obj["metadata"]["name"]
                    st = obj.get("status", {})
                    ok = st.get("phase") == "Running" and all(c.get("ready") for c in st.get("containerStatuses", [{}]))
                    if ok and name not in running:
                        running[name] = time.monotonic()
                        if len(running) == PODS:
                            done.set()
                            return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        time.sleep(1)
        cpu0 = {"machine": machine_busy_seconds(), "agent": cpu_seconds(agent.pid), "server": cpu_seconds(srv.proc.pid),
                "containerd": cpu_seconds(containerd_pid), "containerd children": children_cpu_seconds(containerd_pid)}
        t0 = time.monotonic()
        for i in range(PODS):
            name = f"startup-{i:03d}"
            body = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": {"bench": "startup"}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": "busybox:bosun", "imagePullPolicy": "Never",
                                    "command": ["sleep", "3600"]}],
                },
            }
            if INTERVAL > 0:
                time.sleep(max(0.0, t0 + i * INTERVAL - time.monotonic()))
            created[name] = time.monotonic()
            api.ok("POST", "/api/v1/namespaces/default/pods", body)
        create_s = time.monotonic() - t0
        if not done.wait(timeout=300):
            raise SystemExit(f"only {len(running)} of {PODS} pods reached Running")
        all_s = time.monotonic() - t0
        cpu1 = {"machine": machine_busy_seconds(), "agent": cpu_seconds(agent.pid), "server": cpu_seconds(srv.proc.pid),
                "containerd": cpu_seconds(containerd_pid), "containerd children": children_cpu_seconds(containerd_pid)}
        lat = [running[n] - created[n] for n in created]
        busy = footprint({"agent": agent.pid, "containerd": containerd_pid})

        print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        how = f"one every {INTERVAL * 1000:.0f} ms" if INTERVAL > 0 else "back to back"
        print(f"{PODS} pods created {how} in {create_s:.2f} s; all Running and ready after {all_s:.2f} s")
        spent = {k: cpu1[k] - cpu0[k] for k in cpu0}
        spent["rest (shims, runc, kernel, ...)"] = spent["machine"] - sum(v for k, v in spent.items() if k != "machine")
        print(f"CPU while starting ({all_s:.1f} s x {os.cpu_count()} cores = {all_s * (os.cpu_count() or 1):.1f} s): "
              + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items()))
        print(f"startup latency (create -> Running+ready): p50 {percentile(lat, 0.5):.3f} s, "
              f"p90 {percentile(lat, 0.9):.3f} s, p99 {percentile(lat, 0.99):.3f} s, max {max(lat):.3f} s")
        for label, fp in (("idle", idle), (f"{PODS} pods running", busy)):
            print(f"{label}: agent {fp['agent']['cpu_percent']:.1f}% CPU, {fp['agent']['rss_mib']:.0f} MiB RSS; "
                  f"containerd {fp['containerd']['cpu_percent']:.1f}% CPU, {fp['containerd']['rss_mib']:.0f} MiB RSS "
                  f"({WINDOW:.0f} s windows)")
    finally:
        srv.kubectl("delete", "pods", "--all", "--wait=false", check=False)
        try:
            wait_for(lambda: not api.ok("GET", "/api/v1/pods")["items"], timeout=300, interval=0.5, desc="pods gone")
        except AssertionError:
            pass
        sock = str(data / "containerd" / "containerd.sock")
        # Whatever still runs is killed through containerd before it stops:
        # killing only the shims would leave the containers (and their pod
        # IPs on cni0) behind.
        ctr = ["ctr", "--address", sock, "-n", "k8s.io"]
        tasks = subprocess.run([*ctr, "tasks", "ls", "-q"], capture_output=True, text=True, check=False).stdout.split()
        for task in tasks:
            subprocess.run([*ctr, "tasks", "kill", "-s", "SIGKILL", task], capture_output=True, check=False)
        stop_process(agent)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if "containerd-shim" in cmd and sock in cmd:
                    try:
                        os.kill(int(entry.name), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        stop_process(srv.proc)


if __name__ == "__main__":
    main()
