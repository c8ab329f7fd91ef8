"""The official ``kubernetes`` Python client (32.0.1, matching 1.32) against
bosun: typed create/list/patch/watch in CoreV1Api and AppsV1Api."""

from __future__ import annotations

import contextlib
import ipaddress
import threading

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from support import unique


@contextlib.contextmanager
def content_type(api, value: str):
    """Sends ``value`` as the patch Content-Type: the generated client
    picks strategic merge for dicts and JSON patch for lists on its own."""
    api.api_client.set_default_header("Content-Type", value)
    try:
        yield api
    finally:
        api.api_client.default_headers.pop("Content-Type", None)


@pytest.fixture(scope="module")
def k8s(server):
    api_client = config.new_client_from_config(config_file=server.kubeconfig)
    yield api_client
    api_client.close()


@pytest.fixture
def core(k8s):
    return client.CoreV1Api(k8s)


@pytest.fixture
def apps(k8s):
    return client.AppsV1Api(k8s)


def test_version_and_namespaces(k8s, core):
    info = client.VersionApi(k8s).get_code()
    assert info.git_version == "v1.32.5"
    assert (info.major, info.minor) == ("1", "32")
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_core_objects(core, ns):
    cm = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"app": "demo"}),
        data={"mode": "fast"},
    )
    created = core.create_namespaced_config_map(ns, cm)
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None

    secret = client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"password": "s3cret"})
    made = core.create_namespaced_secret(ns, secret)
    assert made.data == {"password": "czNjcmV0"}
    assert made.string_data is None
    assert made.type == "Opaque"

    svc = client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(selector={"app": "demo"}, ports=[client.V1ServicePort(port=80, target_port=8080)]),
    )
    svc = core.create_namespaced_service(ns, svc)
    assert svc.spec.type == "ClusterIP"
    assert ipaddress.ip_address(svc.spec.cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
    assert svc.spec.ports[0].protocol == "TCP"

    p = client.V1Pod(
        metadata=client.V1ObjectMeta(name="demo", labels={"app": "demo"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx:1.27")]),
    )
    created_pod = core.create_namespaced_pod(ns, p)
    assert created_pod.status.phase == "Pending"
    assert created_pod.spec.restart_policy == "Always"
    assert created_pod.spec.containers[0].termination_message_path == "/dev/termination-log"

    listed = core.list_namespaced_config_map(ns, label_selector="app=demo")
    assert [c.metadata.name for c in listed.items] == ["settings"]
    pods = core.list_namespaced_pod(ns, field_selector="status.phase=Pending")
    assert [x.metadata.name for x in pods.items] == ["demo"]
    all_pods = core.list_pod_for_all_namespaces(label_selector="app=demo", field_selector=f"metadata.namespace={ns}")
    assert [x.metadata.name for x in all_pods.items] == ["demo"]

    # Patches: strategic (the client's default for dicts), merge, json.
    core.patch_namespaced_config_map("settings", ns, {"data": {"extra": "1"}})
    got = core.read_namespaced_config_map("settings", ns)
    assert got.data == {"mode": "fast", "extra": "1"}
    with content_type(core, "application/merge-patch+json"):
        merged = core.patch_namespaced_config_map(
            "settings", ns, {"metadata": {"labels": {"tier": "x"}}, "data": {"mode": None}}
        )
    assert merged.data == {"extra": "1"}
    assert merged.metadata.labels == {"app": "demo", "tier": "x"}
    jsonp = core.patch_namespaced_config_map(
        "settings", ns, [{"op": "add", "path": "/data/added", "value": "yes"}],
    )
    assert jsonp.data == {"extra": "1", "added": "yes"}

    # Strategic merge on a pod's containers merges by name.
    patched = core.patch_namespaced_pod(
        "demo", ns, {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}
    )
    assert patched.spec.containers[0].image == "nginx:1.28"
    assert patched.spec.containers[0].image_pull_policy == "IfNotPresent"

    core.delete_namespaced_config_map("settings", ns)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("settings", ns)
    assert err.value.status == 404
    assert err.value.reason == "Not Found"
    assert '"reason":"NotFound"' in err.value.body.replace(" ", "")


def test_apps_objects(apps, ns):
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="web",
                            image="nginx:1.27",
                            env=[client.V1EnvVar(name="A", value="1"), client.V1EnvVar(name="B", value="2")],
                        )
                    ]
                ),
            ),
        ),
    )
    created = apps.create_namespaced_deployment(ns, dep)
    assert created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600

    listed = apps.list_namespaced_deployment(ns)
    assert [d.metadata.name for d in listed.items] == ["web"]

    # Strategic merge patch: env merges by name, $patch: delete removes one.
    apps.patch_namespaced_deployment(
        "web", ns,
        {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "env": [{"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}]}
        ]}}}},
    )
    got = apps.read_namespaced_deployment("web", ns)
    assert [(e.name, e.value) for e in got.spec.template.spec.containers[0].env] == [("C", "3"), ("B", "2")]
    assert got.metadata.generation == 2

    # Merge patch replaces the list.
    with content_type(apps, "application/merge-patch+json"):
        got = apps.patch_namespaced_deployment(
            "web", ns, {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}
        )
    assert got.spec.template.spec.containers[0].env is None
    assert got.spec.template.spec.containers[0].image == "nginx:1.28"

    # JSON patch.
    got = apps.patch_namespaced_deployment(
        "web", ns, [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    )
    assert got.spec.replicas == 4

    # Scale and status through their typed APIs.
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert scale.spec.replicas == 4
    assert scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 1}})
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 1
    st = apps.patch_namespaced_deployment_status("web", ns, {"status": {"replicas": 1, "readyReplicas": 1}})
    assert st.status.ready_replicas == 1
    assert st.spec.replicas == 1

    # Server-side apply through the client.
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "applied", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "applied"}},
            "template": {
                "metadata": {"labels": {"app": "applied"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }
    with content_type(apps, "application/apply-patch+yaml"):
        applied = apps.patch_namespaced_deployment("applied", ns, body, field_manager="e2e")
    assert applied.metadata.managed_fields[0].manager == "e2e"
    assert applied.metadata.managed_fields[0].operation == "Apply"
    assert applied.spec.replicas == 1

    with pytest.raises(ApiException) as err:
        apps.read_namespaced_stateful_set("nope", ns)
    assert err.value.status == 404

    apps.delete_namespaced_deployment("web", ns, propagation_policy="Background")
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("web", ns)
    assert err.value.status == 404


def test_errors_surface_as_api_exceptions(core, ns):
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("missing", ns)
    assert err.value.status == 404
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dup")))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dup")))
    assert err.value.status == 409
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Not_Valid")))
    assert err.value.status == 422
    cm = core.read_namespaced_config_map("dup", ns)
    core.replace_namespaced_config_map("dup", ns, client.V1ConfigMap(metadata=cm.metadata, data={"a": "1"}))
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("dup", ns, client.V1ConfigMap(metadata=cm.metadata, data={"a": "2"}))
    assert err.value.status == 409


def test_watch_stream(core, ns):
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    w = watch.Watch()
    events: list[tuple[str, str, dict]] = []
    done = threading.Event()

    def consume():
        for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=start, timeout_seconds=20):
            obj = ev["object"]
            events.append((ev["type"], obj.metadata.name, dict(obj.data or {})))
            if ev["type"] == "DELETED":
                break
        done.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"), data={"v": "1"}))
    core.patch_namespaced_config_map("watched", ns, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("watched", ns)
    assert done.wait(25), f"watch did not finish: {events}"
    w.stop()
    assert events == [
        ("ADDED", "watched", {"v": "1"}),
        ("MODIFIED", "watched", {"v": "2"}),
        ("DELETED", "watched", {"v": "2"}),
    ]


def test_watch_deployments_from_resource_version(apps, ns):
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "wd"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "wd"}},
            "template": {"metadata": {"labels": {"app": "wd"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }
    created = apps.create_namespaced_deployment(ns, dep)
    apps.patch_namespaced_deployment("wd", ns, {"spec": {"replicas": 2}})
    apps.delete_namespaced_deployment("wd", ns)
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        apps.list_namespaced_deployment, ns, resource_version=created.metadata.resource_version, timeout_seconds=15
    ):
        seen.append((ev["type"], ev["object"].spec.replicas))
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("MODIFIED", 2), ("DELETED", 2)]


def test_pagination_with_client(core, ns):
    for i in range(5):
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"p{i}")))
    names, token = [], None
    while True:
        page = core.list_namespaced_config_map(ns, limit=2, _continue=token)
        assert len(page.items) <= 2
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == [f"p{i}" for i in range(5)]


def test_namespace_lifecycle_with_client(core):
    name = unique("pyns")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    got = core.read_namespace(name)
    assert got.status.phase == "Active"
    assert got.spec.finalizers == ["kubernetes"]
    assert got.metadata.labels["kubernetes.io/metadata.name"] == name
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="inside")))
    core.delete_namespace(name)

    def gone():
        try:
            core.read_namespace(name)
            return False
        except ApiException as exc:
            return exc.status == 404

    from support import wait_for

    wait_for(gone, desc="namespace to be deleted")
