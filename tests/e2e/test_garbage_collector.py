"""The garbage collector and namespace controllers (bosun-controllers'
``garbagecollector`` and ``namespace``), step by step, and proof that they,
not the API server, do the work: with the collector disabled dependents
stay."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client, config

from support import configmap, make_namespace, pod, start_bosun, stop_process, unique, wait_for

HOLD = "e2e.bosun.dev/hold"


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def ref(obj: dict, block: bool = False) -> dict:
    r = {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj.get("kind", "ConfigMap"),
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
    }
    if block:
        r["blockOwnerDeletion"] = True
    return r


def owned_cm(api, ns: str, name: str, owners: list, finalizers: list | None = None) -> dict:
    body = configmap(name)
    body["metadata"]["ownerReferences"] = owners
    if finalizers:
        body["metadata"]["finalizers"] = finalizers
    return api.ok("POST", cm_path(ns), body)


def gone(api, path: str) -> bool:
    return api.get(path).status_code == 404


def test_foreground_deletion_waits_for_blocking_dependent(api, kubectl, ns):
    owner = api.ok("POST", cm_path(ns), configmap("owner"))
    # The blocking dependent carries a finalizer of its own, so it lingers
    # (deleted but present) and the owner must wait for it.
    owned_cm(api, ns, "blocker", [ref(owner, block=True)], finalizers=[HOLD])
    owned_cm(api, ns, "plain", [ref(owner)])
    kubectl("delete", "cm", "owner", "-n", ns, "--cascade=foreground", "--wait=false")

    # Step 1: the collector deletes the dependents; the held one stays
    # terminating and the owner stays with its foregroundDeletion finalizer.
    wait_for(lambda: gone(api, cm_path(ns, "plain")), desc="non-blocking dependent deleted")
    wait_for(
        lambda: api.ok("GET", cm_path(ns, "blocker"))["metadata"].get("deletionTimestamp"),
        desc="blocking dependent marked for deletion",
    )
    time.sleep(1.0)
    now = api.ok("GET", cm_path(ns, "owner"))
    assert now["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert now["metadata"].get("deletionTimestamp")
    rows = kubectl("get", "cm", "-n", ns, "-o", "name").stdout.split()
    assert "configmap/owner" in rows and "configmap/blocker" in rows

    # Step 2: once the dependent is gone the collector drops the finalizer
    # and the owner goes.
    kubectl("patch", "cm", "blocker", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: gone(api, cm_path(ns, "blocker")), desc="dependent gone")
    wait_for(lambda: gone(api, cm_path(ns, "owner")), desc="owner gone after its dependents")


def test_foreground_owner_with_non_blocking_dependent_goes_first(api, ns):
    owner = api.ok("POST", cm_path(ns), configmap("owner"))
    owned_cm(api, ns, "loose", [ref(owner)], finalizers=[HOLD])
    api.ok("DELETE", cm_path(ns, "owner"), {"propagationPolicy": "Foreground"})
    # Nothing blocks: the owner goes while the held dependent is still there.
    wait_for(lambda: gone(api, cm_path(ns, "owner")), desc="owner gone")
    loose = api.ok("GET", cm_path(ns, "loose"))
    assert loose["metadata"].get("deletionTimestamp"), "the dependent was deleted too"
    api.ok("PATCH", cm_path(ns, "loose"), None, data=json.dumps({"metadata": {"finalizers": None}}),
           headers={"Content-Type": "application/merge-patch+json"})
    wait_for(lambda: gone(api, cm_path(ns, "loose")), desc="dependent gone")


def test_orphan_removes_owner_references_and_keeps_dependents(server, api, ns):
    owner = api.ok("POST", cm_path(ns), configmap("owner"))
    other = api.ok("POST", cm_path(ns), configmap("other"))
    owned_cm(api, ns, "only", [ref(owner, block=True)])
    owned_cm(api, ns, "both", [ref(owner), ref(other)])
    k8s = config.new_client_from_config(config_file=server.kubeconfig)
    try:
        client.CoreV1Api(k8s).delete_namespaced_config_map("owner", ns, propagation_policy="Orphan")
    finally:
        k8s.close()
    wait_for(lambda: gone(api, cm_path(ns, "owner")), desc="owner gone")
    only = api.ok("GET", cm_path(ns, "only"))
    assert not only["metadata"].get("ownerReferences")
    assert not only["metadata"].get("deletionTimestamp")
    both = api.ok("GET", cm_path(ns, "both"))
    assert both["metadata"]["ownerReferences"] == [ref(other)]
    # The remaining owner still collects: background delete of it takes "both".
    api.ok("DELETE", cm_path(ns, "other"))
    wait_for(lambda: gone(api, cm_path(ns, "both")), desc="dependent of the remaining owner collected")
    assert api.get(cm_path(ns, "only")).status_code == 200


def test_dependent_of_a_nonexistent_owner_uid_is_collected(api, ns):
    # The owner's name exists, but with another uid: as upstream's virtual
    # node check, a GET by name and a uid mismatch mean the owner is gone.
    real = api.ok("POST", cm_path(ns), configmap("owner"))
    stale = dict(ref(real), uid="11111111-2222-3333-4444-555555555555")
    owned_cm(api, ns, "stale", [stale])
    # And one naming a kind in another group that does not exist by name.
    ghost = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ghost",
             "uid": "66666666-7777-8888-9999-000000000000"}
    p = pod("ghost-pod")
    p["metadata"]["ownerReferences"] = [ghost]
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", p)
    wait_for(lambda: gone(api, cm_path(ns, "stale")), desc="dependent of a stale uid collected")
    wait_for(lambda: gone(api, f"/api/v1/namespaces/{ns}/pods/ghost-pod"), desc="dependent of a missing owner collected")
    assert api.get(cm_path(ns, "owner")).status_code == 200, "the object under that name is untouched"


@pytest.mark.parametrize("policy", ["Foreground", "Background"])
def test_ownership_cycle_does_not_hang(api, ns, policy):
    a = api.ok("POST", cm_path(ns), configmap("a"))
    b = owned_cm(api, ns, "b", [ref(a, block=True)])
    c = owned_cm(api, ns, "c", [ref(b, block=True)])
    # Close the cycle a → b → c → a.
    a["metadata"]["ownerReferences"] = [ref(c, block=True)]
    api.ok("PUT", cm_path(ns, "a"), a)
    api.ok("DELETE", cm_path(ns, "a"), {"propagationPolicy": policy})
    for name in ["a", "b", "c"]:
        wait_for(lambda n=name: gone(api, cm_path(ns, n)), timeout=30, desc=f"{name} of the cycle gone")


def test_namespace_deletion_reports_conditions_then_goes(api, kubectl, server):
    ns = make_namespace(server)
    kubectl("create", "configmap", "c1", "--from-literal=k=v", "-n", ns)
    kubectl("create", "secret", "generic", "s1", "--from-literal=k=v", "-n", ns)
    kubectl("create", "service", "clusterip", "svc", "--tcp=80:80", "-n", ns)
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "-n", ns)
    kubectl("create", "serviceaccount", "robot", "-n", ns)
    held = pod("held")
    held["metadata"]["finalizers"] = [HOLD]
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", held)
    kubectl("delete", "namespace", ns, "--wait=false")

    def conditions():
        st = api.ok("GET", f"/api/v1/namespaces/{ns}")["status"]
        return {c["type"]: c for c in st.get("conditions", [])}

    def reported():
        c = conditions()
        return c if c.get("NamespaceContentRemaining", {}).get("status") == "True" else None

    c = wait_for(reported, timeout=30, desc="content-remaining condition")
    assert c["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert c["NamespaceContentRemaining"]["message"] == "Some resources are remaining: pods has 1 resource instances"
    assert c["NamespaceFinalizersRemaining"]["status"] == "True"
    assert c["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
    assert c["NamespaceFinalizersRemaining"]["message"] == (
        f"Some content in the namespace has finalizers remaining: {HOLD} in 1 resource instances"
    )
    for t, reason in [
        ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions"),
        ("NamespaceDeletionContentFailure", "ContentDeleted"),
    ]:
        assert (c[t]["status"], c[t]["reason"]) == ("False", reason), c[t]
    nsobj = api.ok("GET", f"/api/v1/namespaces/{ns}")
    assert nsobj["status"]["phase"] == "Terminating"
    assert nsobj["spec"]["finalizers"] == ["kubernetes"]
    # Everything else went.
    for path in [f"/api/v1/namespaces/{ns}/configmaps/c1", f"/api/v1/namespaces/{ns}/secrets/s1",
                 f"/api/v1/namespaces/{ns}/services/svc", f"/apis/apps/v1/namespaces/{ns}/deployments/web",
                 f"/api/v1/namespaces/{ns}/serviceaccounts/robot"]:
        assert api.get(path).status_code == 404, path

    # An ordinary update cannot drop the controller's finalizer; only the
    # finalize subresource can.
    nsobj["spec"]["finalizers"] = []
    kept = api.ok("PUT", f"/api/v1/namespaces/{ns}", nsobj)
    assert kept["spec"]["finalizers"] == ["kubernetes"]

    kubectl("patch", "pod", "held", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: gone(api, f"/api/v1/namespaces/{ns}"), timeout=30, desc="namespace gone")
    out = kubectl("get", "ns", ns, check=False)
    assert f'Error from server (NotFound): namespaces "{ns}" not found' in out.stderr


def test_create_in_terminating_namespace_is_forbidden(api, kubectl, server):
    ns = make_namespace(server)
    held = configmap("held")
    held["metadata"]["finalizers"] = [HOLD]
    api.ok("POST", cm_path(ns), held)
    kubectl("delete", "namespace", ns, "--wait=false")
    resp = api.post(cm_path(ns), configmap("late"))
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        f'configmaps "late" is forbidden: unable to create new content in namespace {ns} because it is being terminated'
    )
    # Deleting it again while it is being emptied is a conflict, as upstream.
    again = kubectl("delete", "namespace", ns, "--wait=false", check=False)
    assert again.rc != 0
    assert (
        f'Error from server (Conflict): Operation cannot be fulfilled on namespaces "{ns}": '
        "The system is ensuring all content is removed from this namespace.  "
        "Upon completion, this namespace will automatically be purged by the system."
    ) in again.stderr
    api.ok("PATCH", cm_path(ns, "held"), None, data=json.dumps({"metadata": {"finalizers": None}}),
           headers={"Content-Type": "application/merge-patch+json"})
    wait_for(lambda: gone(api, f"/api/v1/namespaces/{ns}"), timeout=30, desc="namespace gone")


def test_finalize_subresource_drops_spec_finalizers(api, server):
    # Without the namespace controller's finalizer a terminating namespace
    # is deleted by the API server as soon as finalize empties the list.
    ns = make_namespace(server)
    nsobj = api.ok("GET", f"/api/v1/namespaces/{ns}")
    nsobj["spec"]["finalizers"] = ["kubernetes", "e2e.bosun.dev/extra"]
    out = api.ok("PUT", f"/api/v1/namespaces/{ns}/finalize", nsobj)
    assert out["spec"]["finalizers"] == ["kubernetes", "e2e.bosun.dev/extra"]
    api.ok("DELETE", f"/api/v1/namespaces/{ns}")
    # The namespace controller removes only its own finalizer.
    wait_for(lambda: api.ok("GET", f"/api/v1/namespaces/{ns}")["spec"]["finalizers"] == ["e2e.bosun.dev/extra"],
             desc="kubernetes finalizer removed")
    nsobj = api.ok("GET", f"/api/v1/namespaces/{ns}")
    nsobj["spec"]["finalizers"] = []
    api.ok("PUT", f"/api/v1/namespaces/{ns}/finalize", nsobj)
    wait_for(lambda: gone(api, f"/api/v1/namespaces/{ns}"), desc="namespace gone")


def test_without_the_garbage_collector_dependents_stay(tmp_path):
    srv = start_bosun(tmp_path / "data", extra=["--disable-scheduler", "--controllers=namespace"])
    try:
        api = srv.api
        ns = make_namespace(srv)
        owner = api.ok("POST", cm_path(ns), configmap("owner"))
        owned_cm(api, ns, "dep", [ref(owner, block=True)])
        fg = api.ok("POST", cm_path(ns), configmap("fg"))
        owned_cm(api, ns, "fg-dep", [ref(fg, block=True)])
        api.ok("DELETE", cm_path(ns, "owner"))
        api.ok("DELETE", cm_path(ns, "fg"), {"propagationPolicy": "Foreground"})
        assert gone(api, cm_path(ns, "owner"))
        time.sleep(3)
        # Nobody collects: the dependent stays, the foreground owner keeps
        # its finalizer.
        dep = api.ok("GET", cm_path(ns, "dep"))
        assert not dep["metadata"].get("deletionTimestamp")
        assert api.ok("GET", cm_path(ns, "fg"))["metadata"]["finalizers"] == ["foregroundDeletion"]
        assert not api.ok("GET", cm_path(ns, "fg-dep"))["metadata"].get("deletionTimestamp")
        # The namespace controller alone still empties and removes a namespace.
        srv.kubectl("delete", "namespace", ns, "--wait=false")
        # (Its background deletecollection also drops the waiting owner's
        # foregroundDeletion finalizer, as upstream's explicit policy does.)
        wait_for(lambda: gone(api, f"/api/v1/namespaces/{ns}"), timeout=30, desc="namespace gone")
    finally:
        stop_process(srv.proc)


def test_collector_enabled_in_its_own_server_collects(tmp_path):
    # The same scenario with only the collector: the dependent goes.
    srv = start_bosun(tmp_path / "data", extra=["--disable-scheduler", "--controllers=garbagecollector"])
    try:
        api = srv.api
        ns = unique("gc")
        api.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        owner = api.ok("POST", cm_path(ns), configmap("owner"))
        owned_cm(api, ns, "dep", [ref(owner, block=True)])
        api.ok("DELETE", cm_path(ns, "owner"))
        wait_for(lambda: gone(api, cm_path(ns, "dep")), desc="dependent collected")
        # No namespace controller: a deleted namespace stays Terminating.
        api.ok("DELETE", f"/api/v1/namespaces/{ns}")
        time.sleep(2)
        assert api.ok("GET", f"/api/v1/namespaces/{ns}")["status"]["phase"] == "Terminating"
    finally:
        stop_process(srv.proc)


def test_metadata_only_list_get_and_watch(api, ns):
    # What the collector reads: PartialObjectMetadata(List), as upstream's
    # metadata client asks for it.
    owner = api.ok("POST", cm_path(ns), configmap("meta", data={"big": "x" * 1000}))
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    lst = api.get(cm_path(ns), headers={"Accept": accept}).json()
    assert lst["kind"] == "PartialObjectMetadataList" and lst["apiVersion"] == "meta.k8s.io/v1"
    item = next(i for i in lst["items"] if i["metadata"]["name"] == "meta")
    assert item["kind"] == "PartialObjectMetadata" and "data" not in item
    assert item["metadata"]["uid"] == owner["metadata"]["uid"]
    one = api.get(cm_path(ns, "meta"), headers={"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"}).json()
    assert one["kind"] == "PartialObjectMetadata" and "data" not in one
    resp = api.get(
        cm_path(ns) + f"?watch=1&resourceVersion={lst['metadata']['resourceVersion']}&timeoutSeconds=2",
        headers={"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"},
        stream=True,
    )
    api.ok("DELETE", cm_path(ns, "meta"))
    events = [json.loads(line) for line in resp.iter_lines() if line]
    deleted = [e for e in events if e["type"] == "DELETED"]
    assert deleted and deleted[0]["object"]["kind"] == "PartialObjectMetadata"
    assert "data" not in deleted[0]["object"]
