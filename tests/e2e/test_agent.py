"""`bosun agent`: real containers through the agent's own containerd.

One server (scheduler and controllers on) and one agent run for the module
(agent_support.agent_cluster).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from agent_support import IMAGE, POD_CIDR, Agent, agent_cluster, condition, pod_json, skip_unless_agent_can_run
from support import bosun_bin, free_port, stop_process, unique, wait_for

pytestmark = skip_unless_agent_can_run


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    with agent_cluster(tmp_path_factory.mktemp("agent")) as a:
        yield a


def test_node_registered_ready_with_lease(agent: Agent):
    srv = agent.server
    node = srv.api.ok("GET", f"/api/v1/nodes/{agent.node}")
    assert node["spec"]["podCIDR"] == POD_CIDR
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == agent.node
    assert labels["kubernetes.io/os"] == "linux"
    status = node["status"]
    assert status["capacity"]["pods"] == "110"
    assert int(status["capacity"]["cpu"]) >= 1
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://1.")
    assert status["nodeInfo"]["kernelVersion"] == os.uname().release
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True", status["conditions"]
    assert conditions["Ready"]["reason"] == "KubeletReady"
    for ty in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        assert conditions[ty]["status"] == "False", conditions[ty]
    lease = srv.api.ok("GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{agent.node}")
    assert lease["spec"]["holderIdentity"] == agent.node
    # Pod traffic leaving the range is masqueraded by one rule for the
    # range (the bridge plugin's per-pod ipMasq is off).
    nat = subprocess.run(["iptables", "-w", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True, check=True).stdout
    assert any(f"-s {POD_CIDR} ! -d {POD_CIDR}" in r and r.endswith("-j MASQUERADE") for r in nat.splitlines()), nat


def test_web_pod_runs_answers_http_and_is_deleted(agent: Agent):
    srv = agent.server
    name = unique("web")
    srv.kubectl("run", name, f"--image={IMAGE}", "--image-pull-policy=IfNotPresent", "--env=GREETING=hi",
                "--command", "--", "httpd", "-f", "-p", "8080", "-h", "/www")

    def running():
        p = pod_json(srv, "default", name)
        return p if p["status"].get("phase") == "Running" and condition(p, "Ready") == "True" else None

    pod = wait_for(running, timeout=60, interval=0.2, desc="the web pod to run")
    st = pod["status"]
    assert st["podIP"].startswith(POD_CIDR.rsplit(".", 1)[0] + "."), st
    assert st["podIPs"] == [{"ip": st["podIP"]}]
    assert st["hostIP"]
    assert st["qosClass"] == "BestEffort"
    assert st["startTime"]
    for ty in ["PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"]:
        assert condition(pod, ty) == "True", (ty, st["conditions"])
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert "running" in cs["state"]
    assert cs["containerID"].startswith("containerd://")
    assert cs["imageID"].startswith("sha256:")

    # The pod's address answers from the host.
    body = wait_for(lambda: requests.get(f"http://{st['podIP']}:8080/", timeout=2).text, timeout=15, desc="HTTP from the pod")
    assert body == "hello from bosun\n"

    cid = cs["containerID"].removeprefix("containerd://")
    assert cid in agent.ctr("containers", "ls", "-q")
    # containerd ran the container with the OCI runtime the agent named
    # (--runtime-binary: a wrapper logging its arguments before runc).
    runs = agent.runtime_log.read_text()
    assert any("create" in line.split() and cid in line for line in runs.splitlines()), runs[-2000:]

    srv.kubectl("delete", "pod", name, "--grace-period=2", "--wait=false")
    wait_for(lambda: srv.api.get(f"/api/v1/namespaces/default/pods/{name}").status_code == 404, timeout=30, interval=0.2, desc="the pod to be removed")
    # Its container and sandbox are gone from containerd.
    assert cid not in agent.ctr("containers", "ls", "-q")


def test_job_pod_succeeds(agent: Agent):
    srv = agent.server
    name = unique("job")
    srv.kubectl("create", "job", name, f"--image={IMAGE}", "--", "sh", "-c", "test \"$(hostname)\" != '' && exit 0")

    def complete():
        job = srv.api.ok("GET", f"/apis/batch/v1/namespaces/default/jobs/{name}")
        return any(c["type"] == "Complete" and c["status"] == "True" for c in job.get("status", {}).get("conditions", []))

    wait_for(complete, timeout=60, interval=0.3, desc="the job to complete")
    pods = srv.api.ok("GET", f"/api/v1/namespaces/default/pods?labelSelector=job-name={name}")["items"]
    assert len(pods) == 1
    st = pods[0]["status"]
    assert st["phase"] == "Succeeded"
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    assert condition(pods[0], "Ready") == "False"


def test_init_containers_run_in_order_and_failures_are_reported(agent: Agent):
    srv = agent.server
    name = unique("init")
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "initContainers": [
                {"name": "first", "image": IMAGE, "command": ["sh", "-c", "exit 0"]},
                {"name": "second", "image": IMAGE, "command": ["sh", "-c", "exit 0"]},
            ],
            "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", "exit 3"]}],
        },
    }
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)

    def failed():
        p = pod_json(srv, "default", name)
        return p if p["status"].get("phase") == "Failed" else None

    pod = wait_for(failed, timeout=60, interval=0.3, desc="the pod to fail")
    inits = pod["status"]["initContainerStatuses"]
    assert [i["state"]["terminated"]["exitCode"] for i in inits] == [0, 0]
    # The second init container started after the first finished.
    assert inits[1]["state"]["terminated"]["startedAt"] >= inits[0]["state"]["terminated"]["finishedAt"]
    main = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (main["exitCode"], main["reason"]) == (3, "Error")


def test_missing_image_with_never_policy_waits(agent: Agent):
    srv = agent.server
    name = unique("noimg")
    srv.kubectl("run", name, "--image=127.0.0.1:1/absent:1", "--image-pull-policy=Never")

    def waiting():
        p = pod_json(srv, "default", name)
        cs = p["status"].get("containerStatuses") or [{}]
        return cs[0].get("state", {}).get("waiting", {}).get("reason") == "ErrImageNeverPull"

    wait_for(waiting, timeout=30, interval=0.3, desc="ErrImageNeverPull")
    assert pod_json(srv, "default", name)["status"]["phase"] == "Pending"


def test_crashing_container_restarts_with_back_off(agent: Agent):
    srv = agent.server
    name = unique("crash")
    srv.kubectl("run", name, f"--image={IMAGE}", "--command", "--", "sh", "-c", "exit 1")

    def crash_looping():
        cs = (pod_json(srv, "default", name)["status"].get("containerStatuses") or [{}])[0]
        waiting = cs.get("state", {}).get("waiting", {})
        return cs if waiting.get("reason") == "CrashLoopBackOff" else None

    cs = wait_for(crash_looping, timeout=40, interval=0.3, desc="CrashLoopBackOff")
    assert cs["restartCount"] >= 1
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert pod_json(srv, "default", name)["status"]["phase"] == "Running"
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")


def test_graceful_termination_sigterm_then_sigkill(agent: Agent):
    """A container that handles SIGTERM exits at once; one that ignores it
    (a PID-1 shell without a trap) is killed when the grace period ends."""
    srv = agent.server
    polite, stubborn = unique("term"), unique("stubborn")
    srv.kubectl("run", polite, f"--image={IMAGE}", "--command", "--", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done")
    srv.kubectl("run", stubborn, f"--image={IMAGE}", "--command", "--", "sh", "-c", "while true; do sleep 0.2; done")
    for name in (polite, stubborn):
        wait_for(lambda: pod_json(srv, "default", name)["status"].get("phase") == "Running", timeout=60, interval=0.2, desc=f"{name} running")

    def removal_seconds(name: str, grace: int) -> float:
        start = time.monotonic()
        srv.kubectl("delete", "pod", name, f"--grace-period={grace}", "--wait=false")
        wait_for(lambda: srv.api.get(f"/api/v1/namespaces/default/pods/{name}").status_code == 404, timeout=grace + 30, interval=0.1, desc=f"{name} removed")
        return time.monotonic() - start

    assert removal_seconds(polite, 20) < 10
    assert removal_seconds(stubborn, 3) >= 3


def test_agent_restart_adopts_running_pods(agent: Agent):
    """kill -9 of the agent: its pods keep running; a new agent adopts them
    without restarting or duplicating anything."""
    srv = agent.server
    name = unique("survivor")
    srv.kubectl("run", name, f"--image={IMAGE}", "--command", "--", "httpd", "-f", "-p", "8080", "-h", "/www")
    wait_for(lambda: pod_json(srv, "default", name)["status"].get("phase") == "Running", timeout=60, interval=0.2, desc="running")
    before = pod_json(srv, "default", name)["status"]
    cid = before["containerStatuses"][0]["containerID"]

    agent.proc.kill()
    agent.proc.wait(timeout=10)
    # The container outlives the agent (and its containerd).
    assert requests.get(f"http://{before['podIP']}:8080/", timeout=5).status_code == 200
    agent.start()
    wait_for(lambda: agent.output().count(f"node {agent.node} registered") >= 2, timeout=60, interval=0.2, desc="agent re-registered")
    time.sleep(3)  # a few PLEG relists and syncs
    after = pod_json(srv, "default", name)["status"]
    cs = after["containerStatuses"][0]
    assert cs["containerID"] == cid and cs["restartCount"] == 0, cs
    assert after["podIP"] == before["podIP"]
    uid = pod_json(srv, "default", name)["metadata"]["uid"]
    ids = agent.ctr("containers", "ls", "-q", f'labels."io.kubernetes.pod.uid"=={uid}').split()
    # One sandbox and one container: nothing was started twice.
    assert len(ids) == 2, ids
    assert requests.get(f"http://{after['podIP']}:8080/", timeout=5).text == "hello from bosun\n"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A local registry on loopback (Debian's docker-registry), referenced
    by IP and port so containerd never asks a name resolver."""
    if shutil.which("docker-registry") is None or shutil.which("skopeo") is None:
        pytest.skip("docker-registry and skopeo are needed for pull tests")
    base = tmp_path_factory.mktemp("registry")
    port = free_port()
    (base / "config.yml").write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {base / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    with open(base / "registry.log", "wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(base / "config.yml")], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200, timeout=15, desc="registry up")
        ref = f"127.0.0.1:{port}/bosun/busybox:pulled"
        tar = base / "pulled.tar"
        subprocess.run([bosun_bin(), "images", "build-busybox", "--out", str(tar), "--name", ref], check=True, capture_output=True)
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci-archive:{tar}", f"docker://{ref}"], check=True, capture_output=True, timeout=60)
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(proc)


def test_images_pulled_from_a_local_registry(agent: Agent, registry: str):
    srv = agent.server
    name = unique("pulled")
    srv.kubectl("run", name, f"--image={registry}/bosun/busybox:pulled", "--image-pull-policy=Always", "--command", "--", "sleep", "3600")
    wait_for(lambda: pod_json(srv, "default", name)["status"].get("phase") == "Running", timeout=60, interval=0.3, desc="pulled image running")
    cs = pod_json(srv, "default", name)["status"]["containerStatuses"][0]
    # A pulled image is known by its repo digest (containerd's imageRef).
    assert cs["imageID"].startswith(f"{registry}/bosun/busybox@sha256:"), cs
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")

    missing = unique("absent")
    srv.kubectl("run", missing, f"--image={registry}/bosun/absent:1", "--image-pull-policy=IfNotPresent")
    reasons = set()

    def pull_back_off():
        cs = (pod_json(srv, "default", missing)["status"].get("containerStatuses") or [{}])[0]
        reason = cs.get("state", {}).get("waiting", {}).get("reason")
        if reason:
            reasons.add(reason)
        return "ErrImagePull" in reasons and "ImagePullBackOff" in reasons

    wait_for(pull_back_off, timeout=40, interval=0.2, desc="ErrImagePull then ImagePullBackOff")
    assert pod_json(srv, "default", missing)["status"]["phase"] == "Pending"
    srv.kubectl("delete", "pod", missing, "--grace-period=1", "--wait=false")


def test_images_import_into_a_running_agent(agent: Agent, tmp_path):
    srv = agent.server
    tar = tmp_path / "extra.tar"
    subprocess.run([bosun_bin(), "images", "build-busybox", "--out", str(tar), "--name", "docker.io/library/extra:7"], check=True, capture_output=True)
    subprocess.run([bosun_bin(), "images", "import", "--data-dir", str(agent.data_dir), str(tar)], check=True, capture_output=True, timeout=60)
    name = unique("extra")
    srv.kubectl("run", name, "--image=extra:7", "--image-pull-policy=Never", "--command", "--", "sleep", "3600")
    wait_for(lambda: pod_json(srv, "default", name)["status"].get("phase") == "Running", timeout=60, interval=0.3, desc="imported image running")
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")


def test_memory_limit_oom_killed(agent: Agent):
    srv = agent.server
    name = unique("oom")
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "hog", "image": IMAGE,
                # dd allocates its 64 MiB block: over the 32 MiB limit.
                "command": ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
                "resources": {"limits": {"memory": "32Mi", "cpu": "500m"}},
            }],
        },
    }
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)
    pod = wait_for(lambda: (p := pod_json(srv, "default", name))["status"].get("phase") == "Failed" and p, timeout=60, interval=0.3, desc="OOM kill")
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137), term
    assert pod["status"]["qosClass"] == "Guaranteed"


def test_host_port_and_containerd_restart(agent: Agent):
    """hostPort through portmap; then containerd is killed: the agent
    restarts it and the pod keeps running and answering."""
    srv = agent.server
    name = unique("hostport")
    port = free_port()
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{
            "name": "web", "image": IMAGE, "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
            "ports": [{"containerPort": 8080, "hostPort": port}],
        }]},
    }
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)
    wait_for(lambda: pod_json(srv, "default", name)["status"].get("phase") == "Running", timeout=60, interval=0.2, desc="running")
    host_ip = pod_json(srv, "default", name)["status"]["hostIP"]
    body = wait_for(lambda: requests.get(f"http://{host_ip}:{port}/", timeout=2).text, timeout=15, desc="hostPort answers")
    assert body == "hello from bosun\n"

    pid_file = agent.data_dir / "containerd" / "containerd.pid"
    old_pid = int(pid_file.read_text())
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: pid_file.exists() and int(pid_file.read_text()) != old_pid, timeout=30, interval=0.2, desc="containerd restarted")
    wait_for(lambda: agent.ctr("containers", "ls", "-q"), timeout=30, interval=0.2, desc="containerd answering")
    assert requests.get(f"http://{host_ip}:{port}/", timeout=5).text == "hello from bosun\n"
    cs = pod_json(srv, "default", name)["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 0 and "running" in cs["state"]
    # Ready may have dropped to False while containerd was down (the agent
    # checks every 10 s); it is True again once the runtime answers.
    def node_ready() -> bool:
        node = srv.api.ok("GET", f"/api/v1/nodes/{agent.node}")
        return [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]

    wait_for(node_ready, timeout=30, interval=0.5, desc="node Ready again")
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")


def test_env_from_config_maps_secrets_and_the_downward_api(agent: Agent):
    srv = agent.server
    cm, secret, name, broken = unique("cm"), unique("sec"), unique("env"), unique("noconf")
    srv.kubectl("create", "configmap", cm, "--from-literal=color=blue", "--from-literal=size=9")
    srv.kubectl("create", "secret", "generic", secret, "--from-literal=password=s3cret")
    script = (
        'test "$CFG_color" = blue && test "$PW" = s3cret && test "$POD" = "$(hostname)" '
        '&& test "$GREETING" = "hi blue" && test "$1" = blue'
    )
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "check", "image": IMAGE,
            "command": ["sh", "-c", script, "sh", "$(CFG_color)"],
            "envFrom": [{"configMapRef": {"name": cm}, "prefix": "CFG_"}],
            "env": [
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "GREETING", "value": "hi $(CFG_color)"},
            ],
        }]},
    }
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)
    pod = wait_for(lambda: (p := pod_json(srv, "default", name))["status"].get("phase") in ("Succeeded", "Failed") and p, timeout=60, interval=0.3, desc="env check done")
    assert pod["status"]["phase"] == "Succeeded", pod["status"]

    manifest["metadata"]["name"] = broken
    manifest["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "does-not-exist"}}]
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)

    def config_error():
        cs = (pod_json(srv, "default", broken)["status"].get("containerStatuses") or [{}])[0]
        return cs.get("state", {}).get("waiting", {}).get("reason") == "CreateContainerConfigError"

    wait_for(config_error, timeout=30, interval=0.3, desc="CreateContainerConfigError")
    srv.kubectl("delete", "pod", broken, "--grace-period=1", "--wait=false")


def test_host_network_pod(agent: Agent):
    srv = agent.server
    name = unique("hostnet")
    port = free_port()
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"hostNetwork": True, "containers": [{
            "name": "web", "image": IMAGE, "command": ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
        }]},
    }
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)
    pod = wait_for(lambda: (p := pod_json(srv, "default", name))["status"].get("phase") == "Running" and p, timeout=60, interval=0.2, desc="running")
    assert pod["status"]["podIP"] == pod["status"]["hostIP"]
    body = wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=2).text, timeout=15, desc="host network httpd")
    assert body == "hello from bosun\n"
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")
    wait_for(lambda: srv.api.get(f"/api/v1/namespaces/default/pods/{name}").status_code == 404, timeout=30, interval=0.2, desc="removed")


def test_pod_level_cgroup_bounds_all_containers(agent: Agent):
    """kubelet's pod cgroups: /kubepods/burstable/pod<uid> holds every
    container of a Burstable pod, limited to the sum of their limits, and
    goes away with the pod."""
    srv = agent.server
    name = unique("cg")
    limits = {"memory": "48Mi", "cpu": "200m"}
    requests = {"memory": "16Mi", "cpu": "100m"}
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "check", "image": IMAGE,
                 "command": ["sh", "-c", 'grep -q "memory:/kubepods/burstable/pod$UID/" /proc/self/cgroup'],
                 "env": [{"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
                 "resources": {"limits": limits, "requests": requests}},
                {"name": "sleep", "image": IMAGE, "command": ["sleep", "3600"],
                 "resources": {"limits": limits, "requests": requests}},
            ],
        },
    }
    created = srv.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)
    uid = created["metadata"]["uid"]

    def checked():
        st = pod_json(srv, "default", name)["status"]
        by_name = {c["name"]: c for c in st.get("containerStatuses", [])}
        term = by_name.get("check", {}).get("state", {}).get("terminated")
        return term and by_name.get("sleep", {}).get("state", {}).get("running") and (st, term)

    st, term = wait_for(checked, timeout=60, interval=0.3, desc="the cgroup check to finish")
    assert term["exitCode"] == 0, ("the container is not inside its pod's cgroup", st)
    assert st["qosClass"] == "Burstable"
    pod_cg = Path("/sys/fs/cgroup/memory/kubepods/burstable") / f"pod{uid}"
    assert int((pod_cg / "memory.limit_in_bytes").read_text()) == 2 * 48 * 1024 * 1024
    cpu_cg = Path("/sys/fs/cgroup/cpu/kubepods/burstable") / f"pod{uid}"
    assert int((cpu_cg / "cpu.shares").read_text()) == 200 * 1024 // 1000
    assert int((cpu_cg / "cpu.cfs_quota_us").read_text()) == 40_000
    srv.kubectl("delete", "pod", name, "--wait=false")
    wait_for(lambda: not pod_cg.exists() and not cpu_cg.exists(), timeout=60, interval=0.5, desc="the pod cgroup removed")


def test_kubectl_top_node_and_pod(agent: Agent):
    """metrics.k8s.io from the agents' /metrics/resource: `kubectl top`
    shows a CPU-bound container at about its CPU limit."""
    srv = agent.server
    name = unique("top")
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "burn", "image": IMAGE, "command": ["sh", "-c", "while :; do :; done"],
            "resources": {"limits": {"cpu": "200m", "memory": "32Mi"}},
        }]},
    }
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", manifest)
    wait_for(lambda: pod_json(srv, "default", name)["status"].get("phase") == "Running", timeout=60, interval=0.3, desc="burner running")

    def top_pod():
        r = srv.kubectl("top", "pod", "-l", f"app={name}", "--no-headers", check=False)
        return r.rc == 0 and r.stdout.split()

    row = wait_for(top_pod, timeout=60, interval=1, desc="kubectl top pod")
    assert row[0] == name, row
    cpu_m = int(row[1].rstrip("m"))
    assert 100 <= cpu_m <= 260, row  # throttled at its 200m limit
    assert row[2].endswith("Mi"), row

    node_row = wait_for(lambda: (r := srv.kubectl("top", "node", agent.node, "--no-headers", check=False)).rc == 0 and r.stdout.split(),
                        timeout=60, interval=1, desc="kubectl top node")
    assert node_row[0] == agent.node
    assert int(node_row[1].rstrip("m")) >= cpu_m // 2, node_row  # the node includes the burner
    assert node_row[2].endswith("%") and node_row[3].endswith("Mi"), node_row

    # The API as clients read it: per-container usage and the pod's labels.
    pm = srv.api.ok("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/{name}")
    assert pm["kind"] == "PodMetrics" and pm["metadata"]["labels"] == {"app": name}
    assert [c["name"] for c in pm["containers"]] == ["burn"]
    assert pm["containers"][0]["usage"]["cpu"].endswith("n")
    missing = srv.api.request("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/no-such-pod")
    assert missing.status_code == 404 and missing.json()["reason"] == "NotFound"
    srv.kubectl("delete", "pod", name, "--wait=false")
