"""The kubectl user story, command by command, through the real kubectl 1.32.

Each test asserts on kubectl's real output: table headers, cell values,
messages and error text.
"""

from __future__ import annotations

import ipaddress
import json
import re
import textwrap

import pytest

from support import KubectlStream, b64, pod, table_rows, unique, wait_for


def in_service_cidr(ip: str) -> bool:
    """Whether ``ip`` is in the default service range 10.96.0.0/12."""
    return ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")


def header(text: str) -> list[str]:
    return text.strip().splitlines()[0].split()


def row_for(text: str, name: str, col: int = 0, namespace: str | None = None) -> list[str]:
    for row in table_rows(text)[1:]:
        if len(row) > col and row[col] == name and (namespace is None or row[0] == namespace):
            return row
    raise AssertionError(f"no row named {name!r} in:\n{text}")


def test_get_namespaces(kubectl):
    out = kubectl("get", "ns").stdout
    assert header(out) == ["NAME", "STATUS", "AGE"]
    rows = {r[0]: r for r in table_rows(out)[1:]}
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"]:
        assert name in rows, out
        assert rows[name][1] == "Active"


def test_version(kubectl):
    out = kubectl("version").stdout
    assert "Client Version: v1.32" in out
    assert "Server Version: v1.32.5" in out
    info = json.loads(kubectl("version", "-o", "json").stdout)
    server = info["serverVersion"]
    assert server["gitVersion"] == "v1.32.5"
    assert server["major"] == "1"
    assert server["minor"] == "32"


def test_create_deployment(kubectl, ns):
    out = kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "-n", ns).stdout
    assert out.strip() == "deployment.apps/web created"
    wide = kubectl("get", "deploy", "web", "-n", ns, "-o", "wide").stdout
    assert header(wide) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    row = row_for(wide, "web")
    assert row[1] == "0/3"
    assert row[5:] == ["nginx", "nginx:1.27", "app=web"]
    obj = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert obj["metadata"]["generation"] == 1
    # Defaults applied by the server.
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    # Creating it again is an AlreadyExists error.
    again = kubectl("create", "deployment", "web", "--image=nginx:1.27", "-n", ns, check=False)
    assert again.rc != 0
    assert 'error: failed to create deployment: deployments.apps "web" already exists' in again.stderr
    dup = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup", "namespace": ns}})
    kubectl("create", "-f", "-", input=dup)
    again = kubectl("create", "-f", "-", input=dup, check=False)
    assert again.rc != 0
    assert 'Error from server (AlreadyExists): error when creating "STDIN": configmaps "dup" already exists' in again.stderr


def app_yaml(ns: str, *, replicas: int = 2, level: str = "info", debug_env: bool = True) -> str:
    debug = (
        """
                - name: DEBUG
                  value: "false\""""
        if debug_env
        else ""
    )
    return textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Namespace
        metadata:
          name: {ns}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: shop-config
          namespace: {ns}
        data:
          mode: production
          level: {level}
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: shop-secret
          namespace: {ns}
        type: Opaque
        data:
          password: {b64("hunter2")}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: shop
          namespace: {ns}
        spec:
          selector:
            app: shop
          ports:
          - name: http
            port: 80
            targetPort: 8080
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: shop
          namespace: {ns}
          labels:
            app: shop
        spec:
          replicas: {replicas}
          selector:
            matchLabels:
              app: shop
          template:
            metadata:
              labels:
                app: shop
            spec:
              containers:
              - name: web
                image: nginx:1.27
                env:
                - name: MODE
                  value: production{debug}
                ports:
                - containerPort: 8080
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: db
          namespace: {ns}
        spec:
          serviceName: shop
          replicas: 1
          selector:
            matchLabels:
              app: db
          template:
            metadata:
              labels:
                app: db
            spec:
              containers:
              - name: db
                image: postgres:16
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: agent
          namespace: {ns}
        spec:
          selector:
            matchLabels:
              app: agent
          template:
            metadata:
              labels:
                app: agent
            spec:
              containers:
              - name: agent
                image: busybox:1.36
                command: ["sleep", "infinity"]
        ---
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: migrate
          namespace: {ns}
        spec:
          template:
            spec:
              restartPolicy: Never
              containers:
              - name: migrate
                image: busybox:1.36
                command: ["true"]
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: report
          namespace: {ns}
        spec:
          schedule: "*/5 * * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: OnFailure
                  containers:
                  - name: report
                    image: busybox:1.36
                    command: ["true"]
        """
    )


APP_OBJECTS = [
    "namespace/{ns}",
    "configmap/shop-config",
    "secret/shop-secret",
    "service/shop",
    "deployment.apps/shop",
    "statefulset.apps/db",
    "daemonset.apps/agent",
    "job.batch/migrate",
    "cronjob.batch/report",
]


@pytest.fixture
def shop(kubectl, tmp_path):
    """Applies the multi-document app.yaml into a fresh namespace."""
    ns = unique("shop")
    path = tmp_path / "app.yaml"
    path.write_text(app_yaml(ns))
    out = kubectl("apply", "-f", str(path)).stdout
    return ns, path, out


def test_apply_multi_document_then_reapply(kubectl, shop):
    ns, path, first = shop
    expected = [o.format(ns=ns) for o in APP_OBJECTS]
    assert first.strip().splitlines() == [f"{o} created" for o in expected]

    # Unchanged input: nothing changes, kubectl says so for every object.
    second = kubectl("apply", "-f", str(path)).stdout
    assert second.strip().splitlines() == [f"{o} unchanged" for o in expected]

    deploy = json.loads(kubectl("get", "deploy", "shop", "-n", ns, "-o", "json").stdout)
    last_applied = json.loads(deploy["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["spec"]["replicas"] == 2
    assert deploy["metadata"]["generation"] == 1

    # Somebody else adds a label the manifest does not mention.
    kubectl("label", "deploy", "shop", "-n", ns, "owner=ops")

    # Edited manifest: replicas, a ConfigMap value, and one env var removed.
    path.write_text(app_yaml(ns, replicas=4, level="debug", debug_env=False))
    third = kubectl("apply", "-f", str(path)).stdout.strip().splitlines()
    assert "configmap/shop-config configured" in third
    assert "deployment.apps/shop configured" in third
    assert "service/shop unchanged" in third
    assert "job.batch/migrate unchanged" in third

    deploy = json.loads(kubectl("get", "deploy", "shop", "-n", ns, "-o", "json").stdout)
    assert deploy["spec"]["replicas"] == 4
    env = deploy["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MODE", "value": "production"}], "the removed env var must be deleted by the 3-way patch"
    # Fields owned by nobody in the manifest survive the 3-way patch.
    assert deploy["metadata"]["labels"] == {"app": "shop", "owner": "ops"}
    assert deploy["metadata"]["generation"] == 2
    cm = json.loads(kubectl("get", "cm", "shop-config", "-n", ns, "-o", "json").stdout)
    assert cm["data"] == {"mode": "production", "level": "debug"}
    secret = json.loads(kubectl("get", "secret", "shop-secret", "-n", ns, "-o", "json").stdout)
    assert secret["data"]["password"] == b64("hunter2")
    assert secret["type"] == "Opaque"

    # Every kind from the file is really there.
    for kind, name in [("sts", "db"), ("ds", "agent"), ("job", "migrate"), ("cj", "report")]:
        got = json.loads(kubectl("get", kind, name, "-n", ns, "-o", "json").stdout)
        assert got["metadata"]["name"] == name
    job = json.loads(kubectl("get", "job", "migrate", "-n", ns, "-o", "json").stdout)
    # The server generated the Job's selector and pod labels.
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == uid
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "migrate"


def test_get_multiple_kinds_all_namespaces_wide(kubectl, shop):
    ns, _, _ = shop
    out = kubectl("get", "deploy,svc,cm", "-A", "-o", "wide").stdout
    sections = [s for s in out.strip().split("\n\n") if s.strip()]
    assert len(sections) == 3, out
    deploy, svc, cm = sections
    assert header(deploy) == [
        "NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR",
    ]
    row = row_for(deploy, "deployment.apps/shop", col=1, namespace=ns)
    assert row[0] == ns
    assert row[2] == "0/2"
    assert row[6:] == ["web", "nginx:1.27", "app=shop"]

    assert header(svc) == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    row = row_for(svc, "service/shop", col=1, namespace=ns)
    assert row[0] == ns
    assert row[2] == "ClusterIP"
    assert in_service_cidr(row[3]), row
    assert row[4] == "<none>"
    assert row[5] == "80/TCP"
    assert row[7] == "app=shop"
    kube = row_for(svc, "service/kubernetes", col=1)
    assert kube[0] == "default" and kube[3] == "10.96.0.1" and kube[5] == "443/TCP"

    assert header(cm) == ["NAMESPACE", "NAME", "DATA", "AGE"]
    row = row_for(cm, "configmap/shop-config", col=1, namespace=ns)
    assert row[0] == ns and row[2] == "2"


def test_get_pods_watch(kubectl, server, ns):
    with KubectlStream(server.kubeconfig, "get", "pods", "-n", ns, "-w") as plain, KubectlStream(
        server.kubeconfig, "get", "pods", "-n", ns, "-w", "--output-watch-events"
    ) as events:
        # An empty namespace prints nothing until the first event; make sure
        # both watches are established by waiting for the first pod.
        kubectl("run", "w1", "--image=nginx:1.27", "-n", ns)
        events.wait_for_line(lambda ls: any(l.startswith("ADDED") for l in ls), desc="ADDED row")
        plain.wait_for_line(lambda ls: any(l.startswith("w1 ") for l in ls), desc="w1 row")
        kubectl("label", "pod", "w1", "-n", ns, "stage=two")
        events.wait_for_line(lambda ls: any(l.startswith("MODIFIED") for l in ls), desc="MODIFIED row")
        kubectl("delete", "pod", "w1", "-n", ns, "--wait=false")
        events.wait_for_line(lambda ls: any(l.startswith("DELETED") for l in ls), desc="DELETED row")
        plain.wait_for_line(lambda ls: sum(1 for l in ls if l.startswith("w1 ")) >= 3, desc="three w1 rows")
    ev = table_rows("\n".join(events.lines))
    assert ev[0] == ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    kinds = [r[0] for r in ev[1:]]
    assert kinds[:3] == ["ADDED", "MODIFIED", "DELETED"], events.lines
    for r in ev[1:4]:
        assert r[1:5] == ["w1", "0/1", "Pending", "0"]
    rows = table_rows("\n".join(plain.lines))
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert all(r[:4] == ["w1", "0/1", "Pending", "0"] for r in rows[1:])


def test_describe_deployment(kubectl, ns):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "-n", ns)
    out = kubectl("describe", "deploy", "web", "-n", ns).stdout
    fields = {}
    for line in out.splitlines():
        m = re.match(r"^([A-Za-z-]+):\s+(.*)$", line)
        if m:
            fields[m.group(1)] = m.group(2).strip()
    assert fields["Name"] == "web"
    assert fields["Namespace"] == ns
    assert fields["Labels"] == "app=web"
    assert fields["Selector"] == "app=web"
    assert fields["Replicas"] == "3 desired | 0 updated | 0 total | 0 available | 0 unavailable"
    assert fields["StrategyType"] == "RollingUpdate"
    assert fields["RollingUpdateStrategy"] == "25% max unavailable, 25% max surge"
    assert re.search(r"^\s+Image:\s+nginx:1\.27$", out, re.M), out
    assert "Pod Template:" in out
    assert re.search(r"^Events:\s+<none>$", out, re.M), out


def test_label_and_annotate(kubectl, ns):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "-n", ns)
    assert kubectl("label", "deploy", "web", "-n", ns, "tier=frontend").stdout.strip() == "deployment.apps/web labeled"
    out = kubectl("get", "deploy", "web", "-n", ns, "--show-labels").stdout
    assert header(out)[-1] == "LABELS"
    assert row_for(out, "web")[-1] == "app=web,tier=frontend"
    out = kubectl("get", "deploy", "web", "-n", ns, "-L", "tier").stdout
    assert header(out)[-1] == "TIER" and row_for(out, "web")[-1] == "frontend"

    clash = kubectl("label", "deploy", "web", "-n", ns, "tier=backend", check=False)
    assert clash.rc != 0
    assert "'tier' already has a value (frontend), and --overwrite is false" in clash.stderr
    kubectl("label", "deploy", "web", "-n", ns, "tier=backend", "--overwrite")
    kubectl("label", "deploy", "web", "-n", ns, "app-")
    labels = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.metadata.labels}").stdout)
    assert labels == {"tier": "backend"}

    assert (
        kubectl("annotate", "deploy", "web", "-n", ns, "owner=team-a").stdout.strip()
        == "deployment.apps/web annotated"
    )
    got = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert got["metadata"]["annotations"]["owner"] == "team-a"
    # Labels and annotations are metadata: generation does not move.
    assert got["metadata"]["generation"] == 1


def test_patch_json_merge_strategic(kubectl, ns):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "-n", ns)
    out = kubectl(
        "patch", "deploy", "web", "-n", ns, "--type=json",
        "-p", '[{"op":"replace","path":"/spec/replicas","value":5}]',
    ).stdout
    assert out.strip() == "deployment.apps/web patched"
    kubectl("patch", "deploy", "web", "-n", ns, "--type=merge", "-p", '{"metadata":{"labels":{"merged":"yes"}}}')
    # Strategic merge: the container list merges by name, keeping the other
    # container fields.
    kubectl(
        "patch", "deploy", "web", "-n", ns, "--type=strategic",
        "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"},'
        '{"name":"sidecar","image":"busybox:1.36"}]}}}}',
    )
    got = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert got["spec"]["replicas"] == 5
    assert got["metadata"]["labels"] == {"app": "web", "merged": "yes"}
    containers = {c["name"]: c for c in got["spec"]["template"]["spec"]["containers"]}
    assert containers["nginx"]["image"] == "nginx:1.28"
    assert containers["nginx"]["imagePullPolicy"] == "IfNotPresent"
    assert containers["sidecar"]["image"] == "busybox:1.36"
    # A merge patch replaces lists wholesale.
    kubectl(
        "patch", "deploy", "web", "-n", ns, "--type=merge",
        "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"nginx:1.29"}]}}}}',
    )
    got = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert [c["name"] for c in got["spec"]["template"]["spec"]["containers"]] == ["only"]
    assert got["metadata"]["generation"] == 4
    # A JSON patch whose test op fails changes nothing.
    bad = kubectl(
        "patch", "deploy", "web", "-n", ns, "--type=json",
        "-p", '[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":1}]',
        check=False,
    )
    assert bad.rc != 0
    assert "The request is invalid" in bad.stderr
    assert json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout) == 5
    # Patching something missing is a NotFound.
    missing = kubectl("patch", "deploy", "nope", "-n", ns, "--type=merge", "-p", "{}", check=False)
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in missing.stderr


def test_scale(kubectl, ns):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "-n", ns)
    assert kubectl("scale", "deploy", "web", "-n", ns, "--replicas=7").stdout.strip() == "deployment.apps/web scaled"
    assert kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout == "7"
    bad = kubectl("scale", "deploy", "web", "-n", ns, "--current-replicas=2", "--replicas=3", check=False)
    assert bad.rc != 0
    assert "Expected replicas to be 2, was 7" in bad.stderr
    kubectl("scale", "deploy", "web", "-n", ns, "--current-replicas=7", "--replicas=1")
    assert kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout == "1"


def test_edit_with_sed_editor(kubectl, ns):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "-n", ns)
    out = kubectl("edit", "deploy", "web", "-n", ns, env={"EDITOR": "sed -i s/nginx:1.27/nginx:1.29/"}).stdout
    assert out.strip() == "deployment.apps/web edited"
    assert kubectl(
        "get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    ).stdout == "nginx:1.29"
    # An edit that changes nothing is reported as such.
    same = kubectl("edit", "deploy", "web", "-n", ns, env={"EDITOR": "true"})
    assert "Edit cancelled, no changes made." in same.stdout + same.stderr


def test_replace(kubectl, ns):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "-n", ns)
    live = kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml").stdout
    edited = live.replace("replicas: 3", "replicas: 2", 1)
    out = kubectl("replace", "-f", "-", input=edited).stdout
    assert out.strip() == "deployment.apps/web replaced"
    assert kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout == "2"
    # The YAML still carries the old resourceVersion: a second replace with
    # it is a conflict.
    stale = kubectl("replace", "-f", "-", input=edited, check=False)
    assert stale.rc != 0
    assert "Error from server (Conflict)" in stale.stderr
    assert "the object has been modified; please apply your changes to the latest version and try again" in stale.stderr
    # --force deletes and recreates.
    forced = kubectl("replace", "--force", "-f", "-", input=edited.replace("replicas: 2", "replicas: 6"))
    assert "deployment.apps/web replaced" in forced.stdout
    assert kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout == "6"


def test_delete_cascade_foreground(kubectl, api, ns):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "-n", ns)
    owner = api.ok("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    # A dependent with its own finalizer keeps the owner waiting.
    dep = pod("web-dep")
    dep["metadata"]["finalizers"] = ["e2e.bosun.dev/hold"]
    dep["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", dep)
    out = kubectl("delete", "deploy", "web", "-n", ns, "--cascade=foreground", "--wait=false").stdout
    assert out.strip() == 'deployment.apps "web" deleted'

    def owner_waiting():
        d = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()
        return d if d.get("metadata", {}).get("deletionTimestamp") else None

    d = wait_for(owner_waiting, desc="owner to be terminating")
    assert "foregroundDeletion" in d["metadata"]["finalizers"]
    # The dependent is being deleted, but is held by its finalizer.
    p = wait_for(
        lambda: (lambda o: o if o["metadata"].get("deletionTimestamp") else None)(
            api.get(f"/api/v1/namespaces/{ns}/pods/web-dep").json()
        ),
        desc="dependent to be terminating",
    )
    assert p["metadata"]["finalizers"] == ["e2e.bosun.dev/hold"]
    # The owner is still there while the dependent exists.
    assert api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").status_code == 200
    # Release the dependent: both go away.
    kubectl("patch", "pod", "web-dep", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/pods/web-dep").status_code == 404, desc="dependent gone")
    wait_for(lambda: api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").status_code == 404, desc="owner gone")

    # The default kubectl delete waits for the object to be gone.
    kubectl("create", "deployment", "web2", "--image=nginx:1.27", "-n", ns)
    out = kubectl("delete", "deploy", "web2", "-n", ns, "--cascade=foreground").stdout
    assert out.strip() == 'deployment.apps "web2" deleted'
    gone = kubectl("get", "deploy", "web2", "-n", ns, check=False)
    assert 'Error from server (NotFound): deployments.apps "web2" not found' in gone.stderr


def test_api_resources(kubectl):
    out = kubectl("api-resources").stdout
    assert header(out) == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = table_rows(out)[1:]
    by = {(r[-1], r[-3]): r for r in rows}
    assert by[("Deployment", "apps/v1")] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert by[("Namespace", "v1")] == ["namespaces", "ns", "v1", "false", "Namespace"]
    assert by[("Secret", "v1")] == ["secrets", "v1", "true", "Secret"]
    assert by[("CronJob", "batch/v1")] == ["cronjobs", "cj", "batch/v1", "true", "CronJob"]
    assert by[("Lease", "coordination.k8s.io/v1")][0] == "leases"
    assert by[("PriorityClass", "scheduling.k8s.io/v1")][3] == "false"
    kinds = {r[-1] for r in rows}
    for kind in [
        "Namespace", "Pod", "Node", "Service", "Endpoints", "ConfigMap", "Secret", "ServiceAccount", "Event",
        "ResourceQuota", "LimitRange", "PersistentVolumeClaim", "PersistentVolume", "Deployment", "ReplicaSet",
        "StatefulSet", "DaemonSet", "ControllerRevision", "Job", "CronJob", "Lease", "EndpointSlice",
        "PriorityClass", "PodDisruptionBudget",
    ]:
        assert kind in kinds, kind
    names = kubectl("api-resources", "--api-group=apps", "-o", "name").stdout.split()
    assert sorted(names) == sorted(
        ["controllerrevisions.apps", "daemonsets.apps", "deployments.apps", "replicasets.apps", "statefulsets.apps"]
    )
    wide = kubectl("api-resources", "--namespaced=false", "-o", "wide").stdout
    assert header(wide) == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES"]
    assert row_for(wide, "namespaces")[5] == "create,delete,get,list,patch,update,watch"
    assert row_for(wide, "nodes")[5] == "create,delete,deletecollection,get,list,patch,update,watch"
    pods = row_for(kubectl("api-resources", "--api-group=", "-o", "wide").stdout, "pods")
    assert pods[-1] == "all"


def test_explain(kubectl):
    out = kubectl("explain", "deployment.spec.strategy").stdout
    assert "GROUP:      apps" in out
    assert "KIND:       Deployment" in out
    assert "VERSION:    v1" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert re.search(r"^\s+rollingUpdate\s+<RollingUpdateDeployment>$", out, re.M), out
    assert re.search(r"^\s+type\s+<string>$", out, re.M), out
    recursive = kubectl("explain", "pod.spec.containers", "--recursive").stdout
    assert re.search(r"^\s+image\s+<string>$", recursive, re.M)
    missing = kubectl("explain", "deployment.spec.nope", check=False)
    assert missing.rc != 0
    assert 'field "nope" does not exist' in missing.stderr
