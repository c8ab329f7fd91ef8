"""Probes, lifecycle hooks, termination messages and native sidecars on a
real `bosun agent` (containerd, busybox image): liveness restarts with
events, readiness driving Ready and a Service's Endpoints, startup probes
gating the others, httpGet/tcpSocket probes against busybox httpd,
postStart/preStop hooks, terminationMessagePath/Policy, and init
containers with restartPolicy Always.
"""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from agent_support import IMAGE, Agent, agent_cluster, condition, pod_json, skip_unless_agent_can_run
from support import unique, wait_for

pytestmark = skip_unless_agent_can_run

NS = "default"


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    with agent_cluster(tmp_path_factory.mktemp("agent")) as a:
        yield a


def container(name: str, script: str, **extra) -> dict:
    c = {"name": name, "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", script]}
    c.update(extra)
    return c


def exec_probe(*cmd: str, **timing) -> dict:
    p = {"exec": {"command": list(cmd)}, "periodSeconds": 1}
    p.update(timing)
    return p


def create_pod(agent: Agent, name: str, containers: list, labels: dict | None = None, **spec) -> dict:
    body = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"nodeName": agent.node, "terminationGracePeriodSeconds": 2, "containers": containers, **spec},
    }
    return agent.server.api.ok("POST", f"/api/v1/namespaces/{NS}/pods", body)


def status_of(pod: dict, name: str) -> dict:
    st = pod.get("status", {})
    for s in st.get("containerStatuses", []) + st.get("initContainerStatuses", []):
        if s["name"] == name:
            return s
    return {}


def events_for(agent: Agent, pod: str) -> list[dict]:
    items = agent.server.api.ok("GET", f"/api/v1/namespaces/{NS}/events")["items"]
    return [e for e in items if e["involvedObject"].get("name") == pod]


def has_event(agent: Agent, pod: str, reason: str, text: str) -> bool:
    return any(e["reason"] == reason and text in e.get("message", "") for e in events_for(agent, pod))


def wait_pod(agent: Agent, name: str, pred, desc: str, timeout: float = 60) -> dict:
    def check():
        p = pod_json(agent.server, NS, name)
        return p if pred(p) else None
    return wait_for(check, timeout=timeout, interval=0.3, desc=desc)


def delete_pod(agent: Agent, name: str) -> None:
    agent.server.kubectl("delete", "pod", name, "--wait=false", check=False)


def test_liveness_probe_failure_restarts_the_container_with_events(agent: Agent):
    name = unique("live")
    # Healthy for 2 s after each start, then the probe's file is gone.
    script = "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600"
    create_pod(agent, name, [container("app", script, livenessProbe=exec_probe("cat", "/tmp/healthy", failureThreshold=1, terminationGracePeriodSeconds=1))])
    pod = wait_pod(agent, name, lambda p: status_of(p, "app").get("restartCount", 0) >= 1, "a liveness restart", timeout=60)
    cs = status_of(pod, "app")
    assert "terminated" in cs["lastState"], cs
    assert has_event(agent, name, "Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy'"), events_for(agent, name)
    assert has_event(agent, name, "Killing", "Container app failed liveness probe, will be restarted"), events_for(agent, name)
    ev = next(e for e in events_for(agent, name) if e["reason"] == "Killing")
    assert ev["involvedObject"]["fieldPath"] == "spec.containers{app}"
    assert ev["source"]["component"] == "kubelet"
    delete_pod(agent, name)


def test_readiness_drives_ready_and_the_service_endpoints(agent: Agent):
    srv = agent.server
    name = unique("ready")
    labels = {"app": name}
    srv.api.ok("POST", f"/api/v1/namespaces/{NS}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
    })
    # Not ready for 4 s, ready for 10 s, then not ready again.
    script = "httpd -p 8080 -h /www; sleep 4; touch /tmp/ready; sleep 10; rm /tmp/ready; sleep 3600"
    create_pod(agent, name, [container("app", script, readinessProbe=exec_probe("test", "-f", "/tmp/ready"))], labels=labels)

    def endpoints() -> tuple[list, list]:
        ep = srv.api.request("GET", f"/api/v1/namespaces/{NS}/endpoints/{name}")
        if ep.status_code != 200:
            return [], []
        subsets = ep.json().get("subsets") or [{}]
        ready = [a["ip"] for s in subsets for a in s.get("addresses", [])]
        not_ready = [a["ip"] for s in subsets for a in s.get("notReadyAddresses", [])]
        return ready, not_ready

    pod = wait_pod(agent, name, lambda p: p["status"].get("phase") == "Running" and p["status"].get("podIP"), "running")
    ip = pod["status"]["podIP"]
    assert condition(pod, "Ready") == "False"
    assert status_of(pod, "app")["ready"] is False and status_of(pod, "app")["started"] is True
    wait_for(lambda: endpoints()[1] == [ip], timeout=20, interval=0.3, desc="a not-ready endpoint")
    pod = wait_pod(agent, name, lambda p: condition(p, "Ready") == "True", "ready", timeout=20)
    assert condition(pod, "ContainersReady") == "True"
    assert status_of(pod, "app")["ready"] is True
    wait_for(lambda: endpoints()[0] == [ip], timeout=20, interval=0.3, desc="a ready endpoint")
    pod = wait_pod(agent, name, lambda p: condition(p, "Ready") == "False", "not ready again", timeout=30)
    wait_for(lambda: endpoints() == ([], [ip]), timeout=20, interval=0.3, desc="the endpoint not ready again")
    assert status_of(pod, "app")["restartCount"] == 0
    assert has_event(agent, name, "Unhealthy", "Readiness probe failed")
    # Repeats of one failure are one Event with a count, as kubelet's.
    counts = [e.get("count", 1) for e in events_for(agent, name) if e["reason"] == "Unhealthy"]
    assert max(counts) >= 2, events_for(agent, name)
    delete_pod(agent, name)
    srv.api.request("DELETE", f"/api/v1/namespaces/{NS}/services/{name}")


def test_startup_probe_gates_liveness_and_readiness(agent: Agent):
    name = unique("startup")
    # The liveness probe alone would kill this container in its first
    # seconds; the startup probe holds it off until /tmp/started exists.
    script = "sleep 6; touch /tmp/started; sleep 3600"
    create_pod(agent, name, [container(
        "app", script,
        startupProbe=exec_probe("test", "-f", "/tmp/started", failureThreshold=30),
        livenessProbe=exec_probe("test", "-f", "/tmp/started", failureThreshold=1),
        readinessProbe=exec_probe("true"),
    )])
    pod = wait_pod(agent, name, lambda p: status_of(p, "app").get("state", {}).get("running") is not None, "running")
    cs = status_of(pod, "app")
    assert cs["started"] is False and cs["ready"] is False, cs
    pod = wait_pod(agent, name, lambda p: status_of(p, "app").get("started") is True, "started", timeout=30)
    pod = wait_pod(agent, name, lambda p: condition(p, "Ready") == "True", "ready", timeout=15)
    assert status_of(pod, "app")["restartCount"] == 0
    assert not has_event(agent, name, "Killing", "")
    assert has_event(agent, name, "Unhealthy", "Startup probe failed")
    delete_pod(agent, name)


def test_http_get_and_tcp_socket_probes(agent: Agent):
    name = unique("netprobe")
    web = container(
        "web", "httpd -f -p 8080 -h /www",
        ports=[{"name": "http", "containerPort": 8080}],
        readinessProbe={"httpGet": {"path": "/index.html", "port": "http", "httpHeaders": [{"name": "X-Check", "value": "1"}]}, "periodSeconds": 1},
        livenessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 1},
    )
    bad = container(
        "bad", "httpd -f -p 8081 -h /www",
        readinessProbe={"httpGet": {"path": "/missing", "port": 8081}, "periodSeconds": 1},
    )
    closed = container(
        "closed", "sleep 3600",
        livenessProbe={"tcpSocket": {"port": 9999}, "periodSeconds": 1, "failureThreshold": 1, "terminationGracePeriodSeconds": 1},
    )
    create_pod(agent, name, [web, bad, closed])
    pod = wait_pod(agent, name, lambda p: status_of(p, "web").get("ready") is True, "web ready", timeout=40)
    pod = wait_pod(agent, name, lambda p: status_of(p, "closed").get("restartCount", 0) >= 1, "closed restarted", timeout=40)
    ip = pod["status"]["podIP"]
    assert status_of(pod, "bad")["ready"] is False
    assert condition(pod, "Ready") == "False"
    assert status_of(pod, "web")["restartCount"] == 0
    assert has_event(agent, name, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404")
    assert has_event(agent, name, "Unhealthy", f"Liveness probe failed: dial tcp {ip}:9999: connect: connection refused"), events_for(agent, name)
    delete_pod(agent, name)


class Recorder(http.server.BaseHTTPRequestHandler):
    hits: list = []

    def do_GET(self):  # noqa: N802
        Recorder.hits.append((self.path, time.monotonic()))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()


def test_post_start_and_pre_stop_hooks(agent: Agent, hook_server: int):
    name = unique("hooks")
    port = hook_server

    def get(path: str) -> dict:
        return {"httpGet": {"host": "127.0.0.1", "port": port, "path": path}}

    # SIGTERM ends the container at once: the time between the preStop
    # call and the container's end shows the hook ran first (its sleep).
    app = container(
        "app", "trap 'exit 0' TERM; while true; do sleep 1; done",
        lifecycle={"postStart": get(f"/start/{name}"), "preStop": get(f"/stop/{name}")},
    )
    sleeper = container(
        "sleeper", "trap 'exit 0' TERM; while true; do sleep 1; done",
        lifecycle={"preStop": {"sleep": {"seconds": 2}}},
    )
    create_pod(agent, name, [app, sleeper], terminationGracePeriodSeconds=20)
    wait_pod(agent, name, lambda p: p["status"].get("phase") == "Running", "running")
    assert any(path == f"/start/{name}" for path, _ in Recorder.hits), Recorder.hits
    assert not any(path == f"/stop/{name}" for path, _ in Recorder.hits)
    started = time.monotonic()
    agent.server.kubectl("delete", "pod", name, "--wait=false")
    wait_for(lambda: any(path == f"/stop/{name}" for path, _ in Recorder.hits), timeout=20, interval=0.2, desc="the preStop hook")
    wait_for(lambda: agent.server.api.request("GET", f"/api/v1/namespaces/{NS}/pods/{name}").status_code == 404,
             timeout=30, interval=0.2, desc="the pod gone")
    # The sleep hook held the sleeper for ~2 s before SIGTERM; far less
    # than the 20 s grace period.
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 15, elapsed

    # A failing postStart hook kills the container: event, restart.
    bad = unique("badhook")
    create_pod(agent, bad, [container("app", "sleep 3600", lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "exit 7"]}}})],
               terminationGracePeriodSeconds=1)
    wait_for(lambda: has_event(agent, bad, "FailedPostStartHook", "Exec lifecycle hook"), timeout=40, interval=0.3, desc="FailedPostStartHook")
    wait_pod(agent, bad, lambda p: status_of(p, "app").get("restartCount", 0) >= 1, "restart after the failed hook", timeout=40)
    delete_pod(agent, bad)


def test_termination_messages(agent: Agent):
    name = unique("termmsg")
    create_pod(agent, name, [
        container("file", "echo -n 'bye from file' > /dev/termination-log; exit 3"),
        container("custom", "echo -n 'custom path' > /tmp/msg; exit 0", terminationMessagePath="/tmp/msg"),
        container("logs", "echo first; echo oops >&2; exit 2", terminationMessagePolicy="FallbackToLogsOnError"),
        container("logs-ok", "echo fine; exit 0", terminationMessagePolicy="FallbackToLogsOnError"),
    ], restartPolicy="Never")
    pod = wait_pod(agent, name, lambda p: p["status"].get("phase") == "Failed", "the pod to fail", timeout=60)
    term = {n: status_of(pod, n)["state"]["terminated"] for n in ("file", "custom", "logs", "logs-ok")}
    assert term["file"]["message"] == "bye from file" and term["file"]["exitCode"] == 3
    assert term["custom"]["message"] == "custom path"
    # stdout and stderr are separate pipes: their lines may interleave.
    assert term["logs"]["message"].endswith("\n"), term["logs"]
    assert sorted(term["logs"]["message"].splitlines()) == ["first", "oops"], term["logs"]
    assert "message" not in term["logs-ok"], term["logs-ok"]
    delete_pod(agent, name)


def test_native_sidecar_runs_beside_a_job_like_pod_and_stops_last(agent: Agent):
    name = unique("sidecar")
    looping = "trap 'exit 0' TERM; while true; do sleep 1; done"
    side = container("side", f"touch /tmp/up; {looping}", restartPolicy="Always",
                     startupProbe=exec_probe("test", "-f", "/tmp/up"), readinessProbe=exec_probe("true"))
    # A classic init container after the sidecar starts only once the
    # sidecar started; the main container runs beside the sidecar.
    init = container("init", "exit 0")
    main = container("main", "sleep 8; exit 0")
    create_pod(agent, name, [main], initContainers=[side, init], restartPolicy="Never")
    pod = wait_pod(agent, name, lambda p: status_of(p, "main").get("state", {}).get("running") is not None, "main running", timeout=60)
    s = status_of(pod, "side")
    assert "running" in s["state"] and s["started"] is True, s
    assert "terminated" in status_of(pod, "init")["state"]
    assert condition(pod, "Initialized") == "True"
    pod = wait_pod(agent, name, lambda p: condition(p, "Ready") == "True", "ready with the sidecar", timeout=20)
    assert status_of(pod, "side")["ready"] is True
    pod = wait_pod(agent, name, lambda p: p["status"].get("phase") == "Succeeded", "the pod to succeed", timeout=60)
    assert status_of(pod, "main")["state"]["terminated"]["exitCode"] == 0
    # The sidecar is stopped once the main container is done.
    pod = wait_pod(agent, name, lambda p: "terminated" in status_of(p, "side").get("state", {}), "the sidecar stopped", timeout=30)
    side_end = status_of(pod, "side")["state"]["terminated"]["finishedAt"]
    main_end = status_of(pod, "main")["state"]["terminated"]["finishedAt"]
    assert side_end >= main_end
    assert status_of(pod, "side")["restartCount"] == 0
    delete_pod(agent, name)


def test_sidecar_restarts_and_stops_after_main_containers_on_deletion(agent: Agent):
    name = unique("sidecar-del")
    side = container("side", "sleep 1; exit 1", restartPolicy="Always")
    main = container("main", "trap 'exit 0' TERM; while true; do sleep 1; done")
    create_pod(agent, name, [main], initContainers=[side])
    wait_pod(agent, name, lambda p: status_of(p, "side").get("restartCount", 0) >= 1, "the sidecar restarted", timeout=60)
    pod = pod_json(agent.server, NS, name)
    assert status_of(pod, "main")["restartCount"] == 0
    assert pod["status"]["phase"] == "Running"
    delete_pod(agent, name)
    wait_for(lambda: agent.server.api.request("GET", f"/api/v1/namespaces/{NS}/pods/{name}").status_code == 404,
             timeout=30, interval=0.3, desc="the pod gone")
