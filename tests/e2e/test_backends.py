"""A cross-section of the suite run on both stores (embedded redb and etcd):
the same behaviour must come out of either backend."""

from __future__ import annotations

import json
import textwrap

from support import configmap, deployment, pod, read_events, unique, wait_for


def test_kubectl_apply_get_patch_delete(backend, tmp_path):
    ns = unique("be")
    manifest = textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Namespace
        metadata:
          name: {ns}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          namespace: {ns}
        data:
          a: "1"
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: {ns}
        spec:
          replicas: 2
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              containers:
              - name: web
                image: nginx:1.27
        """
    )
    path = tmp_path / "app.yaml"
    path.write_text(manifest)
    out = backend.kubectl("apply", "-f", str(path)).stdout.strip().splitlines()
    assert out == [f"namespace/{ns} created", "configmap/cfg created", "deployment.apps/web created"]
    out = backend.kubectl("apply", "-f", str(path)).stdout.strip().splitlines()
    assert out == [f"namespace/{ns} unchanged", "configmap/cfg unchanged", "deployment.apps/web unchanged"]
    path.write_text(manifest.replace("replicas: 2", "replicas: 3"))
    assert "deployment.apps/web configured" in backend.kubectl("apply", "-f", str(path)).stdout

    table = backend.kubectl("get", "deploy", "web", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["web", "0/3"]
    backend.kubectl("patch", "cm", "cfg", "-n", ns, "--type=merge", "-p", '{"data":{"b":"2"}}')
    data = json.loads(backend.kubectl("get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data}").stdout)
    assert data == {"a": "1", "b": "2"}
    backend.kubectl("scale", "deploy", "web", "-n", ns, "--replicas=1")
    assert backend.kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout == "1"
    assert backend.kubectl("delete", "cm", "cfg", "-n", ns).stdout.strip() == 'configmap "cfg" deleted'
    gone = backend.kubectl("get", "cm", "cfg", "-n", ns, check=False)
    assert 'Error from server (NotFound): configmaps "cfg" not found' in gone.stderr
    assert backend.kubectl("delete", "ns", ns).stdout.strip() == f'namespace "{ns}" deleted'
    assert backend.api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").status_code == 404


def test_watch_resume_and_conflict(backend, backend_ns):
    api = backend.api
    base = f"/api/v1/namespaces/{backend_ns}/configmaps"
    first = api.ok("POST", base, configmap("w", {"v": "0"}))
    stale = json.loads(json.dumps(first))
    first["data"]["v"] = "1"
    second = api.ok("PUT", f"{base}/w", first)
    stale["data"]["v"] = "x"
    resp = api.put(f"{base}/w", stale)
    assert resp.status_code == 409
    assert resp.json()["reason"] == "Conflict"
    api.ok("DELETE", f"{base}/w")
    params = {"watch": "true", "resourceVersion": first["metadata"]["resourceVersion"], "timeoutSeconds": "10"}
    with api.get(base, params=params, stream=True, timeout=(5, 15)) as resp:
        assert resp.status_code == 200
        events = read_events(resp, 2)
    assert [(e["type"], e["object"]["data"]["v"]) for e in events] == [("MODIFIED", "1"), ("DELETED", "1")]
    assert events[0]["object"]["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) > int(second["metadata"]["resourceVersion"])


def test_server_side_apply_conflict(backend, backend_ns):
    doc = f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: {backend_ns}\ndata:\n  a: "{{}}"\n'
    backend.kubectl("apply", "--server-side", "-f", "-", input=doc.format("1"))
    res = backend.kubectl("apply", "--server-side", "--field-manager=other", "-f", "-", input=doc.format("2"), check=False)
    assert res.rc != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.a' in res.stderr
    backend.kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-", input=doc.format("2"))
    assert backend.api.ok("GET", f"/api/v1/namespaces/{backend_ns}/configmaps/ssa")["data"] == {"a": "2"}


def test_garbage_collection(backend, backend_ns):
    api = backend.api
    base = f"/api/v1/namespaces/{backend_ns}"
    owner = api.ok("POST", f"/apis/apps/v1/namespaces/{backend_ns}/deployments", deployment("owner"))
    ref = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    held = pod("held")
    held["metadata"]["ownerReferences"] = [ref]
    held["metadata"]["finalizers"] = ["e2e.bosun.dev/hold"]
    api.ok("POST", f"{base}/pods", held)
    plain = configmap("plain")
    plain["metadata"]["ownerReferences"] = [ref]
    api.ok("POST", f"{base}/configmaps", plain)

    backend.kubectl("delete", "deploy", "owner", "-n", backend_ns, "--cascade=foreground", "--wait=false")
    wait_for(lambda: api.get(f"{base}/configmaps/plain").status_code == 404, desc="plain dependent deleted")
    held_now = wait_for(
        lambda: (lambda o: o if o["metadata"].get("deletionTimestamp") else None)(api.ok("GET", f"{base}/pods/held")),
        desc="held dependent terminating",
    )
    assert held_now["metadata"]["finalizers"] == ["e2e.bosun.dev/hold"]
    owner_now = api.ok("GET", f"/apis/apps/v1/namespaces/{backend_ns}/deployments/owner")
    assert owner_now["metadata"]["finalizers"] == ["foregroundDeletion"]
    api.patch(f"{base}/pods/held", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    wait_for(
        lambda: api.get(f"/apis/apps/v1/namespaces/{backend_ns}/deployments/owner").status_code == 404,
        desc="owner deleted after its dependents",
    )


def test_chunked_list(backend, backend_ns):
    for i in range(5):
        backend.api.ok("POST", f"/api/v1/namespaces/{backend_ns}/configmaps", configmap(f"c{i}"))
    out = backend.kubectl("get", "cm", "-n", backend_ns, "--chunk-size=2", "-o", "name").stdout.split()
    assert [o for o in out if o.startswith("configmap/c")] == [f"configmap/c{i}" for i in range(5)]
