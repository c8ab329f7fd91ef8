"""kubectl beyond the basic story: diff, server dry-run, server-side apply,
namespace deletion, garbage collection, selectors, pagination and raw
endpoints."""

from __future__ import annotations

import json
import textwrap

import yaml

from support import configmap, pod, unique, wait_for


def names(out: str) -> list[str]:
    """Object names from ``-o name`` output, leaving out the CA bundle
    ConfigMap a cluster may publish into every namespace."""
    found = (line.split("/", 1)[1] for line in out.split())
    return sorted(n for n in found if n != "kube-root-ca.crt")


def test_diff(kubectl, ns, tmp_path):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "-n", ns)
    live = yaml.safe_load(kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml").stdout)
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
            },
        },
    }
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(manifest))
    same = kubectl("diff", "-f", str(path), check=False)
    assert same.rc == 0, same
    assert same.stdout == ""

    manifest["spec"]["replicas"] = 4
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    path.write_text(yaml.safe_dump(manifest))
    diff = kubectl("diff", "-f", str(path), check=False)
    assert diff.rc == 1, diff
    lines = diff.stdout.splitlines()
    assert any(l.startswith("--- ") and "apps.v1.Deployment." + ns + ".web" in l for l in lines), diff.stdout
    assert "-  replicas: 2" in lines
    assert "+  replicas: 4" in lines
    assert any(l.startswith("-") and "image: nginx:1.27" in l for l in lines)
    assert any(l.startswith("+") and "image: nginx:1.28" in l for l in lines)
    assert "-  generation: 1" in lines and "+  generation: 2" in lines
    # diff is a server dry-run: nothing changed.
    after = yaml.safe_load(kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml").stdout)
    assert after["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    assert after["spec"]["replicas"] == 2


def test_dry_run_server(kubectl, api, ns):
    out = kubectl("create", "configmap", "dry", "--from-literal=a=b", "-n", ns, "--dry-run=server", "-o", "json").stdout
    obj = json.loads(out)
    assert obj["metadata"]["name"] == "dry"
    assert obj["data"] == {"a": "b"}
    assert obj["metadata"].get("uid"), "server dry-run fills in server-set fields"
    missing = kubectl("get", "cm", "dry", "-n", ns, check=False)
    assert 'Error from server (NotFound): configmaps "dry" not found' in missing.stderr
    assert kubectl("create", "configmap", "dry2", "--from-literal=a=b", "-n", ns, "--dry-run=server").stdout.strip() == (
        "configmap/dry2 created (server dry run)"
    )
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/dry2").status_code == 404

    # Dry-run validation still runs on the server.
    bad = kubectl("create", "configmap", "Bad_Name", "-n", ns, "--dry-run=server", check=False)
    assert bad.rc != 0
    assert 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' in bad.stderr

    # Update, scale and delete under dry-run leave the object as it was.
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "-n", ns)
    before = api.ok("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    out = kubectl("scale", "deploy", "web", "-n", ns, "--replicas=9", "--dry-run=server").stdout
    assert out.strip() == "deployment.apps/web scaled (server dry run)"
    out = kubectl("label", "deploy", "web", "-n", ns, "x=y", "--dry-run=server").stdout
    assert out.strip() == "deployment.apps/web labeled (server dry run)"
    out = kubectl("delete", "deploy", "web", "-n", ns, "--dry-run=server").stdout
    assert out.strip() == 'deployment.apps "web" deleted (server dry run)'
    after = api.ok("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["replicas"] == 2
    assert "x" not in after["metadata"]["labels"]


def test_server_side_apply(kubectl, api, ns, tmp_path):
    def manifest(value: str) -> str:
        return textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: ssa
              namespace: {ns}
            data:
              a: "{value}"
            """
        )

    out = kubectl("apply", "--server-side", "-f", "-", input=manifest("1")).stdout
    assert out.strip() == "configmap/ssa serverside-applied"
    obj = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/ssa")
    assert obj["data"] == {"a": "1"}
    managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
    assert managers == {("kubectl", "Apply")}
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in obj["metadata"].get("annotations", {})

    # Same manager, new value: an update.
    kubectl("apply", "--server-side", "-f", "-", input=manifest("2"))
    assert api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/ssa")["data"] == {"a": "2"}

    # Another manager changing an owned field conflicts.
    conflict = kubectl("apply", "--server-side", "--field-manager=other", "-f", "-", input=manifest("3"), check=False)
    assert conflict.rc != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.a' in conflict.stderr
    assert "--force-conflicts" in conflict.stderr
    assert api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/ssa")["data"] == {"a": "2"}

    # The same value is shared ownership, not a conflict.
    kubectl("apply", "--server-side", "--field-manager=other", "-f", "-", input=manifest("2"))
    obj = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/ssa")
    assert {m["manager"] for m in obj["metadata"]["managedFields"]} == {"kubectl", "other"}

    # Forcing takes the field over.
    kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-", input=manifest("3"))
    obj = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/ssa")
    assert obj["data"] == {"a": "3"}
    owners = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert owners["other"]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert "kubectl" not in owners or "f:a" not in json.dumps(owners["kubectl"].get("fieldsV1", {}))

    # A manager that stops applying a field it alone owns removes it.
    kubectl(
        "apply", "--server-side", "--field-manager=other", "-f", "-",
        input=manifest("3").replace('  a: "3"', '  a: "3"\n  b: "x"'),
    )
    assert api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/ssa")["data"] == {"a": "3", "b": "x"}
    kubectl("apply", "--server-side", "--field-manager=other", "-f", "-", input=manifest("3"))
    assert api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/ssa")["data"] == {"a": "3"}


def test_delete_namespace_removes_contents(kubectl, api, server):
    ns = unique("doomed")
    kubectl("create", "namespace", ns)
    kubectl("create", "configmap", "c1", "--from-literal=k=v", "-n", ns)
    kubectl("create", "secret", "generic", "s1", "--from-literal=k=v", "-n", ns)
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "-n", ns)
    kubectl("run", "p1", "--image=nginx:1.27", "-n", ns)
    # A finalizer on one object holds the namespace in Terminating.
    held = configmap("held")
    held["metadata"]["finalizers"] = ["e2e.bosun.dev/hold"]
    api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", held)

    out = kubectl("delete", "namespace", ns, "--wait=false").stdout
    assert out.strip() == f'namespace "{ns}" deleted'

    def only_held_left():
        cms = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps")["items"]
        others = [
            api.ok("GET", f"/api/v1/namespaces/{ns}/{r}")["items"] for r in ["secrets", "pods"]
        ] + [api.ok("GET", f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]]
        return [c["metadata"]["name"] for c in cms] == ["held"] and not any(others)

    wait_for(only_held_left, desc="namespace contents to be deleted")
    row = kubectl("get", "ns", ns).stdout.splitlines()[1].split()
    assert row[:2] == [ns, "Terminating"]
    nsobj = api.ok("GET", f"/api/v1/namespaces/{ns}")
    assert nsobj["metadata"].get("deletionTimestamp")
    assert nsobj["status"]["phase"] == "Terminating"

    refused = kubectl("create", "-f", "-", input=json.dumps(configmap("late", namespace=ns)), check=False)
    assert refused.rc != 0
    assert (
        f'Error from server (Forbidden): error when creating "STDIN": configmaps "late" is forbidden: '
        f"unable to create new content in namespace {ns} because it is being terminated"
    ) in refused.stderr

    kubectl("patch", "cm", "held", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}").status_code == 404, desc="namespace to be gone")
    gone = kubectl("get", "ns", ns, check=False)
    assert f'Error from server (NotFound): namespaces "{ns}" not found' in gone.stderr

    # The waiting form of kubectl delete returns once the namespace is gone.
    ns2 = unique("doomed")
    kubectl("create", "namespace", ns2)
    kubectl("create", "configmap", "c1", "-n", ns2)
    assert kubectl("delete", "namespace", ns2).stdout.strip() == f'namespace "{ns2}" deleted'
    assert api.get(f"/api/v1/namespaces/{ns2}").status_code == 404
    assert api.get(f"/api/v1/namespaces/{ns2}/configmaps/c1").status_code == 404


def make_owned(api, ns: str, owner_kind: str = "ConfigMap"):
    owner = api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("owner"))
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    for i in range(2):
        dep = configmap(f"dep-{i}")
        dep["metadata"]["ownerReferences"] = [ref]
        api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", dep)
    p = pod("dep-pod")
    p["metadata"]["ownerReferences"] = [ref]
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", p)
    return owner


def test_owner_references_background_cascade(kubectl, api, ns):
    make_owned(api, ns)
    out = kubectl("delete", "cm", "owner", "-n", ns, "--cascade=background").stdout
    assert out.strip() == 'configmap "owner" deleted'
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/owner").status_code == 404

    def dependents_gone():
        return all(
            api.get(p).status_code == 404
            for p in [
                f"/api/v1/namespaces/{ns}/configmaps/dep-0",
                f"/api/v1/namespaces/{ns}/configmaps/dep-1",
                f"/api/v1/namespaces/{ns}/pods/dep-pod",
            ]
        )

    wait_for(dependents_gone, desc="dependents to be garbage collected")


def test_owner_references_orphan(kubectl, api, ns):
    make_owned(api, ns)
    out = kubectl("delete", "cm", "owner", "-n", ns, "--cascade=orphan").stdout
    assert out.strip() == 'configmap "owner" deleted'
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/configmaps/owner").status_code == 404, desc="owner gone")
    for path in [
        f"/api/v1/namespaces/{ns}/configmaps/dep-0",
        f"/api/v1/namespaces/{ns}/configmaps/dep-1",
        f"/api/v1/namespaces/{ns}/pods/dep-pod",
    ]:
        obj = api.ok("GET", path)
        assert not obj["metadata"].get("ownerReferences"), obj["metadata"]
        assert not obj["metadata"].get("deletionTimestamp")


def test_owner_references_dangling_and_partial(api, ns):
    # A dependent created pointing at an owner that does not exist is
    # collected; one with a live second owner only loses the dead reference.
    live = api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("live-owner"))
    live_ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "live-owner", "uid": live["metadata"]["uid"]}
    ghost_ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-0000-0000-0000-000000000001"}
    orphan = configmap("dangling")
    orphan["metadata"]["ownerReferences"] = [ghost_ref]
    api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", orphan)
    shared = configmap("shared")
    shared["metadata"]["ownerReferences"] = [ghost_ref, live_ref]
    api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", shared)
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/configmaps/dangling").status_code == 404, desc="dangling gone")
    wait_for(
        lambda: api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/shared")["metadata"]["ownerReferences"] == [live_ref],
        desc="dead owner reference dropped",
    )


def test_label_selectors(kubectl, ns):
    specs = {
        "prod-web": "env=prod,tier=web",
        "prod-db": "env=prod,tier=db",
        "staging-web": "env=staging,tier=web",
        "dev-web": "env=dev,tier=web",
        "plain": None,
    }
    for name, labels in specs.items():
        kubectl("create", "configmap", name, "-n", ns)
        if labels:
            kubectl("label", "configmap", name, "-n", ns, *labels.split(","))

    def select(expr: str) -> list[str]:
        return names(kubectl("get", "cm", "-n", ns, "-l", expr, "-o", "name").stdout)

    assert select("env in (prod,staging)") == ["prod-db", "prod-web", "staging-web"]
    assert select("env notin (prod,staging)") == ["dev-web", "plain"]
    assert select("!env") == ["plain"]
    assert select("env!=prod") == ["dev-web", "plain", "staging-web"]
    assert select("env") == ["dev-web", "prod-db", "prod-web", "staging-web"]
    assert select("env=prod,tier=web") == ["prod-web"]
    assert select("env==prod,tier!=web") == ["prod-db"]
    assert select("tier=web,env in (dev,staging)") == ["dev-web", "staging-web"]
    assert select("env=nope") == []
    empty = kubectl("get", "cm", "-n", ns, "-l", "env=nope")
    assert f"No resources found in {ns} namespace." in empty.stderr

    bad = kubectl("get", "cm", "-n", ns, "-l", "env in (prod", check=False)
    assert bad.rc != 0
    assert "unable to parse requirement" in bad.stderr


def test_field_selectors(kubectl, api, ns):
    for name in ["alpha", "beta"]:
        kubectl("create", "configmap", name, "-n", ns)
    out = kubectl("get", "cm", "-n", ns, "--field-selector", "metadata.name=alpha", "-o", "name").stdout
    assert out.split() == ["configmap/alpha"]
    out = kubectl("get", "cm", "-n", ns, "--field-selector", "metadata.name!=alpha", "-o", "name").stdout
    assert "configmap/alpha" not in out.split() and "configmap/beta" in out.split()
    out = kubectl("get", "cm", "-A", "--field-selector", f"metadata.namespace={ns},metadata.name=beta", "-o", "name").stdout
    assert out.split() == ["configmap/beta"]

    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("unbound"))
    bound = pod("bound", node="node-a")
    bound["spec"]["terminationGracePeriodSeconds"] = 0
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", bound)
    out = kubectl("get", "pods", "-n", ns, "--field-selector", "spec.nodeName=", "-o", "name").stdout
    assert out.split() == ["pod/unbound"]
    out = kubectl("get", "pods", "-n", ns, "--field-selector", "spec.nodeName=node-a", "-o", "name").stdout
    assert out.split() == ["pod/bound"]
    out = kubectl("get", "pods", "-n", ns, "--field-selector", "status.phase=Pending", "-o", "name").stdout
    assert sorted(out.split()) == ["pod/bound", "pod/unbound"]
    # Move one pod on through the status subresource.
    live = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/bound")
    live["status"]["phase"] = "Running"
    api.ok("PUT", f"/api/v1/namespaces/{ns}/pods/bound/status", live)
    out = kubectl("get", "pods", "-n", ns, "--field-selector", "status.phase=Pending", "-o", "name").stdout
    assert out.split() == ["pod/unbound"]
    out = kubectl("get", "pods", "-n", ns, "--field-selector", "status.phase!=Pending,spec.nodeName=node-a", "-o", "name").stdout
    assert out.split() == ["pod/bound"]

    for target, ev in [("thing", "ev-1"), ("other", "ev-2")]:
        api.ok(
            "POST",
            f"/api/v1/namespaces/{ns}/events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": ev},
                "involvedObject": {"kind": "Pod", "name": target, "namespace": ns},
                "reason": "Testing",
                "message": f"about {target}",
                "type": "Normal",
            },
        )
    out = kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=thing").stdout
    lines = out.strip().splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert len(lines) == 2
    assert lines[1].split()[1:] == ["Normal", "Testing", "pod/thing", "about", "thing"]

    bad = kubectl("get", "cm", "-n", ns, "--field-selector", "spec.foo=x", check=False)
    assert bad.rc != 0
    assert "Error from server (BadRequest)" in bad.stderr
    assert '"spec.foo" is not a known field selector' in bad.stderr


def test_pagination(kubectl, api, ns):
    for i in range(5):
        kubectl("create", "configmap", f"page-{i}", "-n", ns)
    out = kubectl("get", "cm", "-n", ns, "--chunk-size=2", "-l", "!nothing", "-o", "name").stdout
    pages = [n for n in out.split() if n.startswith("configmap/page-")]
    assert pages == [f"configmap/page-{i}" for i in range(5)]
    table = kubectl("get", "cm", "-n", ns, "--chunk-size=2").stdout.strip().splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert [l.split()[0] for l in table[1:] if l.startswith("page-")] == [f"page-{i}" for i in range(5)]
    assert sum(1 for l in table if l.startswith("NAME")) == 1, "one header across chunks"

    # The same, by hand: limit and continue tokens.
    seen: list[str] = []
    first = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=2")
    assert len(first["items"]) == 2
    assert first["metadata"]["continue"]
    total = len(api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps")["items"])
    assert first["metadata"]["remainingItemCount"] == total - 2
    # With a selector the count is unknown, and upstream leaves it out.
    selected = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=2&labelSelector=!nothing")
    assert len(selected["items"]) == 2 and selected["metadata"]["continue"]
    assert "remainingItemCount" not in selected["metadata"]
    page = first
    while True:
        seen += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        # Writes between pages do not show up in the snapshot.
        api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap(unique("zz-late")))
        page = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps", params={"limit": 2, "continue": token})
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert [s for s in seen if s.startswith("page-")] == [f"page-{i}" for i in range(5)]
    assert not any(s.startswith("zz-late") for s in seen)
    assert len(seen) == total

    bad = api.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": 2, "continue": "not-a-token"})
    assert bad.status_code == 400
    assert bad.json()["reason"] == "BadRequest"


def test_get_raw_endpoints(kubectl):
    for path in ["/livez", "/readyz", "/healthz"]:
        assert kubectl("get", "--raw", path).stdout == "ok"
    version = json.loads(kubectl("get", "--raw", "/version").stdout)
    assert version["gitVersion"] == "v1.32.5"
    assert (version["major"], version["minor"]) == ("1", "32")
    assert version["platform"].startswith("linux/")
    api_versions = json.loads(kubectl("get", "--raw", "/api").stdout)
    assert api_versions["kind"] == "APIVersions"
    assert api_versions["versions"] == ["v1"]
    groups = json.loads(kubectl("get", "--raw", "/apis").stdout)
    assert groups["kind"] == "APIGroupList"
    got = {g["name"]: g["preferredVersion"]["groupVersion"] for g in groups["groups"]}
    for name, gv in {
        "apps": "apps/v1",
        "batch": "batch/v1",
        "coordination.k8s.io": "coordination.k8s.io/v1",
        "discovery.k8s.io": "discovery.k8s.io/v1",
        "scheduling.k8s.io": "scheduling.k8s.io/v1",
        "policy": "policy/v1",
        "events.k8s.io": "events.k8s.io/v1",
    }.items():
        assert got.get(name) == gv, got
    core = json.loads(kubectl("get", "--raw", "/api/v1").stdout)
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    res = {r["name"]: r for r in core["resources"]}
    assert res["pods"]["kind"] == "Pod" and res["pods"]["namespaced"] is True
    assert "pods/status" in res and "pods/binding" in res
    apps = json.loads(kubectl("get", "--raw", "/apis/apps/v1").stdout)
    assert {"deployments", "deployments/scale", "deployments/status"} <= {r["name"] for r in apps["resources"]}
    openapi = json.loads(kubectl("get", "--raw", "/openapi/v3").stdout)
    assert "api/v1" in openapi["paths"] and "apis/apps/v1" in openapi["paths"]
    doc_url = openapi["paths"]["apis/apps/v1"]["serverRelativeURL"]
    doc = json.loads(kubectl("get", "--raw", doc_url).stdout)
    assert doc["openapi"].startswith("3.")
    assert "io.k8s.api.apps.v1.Deployment" in doc["components"]["schemas"]
    missing = kubectl("get", "--raw", "/apis/nope.example.com/v1", check=False)
    assert missing.rc != 0
    assert "NotFound" in missing.stderr
