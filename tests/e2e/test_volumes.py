"""Pod volumes on `bosun agent` (real containers), and the API server's
service account tokens (TokenRequest, bearer authentication).

Uses the shared agent fixture (agent_support.py) (own server, agent and containerd
for this module; same bridge / pod range environment). Containers print
what they see; the test reads their log files under the agent's data dir
(`pods/<uid>/<container>/0.log`), so no exec or log streaming is needed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import requests

import pytest

from agent_support import IMAGE, Agent, agent_cluster, pod_json, skip_unless_agent_can_run
from support import unique, wait_for

pytestmark = skip_unless_agent_can_run


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    with agent_cluster(tmp_path_factory.mktemp("agent")) as a:
        yield a

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def create_pod(agent: Agent, spec: dict, name: str | None = None, labels: dict | None = None) -> dict:
    name = name or unique("vol")
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}
    return agent.server.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)


def container(name: str, script: str, mounts: list) -> dict:
    return {"name": name, "image": IMAGE, "command": ["sh", "-c", script], "volumeMounts": mounts}


def log_text(agent: Agent, pod: dict, name: str) -> str:
    """The container's output so far (CRI log lines without their prefix)."""
    path = agent.data_dir / "pods" / pod["metadata"]["uid"] / name / "0.log"
    try:
        raw = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(line.split(" ", 3)[3] for line in raw.splitlines() if line.count(" ") >= 3)


def wait_log(agent: Agent, pod: dict, name: str, needle: str, timeout: float = 60) -> str:
    def seen():
        text = log_text(agent, pod, name)
        return text if needle in text else None

    try:
        return wait_for(seen, timeout=timeout, interval=0.3, desc=f"{needle!r} in {name}'s output")
    except AssertionError:
        raise AssertionError(f"{needle!r} not in {name}'s output: {log_text(agent, pod, name)!r}\n"
                             f"pod: {pod_json(agent.server, 'default', pod['metadata']['name']).get('status')}\n{agent.output()}")


def delete_and_wait(agent: Agent, name: str) -> None:
    srv = agent.server
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")
    wait_for(lambda: srv.api.get(f"/api/v1/namespaces/default/pods/{name}").status_code == 404, timeout=40, interval=0.2, desc=f"{name} removed")


def mounts_under(path: Path) -> list[str]:
    return [line.split(" ")[4] for line in Path("/proc/self/mountinfo").read_text().splitlines() if line.split(" ")[4].startswith(str(path))]


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def bearer_get(agent: Agent, token: str, path: str) -> requests.Response:
    srv = agent.server
    return requests.get(srv.url + path, headers={"Authorization": f"Bearer {token}"}, verify=str(srv.pki / "ca.crt"), timeout=10)


def test_empty_dir_is_shared_and_memory_medium_is_tmpfs(agent: Agent):
    pod = create_pod(agent, {
        "automountServiceAccountToken": False,
        "volumes": [{"name": "shared", "emptyDir": {}},
                    {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
        "containers": [
            container("writer", "echo from-writer > /shared/note; echo in-memory > /mem/f; sleep 3600",
                      [{"name": "shared", "mountPath": "/shared"}, {"name": "mem", "mountPath": "/mem"}]),
            container("reader", "until cat /shared/note; do sleep 0.2; done; grep ' /mem ' /proc/mounts; sleep 3600",
                      [{"name": "shared", "mountPath": "/shared", "readOnly": True}, {"name": "mem", "mountPath": "/mem"}]),
        ],
    })
    out = wait_log(agent, pod, "reader", "tmpfs /mem tmpfs")
    assert "from-writer" in out
    assert "size=16384k" in out, out
    vol_dir = agent.data_dir / "pods" / pod["metadata"]["uid"] / "volumes"
    assert (vol_dir / "kubernetes.io~empty-dir" / "shared" / "note").read_text() == "from-writer\n"
    assert mounts_under(vol_dir) == [str(vol_dir / "kubernetes.io~empty-dir" / "mem")]
    delete_and_wait(agent, pod["metadata"]["name"])
    # Torn down: tmpfs unmounted, directories removed.
    wait_for(lambda: not mounts_under(vol_dir) and not vol_dir.exists(), timeout=20, interval=0.3, desc="volumes torn down")


def test_host_path_and_claim_bound_to_host_path_volume(agent: Agent, tmp_path):
    srv = agent.server
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "from-host").write_text("host-data\n")
    pv_dir = tmp_path / "pv"
    pv, pvc = unique("pv"), unique("claim")
    srv.api.ok("POST", "/api/v1/persistentvolumes", {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                 "hostPath": {"path": str(pv_dir), "type": "DirectoryOrCreate"}}})
    srv.api.ok("POST", "/api/v1/namespaces/default/persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": pvc},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual", "resources": {"requests": {"storage": "500Mi"}}}})

    def bound():
        c = srv.api.ok("GET", f"/api/v1/namespaces/default/persistentvolumeclaims/{pvc}")
        return c if c.get("status", {}).get("phase") == "Bound" else None

    claim = wait_for(bound, timeout=30, interval=0.3, desc="the claim to bind")
    assert claim["spec"]["volumeName"] == pv
    assert claim["status"]["capacity"]["storage"] == "1Gi"
    volume = srv.api.ok("GET", f"/api/v1/persistentvolumes/{pv}")
    assert volume["status"]["phase"] == "Bound"
    assert volume["spec"]["claimRef"]["name"] == pvc
    pod = create_pod(agent, {
        "automountServiceAccountToken": False,
        "volumes": [{"name": "host", "hostPath": {"path": str(host_dir), "type": "Directory"}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": pvc}}],
        "containers": [container("c", "cat /host/from-host; echo written-by-pod > /data/out; echo done; sleep 3600",
                                 [{"name": "host", "mountPath": "/host", "readOnly": True},
                                  {"name": "data", "mountPath": "/data"}])],
    })
    out = wait_log(agent, pod, "c", "done")
    assert "host-data" in out
    assert (pv_dir / "out").read_text() == "written-by-pod\n"
    delete_and_wait(agent, pod["metadata"]["name"])
    # Host paths and persistent volumes survive the pod.
    assert (pv_dir / "out").exists() and (host_dir / "from-host").exists()


def test_config_map_secret_and_downward_api_files_and_updates(agent: Agent):
    srv = agent.server
    cm, secret = unique("cm"), unique("secret")
    srv.api.ok("POST", "/api/v1/namespaces/default/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cm}, "data": {"greeting": "v1", "other": "x"}})
    srv.api.ok("POST", "/api/v1/namespaces/default/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret},
        "data": {"password": base64.b64encode(b"hunter2").decode()}, "stringData": {"user": "admin"}})
    script = ("ls -l /cfg/conf/; stat -c '%a' /cfg/..data/conf/greeting.txt; cat /sec/password; echo; cat /sec/user; echo; "
              "cat /info/labels; echo; while true; do echo \"greeting=$(cat /cfg/conf/greeting.txt)\"; sleep 0.5; done")
    pod = create_pod(agent, {
        "automountServiceAccountToken": False,
        "volumes": [
            {"name": "cfg", "configMap": {"name": cm, "items": [{"key": "greeting", "path": "conf/greeting.txt", "mode": 0o600}]}},
            {"name": "sec", "secret": {"secretName": secret, "defaultMode": 0o400}},
            {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        ],
        "containers": [container("c", script, [{"name": "cfg", "mountPath": "/cfg"}, {"name": "sec", "mountPath": "/sec"},
                                              {"name": "info", "mountPath": "/info"}])],
    }, labels={"app": "vols", "tier": "test"})
    out = wait_log(agent, pod, "c", "greeting=v1")
    assert "hunter2" in out and "admin" in out
    assert 'app="vols"\ntier="test"' in out, out
    assert "\n600\n" in f"\n{out}\n", out
    assert "other" not in out  # only the listed item
    # The mount is read-only and the files follow the ConfigMap.
    srv.api.ok("PUT", f"/api/v1/namespaces/default/configmaps/{cm}", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cm}, "data": {"greeting": "v2"}})
    wait_log(agent, pod, "c", "greeting=v2", timeout=45)
    vols = agent.data_dir / "pods" / pod["metadata"]["uid"] / "volumes"
    vol = vols / "kubernetes.io~configmap" / "cfg"
    assert (vol / "..data").is_symlink() and (vol / "conf").is_symlink()
    # Secrets stay in memory (tmpfs), as kubelet keeps them.
    assert mounts_under(vols) == [str(vols / "kubernetes.io~secret" / "sec")]
    delete_and_wait(agent, pod["metadata"]["name"])


def test_missing_config_map_fails_mount_until_created(agent: Agent):
    srv = agent.server
    cm = unique("later")
    pod = create_pod(agent, {
        "automountServiceAccountToken": False,
        "volumes": [{"name": "cfg", "configMap": {"name": cm}}, {"name": "opt", "configMap": {"name": "absent", "optional": True}}],
        "containers": [container("c", "cat /cfg/key; echo; echo started; sleep 3600",
                                 [{"name": "cfg", "mountPath": "/cfg"}, {"name": "opt", "mountPath": "/opt"}])],
    })
    name = pod["metadata"]["name"]
    want = f'MountVolume.SetUp failed for volume "cfg" : configmap "{cm}" not found'

    def failed_mount():
        events = srv.api.ok("GET", f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name={name}")["items"]
        return [e for e in events if e["reason"] == "FailedMount"]

    events = wait_for(failed_mount, timeout=30, interval=0.3, desc="a FailedMount event")
    assert events[0]["message"] == want and events[0]["type"] == "Warning"
    p = pod_json(srv, "default", name)
    assert p["status"]["phase"] == "Pending"
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    srv.api.ok("POST", "/api/v1/namespaces/default/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cm}, "data": {"key": "arrived"}})
    out = wait_log(agent, pod, "c", "started", timeout=30)
    assert "arrived" in out
    wait_for(lambda: pod_json(srv, "default", name)["status"].get("phase") == "Running", timeout=20, interval=0.3, desc="running")
    delete_and_wait(agent, name)


def test_projected_service_account_token_authenticates_as_the_account(agent: Agent):
    srv = agent.server
    pod = create_pod(agent, {"containers": [container(
        "c", f"cat {SA_DIR}/token; echo; cat {SA_DIR}/namespace; echo; head -1 {SA_DIR}/ca.crt; echo end; sleep 3600", [])]})
    name = pod["metadata"]["name"]
    # The ServiceAccount admission plugin added the volume and mount.
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    vol = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(vol) == 1, spec["volumes"]
    assert spec["containers"][0]["volumeMounts"] == [{"name": vol[0]["name"], "readOnly": True, "mountPath": SA_DIR}]
    out = wait_log(agent, pod, "c", "end")
    token, namespace, ca_line = out.splitlines()[:3]
    assert namespace == "default"
    assert ca_line == "-----BEGIN CERTIFICATE-----"
    claims = jwt_claims(token)
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["exp"] - claims["iat"] == 3607
    k = claims["kubernetes.io"]
    assert k["namespace"] == "default"
    assert k["pod"] == {"name": name, "uid": pod["metadata"]["uid"]}
    assert k["node"]["name"] == agent.node
    sa = srv.api.ok("GET", "/api/v1/namespaces/default/serviceaccounts/default")
    assert k["serviceaccount"] == {"name": "default", "uid": sa["metadata"]["uid"]}
    # The API server accepts the token as the service account...
    assert bearer_get(agent, token, "/api/v1/namespaces/default/pods").status_code == 200
    assert bearer_get(agent, token[:-4] + "AAAA", "/api/v1/namespaces/default/pods").status_code == 401
    # ...until the pod it is bound to is gone.
    delete_and_wait(agent, name)
    assert bearer_get(agent, token, "/api/v1/namespaces/default/pods").status_code == 401


def test_kubectl_create_token_and_oidc_discovery(agent: Agent):
    srv = agent.server
    token = srv.kubectl("create", "token", "default").stdout.strip()
    claims = jwt_claims(token)
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["exp"] - claims["iat"] == 3600
    assert bearer_get(agent, token, "/api/v1/namespaces/default/configmaps").status_code == 200
    # Another audience is not the API server's.
    other = srv.kubectl("create", "token", "default", "--audience=vault", "--duration=20m").stdout.strip()
    assert jwt_claims(other)["aud"] == ["vault"]
    assert jwt_claims(other)["exp"] - jwt_claims(other)["iat"] == 1200
    assert bearer_get(agent, other, "/api/v1/namespaces/default/configmaps").status_code == 401
    short = srv.kubectl("create", "token", "default", "--duration=5m", check=False)
    assert short.rc != 0 and "may not specify a duration less than 10 minutes" in short.stderr
    missing = srv.kubectl("create", "token", "nobody", check=False)
    assert missing.rc != 0 and 'serviceaccounts "nobody" not found' in missing.stderr
    # OIDC discovery is public; the key set verifies the issuer's tokens.
    disco = requests.get(srv.url + "/.well-known/openid-configuration", verify=str(srv.pki / "ca.crt"), timeout=10).json()
    assert disco["issuer"] == claims["iss"]
    jwks = requests.get(srv.url + "/openid/v1/jwks", verify=str(srv.pki / "ca.crt"), timeout=10).json()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] in [k["kid"] for k in jwks["keys"]]
    # Every namespace gets the root CA ConfigMap.
    cm = srv.api.ok("GET", "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt")
    assert cm["data"]["ca.crt"] == (srv.pki / "ca.crt").read_text()



def test_empty_dir_over_its_size_limit_evicts_the_pod(agent: Agent):
    srv = agent.server
    pod = create_pod(agent, {
        "automountServiceAccountToken": False,
        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}],
        "containers": [container("c", "dd if=/dev/zero of=/scratch/big bs=1024 count=2048; echo filled; sleep 3600",
                                 [{"name": "scratch", "mountPath": "/scratch"}])],
    })
    name = pod["metadata"]["name"]

    def failed():
        p = pod_json(srv, "default", name)
        return p if p["status"].get("phase") == "Failed" else None

    p = wait_for(failed, timeout=40, interval=0.3, desc="the pod to be evicted")
    assert p["status"]["reason"] == "Evicted"
    assert p["status"]["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
    assert "terminated" in p["status"]["containerStatuses"][0]["state"]
    delete_and_wait(agent, name)
