"""API machinery semantics over raw HTTPS: watch resume and expiry,
optimistic concurrency, the status and scale subresources, generation,
finalizers, pod graceful deletion and binding."""

from __future__ import annotations

import json

import pytest

from support import Api, configmap, deployment, pod, read_events, wait_for


def watch(api: Api, path: str, until, params: dict | None = None, timeout: float = 15.0) -> list[dict]:
    """Reads watch events from ``path`` until ``until(events)`` holds."""
    query = {"watch": "true", "timeoutSeconds": str(int(timeout))}
    query.update(params or {})
    events: list[dict] = []
    with api.get(path, params=query, stream=True, timeout=(5, timeout + 5)) as resp:
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        for line in resp.iter_lines():
            if not line:
                continue
            events.append(json.loads(line))
            if until(events):
                return events
    raise AssertionError(f"watch on {path} ended before the expected events: {events}")


def rv(obj: dict) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_watch_resumes_from_resource_version(api, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.ok("POST", base, configmap("w", {"v": "0"}))
    history = [created]
    for i in range(1, 4):
        obj = api.ok("GET", f"{base}/w")
        obj["data"]["v"] = str(i)
        history.append(api.ok("PUT", f"{base}/w", obj))
    api.ok("DELETE", f"{base}/w")

    # From the creation's RV: the three updates and the delete, in order.
    events = watch(api, base, lambda ev: len(ev) >= 4, {"resourceVersion": str(rv(created))})
    assert [e["type"] for e in events] == ["MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
    assert [e["object"]["data"]["v"] for e in events[:3]] == ["1", "2", "3"]
    rvs = [rv(e["object"]) for e in events]
    assert rvs[:3] == [rv(h) for h in history[1:]]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4
    assert all(r > rv(created) for r in rvs)

    # From the second update: only what came after it.
    events = watch(api, base, lambda ev: len(ev) >= 2, {"resourceVersion": str(rv(history[2]))})
    assert [(e["type"], e["object"]["data"]["v"]) for e in events] == [("MODIFIED", "3"), ("DELETED", "3")]

    # resourceVersion=0 (or unset) starts with ADDED for what exists now.
    api.ok("POST", base, configmap("now", {"v": "x"}))
    events = watch(api, base, lambda ev: len(ev) >= 1, {"resourceVersion": "0"})
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "now"


def test_watch_sees_live_events_with_selectors(api, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.ok("POST", base, configmap("before", labels={"team": "a"}))
    listed = api.ok("GET", base)
    start = listed["metadata"]["resourceVersion"]
    query = {"watch": "true", "resourceVersion": start, "labelSelector": "team=a", "timeoutSeconds": "15"}
    with api.get(base, params=query, stream=True, timeout=(5, 20)) as resp:
        assert resp.status_code == 200
        api.ok("POST", base, configmap("other", labels={"team": "b"}))
        api.ok("POST", base, configmap("match", labels={"team": "a"}))
        api.patch(f"{base}/other", {"metadata": {"labels": {"team": "a"}}}, "application/merge-patch+json")
        api.patch(f"{base}/match", {"metadata": {"labels": {"team": "c"}}}, "application/merge-patch+json")
        api.ok("DELETE", f"{base}/before")
        events = read_events(resp, 4)
    got = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    # An object that starts matching is ADDED; one that stops is DELETED.
    assert got == [("ADDED", "match"), ("ADDED", "other"), ("DELETED", "match"), ("DELETED", "before")]


def test_watch_bookmarks_and_field_selector(api, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    start = api.ok("GET", base)["metadata"]["resourceVersion"]
    query = {
        "watch": "true",
        "resourceVersion": start,
        "fieldSelector": "metadata.name=target",
        "timeoutSeconds": "15",
    }
    with api.get(base, params=query, stream=True, timeout=(5, 20)) as resp:
        api.ok("POST", base, configmap("noise"))
        api.ok("POST", base, configmap("target"))
        (event,) = read_events(resp, 1)
    assert event["type"] == "ADDED"
    assert event["object"]["metadata"]["name"] == "target"

    # Streaming list: the current objects, then a bookmark marking the end
    # of the initial events.
    events = watch(
        api,
        base,
        lambda ev: ev[-1]["type"] == "BOOKMARK",
        {
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
            "resourceVersionMatch": "NotOlderThan",
        },
    )
    assert sorted(e["object"]["metadata"]["name"] for e in events[:-1]) == ["noise", "target"]
    assert all(e["type"] == "ADDED" for e in events[:-1])
    bookmark = events[-1]["object"]
    assert bookmark["kind"] == "ConfigMap"
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["metadata"]["resourceVersion"]) >= max(
        int(e["object"]["metadata"]["resourceVersion"]) for e in events[:-1]
    )


def test_list_exact_with_old_resource_version_is_expired(api, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(3):
        api.ok("POST", base, configmap(f"c{i}"))
    resp = api.get(base, params={"resourceVersion": "1", "resourceVersionMatch": "Exact"})
    assert resp.status_code == 410, resp.text
    status = resp.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "Expired"
    assert status["code"] == 410
    # NotOlderThan with an old RV is served from the current state.
    resp = api.get(base, params={"resourceVersion": "1", "resourceVersionMatch": "NotOlderThan"})
    assert resp.status_code == 200
    assert sorted(i["metadata"]["name"] for i in resp.json()["items"]) == ["c0", "c1", "c2"]
    # Exact without a resourceVersion is a bad request.
    resp = api.get(base, params={"resourceVersionMatch": "Exact"})
    assert resp.status_code == 400
    assert "resourceVersionMatch is forbidden unless resourceVersion is provided" in resp.json()["message"]


def test_optimistic_concurrency(api, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.ok("POST", base, configmap("occ", {"v": "1"}))
    stale = json.loads(json.dumps(first))
    first["data"]["v"] = "2"
    second = api.ok("PUT", f"{base}/occ", first)
    assert rv(second) > rv(first)
    stale["data"]["v"] = "3"
    resp = api.put(f"{base}/occ", stale)
    assert resp.status_code == 409, resp.text
    status = resp.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "occ": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert status["details"] == {"name": "occ", "kind": "configmaps"}
    assert api.ok("GET", f"{base}/occ")["data"] == {"v": "2"}
    # Without a resourceVersion a PUT is unconditional.
    del stale["metadata"]["resourceVersion"]
    assert api.ok("PUT", f"{base}/occ", stale)["data"] == {"v": "3"}
    # Patches may pin a resourceVersion too.
    resp = api.patch(
        f"{base}/occ",
        {"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]}, "data": {"v": "4"}},
        "application/merge-patch+json",
    )
    assert resp.status_code == 409
    # Deletion preconditions.
    resp = api.delete(f"{base}/occ", {"preconditions": {"resourceVersion": first["metadata"]["resourceVersion"]}})
    assert resp.status_code == 409
    assert "Precondition failed: ResourceVersion in precondition" in resp.json()["message"]
    resp = api.delete(f"{base}/occ", {"preconditions": {"uid": "not-the-uid"}})
    assert resp.status_code == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in resp.json()["message"]
    assert api.get(f"{base}/occ").status_code == 200
    # A uid in a PUT or patch body is a precondition too (the object was
    # deleted and recreated under the same name: the write must not land).
    current = api.ok("GET", f"{base}/occ")
    other = json.loads(json.dumps(current))
    other["metadata"]["uid"] = "some-older-incarnation"
    other["data"]["v"] = "5"
    resp = api.put(f"{base}/occ", other)
    assert resp.status_code == 409, resp.text
    assert "Precondition failed: UID in precondition: some-older-incarnation, UID in object meta: " + current["metadata"]["uid"] in resp.json()["message"]
    resp = api.patch(f"{base}/occ", {"metadata": {"uid": "some-older-incarnation"}, "data": {"v": "6"}}, "application/merge-patch+json")
    assert resp.status_code == 409, resp.text
    assert api.ok("GET", f"{base}/occ")["data"] == {"v": "3"}


def test_status_subresource_split_and_generation(api, ns):
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    created = api.ok("POST", base, deployment("split", replicas=2))
    assert created["metadata"]["generation"] == 1

    # PUT on the main resource ignores status.
    obj = api.ok("GET", f"{base}/split")
    obj["status"] = {"replicas": 7, "observedGeneration": 1}
    obj["metadata"]["labels"]["touched"] = "yes"
    updated = api.ok("PUT", f"{base}/split", obj)
    assert updated.get("status", {}).get("replicas") in (None, 0)
    assert updated["metadata"]["labels"]["touched"] == "yes"
    assert updated["metadata"]["generation"] == 1, "metadata changes do not bump generation"

    # PUT on /status changes only status.
    obj = api.ok("GET", f"{base}/split")
    obj["status"] = {"replicas": 2, "readyReplicas": 1, "observedGeneration": 1}
    obj["spec"]["replicas"] = 9
    obj["metadata"]["labels"]["via-status"] = "yes"
    st = api.ok("PUT", f"{base}/split/status", obj)
    assert st["spec"]["replicas"] == 2
    assert st["status"]["replicas"] == 2 and st["status"]["readyReplicas"] == 1
    assert "via-status" not in st["metadata"]["labels"]
    assert st["metadata"]["generation"] == 1, "status changes do not bump generation"
    got = api.ok("GET", f"{base}/split/status")
    assert got["kind"] == "Deployment" and got["status"]["readyReplicas"] == 1

    # A spec change bumps generation, once per change; a no-op does not.
    obj = api.ok("GET", f"{base}/split")
    obj["spec"]["replicas"] = 3
    assert api.ok("PUT", f"{base}/split", obj)["metadata"]["generation"] == 2
    obj = api.ok("GET", f"{base}/split")
    same = api.ok("PUT", f"{base}/split", obj)
    assert same["metadata"]["generation"] == 2
    assert same["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"], "no-op update is not written"
    resp = api.patch(f"{base}/split", {"spec": {"paused": True}}, "application/merge-patch+json")
    assert resp.json()["metadata"]["generation"] == 3
    # Status survives spec writes.
    assert api.ok("GET", f"{base}/split")["status"]["readyReplicas"] == 1

    # Patch on /status.
    resp = api.patch(f"{base}/split/status", {"status": {"availableReplicas": 1}}, "application/merge-patch+json")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"]["availableReplicas"] == 1
    assert resp.json()["metadata"]["generation"] == 3

    # Strict decoding on /status, as upstream: unknown fields anywhere in
    # the body are refused, even in the spec /status ignores.
    obj = api.ok("GET", f"{base}/split")
    obj["spec"]["bogusSpec"] = 1
    obj["status"]["bogusStatus"] = 1
    resp = api.put(f"{base}/split/status?fieldValidation=Strict", obj)
    assert resp.status_code == 400, resp.text
    assert 'unknown field "spec.bogusSpec"' in resp.json()["message"]
    assert 'unknown field "status.bogusStatus"' in resp.json()["message"]
    # A patch of status alone (decoded without the stored spec) is checked
    # the same way.
    merge = "application/merge-patch+json"
    resp = api.patch(f"{base}/split/status?fieldValidation=Strict", {"status": {"bogusStatus": 1}}, merge)
    assert resp.status_code == 400, resp.text
    assert 'unknown field "status.bogusStatus"' in resp.json()["message"]
    resp = api.patch(f"{base}/split/status?fieldValidation=Strict", {"spec": {"bogusSpec": 1}}, merge)
    assert resp.status_code == 400, resp.text
    resp = api.patch(f"{base}/split/status?fieldValidation=Strict", {"status": {"availableReplicas": 2}}, merge)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"]["availableReplicas"] == 2
    assert resp.json()["spec"]["replicas"] == 3

    # Objects without a spec (ConfigMap) carry no generation.
    cm = api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("nogen"))
    assert "generation" not in cm["metadata"]


def test_finalizers_hold_deletion(api, ns, kubectl):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    obj = configmap("fin", {"a": "b"})
    obj["metadata"]["finalizers"] = ["e2e.bosun.dev/one", "e2e.bosun.dev/two"]
    api.ok("POST", base, obj)
    resp = api.delete(f"{base}/fin")
    assert resp.status_code in (200, 202)
    body = resp.json()
    assert body["metadata"]["deletionTimestamp"]
    assert body["metadata"]["deletionGracePeriodSeconds"] == 0

    live = api.ok("GET", f"{base}/fin")
    assert live["metadata"]["deletionTimestamp"] == body["metadata"]["deletionTimestamp"]
    # Deleting again changes nothing.
    again = api.delete(f"{base}/fin")
    assert again.status_code in (200, 202)
    assert again.json()["metadata"]["deletionTimestamp"] == body["metadata"]["deletionTimestamp"]
    # No new finalizers once deletion started.
    live["metadata"]["finalizers"].append("e2e.bosun.dev/three")
    resp = api.put(f"{base}/fin", live)
    assert resp.status_code == 422, resp.text
    assert "no new finalizers can be added if the object is being deleted" in resp.json()["message"]
    # Other updates still work while terminating.
    live = api.ok("GET", f"{base}/fin")
    live["data"]["a"] = "c"
    api.ok("PUT", f"{base}/fin", live)

    # Removing one finalizer keeps it; removing the last deletes it.
    resp = api.patch(
        f"{base}/fin",
        [{"op": "replace", "path": "/metadata/finalizers", "value": ["e2e.bosun.dev/two"]}],
        "application/json-patch+json",
    )
    assert resp.status_code == 200
    assert api.get(f"{base}/fin").status_code == 200
    resp = api.patch(
        f"{base}/fin",
        [{"op": "remove", "path": "/metadata/finalizers"}],
        "application/json-patch+json",
    )
    assert resp.status_code == 200
    assert api.get(f"{base}/fin").status_code == 404

    # kubectl shows the object while it waits.
    obj["metadata"]["name"] = "fin2"
    api.ok("POST", base, obj)
    out = kubectl("delete", "cm", "fin2", "-n", ns, "--wait=false").stdout
    assert out.strip() == 'configmap "fin2" deleted'
    assert kubectl("get", "cm", "fin2", "-n", ns, "-o", "jsonpath={.metadata.deletionTimestamp}").stdout
    kubectl("patch", "cm", "fin2", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":[]}}')
    assert api.get(f"{base}/fin2").status_code == 404


def test_pod_graceful_deletion(api, ns, kubectl):
    base = f"/api/v1/namespaces/{ns}/pods"
    api.ok("POST", base, pod("bound", node="node-a"))
    api.ok("POST", base, pod("unbound"))

    # An unscheduled pod goes at once.
    out = kubectl("delete", "pod", "unbound", "-n", ns, "--wait=false").stdout
    assert out.strip() == 'pod "unbound" deleted'
    assert api.get(f"{base}/unbound").status_code == 404

    # A pod on a node waits for the node agent for its grace period.
    kubectl("delete", "pod", "bound", "-n", ns, "--wait=false")
    live = api.ok("GET", f"{base}/bound")
    assert live["metadata"]["deletionTimestamp"]
    assert live["metadata"]["deletionGracePeriodSeconds"] == 30
    row = kubectl("get", "pod", "bound", "-n", ns).stdout.splitlines()[1].split()
    assert row[0] == "bound" and row[2] == "Terminating"
    # A shorter grace period shortens the wait.
    resp = api.delete(f"{base}/bound", {"gracePeriodSeconds": 5})
    assert resp.status_code in (200, 202)
    assert api.ok("GET", f"{base}/bound")["metadata"]["deletionGracePeriodSeconds"] == 5
    # Forced deletion removes it.
    forced = kubectl("delete", "pod", "bound", "-n", ns, "--grace-period=0", "--force")
    assert "Immediate deletion does not wait for confirmation" in forced.stderr
    assert forced.stdout.strip() == 'pod "bound" force deleted'
    assert api.get(f"{base}/bound").status_code == 404

    # A finished pod on a node needs no grace.
    api.ok("POST", base, pod("done", node="node-a"))
    live = api.ok("GET", f"{base}/done")
    live["status"]["phase"] = "Succeeded"
    api.ok("PUT", f"{base}/done/status", live)
    kubectl("delete", "pod", "done", "-n", ns, "--wait=false")
    assert api.get(f"{base}/done").status_code == 404


def test_pod_binding(api, ns):
    base = f"/api/v1/namespaces/{ns}/pods"
    api.ok("POST", base, pod("p"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
    }
    resp = api.post(f"{base}/p/binding", binding)
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "Success"
    live = api.ok("GET", f"{base}/p")
    assert live["spec"]["nodeName"] == "node-a"
    scheduled = [c for c in live["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    assert scheduled and scheduled[0]["status"] == "True"

    binding["target"]["name"] = "node-b"
    resp = api.post(f"{base}/p/binding", binding)
    assert resp.status_code == 409, resp.text
    status = resp.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == 'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "node-a"'
    assert api.ok("GET", f"{base}/p")["spec"]["nodeName"] == "node-a"

    # Binding a missing pod is a 404; a binding without a target is invalid.
    resp = api.post(f"{base}/ghost/binding", dict(binding, metadata={"name": "ghost"}))
    assert resp.status_code == 404
    api.ok("POST", base, pod("q"))
    resp = api.post(f"{base}/q/binding", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "q"}, "target": {}})
    assert resp.status_code == 422


def test_scale_subresource(api, ns, kubectl):
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.ok("POST", base, deployment("sc", replicas=2))
    scale = json.loads(kubectl("get", "--raw", f"{base}/sc/scale").stdout)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["metadata"]["name"] == "sc" and scale["metadata"]["namespace"] == ns
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"]["selector"] == "app=sc"

    kubectl("scale", "deploy", "sc", "-n", ns, "--replicas=5")
    scale = json.loads(kubectl("get", "--raw", f"{base}/sc/scale").stdout)
    assert scale["spec"]["replicas"] == 5
    deploy = api.ok("GET", f"{base}/sc")
    assert deploy["spec"]["replicas"] == 5
    assert deploy["metadata"]["generation"] == 2
    assert scale["metadata"]["resourceVersion"] == deploy["metadata"]["resourceVersion"]

    # PUT and PATCH of the Scale.
    scale["spec"]["replicas"] = 1
    put = api.ok("PUT", f"{base}/sc/scale", scale)
    assert put["spec"]["replicas"] == 1
    resp = api.patch(f"{base}/sc/scale", {"spec": {"replicas": 4}}, "application/merge-patch+json")
    assert resp.status_code == 200 and resp.json()["spec"]["replicas"] == 4
    # A stale Scale is a conflict; negative replicas are invalid.
    resp = api.put(f"{base}/sc/scale", scale)
    assert resp.status_code == 409
    resp = api.patch(f"{base}/sc/scale", {"spec": {"replicas": -1}}, "application/merge-patch+json")
    assert resp.status_code == 422
    assert api.ok("GET", f"{base}/sc")["spec"]["replicas"] == 4

    # StatefulSets and ReplicaSets scale the same way.
    sts = deployment("db", replicas=1)
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "db"
    api.ok("POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", sts)
    out = kubectl("scale", "statefulset", "db", "-n", ns, "--replicas=3").stdout
    assert out.strip() == "statefulset.apps/db scaled"
    assert json.loads(kubectl("get", "--raw", f"/apis/apps/v1/namespaces/{ns}/statefulsets/db/scale").stdout)["spec"][
        "replicas"
    ] == 3
    # Kinds without a scale subresource answer 404.
    resp = api.get(f"/api/v1/namespaces/{ns}/configmaps/x/scale")
    assert resp.status_code == 404


@pytest.mark.parametrize("propagation", ["Background", "Foreground", "Orphan"])
def test_delete_propagation_on_api(api, ns, propagation):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    owner = api.ok("POST", base, configmap("owner"))
    dep = configmap("dep")
    dep["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "owner",
            "uid": owner["metadata"]["uid"],
            "blockOwnerDeletion": True,
        }
    ]
    api.ok("POST", base, dep)
    resp = api.delete(f"{base}/owner", {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation})
    assert resp.status_code in (200, 202), resp.text
    wait_for(lambda: api.get(f"{base}/owner").status_code == 404, desc="owner gone")
    if propagation == "Orphan":
        kept = api.ok("GET", f"{base}/dep")
        assert not kept["metadata"].get("ownerReferences")
    else:
        wait_for(lambda: api.get(f"{base}/dep").status_code == 404, desc="dependent gone")
    resp = api.delete(f"{base}/x", {"propagationPolicy": "Sideways"})
    assert resp.status_code == 422
    assert 'Unsupported value: "Sideways"' in resp.json()["message"]
