"""Bad requests over raw HTTPS: each answers with the upstream status code
and a Status body, and leaves the stored state exactly as it was."""

from __future__ import annotations

import json

import pytest
import requests

from support import configmap, deployment


def snapshot(api, ns: str) -> dict:
    """Every ConfigMap and Deployment in the namespace, by name → RV."""
    out = {}
    for path in [f"/api/v1/namespaces/{ns}/configmaps", f"/apis/apps/v1/namespaces/{ns}/deployments"]:
        listing = api.ok("GET", path)
        for item in listing["items"]:
            out[f"{path}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


@pytest.fixture
def seeded(api, ns):
    api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("keep", {"a": "1"}))
    api.ok("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("app"))
    return ns


def assert_status(resp: requests.Response, code: int, reason: str) -> dict:
    assert resp.status_code == code, f"{resp.status_code}: {resp.text}"
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == code
    assert body["reason"] == reason
    return body


CM = lambda ns: f"/api/v1/namespaces/{ns}/configmaps"  # noqa: E731


BAD_REQUESTS = {
    "malformed-json": dict(
        method="POST", path=CM, headers={"Content-Type": "application/json"}, data=b'{"kind": "ConfigMap", ',
        code=400, reason="BadRequest", message=None,
    ),
    "malformed-yaml": dict(
        method="POST", path=CM, headers={"Content-Type": "application/yaml"},
        data=b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
        code=400, reason="BadRequest", message=None,
    ),
    "malformed-protobuf": dict(
        method="POST", path=CM, headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
        data=b"\x00\x01garbage\xff\xfe",
        code=400, reason="BadRequest", message=None,
    ),
    "truncated-protobuf-envelope": dict(
        method="POST", path=CM, headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
        data=b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\xff\xff",
        code=400, reason="BadRequest", message=None,
    ),
    "wrong-kind": dict(
        method="POST", path=CM, headers={"Content-Type": "application/json"},
        data=json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wrong"}}).encode(),
        code=400, reason="BadRequest",
        message="the kind in the data (Secret) does not match the expected kind (ConfigMap)",
    ),
    "wrong-api-version": dict(
        method="POST", path=lambda ns: f"/apis/apps/v1/namespaces/{ns}/deployments",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "old"}}).encode(),
        code=400, reason="BadRequest", message=None,
    ),
    "wrong-field-type": dict(
        method="POST", path=lambda ns: f"/apis/apps/v1/namespaces/{ns}/deployments",
        headers={"Content-Type": "application/json"},
        data=json.dumps(dict(deployment("typed"), spec={"replicas": "three"})).encode(),
        code=400, reason="BadRequest", message="cannot be handled as a Deployment",
    ),
    "unknown-field-strict": dict(
        method="POST", path=lambda ns: f"/apis/apps/v1/namespaces/{ns}/deployments?fieldValidation=Strict",
        headers={"Content-Type": "application/json"},
        data=json.dumps(dict(deployment("strict"), spec=dict(deployment("strict")["spec"], foo=1))).encode(),
        code=400, reason="BadRequest", message='strict decoding error: unknown field "spec.foo"',
    ),
    "namespace-mismatch": dict(
        method="POST", path=CM, headers={"Content-Type": "application/json"},
        data=json.dumps(configmap("elsewhere", namespace="kube-system")).encode(),
        code=400, reason="BadRequest",
        message="the namespace of the provided object does not match the namespace sent on the request",
    ),
    "name-mismatch-on-put": dict(
        method="PUT", path=lambda ns: f"/api/v1/namespaces/{ns}/configmaps/keep",
        headers={"Content-Type": "application/json"},
        data=json.dumps(configmap("other")).encode(),
        code=400, reason="BadRequest", message="the name of the object (other) does not match the name on the URL (keep)",
    ),
    "malformed-merge-patch": dict(
        method="PATCH", path=lambda ns: f"/api/v1/namespaces/{ns}/configmaps/keep",
        headers={"Content-Type": "application/merge-patch+json"}, data=b"{not json",
        code=400, reason="BadRequest", message=None,
    ),
    "malformed-json-patch": dict(
        method="PATCH", path=lambda ns: f"/api/v1/namespaces/{ns}/configmaps/keep",
        headers={"Content-Type": "application/json-patch+json"}, data=b'{"op": "add"}',
        code=400, reason="BadRequest", message=None,
    ),
    "unsupported-patch-type": dict(
        method="PATCH", path=lambda ns: f"/api/v1/namespaces/{ns}/configmaps/keep",
        headers={"Content-Type": "text/plain"}, data=b"hello",
        code=415, reason="UnsupportedMediaType", message=None,
    ),
    "bad-field-validation-value": dict(
        method="POST", path=lambda ns: f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Loose",
        headers={"Content-Type": "application/json"}, data=json.dumps(configmap("loose")).encode(),
        code=400, reason="BadRequest", message="fieldValidation parameter unsupported: Loose",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_request_leaves_state_unchanged(api, seeded, case):
    spec = BAD_REQUESTS[case]
    before = snapshot(api, seeded)
    resp = api.request(spec["method"], spec["path"](seeded), data=spec["data"], headers=spec["headers"])
    body = assert_status(resp, spec["code"], spec["reason"])
    if spec["message"]:
        assert spec["message"] in body["message"], body["message"]
    assert snapshot(api, seeded) == before


def test_invalid_names_are_unprocessable(api, seeded):
    before = snapshot(api, seeded)
    for name in ["Foo_Bar", "UPPER", "-leading-dash", "a" * 254]:
        resp = api.post(CM(seeded), configmap(name))
        body = assert_status(resp, 422, "Invalid")
        assert body["message"].startswith(f'ConfigMap "{name}" is invalid: metadata.name: Invalid value')
        assert body["details"]["name"] == name
        assert body["details"]["kind"] == "ConfigMap"
        fields = [c["field"] for c in body["details"]["causes"]]
        assert fields and all(f == "metadata.name" for f in fields), body
        assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"
    # A missing name without generateName.
    resp = api.post(CM(seeded), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    body = assert_status(resp, 422, "Invalid")
    assert any(c["field"] == "metadata.name" and c["reason"] == "FieldValueRequired" for c in body["details"]["causes"])
    # Deployments carry several causes with their field paths.
    bad = deployment("bad-deploy")
    bad["spec"]["replicas"] = -1
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "mismatch"}
    resp = api.post(f"/apis/apps/v1/namespaces/{seeded}/deployments", bad)
    body = assert_status(resp, 422, "Invalid")
    fields = {c["field"] for c in body["details"]["causes"]}
    assert "spec.replicas" in fields
    assert "spec.template.metadata.labels" in fields
    assert snapshot(api, seeded) == before


def test_body_over_3_mib_is_rejected(api, seeded):
    before = snapshot(api, seeded)
    big = configmap("big", {"blob": "x" * (3 * 1024 * 1024 + 16)})
    resp = api.post(CM(seeded), data=json.dumps(big).encode(), headers={"Content-Type": "application/json"})
    body = assert_status(resp, 413, "RequestEntityTooLarge")
    assert "limit is 3145728" in body["message"]
    assert snapshot(api, seeded) == before


def test_stale_resource_version_conflict(api, seeded):
    path = f"{CM(seeded)}/keep"
    obj = api.ok("GET", path)
    obj["data"]["a"] = "2"
    api.ok("PUT", path, obj)
    before = snapshot(api, seeded)
    obj["data"]["a"] = "3"
    body = assert_status(api.put(path, obj), 409, "Conflict")
    assert "the object has been modified" in body["message"]
    assert snapshot(api, seeded) == before
    assert api.ok("GET", path)["data"] == {"a": "2"}


def test_create_existing_and_missing_objects(api, seeded):
    before = snapshot(api, seeded)
    body = assert_status(api.post(CM(seeded), configmap("keep")), 409, "AlreadyExists")
    assert body["message"] == 'configmaps "keep" already exists'
    assert body["details"] == {"name": "keep", "kind": "configmaps"}
    body = assert_status(api.get(f"{CM(seeded)}/ghost"), 404, "NotFound")
    assert body["message"] == 'configmaps "ghost" not found'
    body = assert_status(api.get(f"/apis/apps/v1/namespaces/{seeded}/deployments/ghost"), 404, "NotFound")
    assert body["message"] == 'deployments.apps "ghost" not found'
    body = assert_status(api.post("/api/v1/namespaces/no-such-ns/configmaps", configmap("x")), 404, "NotFound")
    assert body["message"] == 'namespaces "no-such-ns" not found'
    body = assert_status(api.delete(f"{CM(seeded)}/ghost"), 404, "NotFound")
    assert_status(api.get("/api/v1/namespaces/default/widgets"), 404, "NotFound")
    assert snapshot(api, seeded) == before


def test_kind_and_api_version_default_from_the_url(api, seeded):
    # As upstream, the URL supplies a body's missing apiVersion and kind.
    resp = api.post(CM(seeded), {"metadata": {"name": "bare"}, "data": {"k": "v"}})
    assert resp.status_code == 201, resp.text
    assert resp.json()["kind"] == "ConfigMap" and resp.json()["apiVersion"] == "v1"
    resp = api.post(CM(seeded), {"kind": "ConfigMap", "metadata": {"name": "noversion"}})
    assert resp.status_code == 201, resp.text
    # An empty object has no name: invalid, not undecodable.
    assert_status(api.post(CM(seeded), {}), 422, "Invalid")


def test_unknown_fields_warn_by_default(api, seeded):
    d = deployment("warned")
    d["spec"]["foo"] = 1
    resp = api.post(f"/apis/apps/v1/namespaces/{seeded}/deployments", d)
    assert resp.status_code == 201, resp.text
    assert resp.headers.get("Warning") == '299 - "unknown field \\"spec.foo\\""'
    assert "foo" not in resp.json()["spec"]
    d["metadata"]["name"] = "ignored"
    resp = api.post(f"/apis/apps/v1/namespaces/{seeded}/deployments?fieldValidation=Ignore", d)
    assert resp.status_code == 201
    assert "Warning" not in resp.headers


def test_authentication(server, seeded):
    url = server.url + f"/api/v1/namespaces/{seeded}/configmaps"
    ca = str(server.pki / "ca.crt")
    session = requests.Session()
    session.trust_env = False
    # No client certificate, no token.
    resp = session.get(url, verify=ca, timeout=10)
    body = assert_status(resp, 401, "Unauthorized")
    assert body["message"] == "Unauthorized"
    # A wrong token.
    resp = session.get(url, verify=ca, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert_status(resp, 401, "Unauthorized")
    resp = session.post(
        url, verify=ca, headers={"Authorization": "Bearer not-the-token"}, json=configmap("sneaky"), timeout=10
    )
    assert_status(resp, 401, "Unauthorized")
    # The token from admin-token.kubeconfig works.
    token = server.token()
    resp = session.get(url, verify=ca, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200
    assert "keep" in [i["metadata"]["name"] for i in resp.json()["items"]]
    assert server.api.get(f"/api/v1/namespaces/{seeded}/configmaps/sneaky").status_code == 404
    # Health endpoints are public.
    assert session.get(server.url + "/readyz", verify=ca, timeout=10).text == "ok"
    # kubectl with the token kubeconfig.
    from support import run_kubectl

    out = run_kubectl(server.token_kubeconfig, "get", "cm", "keep", "-n", seeded, "-o", "name").stdout
    assert out.strip() == "configmap/keep"
