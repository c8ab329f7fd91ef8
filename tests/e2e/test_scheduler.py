"""The scheduler end to end: ``bosun server`` (scheduler built in) with
nodes registered by ``bosun sim``, driven through kubectl and the API.

Each test gets its own server (its own nodes), so placements are exact.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from support import SimCluster as Cluster, bosun_bin, start_bosun, stop_process, unique, wait_for

def milli(q: str) -> int:
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


@pytest.fixture
def cluster(tmp_path):
    srv = start_bosun(tmp_path / "data")
    c = Cluster(srv, tmp_path)
    yield c
    for p in c.sims:
        stop_process(p)
    stop_process(srv.proc)


def test_resource_fit_never_overcommits_and_a_new_node_unblocks_pending_pods(cluster):
    cluster.sim("small-", 3, "--node-cpu", "2", "--node-memory", "8Gi")
    names = [f"fit-{i}" for i in range(14)]
    for n in names:
        cluster.pod(n, cpu="500m")
    placed = cluster.wait_bound(*names[:12])
    # 3 nodes x 2 cpu / 500m = 12 pods; the last two fit nowhere.
    pods = cluster.srv.api.ok("GET", "/api/v1/namespaces/default/pods")["items"]
    per_node = defaultdict(int)
    for p in pods:
        node = p["spec"].get("nodeName")
        if node:
            per_node[node] += sum(milli(c["resources"]["requests"]["cpu"]) for c in p["spec"]["containers"])
    assert len(per_node) == 3 and all(v <= 2000 for v in per_node.values()), per_node
    assert sum(1 for p in pods if p["spec"].get("nodeName")) == 12
    pending = [p["metadata"]["name"] for p in pods if not p["spec"].get("nodeName")]
    assert len(pending) == 2
    msg = cluster.wait_unschedulable(pending[0])
    assert msg == (
        "0/3 nodes are available: 3 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.."
    ), msg
    # kubectl shows the FailedScheduling event and the Pending status.
    wait_for(
        lambda: "FailedScheduling" in cluster.kubectl("describe", "pod", pending[0]).stdout,
        timeout=15,
        desc="FailedScheduling event",
    )
    described = cluster.kubectl("describe", "pod", pending[0]).stdout
    assert "0/3 nodes are available: 3 Insufficient cpu." in described
    assert "default-scheduler" in described
    ev = cluster.kubectl("get", "events", "--field-selector", f"involvedObject.name={names[0]}", "-o", "json").stdout
    reasons = [e["reason"] for e in json.loads(ev)["items"]]
    assert "Scheduled" in reasons, reasons
    # Sim nodes run what was placed on them.
    wait_for(lambda: cluster.get_pod(names[0])["status"].get("phase") == "Running", timeout=30, desc="pod running")
    # A new node is a cluster event that retries the pending pods (no polling).
    cluster.sim("extra-", 1, "--node-cpu", "2", "--node-memory", "8Gi")
    placed = cluster.wait_bound(*pending, timeout=20)
    assert all(n.startswith("extra-") for n in placed.values()), placed


def test_node_selector_affinity_and_taints(cluster):
    cluster.sim("ssd-", 2, "--labels", "disk=ssd")
    cluster.sim("hdd-", 2, "--labels", "disk=hdd")
    cluster.sim("gpu-", 1, "--labels", "disk=ssd", "--taints", "dedicated=gpu:NoSchedule")
    cluster.pod("sel", nodeSelector={"disk": "ssd"})
    cluster.pod(
        "aff",
        affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}]}}},
    )
    cluster.pod(
        "pref",
        affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]}}]}},
    )
    cluster.pod(
        "tol",
        nodeSelector={"kubernetes.io/hostname": "gpu-0"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
    )
    placed = cluster.wait_bound("sel", "aff", "pref", "tol")
    assert placed["sel"].startswith("ssd-"), placed
    assert placed["aff"].startswith("hdd-"), placed
    assert placed["pref"].startswith("hdd-"), placed
    assert placed["tol"] == "gpu-0", placed
    # Without a toleration the tainted node is out, and the message says why.
    cluster.pod("notol", nodeSelector={"kubernetes.io/hostname": "gpu-0"})
    msg = cluster.wait_unschedulable("notol")
    assert msg.startswith(
        "0/5 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
        "4 node(s) didn't match Pod's node affinity/selector."
    ), msg
    assert "4 Preemption is not helpful for scheduling" in msg or "5 Preemption is not helpful" in msg, msg
    # Many pods never land on the tainted node.
    for i in range(8):
        cluster.pod(f"many-{i}")
    placed = cluster.wait_bound(*[f"many-{i}" for i in range(8)])
    assert not any(n == "gpu-0" for n in placed.values()), placed


def test_filter_and_score_rules_as_upstream(cluster):
    """The NodeResourcesFit, NodePorts, NodeUnschedulable and TaintToleration
    rules a manifest relies on, each observed through the API and kubectl."""
    cluster.sim("r-", 3, "--node-cpu", "2", "--node-memory", "4Gi",
                "--extended-resources", "nvidia.com/gpu=1")

    def post(name: str, container: dict, **spec) -> None:
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"containers": [{"name": "c", "image": "busybox", **container}], **spec}}
        cluster.srv.api.ok("POST", "/api/v1/namespaces/default/pods", body)

    # Extended resources: one GPU per node, the fourth GPU pod waits.
    gpu = {"resources": {"limits": {"nvidia.com/gpu": "1"}}}
    for i in range(4):
        post(f"gpu-{i}", gpu)
    placed = cluster.wait_bound("gpu-0", "gpu-1", "gpu-2")
    assert len(set(placed.values())) == 3, placed
    assert "3 Insufficient nvidia.com/gpu" in cluster.wait_unschedulable("gpu-3")

    # Init containers count by the max rule, overhead and ephemeral storage add up.
    post("init", {"resources": {"requests": {"cpu": "100m"}}},
         initContainers=[{"name": "i", "image": "busybox", "resources": {"requests": {"cpu": "3"}}}])
    assert "Insufficient cpu" in cluster.wait_unschedulable("init")
    post("overhead", {"resources": {"requests": {"cpu": "100m"}}}, overhead={"cpu": "3"})
    assert "Insufficient cpu" in cluster.wait_unschedulable("overhead")
    post("disk", {"resources": {"requests": {"ephemeral-storage": "100Ti"}}})
    assert "Insufficient ephemeral-storage" in cluster.wait_unschedulable("disk")

    # NodePorts: a hostPort taken on a node keeps a second pod off it.
    port = {"ports": [{"containerPort": 80, "hostPort": 8080}]}
    pin = {"kubernetes.io/hostname": "r-1"}
    post("port-a", port, nodeSelector=pin)
    assert cluster.wait_bound("port-a")["port-a"] == "r-1"
    post("port-b", port, nodeSelector=pin)
    assert "1 node(s) didn't have free ports for the requested pod ports" in cluster.wait_unschedulable("port-b")

    # NodeUnschedulable, and a waiting pod placed once the node is uncordoned.
    cluster.kubectl("cordon", "r-2")
    post("cordoned", {}, nodeSelector={"kubernetes.io/hostname": "r-2"})
    assert "1 node(s) were unschedulable" in cluster.wait_unschedulable("cordoned")
    cluster.kubectl("uncordon", "r-2")
    assert cluster.wait_bound("cordoned", timeout=15)["cordoned"] == "r-2"

    # PreferNoSchedule steers a pod away while another node is clean.
    for node in ("r-1", "r-2"):
        cluster.kubectl("taint", "node", node, "soft=x:PreferNoSchedule")
    post("soft", {})
    assert cluster.wait_bound("soft")["soft"] == "r-0"


def test_topology_spread_and_anti_affinity(cluster):
    cluster.sim("z-", 6, "--zones", "3")
    nodes = cluster.srv.api.ok("GET", "/api/v1/nodes")["items"]
    zone = {n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes}
    spread = [{
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "spread"}},
    }]
    names = [f"spread-{i}" for i in range(9)]
    for n in names:
        cluster.pod(n, labels={"app": "spread"}, topologySpreadConstraints=spread)
    placed = cluster.wait_bound(*names)
    per_zone = defaultdict(int)
    for node in placed.values():
        per_zone[zone[node]] += 1
    assert sorted(per_zone.values()) == [3, 3, 3], per_zone

    # ScheduleAnyway scores the same skew: three pods, three zones.
    soft = [dict(spread[0], whenUnsatisfiable="ScheduleAnyway", labelSelector={"matchLabels": {"app": "soft"}})]
    for i in range(3):
        cluster.pod(f"soft-{i}", labels={"app": "soft"}, topologySpreadConstraints=soft)
    placed = cluster.wait_bound("soft-0", "soft-1", "soft-2")
    assert len({zone[n] for n in placed.values()}) == 3, placed

    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchLabels": {"app": "solo"}},
        "topologyKey": "topology.kubernetes.io/zone",
    }]}}
    for i in range(4):
        cluster.pod(f"solo-{i}", labels={"app": "solo"}, affinity=anti)
    placed = cluster.wait_bound("solo-0", "solo-1", "solo-2")
    assert len({zone[n] for n in placed.values()}) == 3, placed
    msg = cluster.wait_unschedulable("solo-3")
    assert "6 node(s) didn't match pod anti-affinity rules" in msg, msg

    # Required affinity: follows the pod it names into its zone.
    cluster.pod("follower", labels={"app": "f"}, affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchLabels": {"app": "solo"}},
        "topologyKey": "kubernetes.io/hostname",
    }]}})
    node = cluster.wait_bound("follower")["follower"]
    assert node in placed.values(), (node, placed)

    # A namespaceSelector picks the namespaces whose labels match.
    target = sorted(zone)[0]
    cluster.kubectl("create", "namespace", "data")
    cluster.kubectl("label", "namespace", "data", "team=data")
    db = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "labels": {"app": "db"}},
          "spec": {"nodeSelector": {"kubernetes.io/hostname": target},
                   "containers": [{"name": "c", "image": "busybox"}]}}
    cluster.srv.api.ok("POST", "/api/v1/namespaces/data/pods", db)
    wait_for(lambda: cluster.srv.api.ok("GET", "/api/v1/namespaces/data/pods/db")["spec"].get("nodeName"),
             desc="db bound")

    def near_db(team: str) -> dict:
        return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "db"}},
            "namespaceSelector": {"matchLabels": {"team": team}},
            "topologyKey": "kubernetes.io/hostname",
        }]}}
    cluster.pod("near-db", labels={"app": "near"}, affinity=near_db("data"))
    assert cluster.wait_bound("near-db")["near-db"] == target
    cluster.pod("near-nothing", labels={"app": "near"}, affinity=near_db("other"))
    msg = cluster.wait_unschedulable("near-nothing")
    assert "node(s) didn't match pod affinity rules" in msg, msg


def test_preemption_evicts_lower_priority_pods(cluster):
    cluster.sim("p-", 2, "--node-cpu", "1", "--node-memory", "4Gi")
    cluster.srv.api.ok("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": unique("high")}, "value": 1000,
    })
    high = cluster.srv.api.ok("GET", "/apis/scheduling.k8s.io/v1/priorityclasses")["items"]
    high = [c for c in high if c["metadata"]["name"].startswith("high")][0]["metadata"]["name"]
    low = [f"low-{i}" for i in range(4)]
    for n in low:
        cluster.pod(n, cpu="500m")
    cluster.wait_bound(*low)
    cluster.pod("vip", cpu="900m", priorityClassName=high)
    # The scheduler nominates a node, evicts what it must there, then binds.
    wait_for(lambda: cluster.get_pod("vip")["status"].get("nominatedNodeName") or cluster.node_of("vip"),
             timeout=20, desc="vip nominated")
    node = cluster.wait_bound("vip", timeout=40)["vip"]
    remaining = cluster.srv.api.ok("GET", "/api/v1/namespaces/default/pods")["items"]
    survivors = [p for p in remaining if p["metadata"]["name"].startswith("low-")]
    assert len(survivors) == 2, [p["metadata"]["name"] for p in survivors]
    assert all(p["spec"]["nodeName"] != node for p in survivors)
    ev = cluster.kubectl("get", "events", "-o", "json").stdout
    assert any(e["reason"] == "Preempted" for e in json.loads(ev)["items"])


def test_profiles_and_a_standalone_scheduler(tmp_path):
    config = tmp_path / "sched.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "profiles:\n"
        "- schedulerName: default-scheduler\n"
        "- schedulerName: bin-packing\n"
        "  plugins:\n"
        "    score:\n"
        "      disabled:\n"
        "      - name: NodeResourcesBalancedAllocation\n"
        "      enabled:\n"
        "      - name: NodeResourcesFit\n"
        "        weight: 5\n"
        "  pluginConfig:\n"
        "  - name: NodeResourcesFit\n"
        "    args:\n"
        "      scoringStrategy:\n"
        "        type: MostAllocated\n"
    )
    srv = start_bosun(tmp_path / "data", extra=["--disable-scheduler"])
    c = Cluster(srv, tmp_path)
    sched = None
    try:
        c.sim("n-", 3, "--node-cpu", "4")
        for i in range(3):
            c.pod(f"packed-{i}", cpu="1", schedulerName="bin-packing")
        c.pod("other", schedulerName="someone-else")
        time.sleep(1)
        # No scheduler in the server: nothing is placed.
        assert not c.node_of("packed-0")
        log = open(tmp_path / "scheduler.log", "ab")
        sched = subprocess.Popen(
            [bosun_bin(), "scheduler", "--kubeconfig", srv.kubeconfig, "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        placed = c.wait_bound("packed-0", "packed-1", "packed-2")
        # MostAllocated packs them onto one node.
        assert len(set(placed.values())) == 1, placed
        time.sleep(1)
        other = c.get_pod("other")
        assert not other["spec"].get("nodeName") and not other.get("status", {}).get("conditions")
        # A bad configuration is refused at start with the reason.
        config.write_text("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                          "profiles:\n- plugins:\n    score:\n      enabled:\n      - name: NoSuchPlugin\n")
        bad = subprocess.run([bosun_bin(), "scheduler", "--kubeconfig", srv.kubeconfig, "--config", str(config)],
                             capture_output=True, text=True, timeout=30)
        assert bad.returncode != 0 and 'plugin "NoSuchPlugin" does not exist' in bad.stderr, bad.stderr
    finally:
        if sched:
            stop_process(sched)
        for p in c.sims:
            stop_process(p)
        stop_process(srv.proc)
