"""The DaemonSet controller end to end: ``bosun server`` (scheduler and
controllers built in) with nodes from ``bosun sim``, driven through kubectl.

Each test gets its own server, so node sets and pod counts are exact.
"""

from __future__ import annotations

import json

import time

from support import KubectlStream, unique, wait_for

DEFAULT_TOLERATIONS = {
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
}


def daemonset(name: str, image: str = "agent:1", node_selector=None, tolerations=None, max_unavailable=1, min_ready=0) -> str:
    spec: dict = {"containers": [{"name": "agent", "image": image}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "minReadySeconds": min_ready,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
            },
        }
    )


class DS:
    """One DaemonSet in a namespace of its own on a sim cluster."""

    def __init__(self, cluster, name: str, **kw):
        self.c = cluster
        self.name = name
        self.ns = unique("ds")
        cluster.kubectl("create", "namespace", self.ns)
        cluster.kubectl("apply", "-n", self.ns, "-f", "-", input=daemonset(name, **kw))

    def kubectl(self, *args, **kw):
        return self.c.kubectl("-n", self.ns, *args, **kw)

    def get(self) -> dict:
        return self.c.srv.api.ok("GET", f"/apis/apps/v1/namespaces/{self.ns}/daemonsets/{self.name}")

    def status(self) -> dict:
        return self.get().get("status", {})

    def pods(self, live_only: bool = True) -> list:
        items = self.c.srv.api.ok("GET", f"/api/v1/namespaces/{self.ns}/pods?labelSelector=app%3D{self.name}")["items"]
        if live_only:
            items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        return items

    def nodes(self) -> list:
        """Target node of every live pod (nodeName, or the pinning affinity)."""
        return sorted(target(p) for p in self.pods())

    def wait_nodes(self, want: list, timeout: float = 30) -> None:
        def ok():
            pods = self.pods()
            return sorted(p["spec"].get("nodeName", "") for p in pods) == sorted(want) and all(
                p.get("status", {}).get("phase") == "Running" for p in pods
            )

        try:
            wait_for(ok, timeout=timeout, interval=0.2, desc=f"{self.name} pods running on {want}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; pods on {self.nodes()}, status {self.status()}") from None

    def wait_status(self, timeout: float = 30, **want) -> dict:
        def ok():
            s = self.status()
            return s if all(s.get(k, 0) == v for k, v in want.items()) else None

        try:
            return wait_for(ok, timeout=timeout, interval=0.2, desc=f"{self.name} status {want}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; status {self.status()}") from None

    def events(self) -> list:
        items = self.c.srv.api.ok("GET", f"/api/v1/namespaces/{self.ns}/events")["items"]
        return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["kind"] == "DaemonSet"]


def target(pod: dict) -> str:
    if pod["spec"].get("nodeName"):
        return pod["spec"]["nodeName"]
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    return terms[0]["matchFields"][0]["values"][0]


def test_daemonset_follows_nodes_joining_and_leaving(sim_cluster):
    sim_cluster.sim("dsa-", 2)
    ds = DS(sim_cluster, "agent")
    ds.wait_nodes(["dsa-0", "dsa-1"])
    s = ds.wait_status(desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=2, numberAvailable=2, updatedNumberScheduled=2)
    assert s["numberMisscheduled"] == 0 and s.get("numberUnavailable", 0) == 0
    assert s["observedGeneration"] == ds.get()["metadata"]["generation"]

    # Every pod: pinned to its node for the default scheduler, upstream's
    # tolerations, the revision hash and template generation labels.
    revisions = ds.kubectl("get", "controllerrevisions", "-o", "json")
    [rev] = json.loads(revisions.stdout)["items"]
    hash_ = rev["metadata"]["labels"]["controller-revision-hash"]
    assert rev["metadata"]["name"] == f"agent-{hash_}" and rev["revision"] == 1
    for p in ds.pods():
        assert p["metadata"]["generateName"] == "agent-"
        assert p["metadata"]["labels"]["controller-revision-hash"] == hash_
        assert p["metadata"]["labels"]["pod-template-generation"] == "1"
        owner = p["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("DaemonSet", "agent", True)
        term = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert term == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [p["spec"]["nodeName"]]}]}]
        tolerations = {(t["key"], t["effect"]) for t in p["spec"]["tolerations"] if t.get("operator") == "Exists"}
        assert tolerations == DEFAULT_TOLERATIONS
        assert not any("tolerationSeconds" in t for t in p["spec"]["tolerations"])
    assert ds.get()["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"
    created = {m for r, m in ds.events() if r == "SuccessfulCreate"}
    assert created == {f"Created pod: {p['metadata']['name']}" for p in ds.pods()}

    # A node joins: it gets a pod.
    sim_cluster.sim("dsb-", 1)
    ds.wait_nodes(["dsa-0", "dsa-1", "dsb-0"])
    ds.wait_status(desiredNumberScheduled=3, currentNumberScheduled=3, numberReady=3, numberAvailable=3)

    # The node leaves: its simulator stops and the Node object goes. Nothing
    # deletes the stranded pod, but it no longer counts and is not replaced.
    sim_proc = sim_cluster.sims.pop()
    sim_proc.terminate()
    sim_proc.wait(timeout=10)
    sim_cluster.kubectl("delete", "node", "dsb-0")
    ds.wait_status(desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=2, numberAvailable=2, updatedNumberScheduled=2)
    out = ds.kubectl("rollout", "status", "daemonset/agent", "--timeout=20s")
    assert 'daemon set "agent" successfully rolled out' in out.stdout
    assert ds.nodes().count("dsb-0") <= 1
    assert sorted(n for n in ds.nodes() if n != "dsb-0") == ["dsa-0", "dsa-1"]


def test_node_selector_taints_and_tolerations_decide_eligibility(sim_cluster):
    sim_cluster.sim("edge-", 1, "--labels", "role=edge")
    sim_cluster.sim("plain-", 1)
    sim_cluster.sim("infra-", 1, "--taints", "dedicated=infra:NoSchedule")
    selective = DS(sim_cluster, "selective", node_selector={"role": "edge"})
    plain = DS(sim_cluster, "plain")
    tolerant = DS(sim_cluster, "tolerant", tolerations=[{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}])
    selective.wait_nodes(["edge-0"])
    plain.wait_nodes(["edge-0", "plain-0"])
    tolerant.wait_nodes(["edge-0", "infra-0", "plain-0"])
    selective.wait_status(desiredNumberScheduled=1, currentNumberScheduled=1, numberReady=1)
    plain.wait_status(desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=2)
    tolerant.wait_status(desiredNumberScheduled=3, currentNumberScheduled=3, numberReady=3)

    # A node gains the label: the selective DaemonSet follows.
    sim_cluster.kubectl("label", "node", "plain-0", "role=edge")
    selective.wait_nodes(["edge-0", "plain-0"])
    selective.wait_status(desiredNumberScheduled=2, numberReady=2)
    # And loses it: the pod there goes.
    sim_cluster.kubectl("label", "node", "plain-0", "role-")
    selective.wait_nodes(["edge-0"])
    selective.wait_status(desiredNumberScheduled=1, currentNumberScheduled=1, numberMisscheduled=0)
    assert any(r == "SuccessfulDelete" and m.startswith("Deleted pod: ") for r, m in selective.events())

    # A NoExecute taint nobody tolerates: pods leave that node.
    sim_cluster.kubectl("taint", "node", "edge-0", "evict=now:NoExecute")
    plain.wait_nodes(["plain-0"])
    plain.wait_status(desiredNumberScheduled=1, currentNumberScheduled=1)
    # Cordoning does not matter to daemon pods (they tolerate it).
    sim_cluster.kubectl("cordon", "infra-0")
    tolerant.wait_status(desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=2)
    assert tolerant.nodes() == ["infra-0", "plain-0"]


def test_rolling_update_with_max_unavailable(sim_cluster):
    sim_cluster.sim("roll-", 3)
    # minReadySeconds keeps each replaced pod unavailable for a moment, so
    # the one-at-a-time pace is observable.
    ds = DS(sim_cluster, "agent", image="agent:1", max_unavailable=1, min_ready=1)
    ds.wait_nodes(["roll-0", "roll-1", "roll-2"])
    ds.wait_status(numberAvailable=3, updatedNumberScheduled=3)
    before = {p["metadata"]["name"] for p in ds.pods()}

    ds.kubectl("set", "image", "daemonset/agent", "agent=agent:2")
    with KubectlStream(sim_cluster.srv.kubeconfig, "-n", ds.ns, "rollout", "status", "daemonset/agent", "--timeout=60s") as watch:
        worst = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s = ds.status()
            worst = max(worst, s.get("numberUnavailable", 0))
            nodes_serving = {p["spec"].get("nodeName") for p in ds.pods(live_only=False) if is_ready(p)}
            # Never more than one node without a ready daemon pod.
            assert len(nodes_serving) >= 2, (nodes_serving, s)
            if s.get("updatedNumberScheduled") == 3 and s.get("numberAvailable") == 3 and s.get("observedGeneration") == 2:
                break
            time.sleep(0.05)
        watch.wait_for_line(lambda lines: any("successfully rolled out" in line for line in lines), timeout=30, desc="rollout status done")
        lines = watch.snapshot()
    assert worst == 1, worst
    assert any(line.startswith('Waiting for daemon set "agent" rollout to finish') for line in lines), lines
    assert lines[-1] == 'daemon set "agent" successfully rolled out', lines

    pods = ds.pods()
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["roll-0", "roll-1", "roll-2"]
    assert all(p["spec"]["containers"][0]["image"] == "agent:2" for p in pods)
    assert all(p["metadata"]["labels"]["pod-template-generation"] == "2" for p in pods)
    assert not before & {p["metadata"]["name"] for p in pods}
    s = ds.wait_status(desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=3)
    assert s["observedGeneration"] == ds.get()["metadata"]["generation"] == 2
    deleted = [m for r, m in ds.events() if r == "SuccessfulDelete"]
    assert sorted(deleted) == sorted(f"Deleted pod: {n}" for n in before)


def is_ready(pod: dict) -> bool:
    conds = pod.get("status", {}).get("conditions", [])
    return not pod["metadata"].get("deletionTimestamp") and any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def test_rollout_history_and_undo(sim_cluster):
    sim_cluster.sim("hist-", 2)
    ds = DS(sim_cluster, "agent", image="agent:1")
    ds.wait_status(desiredNumberScheduled=2, numberAvailable=2, updatedNumberScheduled=2)
    ds.kubectl("annotate", "daemonset/agent", "kubernetes.io/change-cause=move to agent:2")
    ds.kubectl("set", "image", "daemonset/agent", "agent=agent:2")
    ds.kubectl("rollout", "status", "daemonset/agent", "--timeout=60s", timeout=90)

    history = ds.kubectl("rollout", "history", "daemonset/agent").stdout
    rows = [line.split(None, 1) for line in history.strip().splitlines()[2:]]
    assert rows == [["1", "<none>"], ["2", "move to agent:2"]], history
    one = ds.kubectl("rollout", "history", "daemonset/agent", "--revision=1").stdout
    assert "agent:1" in one and "agent:2" not in one, one

    out = ds.kubectl("rollout", "undo", "daemonset/agent")
    assert "daemonset.apps/agent rolled back" in out.stdout
    ds.kubectl("rollout", "status", "daemonset/agent", "--timeout=60s", timeout=90)
    assert ds.get()["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:1"
    wait_for(lambda: all(p["spec"]["containers"][0]["image"] == "agent:1" for p in ds.pods()) and len(ds.pods()) == 2, timeout=30)

    # The old template's revision is renumbered, not duplicated.
    def revisions():
        items = json.loads(ds.kubectl("get", "controllerrevisions", "-o", "json").stdout)["items"]
        return sorted((r["revision"], r["metadata"]["name"]) for r in items)

    revs = wait_for(lambda: (r := revisions()) and [n for n, _ in r] == [2, 3] and r, timeout=20, desc="revisions 2 and 3")
    current_hash = ds.pods()[0]["metadata"]["labels"]["controller-revision-hash"]
    assert revs[1][1] == f"agent-{current_hash}"
    # kubectl sees the current template in revision 3 (byte-equal patch).
    out = ds.kubectl("rollout", "undo", "daemonset/agent", "--to-revision=3")
    assert "skipped rollback (current template already matches revision 3)" in out.stdout, out
