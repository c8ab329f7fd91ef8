"""kubectl logs / exec / attach / cp / port-forward and the Python client's
exec and port-forward against pods run by a real `bosun agent`: through
the API server to the agent's HTTPS server and on to containerd.

One server and one agent for the module (agent_support.agent_cluster).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from kubernetes import client, config
from kubernetes.stream import portforward, stream

from agent_support import IMAGE, Agent, agent_cluster, skip_unless_agent_can_run
from support import KUBECTL, KubectlStream, Server, free_port, unique, wait_for

pytestmark = skip_unless_agent_can_run


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    with agent_cluster(tmp_path_factory.mktemp("stream")) as a:
        yield a


def kubectl_env(srv: Server) -> dict:
    env = dict(os.environ)
    env["KUBECONFIG"] = srv.kubeconfig
    env["KUBECACHEDIR"] = str(Path(srv.kubeconfig).parent / "kubectl-cache")
    return env


def run_pod(srv: Server, name: str, *command: str, labels: str = "", extra: tuple = ()) -> dict:
    args = ["run", name, f"--image={IMAGE}", "--image-pull-policy=IfNotPresent", *extra]
    if labels:
        args.append(f"--labels={labels}")
    srv.kubectl(*args, "--command", "--", *command)
    return wait_running(srv, name)


def wait_running(srv: Server, name: str, ns: str = "default") -> dict:
    def running():
        p = srv.api.ok("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
        statuses = p["status"].get("containerStatuses") or []
        return p if p["status"].get("phase") == "Running" and statuses and all("running" in s["state"] for s in statuses) else None

    return wait_for(running, timeout=60, interval=0.2, desc=f"pod {name} to run")


@pytest.fixture(scope="module")
def talker(agent: Agent) -> str:
    """A pod that wrote five lines, one to stderr, and sleeps."""
    name = unique("talk")
    # stdout and stderr reach the log through separate pipes: without the
    # pause their order in the file is not guaranteed.
    run_pod(agent.server, name, "sh", "-c",
            "for i in 1 2 3 4; do echo line-$i; done; sleep 1; echo oops >&2; exec sleep 3600")
    wait_for(lambda: "oops" in agent.server.kubectl("logs", name).stdout, timeout=20, desc="the talker's output")
    return name


# === logs ===


def test_logs_plain_tail_timestamps_and_since(agent: Agent, talker: str):
    srv = agent.server
    assert srv.kubectl("logs", talker).stdout == "line-1\nline-2\nline-3\nline-4\noops\n"
    assert srv.kubectl("logs", talker, "-c", talker).stdout.endswith("oops\n")
    assert srv.kubectl("logs", talker, "--tail=2").stdout == "line-4\noops\n"
    assert srv.kubectl("logs", talker, "--tail=0").stdout == ""
    stamped = srv.kubectl("logs", talker, "--timestamps", "--tail=1").stdout
    stamp, text = stamped.rstrip("\n").split(" ", 1)
    assert text == "oops" and stamp.endswith("Z") and "T" in stamp, stamped
    assert srv.kubectl("logs", talker, "--limit-bytes=8").stdout == "line-1\nl"
    # Everything was written more than a second ago by now.
    time.sleep(2)
    assert srv.kubectl("logs", talker, "--since=1s").stdout == ""
    assert srv.kubectl("logs", talker, "--since=1h").stdout.count("\n") == 5
    # The raw API: the same bytes, text/plain.
    r = srv.api.get(f"/api/v1/namespaces/default/pods/{talker}/log", params={"tailLines": "1"})
    assert r.status_code == 200 and r.text == "oops\n", r.text


def test_logs_errors_as_upstream(agent: Agent, talker: str):
    srv = agent.server
    r = srv.kubectl("logs", talker, "-c", "nope", check=False)
    assert r.rc != 0 and "container nope is not valid for pod " + talker in r.stderr, r
    r = srv.api.get(f"/api/v1/namespaces/default/pods/{talker}/log", params={"container": "nope"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest", r.text
    r = srv.api.get("/api/v1/namespaces/default/pods/no-such-pod/log")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"
    r = srv.kubectl("logs", talker, "--previous", check=False)
    assert r.rc != 0 and f'previous terminated container "{talker}" in pod "{talker}" not found' in r.stderr, r
    # A pod no node runs: not scheduled (its nodeName is unset).
    unscheduled = unique("nohost")
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": unscheduled},
        "spec": {"nodeSelector": {"no": "such-node"}, "containers": [{"name": "c", "image": IMAGE}]},
    })
    r = srv.api.get(f"/api/v1/namespaces/default/pods/{unscheduled}/log")
    assert r.status_code == 400 and r.json()["message"] == f"pod {unscheduled} does not have a host assigned", r.text
    r = srv.kubectl("exec", unscheduled, "--", "true", check=False)
    assert r.rc != 0 and "does not have a host assigned" in r.stderr, r
    srv.kubectl("delete", "pod", unscheduled, "--wait=false")


def test_logs_container_must_be_named_when_ambiguous(agent: Agent):
    srv = agent.server
    name = unique("two")
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [
            {"name": "a", "image": IMAGE, "command": ["sh", "-c", "echo from-a; exec sleep 3600"]},
            {"name": "b", "image": IMAGE, "command": ["sh", "-c", "echo from-b; exec sleep 3600"]},
        ]},
    })
    wait_running(srv, name)
    r = srv.api.get(f"/api/v1/namespaces/default/pods/{name}/log")
    assert r.status_code == 400
    assert r.json()["message"] == f"a container name must be specified for pod {name}, choose one of: [a b]"
    for c in ("a", "b"):
        wait_for(lambda: srv.kubectl("logs", name, "-c", c).stdout == f"from-{c}\n", timeout=10, desc=f"{c}'s log")
    # kubectl may print the containers' logs in either order.
    assert sorted(srv.kubectl("logs", name, "--all-containers", "--prefix").stdout.splitlines()) == [
        f"[pod/{name}/a] from-a", f"[pod/{name}/b] from-b"]
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")


def test_logs_follow_sees_new_lines_and_ends_with_the_container(agent: Agent):
    srv = agent.server
    name = unique("follow")
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": IMAGE, "command": [
            "sh", "-c", "i=0; while [ $i -lt 6 ]; do echo tick-$i; i=$((i+1)); sleep 1; done"]}]},
    })
    wait_running(srv, name)
    start = time.monotonic()
    with KubectlStream(srv.kubeconfig, "logs", "-f", name) as follow:
        follow.wait_for_line(lambda lines: "tick-1" in lines, timeout=15, desc="tick-1")
        # Lines written after the request arrive on the open stream.
        follow.wait_for_line(lambda lines: "tick-4" in lines, timeout=15, desc="tick-4")
        # The stream ends by itself once the container exits.
        follow.proc.wait(timeout=20)
        lines = follow.snapshot()
    assert follow.proc.returncode == 0
    assert lines == [f"tick-{i}" for i in range(6)], lines
    assert time.monotonic() - start < 25


def test_logs_previous_after_a_restart(agent: Agent):
    srv = agent.server
    name = unique("again")
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": IMAGE, "command": [
            "sh", "-c", "echo run-$(cat /proc/sys/kernel/random/uuid | cut -c1-8); if [ -e /tmp/x ]; then :; fi; sleep 1; exit 1"]}]},
    })

    def restarted():
        p = srv.api.ok("GET", f"/api/v1/namespaces/default/pods/{name}")
        statuses = p["status"].get("containerStatuses") or []
        return statuses and statuses[0]["restartCount"] >= 1 and "running" in statuses[0]["state"]

    wait_for(restarted, timeout=60, interval=0.3, desc="the container to restart")
    previous = srv.kubectl("logs", name, "--previous").stdout
    current = wait_for(lambda: srv.kubectl("logs", name).stdout, timeout=10, desc="current log")
    assert previous.startswith("run-") and current.startswith("run-"), (previous, current)
    assert previous != current
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")


def test_logs_of_a_deployment_and_by_label(agent: Agent):
    srv = agent.server
    name = unique("dep")
    srv.kubectl("create", "deployment", name, f"--image={IMAGE}", "--replicas=2", "--",
                "sh", "-c", "echo hello-from-$(hostname); exec sleep 3600")
    srv.kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    out = wait_for(lambda: srv.kubectl("logs", f"deploy/{name}").stdout, timeout=15, desc="deployment logs")
    assert out.startswith(f"hello-from-{name}-"), out
    by_label = wait_for(lambda: (lambda o: o if o.count("\n") == 2 else None)(srv.kubectl("logs", "-l", f"app={name}").stdout),
                        timeout=15, desc="both pods' logs")
    assert sorted(by_label.splitlines()) == sorted(
        f"hello-from-{p['metadata']['name']}" for p in srv.api.ok("GET", f"/api/v1/namespaces/default/pods?labelSelector=app={name}")["items"])
    srv.kubectl("delete", "deployment", name)


# === exec, attach, cp ===


def test_exec_output_and_exit_code(agent: Agent, talker: str):
    srv = agent.server
    r = srv.kubectl("exec", talker, "--", "sh", "-c", "echo out; echo err >&2")
    assert r.stdout == "out\n" and "err" in r.stderr, r
    r = srv.kubectl("exec", talker, "--", "sh", "-c", "exit 3", check=False)
    assert r.rc == 3, r
    r = srv.kubectl("exec", talker, "-c", "nope", "--", "true", check=False)
    assert r.rc != 0 and "container nope is not valid" in r.stderr, r


def test_kubectl_falls_back_from_websocket_to_spdy(agent: Agent, talker: str, web: str):
    """kubectl 1.32 asks for websocket v5.channel.k8s.io (exec) and
    SPDY-over-websocket tunnelling (port-forward) first; containerd speaks
    neither, so the server refuses the upgrade and kubectl uses SPDY/3.1."""
    srv = agent.server
    r = srv.kubectl("exec", "-v=7", talker, "--", "echo", "x")
    assert r.stdout == "x\n"
    assert "RemoteCommand fallback" in r.stderr and "101 Switching Protocols" in r.stderr, r.stderr[-3000:]
    port = free_port()
    with KubectlStream(srv.kubeconfig, "port-forward", "-v=7", f"pod/{web}", f"{port}:8080") as pf:
        pf.wait_for_line(lambda lines: any("Forwarding from" in line for line in lines), timeout=20, desc="forwarding")
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "hello-through-forward\n"
        lines = pf.snapshot()
    assert any("fallback to secondary dialer" in line for line in lines), lines


def test_exec_stdin_from_a_file(agent: Agent, talker: str, tmp_path: Path):
    srv = agent.server
    data = "".join(f"row {i}\n" for i in range(2000))
    src = tmp_path / "in.txt"
    src.write_text(data)
    with open(src) as f:
        proc = subprocess.run([KUBECTL, "exec", "-i", talker, "--", "sh", "-c", "cat > /tmp/in.txt; wc -l < /tmp/in.txt"],
                              stdin=f, capture_output=True, text=True, env=kubectl_env(srv), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2000"
    assert srv.kubectl("exec", talker, "--", "cat", "/tmp/in.txt").stdout == data


def test_exec_with_a_tty(agent: Agent, talker: str):
    srv = agent.server
    # `script` gives kubectl a terminal, so -t gets one in the container.
    cmd = f"{KUBECTL} exec -it {talker} -- sh -c 'tty; test -t 0 && test -t 1 && echo both-tty; echo done'"
    proc = subprocess.run(["script", "-qec", cmd, "/dev/null"], input="", capture_output=True, text=True,
                          env=kubectl_env(srv), timeout=60)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    out = proc.stdout.replace("\r", "").splitlines()
    # (script echoes the closed stdin as ^@ before the output.)
    assert "/dev/pts/" in out[0], out
    assert out[1:3] == ["both-tty", "done"], out


def test_attach_sees_the_containers_output_and_feeds_its_stdin(agent: Agent):
    srv = agent.server
    name = unique("attach")
    srv.api.ok("POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": IMAGE, "stdin": True, "command": [
            "sh", "-c", "while read line; do echo got-$line; done"]}]},
    })
    wait_running(srv, name)
    proc = subprocess.Popen([KUBECTL, "attach", "-i", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=kubectl_env(srv))
    try:
        time.sleep(2)  # the stream is set up
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("hello\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line == "got-hello\n", (line, proc.stderr.read() if proc.poll() is not None else "")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    # The container's own log saw it too.
    assert "got-hello" in srv.kubectl("logs", name).stdout
    srv.kubectl("delete", "pod", name, "--grace-period=1", "--wait=false")


def test_cp_both_directions(agent: Agent, talker: str, tmp_path: Path):
    srv = agent.server
    src = tmp_path / "up.txt"
    src.write_text("copied up\n" * 100)
    srv.kubectl("cp", str(src), f"default/{talker}:/tmp/up.txt")
    assert srv.kubectl("exec", talker, "--", "cat", "/tmp/up.txt").stdout == src.read_text()
    srv.kubectl("exec", talker, "--", "sh", "-c", "mkdir -p /tmp/d && echo down > /tmp/d/f")
    dest = tmp_path / "down"
    srv.kubectl("cp", f"default/{talker}:/tmp/d", str(dest))
    assert (dest / "f").read_text() == "down\n"


# === port-forward ===


@pytest.fixture(scope="module")
def web(agent: Agent) -> str:
    name = unique("web")
    run_pod(agent.server, name, "sh", "-c", "mkdir -p /www && echo hello-through-forward > /www/index.html && exec httpd -f -p 8080 -h /www")
    return name


def test_port_forward(agent: Agent, web: str):
    srv = agent.server
    port = free_port()
    with KubectlStream(srv.kubeconfig, "port-forward", f"pod/{web}", f"{port}:8080") as pf:
        pf.wait_for_line(lambda lines: any("Forwarding from" in line for line in lines), timeout=20, desc="forwarding")
        for _ in range(3):  # several connections over one forward
            body = wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=5).text, timeout=15, desc="HTTP through the forward")
            assert body == "hello-through-forward\n"


# === the Python client ===


@pytest.fixture(scope="module")
def core(agent: Agent):
    api_client = config.new_client_from_config(config_file=agent.server.kubeconfig)
    yield client.CoreV1Api(api_client)
    api_client.close()


def test_python_client_logs(core, talker: str):
    assert core.read_namespaced_pod_log(talker, "default", tail_lines=2) == "line-4\noops\n"
    resp = core.read_namespaced_pod_log(talker, "default", follow=True, _preload_content=False)
    first = resp.read(7)  # the stream is open (the container still runs)
    resp.release_conn()
    assert first == b"line-1\n"


def test_python_client_exec(core, talker: str):
    out = stream(core.connect_get_namespaced_pod_exec, talker, "default",
                 command=["sh", "-c", "echo py-out; echo py-err >&2"], stderr=True, stdin=False, stdout=True, tty=False)
    assert "py-out" in out
    resp = stream(core.connect_get_namespaced_pod_exec, talker, "default",
                  command=["sh", "-c", "read x; echo got-$x; exit 4"], stderr=True, stdin=True, stdout=True, tty=False,
                  _preload_content=False)
    resp.write_stdin("abc\n")
    out = ""
    deadline = time.monotonic() + 15
    while resp.is_open() and time.monotonic() < deadline:
        resp.update(timeout=1)
        if resp.peek_stdout():
            out += resp.read_stdout()
    if resp.peek_stdout():
        out += resp.read_stdout()
    assert out == "got-abc\n", out
    # The exit code arrives on the status channel (v4.channel.k8s.io).
    assert resp.returncode == 4


def test_python_client_port_forward(core, web: str):
    pf = portforward(core.connect_get_namespaced_pod_portforward, web, "default", ports="8080")
    sock = pf.socket(8080)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    sock.settimeout(10)
    while True:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    assert b"200 OK" in data and b"hello-through-forward" in data, data
    assert pf.error(8080) is None


# === the agent's own endpoint ===


def test_agent_port_requires_a_cluster_client_certificate(agent: Agent, talker: str):
    srv = agent.server
    node = srv.api.ok("GET", f"/api/v1/nodes/{agent.node}")
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == agent.port
    url = f"https://127.0.0.1:{agent.port}/containerLogs/default/{talker}/{talker}?tailLines=1"
    import urllib3
    urllib3.disable_warnings()
    assert requests.get(url, verify=False, timeout=10).status_code == 401
    # The admin certificate (system:masters, signed by the cluster CA) is let in.
    r = requests.get(url, verify=False, timeout=10, cert=(str(srv.pki / "admin.crt"), str(srv.pki / "admin.key")))
    assert r.status_code == 200 and r.text == "oops\n", r.text


def test_discovery_lists_the_streaming_subresources(agent: Agent):
    core = agent.server.api.ok("GET", "/api/v1")
    res = {r["name"]: r for r in core["resources"]}
    assert res["pods/log"]["verbs"] == ["get"] and res["pods/log"]["kind"] == "Pod"
    for sub, kind in [("exec", "PodExecOptions"), ("attach", "PodAttachOptions"), ("portforward", "PodPortForwardOptions")]:
        assert res[f"pods/{sub}"]["kind"] == kind and sorted(res[f"pods/{sub}"]["verbs"]) == ["create", "get"]
    agg = agent.server.api.get("/api", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}).json()
    pods = next(r for g in agg["items"] for v in g["versions"] for r in v["resources"] if r["resource"] == "pods")
    assert {"log", "exec", "attach", "portforward"} <= {s["subresource"] for s in pods["subresources"]}
