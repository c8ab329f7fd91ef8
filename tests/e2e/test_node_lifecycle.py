"""Node lifecycle end to end: a simulated node stops heartbeating (its
``bosun sim`` process is killed); the controller marks it Unknown, taints
it, evicts the pods whose tolerationSeconds ran out, and the Deployment
replaces them on the healthy node. Pods with the default 300 s toleration
stay put for now.
"""

from __future__ import annotations

import json
import signal

from support import SimCluster, start_bosun, wait_for


def test_silent_node_is_marked_unknown_tainted_and_its_pods_evicted(tmp_path):
    srv = start_bosun(tmp_path / "data", extra=["--node-monitor-grace-period", "4s", "--node-monitor-period", "1s"])
    cluster = SimCluster(srv, tmp_path)
    api = srv.api
    try:
        # Leases every 500 ms: well inside the 4 s grace period.
        cluster.sim("live-", 1, "--lease-interval", "500ms")
        cluster.sim("dead-", 1, "--lease-interval", "500ms")
        tolerate = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "svc"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "svc"}},
                "template": {
                    "metadata": {"labels": {"app": "svc"}},
                    "spec": {
                        "containers": [{"name": "c", "image": "nginx"}],
                        "tolerations": tolerate,
                        "topologySpreadConstraints": [{
                            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "svc"}},
                        }],
                    },
                },
            },
        }
        cluster.kubectl("apply", "-f", "-", input=json.dumps(deployment))
        cluster.kubectl("rollout", "status", "deploy/svc", "--timeout=60s")
        # A bare pod pinned to the doomed node, with only the default tolerations.
        bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"},
                "spec": {"nodeName": "dead-0", "containers": [{"name": "c", "image": "nginx"}]}}
        created = api.ok("POST", "/api/v1/namespaces/default/pods", bare)
        defaults = {t["key"]: t.get("tolerationSeconds") for t in created["spec"]["tolerations"]}
        assert defaults == {"node.kubernetes.io/not-ready": 300, "node.kubernetes.io/unreachable": 300}
        wait_for(lambda: api.ok("GET", "/api/v1/namespaces/default/pods/bare").get("status", {}).get("phase") == "Running", desc="bare pod running")
        pods = api.ok("GET", "/api/v1/namespaces/default/pods?labelSelector=app=svc")["items"]
        doomed = [p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == "dead-0"]
        assert len(doomed) == 1, [p["spec"]["nodeName"] for p in pods]

        dead_sim = cluster.sims[1]
        dead_sim.send_signal(signal.SIGKILL)
        dead_sim.wait(timeout=10)

        def unknown():
            node = api.ok("GET", "/api/v1/nodes/dead-0")
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
            return ready if ready["status"] == "Unknown" else None

        ready = wait_for(unknown, timeout=30, desc="dead-0 Ready=Unknown")
        assert ready["reason"] == "NodeStatusUnknown"
        assert ready["message"] == "Kubelet stopped posting node status."

        def taints():
            node = api.ok("GET", "/api/v1/nodes/dead-0")
            return {(t["key"], t["effect"]) for t in node["spec"].get("taints", [])}

        wait_for(lambda: {("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")} <= taints(), timeout=20, desc="unreachable taints")
        # The live node stays untainted.
        live = api.ok("GET", "/api/v1/nodes/live-0")
        assert not live["spec"].get("taints")

        def evicted():
            p = api.ok("GET", f"/api/v1/namespaces/default/pods/{doomed[0]}")
            return p if p["metadata"].get("deletionTimestamp") else None

        pod = wait_for(evicted, timeout=30, desc="pod evicted after its 2 s toleration")
        conds = {c["type"]: c for c in pod["status"]["conditions"]}
        assert conds["DisruptionTarget"]["reason"] == "DeletionByTaintManager"
        assert conds["Ready"]["status"] == "False", "pods on a lost node are marked not ready"

        def replaced():
            pods = api.ok("GET", "/api/v1/namespaces/default/pods?labelSelector=app=svc")["items"]
            alive = [p for p in pods if not p["metadata"].get("deletionTimestamp") and p.get("status", {}).get("phase") == "Running"]
            return len(alive) == 2 and all(p["spec"]["nodeName"] == "live-0" for p in alive)

        # The spread is a preference, so the replacement may share live-0
        # (the tainted node is no candidate).
        wait_for(replaced, timeout=30, desc="replacement running on live-0")
        events = cluster.kubectl("get", "events", "--field-selector", f"involvedObject.name={doomed[0]}", "-o", "json").stdout
        assert "TaintManagerEviction" in events
        bare_now = api.ok("GET", "/api/v1/namespaces/default/pods/bare")
        assert not bare_now["metadata"].get("deletionTimestamp"), "300 s toleration not yet spent"

        def bare_ready():
            p = api.ok("GET", "/api/v1/namespaces/default/pods/bare")
            return [c["status"] for c in p["status"]["conditions"] if c["type"] == "Ready"][0]

        wait_for(lambda: bare_ready() == "False", timeout=20, desc="bare pod marked not ready")
        # A stale report of Ready for a pod on the lost node is corrected.
        stale = api.patch(
            "/api/v1/namespaces/default/pods/bare/status",
            {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            "application/strategic-merge-patch+json",
        )
        assert stale.status_code == 200, stale.text
        assert [c["status"] for c in stale.json()["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
        wait_for(lambda: bare_ready() == "False", timeout=20, desc="bare pod re-marked not ready")
    finally:
        cluster.stop()


def test_every_namespace_gets_a_default_service_account(sim_cluster):
    k = sim_cluster.kubectl
    k("create", "namespace", "team-a")
    wait_for(lambda: k("get", "serviceaccount", "default", "-n", "team-a", check=False).rc == 0, desc="default SA")
    k("delete", "serviceaccount", "default", "-n", "team-a")
    wait_for(lambda: k("get", "serviceaccount", "default", "-n", "team-a", check=False).rc == 0, desc="default SA recreated")
    out = k("get", "serviceaccounts", "-A", "-o", "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {end}").stdout.split()
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease", "team-a"]:
        assert f"{ns}/default" in out, out
