"""Deployments and ReplicaSets end to end: ``bosun server`` (scheduler and
controllers built in) with simulated nodes, driven by the real kubectl.

The rolling update is observed through a pod watch: after every event the
live pod set is checked against maxSurge and maxUnavailable, so a single
step over the bounds fails the test.
"""

from __future__ import annotations

import json
import signal
import threading
import time

import requests

from support import start_bosun, stop_process, wait_for


def deployment_manifest(name: str, replicas: int, image: str = "nginx:1.27", strategy: dict | None = None, **spec) -> str:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image, "resources": {"requests": {"cpu": "10m"}}}]},
            },
            **({"strategy": strategy} if strategy else {}),
            **spec,
        },
    }
    return json.dumps(body)


class PodWatch:
    """Follows the pods of one namespace through a watch and checks an
    invariant after every event."""

    def __init__(self, srv, selector: str, check):
        self.srv = srv
        self.pods: dict[str, dict] = {}
        self.violations: list[str] = []
        self.events: list[tuple[str, str]] = []
        self.check = check
        lst = srv.api.ok("GET", f"/api/v1/namespaces/default/pods?labelSelector={selector}")
        for p in lst["items"]:
            self.pods[p["metadata"]["name"]] = p
        self.stop_flag = False
        self.resp = requests.get(
            f"{srv.url}/api/v1/namespaces/default/pods",
            params={"watch": "1", "timeoutSeconds": "120", "labelSelector": selector, "resourceVersion": lst["metadata"]["resourceVersion"]},
            cert=(str(srv.pki / "admin.crt"), str(srv.pki / "admin.key")),
            verify=str(srv.pki / "ca.crt"),
            stream=True,
            timeout=120,
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for line in self.resp.iter_lines():
                if self.stop_flag:
                    return
                if not line:
                    continue
                ev = json.loads(line)
                obj = ev["object"]
                name = obj["metadata"]["name"]
                if ev["type"] == "DELETED":
                    self.pods.pop(name, None)
                else:
                    self.pods[name] = obj
                self.events.append((ev["type"], name))
                problem = self.check(self.pods)
                if problem:
                    self.violations.append(problem)
        except Exception:  # noqa: BLE001 - the stream ends when the test closes it
            pass

    def close(self):
        # The reader thread is a daemon; closing the response from here
        # would block on the connection it is reading. It stops at the next
        # event or when the server's stream ends.
        self.stop_flag = True


def live(pods: dict) -> list[dict]:
    return [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]


def ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def rs_of(sim_cluster, app: str) -> list[dict]:
    return sim_cluster.srv.api.ok("GET", f"/apis/apps/v1/namespaces/default/replicasets?labelSelector=app={app}")["items"]


def test_rolling_update_stays_within_surge_and_unavailability(sim_cluster):
    sim_cluster.sim("roll-", 3)
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}
    sim_cluster.kubectl("apply", "-f", "-", input=deployment_manifest("web", 10, strategy=strategy))
    out = sim_cluster.kubectl("rollout", "status", "deploy/web", "--timeout=60s").stdout
    assert 'deployment "web" successfully rolled out' in out

    def bounds(pods):
        alive = live(pods)
        if len(alive) > 12:
            return f"{len(alive)} pods alive > replicas + maxSurge (12)"
        ready_now = sum(1 for p in alive if ready(p))
        if ready_now < 9:
            return f"only {ready_now} ready pods < replicas - maxUnavailable (9)"
        return None

    watch = PodWatch(sim_cluster.srv, "app=web", bounds)
    try:
        sim_cluster.kubectl("set", "image", "deploy/web", "web=nginx:1.28")
        out = sim_cluster.kubectl("rollout", "status", "deploy/web", "--timeout=90s").stdout
        assert 'deployment "web" successfully rolled out' in out
        wait_for(lambda: len(live(watch.pods)) == 10 and len(watch.pods) == 10, timeout=30, desc="old pods gone")
    finally:
        watch.close()
    assert not watch.violations, watch.violations[:5]
    # The update really went through pods: ten new ones were added.
    assert sum(1 for t, _ in watch.events if t == "ADDED") >= 10
    images = {p["spec"]["containers"][0]["image"] for p in watch.pods.values()}
    assert images == {"nginx:1.28"}
    # Field managers are named after upstream's components, from the
    # User-Agent each client sends: the ReplicaSet controller created the
    # pod and the (simulated) kubelet wrote its status.
    pod = sim_cluster.srv.api.ok("GET", f"/api/v1/namespaces/default/pods/{next(iter(watch.pods))}")
    managers = {(m["manager"], m.get("subresource", "")) for m in pod["metadata"]["managedFields"]}
    assert {("kube-controller-manager", ""), ("kubelet", "status")} <= managers, managers
    d = sim_cluster.srv.api.ok("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    st = d["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (10, 10, 10, 10)
    assert st["observedGeneration"] == d["metadata"]["generation"]
    conds = {c["type"]: (c["status"], c["reason"]) for c in st["conditions"]}
    assert conds == {"Available": ("True", "MinimumReplicasAvailable"), "Progressing": ("True", "NewReplicaSetAvailable")}
    # Two ReplicaSets: the new one at 10, the old one kept at 0 for history.
    sets = sorted((r["spec"]["replicas"], r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for r in rs_of(sim_cluster, "web"))
    assert sets == [(0, "1"), (10, "2")]
    events = sim_cluster.kubectl("describe", "deploy", "web").stdout
    assert "ScalingReplicaSet" in events and "Scaled down replica set" in events


def test_history_undo_pause_resume_restart(sim_cluster):
    sim_cluster.sim("hist-", 2)
    k = sim_cluster.kubectl
    k("apply", "-f", "-", input=deployment_manifest("app", 3))
    k("rollout", "status", "deploy/app", "--timeout=60s")
    k("set", "image", "deploy/app", "web=nginx:1.28")
    k("annotate", "deploy/app", "kubernetes.io/change-cause=bump to 1.28")
    k("rollout", "status", "deploy/app", "--timeout=60s")
    history = k("rollout", "history", "deploy/app").stdout
    lines = [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()]
    assert lines == [["1", "<none>"], ["2", "bump to 1.28"]], history
    detail = k("rollout", "history", "deploy/app", "--revision=1").stdout
    assert "nginx:1.27" in detail

    # Undo goes back to revision 1's template, which becomes revision 3.
    assert "rolled back" in k("rollout", "undo", "deploy/app").stdout
    k("rollout", "status", "deploy/app", "--timeout=60s")
    d = sim_cluster.srv.api.ok("GET", "/apis/apps/v1/namespaces/default/deployments/app")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    revs = {r["spec"]["template"]["spec"]["containers"][0]["image"]: r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rs_of(sim_cluster, "app")}
    assert revs == {"nginx:1.27": "3", "nginx:1.28": "2"}
    assert len(rs_of(sim_cluster, "app")) == 2, "undo reuses the old ReplicaSet"

    # Paused: a template change makes no new ReplicaSet until resumed.
    k("rollout", "pause", "deploy/app")
    k("set", "image", "deploy/app", "web=nginx:1.29")
    time.sleep(1.5)
    assert len(rs_of(sim_cluster, "app")) == 2
    wait_for(
        lambda: any(c["reason"] == "DeploymentPaused" for c in sim_cluster.srv.api.ok("GET", "/apis/apps/v1/namespaces/default/deployments/app")["status"]["conditions"]),
        desc="DeploymentPaused condition",
    )
    undo_paused = k("rollout", "undo", "deploy/app", check=False)
    assert undo_paused.rc != 0 and "paused" in undo_paused.stderr
    k("rollout", "resume", "deploy/app")
    k("rollout", "status", "deploy/app", "--timeout=60s")
    assert len(rs_of(sim_cluster, "app")) == 3

    # Restart: a new ReplicaSet with the restartedAt annotation, same image.
    k("rollout", "restart", "deploy/app")
    k("rollout", "status", "deploy/app", "--timeout=60s")
    sets = rs_of(sim_cluster, "app")
    assert len(sets) == 4
    newest = max(sets, key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
    assert "kubectl.kubernetes.io/restartedAt" in newest["spec"]["template"]["metadata"]["annotations"]
    assert newest["spec"]["replicas"] == 3

    # Scale goes to the current ReplicaSet only.
    k("scale", "deploy/app", "--replicas=5")
    k("rollout", "status", "deploy/app", "--timeout=60s")
    wait_for(lambda: sorted(r["spec"]["replicas"] for r in rs_of(sim_cluster, "app")) == [0, 0, 0, 5], desc="scaled to 5")


def test_recreate_removes_every_old_pod_before_creating_new_ones(sim_cluster):
    sim_cluster.sim("rec-", 2)
    k = sim_cluster.kubectl
    k("apply", "-f", "-", input=deployment_manifest("rc", 4, strategy={"type": "Recreate"}))
    k("rollout", "status", "deploy/rc", "--timeout=60s")
    old_hash = rs_of(sim_cluster, "rc")[0]["metadata"]["labels"]["pod-template-hash"]

    def no_mix(pods):
        hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in pods.values()}
        if len(hashes) > 1:
            return f"old and new pods at once: {sorted(hashes)}"
        return None

    watch = PodWatch(sim_cluster.srv, "app=rc", no_mix)
    try:
        k("set", "image", "deploy/rc", "web=nginx:1.28")
        k("rollout", "status", "deploy/rc", "--timeout=60s")
        wait_for(lambda: len(watch.pods) == 4 and all(ready(p) for p in watch.pods.values()), timeout=30, desc="new pods ready")
    finally:
        watch.close()
    assert not watch.violations, watch.violations[:3]
    assert all(p["metadata"]["labels"]["pod-template-hash"] != old_hash for p in watch.pods.values())


def test_progress_deadline_exceeded_fails_rollout_status(sim_cluster):
    sim_cluster.sim("dl-", 1)
    k = sim_cluster.kubectl
    # A nodeSelector no node has: pods stay Pending and the rollout stalls.
    manifest = json.loads(deployment_manifest("stuck", 2, progressDeadlineSeconds=2))
    manifest["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "none"}
    k("apply", "-f", "-", input=json.dumps(manifest))

    def timed_out():
        d = sim_cluster.srv.api.ok("GET", "/apis/apps/v1/namespaces/default/deployments/stuck")
        return [c for c in d.get("status", {}).get("conditions", []) if c["type"] == "Progressing" and c["reason"] == "ProgressDeadlineExceeded"]

    cond = wait_for(timed_out, timeout=30, desc="ProgressDeadlineExceeded")[0]
    assert cond["status"] == "False"
    assert cond["message"].startswith('ReplicaSet "stuck-') and cond["message"].endswith('" has timed out progressing.')
    res = k("rollout", "status", "deploy/stuck", "--timeout=10s", check=False)
    assert res.rc != 0 and 'deployment "stuck" exceeded its progress deadline' in res.stderr


def test_replicaset_adopts_orphans_releases_relabelled_pods_and_orphan_delete_keeps_pods(sim_cluster):
    sim_cluster.sim("rs-", 2)
    api = sim_cluster.srv.api
    k = sim_cluster.kubectl
    orphan = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orphan", "labels": {"tier": "cache"}},
        "spec": {"containers": [{"name": "c", "image": "redis"}]},
    }
    api.ok("POST", "/api/v1/namespaces/default/pods", orphan)
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "cache"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"tier": "cache"}},
            "template": {"metadata": {"labels": {"tier": "cache"}}, "spec": {"containers": [{"name": "c", "image": "redis"}]}},
        },
    }
    created = api.ok("POST", "/apis/apps/v1/namespaces/default/replicasets", rs)

    def owned():
        pods = api.ok("GET", "/api/v1/namespaces/default/pods?labelSelector=tier=cache")["items"]
        return [p for p in pods if any(r["uid"] == created["metadata"]["uid"] and r.get("controller") for r in p["metadata"].get("ownerReferences", []))]

    wait_for(lambda: len(owned()) == 3, desc="3 owned pods")
    names = {p["metadata"]["name"] for p in owned()}
    assert "orphan" in names, "the matching orphan was adopted, so only two were created"
    wait_for(lambda: api.ok("GET", "/apis/apps/v1/namespaces/default/replicasets/cache").get("status", {}).get("readyReplicas") == 3, desc="3 ready")

    # A pod that stops matching is released and replaced.
    k("label", "pod", "orphan", "tier=debug", "--overwrite")
    wait_for(lambda: not api.ok("GET", "/api/v1/namespaces/default/pods/orphan")["metadata"].get("ownerReferences"), desc="orphan released")
    wait_for(lambda: len(owned()) == 3 and "orphan" not in {p["metadata"]["name"] for p in owned()}, desc="replacement created")

    # Scale down removes the surplus.
    k("scale", "rs/cache", "--replicas=1")
    wait_for(lambda: len([p for p in owned() if not p["metadata"].get("deletionTimestamp")]) == 1, desc="scaled to 1")

    # Orphan deletion: the ReplicaSet goes, its pods stay without owner.
    survivor = [p["metadata"]["name"] for p in owned() if not p["metadata"].get("deletionTimestamp")][0]
    k("delete", "rs/cache", "--cascade=orphan")
    wait_for(lambda: api.get("/apis/apps/v1/namespaces/default/replicasets/cache").status_code == 404, desc="rs gone")
    pod = api.ok("GET", f"/api/v1/namespaces/default/pods/{survivor}")
    assert not pod["metadata"].get("ownerReferences")
    assert not pod["metadata"].get("deletionTimestamp")


def test_kill_9_during_rolling_update_of_1000_replicas_converges(tmp_path):
    from support import SimCluster

    srv = start_bosun(tmp_path / "data")
    cluster = SimCluster(srv, tmp_path)
    try:
        cluster.sim("big-", 12, "--node-pods", "200")
        manifest = deployment_manifest("big", 1000, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        cluster.kubectl("apply", "-f", "-", input=manifest)
        cluster.kubectl("rollout", "status", "deploy/big", "--timeout=240s")
        cluster.kubectl("set", "image", "deploy/big", "web=nginx:1.28")

        def mid_rollout():
            sets = srv.api.ok("GET", "/apis/apps/v1/namespaces/default/replicasets?labelSelector=app=big")["items"]
            new = [r for r in sets if r["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"]
            return new and 0 < new[0].get("status", {}).get("replicas", 0) < 1000

        wait_for(mid_rollout, timeout=60, interval=0.02, desc="rollout under way")
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=10)
        # Same data dir and port: the sim reconnects on its own.
        srv2 = start_bosun(tmp_path / "data", port=srv.port)
        cluster.srv = srv2
        out = cluster.kubectl("rollout", "status", "deploy/big", "--timeout=300s").stdout
        assert 'deployment "big" successfully rolled out' in out

        def settled():
            pods = srv2.api.ok("GET", "/api/v1/namespaces/default/pods?labelSelector=app=big")["items"]
            alive = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            return len(pods) == 1000 and len(alive) == 1000 and pods

        pods = wait_for(settled, timeout=120, interval=0.5, desc="exactly 1000 pods")
        assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.28"}
        assert all(ready(p) for p in pods)
        sets = srv2.api.ok("GET", "/apis/apps/v1/namespaces/default/replicasets?labelSelector=app=big")["items"]
        assert sorted(r["spec"]["replicas"] for r in sets) == [0, 1000]
        st = srv2.api.ok("GET", "/apis/apps/v1/namespaces/default/deployments/big")["status"]
        assert (st["replicas"], st["updatedReplicas"], st["availableReplicas"]) == (1000, 1000, 1000)
    finally:
        cluster.stop()


def test_cascading_deletion_and_namespace_deletion_with_controllers_running(sim_cluster):
    sim_cluster.sim("gc-", 2)
    api = sim_cluster.srv.api
    k = sim_cluster.kubectl
    k("apply", "-f", "-", input=deployment_manifest("bg", 3))
    k("apply", "-f", "-", input=deployment_manifest("fg", 3))
    k("rollout", "status", "deploy/bg", "--timeout=60s")
    k("rollout", "status", "deploy/fg", "--timeout=60s")

    def count(kind_path: str, app: str) -> int:
        return len(api.ok("GET", f"{kind_path}?labelSelector=app={app}")["items"])

    # Background: the Deployment goes at once; its ReplicaSet and pods follow.
    k("delete", "deploy/bg")
    wait_for(lambda: count("/apis/apps/v1/namespaces/default/replicasets", "bg") == 0, timeout=30, desc="bg ReplicaSet collected")
    wait_for(lambda: count("/api/v1/namespaces/default/pods", "bg") == 0, timeout=30, desc="bg pods collected")
    # Foreground: kubectl waits until the dependents are gone, then the owner.
    k("delete", "deploy/fg", "--cascade=foreground", "--timeout=60s")
    assert api.get("/apis/apps/v1/namespaces/default/deployments/fg").status_code == 404
    assert count("/apis/apps/v1/namespaces/default/replicasets", "fg") == 0
    wait_for(lambda: count("/api/v1/namespaces/default/pods", "fg") == 0, timeout=30, desc="fg pods collected")

    # A namespace with a running workload: deleting it takes everything,
    # the controllers do not recreate anything, and the namespace goes.
    k("create", "namespace", "doomed")
    manifest = json.loads(deployment_manifest("app", 2))
    manifest["metadata"]["namespace"] = "doomed"
    k("apply", "-f", "-", input=json.dumps(manifest))
    k("rollout", "status", "deploy/app", "-n", "doomed", "--timeout=60s")
    k("delete", "namespace", "doomed", "--timeout=90s")
    assert api.get("/api/v1/namespaces/doomed").status_code == 404
    assert api.ok("GET", "/api/v1/namespaces/doomed/pods")["items"] == []
    refused = api.post("/api/v1/namespaces/doomed/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert refused.status_code == 404
