"""The StatefulSet controller against a server of its own with simulated nodes.

Pods that must not become Ready on their own carry a readiness gate
(``spec.readinessGates``): the simulator, like a kubelet, reports such a pod
Running but not Ready until the gate's condition is True, and a test sets
it (with Ready) through ``pods/status`` when it wants the pod ready. A gate
nobody sets is a template whose pods never become Ready.
"""

from __future__ import annotations

import json
import time
from typing import Optional

from support import KubectlStream, SimCluster, wait_for

NS = "default"
GATE = "e2e.bosun.dev/ready"


def sts(
    name: str,
    replicas: int = 3,
    image: str = "nginx:1.27",
    gate: bool = False,
    policy: str = "OrderedReady",
    partition: Optional[int] = None,
    claims: tuple = (),
    retention: Optional[dict] = None,
    history_limit: Optional[int] = None,
    annotations: Optional[dict] = None,
) -> dict:
    pod_spec: dict = {"containers": [{"name": "app", "image": image}]}
    if gate:
        pod_spec["readinessGates"] = [{"conditionType": GATE}]
    if claims:
        pod_spec["containers"][0]["volumeMounts"] = [{"name": c, "mountPath": f"/{c}"} for c in claims]
    spec: dict = {
        "replicas": replicas,
        "serviceName": name,
        "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
    }
    if partition is not None:
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}
    if claims:
        spec["volumeClaimTemplates"] = [
            {"metadata": {"name": c}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
            for c in claims
        ]
    if retention:
        spec["persistentVolumeClaimRetentionPolicy"] = retention
    if history_limit is not None:
        spec["revisionHistoryLimit"] = history_limit
    meta: dict = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": spec}


def create(c: SimCluster, body: dict) -> dict:
    name = body["metadata"]["name"]
    c.srv.api.ok("POST", f"/api/v1/namespaces/{NS}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"port": 80}]},
    })
    return c.srv.api.ok("POST", f"/apis/apps/v1/namespaces/{NS}/statefulsets", body)


def get_sts(c: SimCluster, name: str) -> dict:
    return c.srv.api.ok("GET", f"/apis/apps/v1/namespaces/{NS}/statefulsets/{name}")


def pods(c: SimCluster, app: str) -> dict:
    items = c.srv.api.ok("GET", f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3D{app}")["items"]
    return {p["metadata"]["name"]: p for p in items}


def pod_or_none(c: SimCluster, name: str) -> Optional[dict]:
    r = c.srv.api.get(f"/api/v1/namespaces/{NS}/pods/{name}")
    return r.json() if r.status_code == 200 else None


def phase(p: Optional[dict]) -> str:
    return (p or {}).get("status", {}).get("phase", "")


def is_ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def revision(p: dict) -> str:
    return p["metadata"].get("labels", {}).get("controller-revision-hash", "")


def mark_ready(c: SimCluster, name: str) -> None:
    """Sets the readiness gate and Ready, as a readiness controller and the
    kubelet would."""
    body = {"status": {"conditions": [{"type": GATE, "status": "True"}, {"type": "Ready", "status": "True"}]}}
    r = c.srv.api.patch(f"/api/v1/namespaces/{NS}/pods/{name}/status", body, "application/strategic-merge-patch+json")
    assert r.status_code == 200, r.text


def events(c: SimCluster, name: str) -> list[dict]:
    items = c.srv.api.ok("GET", f"/api/v1/namespaces/{NS}/events?fieldSelector=involvedObject.name%3D{name}")["items"]
    return [{"reason": e.get("reason"), "message": e.get("message"), "type": e.get("type")} for e in items]


def rolled_out(c: SimCluster, name: str, replicas: int) -> dict:
    """Waits until every replica is ready at the update revision and the
    update revision is current."""
    def done():
        s = get_sts(c, name)
        st = s.get("status", {})
        ok = (
            st.get("observedGeneration") == s["metadata"]["generation"]
            and st.get("readyReplicas", 0) == replicas
            and st.get("updatedReplicas", 0) == replicas
            and st.get("currentRevision") == st.get("updateRevision")
            and len(pods(c, name)) == replicas
        )
        return s if ok else None

    return wait_for(done, timeout=60, interval=0.2, desc=f"{name} rolled out")


class PodWatch:
    """Every pod watch event in the namespace, in order: `kubectl get -w
    --output-watch-events -o json` (a process of its own, so stopping it
    never waits on a blocked read)."""

    def __init__(self, c: SimCluster):
        self.stream = KubectlStream(c.srv.kubeconfig, "get", "pods", "-n", NS, "-w", "--output-watch-events", "-o", "json")
        # A pod of its own shows the watch is live before the test acts.
        marker = f"marker-{len(c.sims)}-{int(time.time() * 1000) % 100000}"
        c.srv.api.ok("POST", f"/api/v1/namespaces/{NS}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": marker, "labels": {"app": "marker"}},
            "spec": {"containers": [{"name": "c", "image": "pause"}]},
        })
        try:
            wait_for(lambda: any(n == marker for _, n, _ in self.snapshot()), timeout=30, desc="the pod watch")
        except BaseException:
            self.close()
            raise

    def snapshot(self) -> list[tuple[str, str, dict]]:
        text = "\n".join(self.stream.snapshot())
        decoder = json.JSONDecoder()
        out, pos = [], 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                ev, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError:
                break  # a document still being written
            obj = ev["object"]
            out.append((ev["type"], obj["metadata"]["name"], obj))
        return out

    def first(self, pred) -> int:
        events = self.snapshot()
        for i, (t, n, o) in enumerate(events):
            if pred(t, n, o):
                return i
        raise AssertionError("no such watch event; events: " + ", ".join(f"{t} {n}" for t, n, _ in events))

    def close(self) -> None:
        self.stream.stop()


def test_ordered_ready_scales_up_in_order_and_down_in_reverse(sim_cluster: SimCluster):
    c = sim_cluster
    c.sim("sts-node-", 3)
    watch = PodWatch(c)
    try:
        create(c, sts("web", replicas=3, gate=True))
        for i in range(3):
            wait_for(lambda: phase(pod_or_none(c, f"web-{i}")) == "Running", timeout=30, desc=f"web-{i} running")
            # Running but not Ready: the next ordinal must not appear.
            time.sleep(1.5)
            assert pod_or_none(c, f"web-{i + 1}") is None, f"web-{i + 1} created before web-{i} was Ready"
            st = get_sts(c, "web")["status"]
            assert st["replicas"] == i + 1 and st.get("readyReplicas", 0) == i
            mark_ready(c, f"web-{i}")
        out = c.kubectl("rollout", "status", "statefulset/web", "--timeout=60s").stdout
        assert "partitioned roll out complete: 3 new pods have been updated" in out, out
        s = rolled_out(c, "web", 3)
        st = s["status"]
        assert st["availableReplicas"] == 3 and st["currentReplicas"] == 3 and st["collisionCount"] == 0
        assert st["observedGeneration"] == 1

        # In the watch: web-(i+1) is added only after web-i was seen Ready.
        for i in range(2):
            ready = watch.first(lambda t, n, o, i=i: n == f"web-{i}" and is_ready(o))
            added = watch.first(lambda t, n, o, i=i: t == "ADDED" and n == f"web-{i + 1}")
            assert ready < added, f"web-{i + 1} added at {added}, web-{i} ready at {ready}"

        # Identity.
        p = pods(c, "web")["web-1"]
        labels = p["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
        assert labels["apps.kubernetes.io/pod-index"] == "1"
        assert labels["controller-revision-hash"] == st["updateRevision"]
        assert st["updateRevision"].startswith("web-")
        assert p["spec"]["hostname"] == "web-1" and p["spec"]["subdomain"] == "web"
        assert p["metadata"]["generateName"] == "web-"
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("StatefulSet", "web", True)
        msgs = [(e["reason"], e["message"]) for e in events(c, "web")]
        for i in range(3):
            assert ("SuccessfulCreate", f"create Pod web-{i} in StatefulSet web successful") in msgs, msgs

        # Scale down: highest ordinal first, each gone before the next goes.
        c.kubectl("scale", "statefulset/web", "--replicas=0")
        wait_for(lambda: not pods(c, "web"), timeout=60, desc="all pods gone")
        # The kubectl watch may trail the API: wait until it has seen all three go.
        wait_for(
            lambda: {n for t, n, _ in watch.snapshot() if t == "DELETED"} >= {"web-0", "web-1", "web-2"},
            timeout=30,
            desc="the watch saw every deletion",
        )
        deleting = {
            i: watch.first(lambda t, n, o, i=i: n == f"web-{i}" and o["metadata"].get("deletionTimestamp"))
            for i in range(3)
        }
        gone = {i: watch.first(lambda t, n, o, i=i: t == "DELETED" and n == f"web-{i}") for i in range(3)}
        assert gone[2] < deleting[1] and gone[1] < deleting[0], (deleting, gone)
        msgs = [(e["reason"], e["message"]) for e in events(c, "web")]
        assert ("SuccessfulDelete", "delete Pod web-2 in StatefulSet web successful") in msgs, msgs
        wait_for(lambda: get_sts(c, "web")["status"]["replicas"] == 0, timeout=30, desc="status replicas 0")
    finally:
        watch.close()


def test_parallel_creates_and_deletes_without_waiting_from_the_start_ordinal(sim_cluster: SimCluster):
    c = sim_cluster
    c.sim("par-node-", 2)
    body = sts("par", replicas=3, gate=True, policy="Parallel")
    body["spec"]["ordinals"] = {"start": 5}
    create(c, body)
    # Nobody marks them ready, yet all three come, numbered from 5.
    wait_for(lambda: sorted(pods(c, "par")) == ["par-5", "par-6", "par-7"], timeout=30, desc="three pods")
    assert not any(is_ready(p) for p in pods(c, "par").values())
    assert pods(c, "par")["par-6"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "6"
    c.kubectl("scale", "statefulset/par", "--replicas=1")
    wait_for(lambda: sorted(pods(c, "par")) == ["par-5"], timeout=30, desc="scaled to one")


def test_on_delete_updates_a_pod_only_when_it_is_deleted(sim_cluster: SimCluster):
    c = sim_cluster
    c.sim("ond-node-", 2)
    body = sts("web", replicas=2, image="nginx:1.26")
    body["spec"]["updateStrategy"] = {"type": "OnDelete"}
    create(c, body)
    s = rolled_out(c, "web", 2)
    old_rev = s["status"]["currentRevision"]
    before = {n: p["metadata"]["uid"] for n, p in pods(c, "web").items()}
    c.kubectl("set", "image", "statefulset/web", "app=nginx:1.27")
    new_rev = wait_for(lambda: (get_sts(c, "web").get("status", {}).get("updateRevision") or old_rev) != old_rev
                       and get_sts(c, "web")["status"]["updateRevision"], timeout=30, desc="a new update revision")
    time.sleep(2)
    assert {n: p["metadata"]["uid"] for n, p in pods(c, "web").items()} == before, "OnDelete must not replace pods"
    c.kubectl("delete", "pod", "web-1", "--wait=false")

    def replaced():
        p = pods(c, "web").get("web-1")
        return p and p["metadata"]["uid"] != before["web-1"] and is_ready(p) and p
    p = wait_for(replaced, timeout=30, desc="web-1 recreated")
    assert revision(p) == new_rev and p["spec"]["containers"][0]["image"] == "nginx:1.27"
    web0 = pods(c, "web")["web-0"]
    assert web0["metadata"]["uid"] == before["web-0"] and revision(web0) == old_rev
    st = wait_for(lambda: get_sts(c, "web")["status"].get("updatedReplicas") == 1 and get_sts(c, "web")["status"],
                  timeout=30, desc="status counts one updated")
    assert st["currentRevision"] == old_rev and st["currentReplicas"] == 1


def test_available_replicas_wait_for_min_ready_seconds(sim_cluster: SimCluster):
    c = sim_cluster
    c.sim("mrs-node-", 2)
    body = sts("web", replicas=2, policy="Parallel")
    body["spec"]["minReadySeconds"] = 3
    create(c, body)
    st = wait_for(lambda: get_sts(c, "web").get("status", {}).get("readyReplicas") == 2 and get_sts(c, "web")["status"],
                  timeout=30, desc="two ready")
    assert st["availableReplicas"] < 2, st
    wait_for(lambda: get_sts(c, "web")["status"]["availableReplicas"] == 2, timeout=30, desc="two available")


def test_rolling_update_goes_down_from_the_top_and_honours_the_partition(sim_cluster: SimCluster):
    c = sim_cluster
    c.sim("roll-node-", 3)
    create(c, sts("web", replicas=3, partition=1, image="nginx:1.26"))
    s = rolled_out(c, "web", 3)
    old_rev = s["status"]["currentRevision"]
    before = {n: p["metadata"]["uid"] for n, p in pods(c, "web").items()}
    watch = PodWatch(c)
    try:
        c.kubectl("set", "image", "statefulset/web", "app=nginx:1.27")

        def partitioned():
            st = get_sts(c, "web").get("status", {})
            return st.get("updatedReplicas") == 2 and st.get("readyReplicas") == 3 and st
        st = wait_for(partitioned, timeout=60, desc="ordinals 1 and 2 updated")
        out = c.kubectl("rollout", "status", "statefulset/web", "--timeout=30s").stdout
        assert "partitioned roll out complete: 2 new pods have been updated" in out, out
        new_rev = st["updateRevision"]
        assert new_rev != old_rev and st["currentRevision"] == old_rev and st["currentReplicas"] == 1
        now = pods(c, "web")
        assert now["web-0"]["metadata"]["uid"] == before["web-0"] and revision(now["web-0"]) == old_rev
        for n in ("web-1", "web-2"):
            assert now[n]["metadata"]["uid"] != before[n] and revision(now[n]) == new_rev
            assert now[n]["spec"]["containers"][0]["image"] == "nginx:1.27"
        # web-2 went first and was back and ready before web-1 went.
        d2 = watch.first(lambda t, n, o: n == "web-2" and o["metadata"].get("deletionTimestamp"))
        r2 = watch.first(lambda t, n, o: n == "web-2" and revision(o) == new_rev and is_ready(o))
        d1 = watch.first(lambda t, n, o: n == "web-1" and o["metadata"].get("deletionTimestamp"))
        assert d2 < r2 < d1, (d2, r2, d1)

        # Partition 0: web-0 follows and the update revision becomes current.
        c.kubectl("patch", "statefulset/web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
        s = rolled_out(c, "web", 3)
        assert s["status"]["currentRevision"] == new_rev and s["status"]["currentReplicas"] == 3
        assert revision(pods(c, "web")["web-0"]) == new_rev
    finally:
        watch.close()


def history_rows(c: SimCluster) -> list[tuple[str, str]]:
    out = c.kubectl("rollout", "history", "statefulset/web").stdout
    rows = [line.split(None, 1) for line in out.splitlines()[1:] if line.strip() and line.strip()[0].isdigit()]
    return [(r[0], r[1].strip()) for r in rows]


def change(c: SimCluster, image: str, cause: str) -> None:
    patch = {"metadata": {"annotations": {"kubernetes.io/change-cause": cause}},
             "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    c.kubectl("patch", "statefulset/web", "-p", json.dumps(patch))


def images(c: SimCluster) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in pods(c, "web").values()}


def test_rollout_history_and_undo_through_kubectl(sim_cluster: SimCluster):
    c = sim_cluster
    c.sim("hist-node-", 3)
    create(c, sts("web", replicas=3, image="nginx:1.25", history_limit=1,
                  annotations={"kubernetes.io/change-cause": "v1"}))
    rolled_out(c, "web", 3)
    change(c, "nginx:1.26", "v2")
    rolled_out(c, "web", 3)
    assert history_rows(c) == [("1", "v1"), ("2", "v2")]
    out = c.kubectl("rollout", "history", "statefulset/web", "--revision=1").stdout
    assert "nginx:1.25" in out and "revision #1" in out, out

    # Revisions: <set>-<hash>, the hash label, the template patch as data.
    revs = c.srv.api.ok("GET", f"/apis/apps/v1/namespaces/{NS}/controllerrevisions")["items"]
    for r in revs:
        h = r["metadata"]["labels"]["controller.kubernetes.io/hash"]
        assert r["metadata"]["name"] == f"web-{h}"
        assert r["metadata"]["labels"]["app"] == "web"
        assert r["metadata"]["ownerReferences"][0]["name"] == "web"
        assert list(r["data"]) == ["spec"] and list(r["data"]["spec"]["template"])[0] == "$patch"
        assert r["data"]["spec"]["template"]["metadata"] == {"creationTimestamp": None, "labels": {"app": "web"}}

    change(c, "nginx:1.27", "v3")
    rolled_out(c, "web", 3)
    # revisionHistoryLimit 1: one revision besides the live one.
    wait_for(lambda: history_rows(c) == [("2", "v2"), ("3", "v3")], timeout=30, desc="revision 1 pruned")

    out = c.kubectl("rollout", "undo", "statefulset/web").stdout
    assert "rolled back" in out, out
    s = rolled_out(c, "web", 3)
    assert images(c) == {"nginx:1.26"}
    # Rolling back renumbers the old revision instead of copying it.
    assert history_rows(c) == [("3", "v3"), ("4", "v2")]
    rev4 = [r for r in c.srv.api.ok("GET", f"/apis/apps/v1/namespaces/{NS}/controllerrevisions")["items"] if r["revision"] == 4]
    assert rev4 and rev4[0]["metadata"]["name"] == s["status"]["updateRevision"]
    assert all(revision(p) == s["status"]["updateRevision"] for p in pods(c, "web").values())

    # kubectl compares the live template's encoding with the revision's
    # data byte for byte.
    out = c.kubectl("rollout", "undo", "statefulset/web", "--to-revision=4").stdout
    assert "skipped rollback (current template already matches revision 4)" in out, out

    c.kubectl("rollout", "undo", "statefulset/web", "--to-revision=3")
    rolled_out(c, "web", 3)
    assert images(c) == {"nginx:1.27"}
    wait_for(lambda: history_rows(c) == [("4", "v2"), ("5", "v3")], timeout=30, desc="history after the second undo")
    out = c.kubectl("rollout", "status", "statefulset/web", "--timeout=30s").stdout
    assert "roll out complete" in out, out


def pvcs(c: SimCluster) -> dict:
    items = c.srv.api.ok("GET", f"/api/v1/namespaces/{NS}/persistentvolumeclaims")["items"]
    return {p["metadata"]["name"]: p for p in items}


def test_volume_claim_templates_and_retention(sim_cluster: SimCluster):
    c = sim_cluster
    c.sim("pvc-node-", 2)
    create(c, sts("db", replicas=2, claims=("data", "logs"),
                  retention={"whenDeleted": "Retain", "whenScaled": "Delete"}))
    rolled_out(c, "db", 2)
    claims = pvcs(c)
    assert sorted(claims) == ["data-db-0", "data-db-1", "logs-db-0", "logs-db-1"]
    for claim in claims.values():
        assert claim["metadata"]["labels"] == {"app": "db"}
        assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
        # In range and Retain on deletion: nobody owns them.
        assert not claim["metadata"].get("ownerReferences"), claim["metadata"]
    vols = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pods(c, "db")["db-1"]["spec"]["volumes"] if "persistentVolumeClaim" in v}
    assert vols == {"data": "data-db-1", "logs": "logs-db-1"}
    msgs = [(e["reason"], e["message"]) for e in events(c, "db")]
    assert ("SuccessfulCreate", "create Claim data-db-0 Pod db-0 in StatefulSet db success") in msgs, msgs

    # whenScaled Delete: the scaled-away pod owns its claims, which go with it.
    c.kubectl("scale", "statefulset/db", "--replicas=1")
    wait_for(lambda: sorted(pvcs(c)) == ["data-db-0", "logs-db-0"], timeout=60, desc="db-1's claims deleted")

    # whenDeleted Retain: deleting the set keeps the remaining claims.
    c.kubectl("delete", "statefulset/db", "--wait=false")
    wait_for(lambda: not pods(c, "db"), timeout=60, desc="db pods gone")
    assert sorted(pvcs(c)) == ["data-db-0", "logs-db-0"]

    # whenDeleted Delete: the set owns its claims and they go with it.
    create(c, sts("cache", replicas=1, claims=("data",), retention={"whenDeleted": "Delete", "whenScaled": "Retain"}))
    rolled_out(c, "cache", 1)
    wait_for(lambda: (pvcs(c).get("data-cache-0", {}).get("metadata", {}).get("ownerReferences") or [{}])[0].get("kind") == "StatefulSet",
             timeout=30, desc="the set owns data-cache-0")
    c.kubectl("delete", "statefulset/cache", "--wait=false")
    wait_for(lambda: "data-cache-0" not in pvcs(c), timeout=60, desc="data-cache-0 deleted with its set")


def broken_update(c: SimCluster) -> tuple[str, dict]:
    """Rolls `web` (3 replicas, all ready) to a template whose pods never
    become Ready; returns the first revision and the pods before."""
    create(c, sts("web", replicas=3, image="nginx:1.26"))
    s = rolled_out(c, "web", 3)
    good = s["status"]["currentRevision"]
    before = {n: p["metadata"]["uid"] for n, p in pods(c, "web").items()}
    patch = {"spec": {"template": {"spec": {"readinessGates": [{"conditionType": "e2e.bosun.dev/never"}],
                                            "containers": [{"name": "app", "image": "nginx:broken"}]}}}}
    c.kubectl("patch", "statefulset/web", "-p", json.dumps(patch))

    def stuck():
        st = get_sts(c, "web").get("status", {})
        p = pods(c, "web").get("web-2")
        return (st.get("updateRevision") not in (None, good) and p and revision(p) == st["updateRevision"]
                and phase(p) == "Running" and st)
    st = wait_for(stuck, timeout=60, desc="web-2 on the broken revision")
    # A broken *update* revision blocks, as upstream: nothing else moves.
    time.sleep(3)
    now = pods(c, "web")
    assert not is_ready(now["web-2"])
    for n in ("web-0", "web-1"):
        assert now[n]["metadata"]["uid"] == before[n] and revision(now[n]) == good
    st = get_sts(c, "web")["status"]
    assert st["updatedReplicas"] == 1 and st["readyReplicas"] == 2 and st["currentRevision"] == good
    return good, before


def test_stuck_rollout_recovers_on_undo(sim_cluster: SimCluster):
    """kubernetes/kubernetes#67250: upstream waits forever for web-2, which
    sits on the broken revision and never becomes Ready; Bosun recreates it
    at the revision rolled back to."""
    c = sim_cluster
    c.sim("stuck-node-", 3)
    good, before = broken_update(c)
    c.kubectl("rollout", "undo", "statefulset/web")
    s = rolled_out(c, "web", 3)
    assert s["status"]["updateRevision"] == good
    now = pods(c, "web")
    assert {revision(p) for p in now.values()} == {good}
    # Only the stuck pod was replaced.
    assert all(now[n]["metadata"]["uid"] == before[n] for n in ("web-0", "web-1"))
    c.kubectl("rollout", "status", "statefulset/web", "--timeout=30s")
    reasons = [(e["reason"], e["message"]) for e in events(c, "web")]
    assert any(r == "RecreatingStalePod" and "Pod web-2 " in m for r, m in reasons), reasons


def test_stuck_rollout_recovers_on_a_fixed_template(sim_cluster: SimCluster):
    c = sim_cluster
    c.sim("fix-node-", 3)
    good, before = broken_update(c)
    patch = {"spec": {"template": {"spec": {"readinessGates": None,
                                            "containers": [{"name": "app", "image": "nginx:1.27"}]}}}}
    c.kubectl("patch", "statefulset/web", "-p", json.dumps(patch))
    s = rolled_out(c, "web", 3)
    fixed = s["status"]["updateRevision"]
    assert fixed != good
    now = pods(c, "web")
    assert {revision(p) for p in now.values()} == {fixed}
    assert {p["spec"]["containers"][0]["image"] for p in now.values()} == {"nginx:1.27"}
    assert all(now[n]["metadata"]["uid"] != before[n] for n in now)
