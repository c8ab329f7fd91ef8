"""Pod garbage collector end to end: terminated pods beyond
``--terminated-pod-gc-threshold`` go oldest first, and a pod bound to a node
that does not exist is marked Failed with upstream's DisruptionTarget
condition and force-deleted once the node's quarantine has passed.
"""

from __future__ import annotations

from support import SimCluster, start_bosun, wait_for


def test_terminated_beyond_threshold_and_orphaned_pods_are_collected(tmp_path):
    srv = start_bosun(
        tmp_path / "data",
        extra=["--terminated-pod-gc-threshold", "2", "--pod-gc-period", "1s", "--pod-gc-quarantine", "2s"],
    )
    cluster = SimCluster(srv, tmp_path)
    api = srv.api
    try:
        cluster.sim("gc-", 1)
        # Four pods that succeed at once; names order them (same-second
        # creation timestamps tie and upstream breaks ties by name).
        for name in ["done-1", "done-2", "done-3", "done-4"]:
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "annotations": {"sim.bosun.dev/complete-after": "100ms"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
            }
            api.ok("POST", "/api/v1/namespaces/default/pods", body)
        # A running pod is never collected for the threshold.
        cluster.pod("running")

        def names():
            return sorted(p["metadata"]["name"] for p in api.ok("GET", "/api/v1/namespaces/default/pods")["items"])

        wait_for(lambda: names() == ["done-3", "done-4", "running"], timeout=30, desc=f"two oldest terminated pods collected ({names()})")
        phases = {p["metadata"]["name"]: p["status"]["phase"] for p in api.ok("GET", "/api/v1/namespaces/default/pods")["items"]}
        assert phases == {"done-3": "Succeeded", "done-4": "Succeeded", "running": "Running"}

        # Bound to a node that never existed; a finalizer keeps the object
        # so the collector's marks can be read after its forced delete.
        ghost = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ghost", "finalizers": ["test.bosun.dev/keep"]},
            "spec": {"nodeName": "no-such-node", "containers": [{"name": "c", "image": "busybox"}]},
        }
        api.ok("POST", "/api/v1/namespaces/default/pods", ghost)

        def collected():
            p = api.ok("GET", "/api/v1/namespaces/default/pods/ghost")
            return p if p["metadata"].get("deletionTimestamp") else None

        wait_for(lambda: collected() is not None, timeout=30, desc="orphaned pod force-deleted")
        pod = collected()
        assert pod["status"]["phase"] == "Failed"
        target = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        assert target and target[0]["reason"] == "DeletionByPodGC", pod["status"]
        assert target[0]["message"] == "PodGC: node no longer exists"
        assert pod["metadata"]["deletionGracePeriodSeconds"] == 0
        api.patch("/api/v1/namespaces/default/pods/ghost", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
        wait_for(lambda: "ghost" not in names(), timeout=10, desc="ghost gone")
        # The pod on the live simulated node was never touched.
        assert "running" in names()
    finally:
        cluster.stop()
