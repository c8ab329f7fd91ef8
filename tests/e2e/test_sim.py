"""`bosun sim`: simulated (kwok-style) nodes against the session server.

One simulator process (3 nodes, 2 zones, a taint, a label and an extended
resource, under a name prefix of its own) runs for the whole module; pods
are bound to its nodes by setting spec.nodeName, so no scheduler is needed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import time
from datetime import datetime
import uuid
from pathlib import Path

import pytest

from support import Server, bosun_bin, stop_process, wait_for

NODES = 3
TAINT = {"key": "sim.bosun.dev/simulated", "value": "true", "effect": "NoSchedule"}


class Sim:
    def __init__(self, server: Server, prefix: str, proc: subprocess.Popen, log: Path):
        self.server = server
        self.prefix = prefix
        self.proc = proc
        self.log = log
        self.names = [f"{prefix}{i}" for i in range(NODES)]

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-5000:]
        except OSError:
            return ""


@pytest.fixture(scope="module")
def sim(server: Server, tmp_path_factory):
    prefix = f"e2e-sim-{uuid.uuid4().hex[:6]}-"
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    args = [
        bosun_bin(), "sim",
        "--nodes", str(NODES),
        "--kubeconfig", server.kubeconfig,
        "--name-prefix", prefix,
        "--zones", "2",
        "--taints", f"{TAINT['key']}={TAINT['value']}:{TAINT['effect']}",
        "--labels", "e2e=sim,team=bosun",
        "--extended-resources", "example.com/widget=4",
    ]
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "info")
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    s = Sim(server, prefix, proc, log)
    try:
        def registered() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"bosun sim exited with {proc.returncode}:\n{s.output()}")
            return f"bosun sim: {NODES} nodes registered in" in s.output()

        wait_for(registered, timeout=30, interval=0.1, desc="bosun sim to register its nodes")
        yield s
    finally:
        stop_process(proc)
        for name in s.names:
            server.api.delete(f"/api/v1/nodes/{name}")
            server.api.delete(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}")
    assert proc.returncode == 0, f"bosun sim exited with {proc.returncode}:\n{s.output()}"
    # Nothing went wrong along the way (no failed or retried writes).
    assert not [line for line in s.output().splitlines() if "WARN" in line or "ERROR" in line], s.output()


def node_json(server: Server, name: str) -> dict:
    return server.api.ok("GET", f"/api/v1/nodes/{name}")


def condition(obj: dict, ty: str) -> dict:
    return next((c for c in obj["status"].get("conditions", []) if c["type"] == ty), {})


def test_nodes_are_registered_ready_with_labels_and_capacity(sim: Sim, server: Server):
    out = server.kubectl("get", "nodes", "-l", "e2e=sim", "-o", "json").stdout
    nodes = {n["metadata"]["name"]: n for n in json.loads(out)["items"] if n["metadata"]["name"].startswith(sim.prefix)}
    assert sorted(nodes) == sim.names
    for i, name in enumerate(sim.names):
        n = nodes[name]
        labels = n["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == name
        assert labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/arch"] == "amd64"
        assert labels["type"] == "kwok"
        assert labels["team"] == "bosun"
        assert labels["topology.kubernetes.io/zone"] == f"zone-{i % 2}"
        assert n["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"] == "0"
        assert n["spec"]["taints"] == [TAINT]
        assert n["spec"]["podCIDR"] == f"10.0.{i}.0/24"
        assert n["spec"]["podCIDRs"] == [f"10.0.{i}.0/24"]
        status = n["status"]
        for key in ("capacity", "allocatable"):
            assert status[key]["cpu"] == "32"
            assert status[key]["memory"] == "256Gi"
            assert status[key]["pods"] == "110"
            assert status[key]["ephemeral-storage"] == "1Ti"
            assert status[key]["example.com/widget"] == "4"
        ready = condition(n, "Ready")
        assert ready["status"] == "True"
        assert ready["reason"] == "KubeletReady"
        assert ready["message"] == "kubelet is posting ready status"
        for ty, reason in [
            ("MemoryPressure", "KubeletHasSufficientMemory"),
            ("DiskPressure", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "KubeletHasSufficientPID"),
        ]:
            assert condition(n, ty)["status"] == "False"
            assert condition(n, ty)["reason"] == reason
        addresses = {a["type"]: a["address"] for a in status["addresses"]}
        assert addresses["Hostname"] == name
        assert ipaddress.ip_address(addresses["InternalIP"]) in ipaddress.ip_network("172.16.0.0/12")
        info = status["nodeInfo"]
        assert info["kubeletVersion"] == "v1.32.5"
        assert info["containerRuntimeVersion"] == "bosun-sim://0.1"
        assert info["operatingSystem"] == "linux"
        assert info["architecture"] == "amd64"
        assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 0  # simulated nodes serve no kubelet API

    # kubectl's table: Ready, with the kubelet version.
    rows = [line.split() for line in server.kubectl("get", "nodes", *sim.names).stdout.splitlines()[1:]]
    assert [(r[0], r[1], r[-1]) for r in rows] == [(name, "Ready", "v1.32.5") for name in sim.names]


def test_leases_are_owned_by_the_nodes_and_renewed(sim: Sim, server: Server):
    name = sim.names[0]
    path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
    lease = server.api.ok("GET", path)
    node = node_json(server, name)
    assert lease["spec"]["holderIdentity"] == name
    assert lease["spec"]["leaseDurationSeconds"] == 40
    owner = lease["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Node", name, node["metadata"]["uid"])
    first = lease["spec"]["renewTime"]
    renewed = wait_for(
        lambda: (t := server.api.ok("GET", path)["spec"]["renewTime"]) > first and t,
        timeout=25, interval=0.5, desc="the lease to be renewed",
    )
    assert renewed > first


def pod_manifest(name: str, node: str, annotations: dict | None = None, **spec) -> dict:
    meta: dict = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "nginx:1.27"}], **spec},
    }


def get_pod(server: Server, ns: str, name: str) -> dict:
    return server.api.ok("GET", f"/api/v1/namespaces/{ns}/pods/{name}")


def wait_phase(server: Server, ns: str, name: str, phase: str, timeout: float = 15) -> dict:
    return wait_for(
        lambda: (p := get_pod(server, ns, name))["status"].get("phase") == phase and p,
        timeout=timeout, interval=0.1, desc=f"pod {name} to be {phase}",
    )


def test_bound_pod_runs_then_is_deleted(sim: Sim, server: Server, ns: str):
    node = sim.names[1]
    server.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(pod_manifest(
        "web", node,
        initContainers=[{"name": "setup", "image": "busybox:1.36"}],
    )))
    pod = wait_phase(server, ns, "web", "Running")
    status = pod["status"]
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network("10.0.1.0/24")
    assert status["podIPs"] == [{"ip": status["podIP"]}]
    node_ip = next(a["address"] for a in node_json(server, node)["status"]["addresses"] if a["type"] == "InternalIP")
    assert status["hostIP"] == node_ip
    assert status["qosClass"] == "BestEffort"
    assert status["startTime"]
    for ty in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"):
        cond = condition(pod, ty)
        assert cond["status"] == "True", (ty, status["conditions"])
        assert cond["lastTransitionTime"]
    (c,) = status["containerStatuses"]
    assert (c["name"], c["image"], c["ready"], c["started"], c["restartCount"]) == ("main", "nginx:1.27", True, True, 0)
    assert c["containerID"].startswith("bosun-sim://")
    assert c["state"]["running"]["startedAt"]
    (init,) = status["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert init["state"]["terminated"]["exitCode"] == 0

    # kubectl shows it running on the node, with its address.
    row = server.kubectl("get", "pod", "web", "-n", ns, "-o", "wide").stdout.splitlines()[1].split()
    assert row[1:3] == ["1/1", "Running"]
    assert status["podIP"] in row and node in row

    # A second pod on the same node gets the next address.
    server.api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod_manifest("web-2", node))
    second = wait_phase(server, ns, "web-2", "Running")["status"]["podIP"]
    assert second != status["podIP"]
    assert ipaddress.ip_address(second) in ipaddress.ip_network("10.0.1.0/24")

    # The sim finishes the graceful deletion (as the kubelet would).
    started = time.monotonic()
    server.kubectl("delete", "pod", "web", "-n", ns, "--timeout=20s")
    assert time.monotonic() - started < 15
    assert server.api.get(f"/api/v1/namespaces/{ns}/pods/web").status_code == 404
    server.kubectl("delete", "pod", "web-2", "-n", ns, "--timeout=20s")


def test_guaranteed_pod_reports_its_qos_class(sim: Sim, server: Server, ns: str):
    res = {"requests": {"cpu": "500m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "64Mi"}}
    manifest = pod_manifest("sized", sim.names[2])
    manifest["spec"]["containers"][0]["resources"] = res
    server.api.ok("POST", f"/api/v1/namespaces/{ns}/pods", manifest)
    pod = wait_phase(server, ns, "sized", "Running")
    assert pod["status"]["qosClass"] == "Guaranteed"
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network("10.0.2.0/24")


def test_pod_completes_after_its_annotation(sim: Sim, server: Server, ns: str):
    server.api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod_manifest(
        "job", sim.names[0], annotations={"sim.bosun.dev/complete-after": "1s"}, restartPolicy="Never",
    ))
    # Not polled for Running: a one-second run is easy to miss between polls.
    done = wait_phase(server, ns, "job", "Succeeded")
    (c,) = done["status"]["containerStatuses"]
    term = c["state"]["terminated"]
    assert (term["exitCode"], term["reason"], c["ready"]) == (0, "Completed", False)
    assert condition(done, "Ready")["status"] == "False"
    assert condition(done, "Ready")["reason"] == "PodCompleted"
    # It ran for (at least) the annotated time.
    started = datetime.fromisoformat(term["startedAt"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(term["finishedAt"].replace("Z", "+00:00"))
    assert (finished - started).total_seconds() >= 1, term


def test_pod_fails_after_its_annotation(sim: Sim, server: Server, ns: str):
    server.api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod_manifest(
        "crash", sim.names[2], annotations={"sim.bosun.dev/fail-after": "500ms"}, restartPolicy="Never",
    ))
    failed = wait_phase(server, ns, "crash", "Failed")
    term = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (1, "Error")


def test_pods_on_other_nodes_are_left_alone(sim: Sim, server: Server, ns: str):
    server.api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod_manifest("elsewhere", "not-a-sim-node"))
    server.api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod_manifest("mine", sim.names[0]))
    wait_phase(server, ns, "mine", "Running")
    assert get_pod(server, ns, "elsewhere")["status"]["phase"] == "Pending"


def test_restarted_sim_adopts_its_nodes_and_leaves_running_pods_alone(server: Server, ns: str, tmp_path):
    prefix = f"e2e-resim-{uuid.uuid4().hex[:6]}-"
    name = f"{prefix}0"
    log = tmp_path / "sim.log"

    def start() -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [bosun_bin(), "sim", "--nodes", "1", "--kubeconfig", server.kubeconfig, "--name-prefix", prefix,
                 "--taints", "sim.bosun.dev/simulated=true:NoSchedule"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return proc

    def registered(times: int) -> bool:
        return log.read_text(errors="replace").count("bosun sim: 1 nodes registered in") >= times

    proc = start()
    try:
        wait_for(lambda: registered(1), timeout=30, desc="first registration")
        uid = node_json(server, name)["metadata"]["uid"]
        server.api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod_manifest("kept", name))
        before = wait_phase(server, ns, "kept", "Running")
        stop_process(proc)
        assert proc.returncode == 0, log.read_text()

        proc = start()
        wait_for(lambda: registered(2), timeout=30, desc="second registration")
        node = node_json(server, name)
        assert node["metadata"]["uid"] == uid
        assert condition(node, "Ready")["status"] == "True"
        # A new pod still gets a fresh address; the running one is not rewritten.
        server.api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod_manifest("new", name))
        new_ip = wait_phase(server, ns, "new", "Running")["status"]["podIP"]
        assert new_ip != before["status"]["podIP"]
        after = get_pod(server, ns, "kept")
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    finally:
        stop_process(proc)
        server.api.delete(f"/api/v1/nodes/{name}")
        server.api.delete(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}")
