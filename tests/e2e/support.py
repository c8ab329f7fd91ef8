"""Helpers for Bosun's end-to-end suite: processes, kubectl, raw HTTP.

Tests import these directly (``from support import ...``); the pytest
fixtures built on them live in ``conftest.py``.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import requests
import urllib3
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL = os.environ.get("KUBECTL", "/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
ETCD = os.environ.get("ETCD_BIN", "/usr/bin/etcd")
START_TIMEOUT = 30.0

urllib3.disable_warnings()


def bosun_bin() -> str:
    path = Path(os.environ.get("BOSUN_BIN", "target/debug/bosun"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        raise RuntimeError(f"bosun binary not found at {path}; build it with `cargo build -p bosun`")
    return str(path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 15.0,
    interval: float = 0.05,
    desc: str = "condition",
) -> Any:
    """Polls ``predicate`` until it returns a truthy value; returns it."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {desc}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class KubectlResult:
    stdout: str
    stderr: str
    rc: int

    def __str__(self) -> str:
        return f"rc={self.rc}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def run_kubectl(
    kubeconfig: str,
    *args: str,
    input: Optional[str] = None,
    check: bool = True,
    env: Optional[dict] = None,
    timeout: float = 60.0,
) -> KubectlResult:
    full_env = dict(os.environ)
    full_env["KUBECONFIG"] = kubeconfig
    # Keep kubectl's discovery cache per server so tests never see stale
    # discovery from another run.
    full_env["KUBECACHEDIR"] = str(Path(kubeconfig).parent / "kubectl-cache")
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [KUBECTL, *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    result = KubectlResult(proc.stdout, proc.stderr, proc.returncode)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result}")
    return result


class Api:
    """Raw HTTPS access with the admin client certificate."""

    def __init__(self, url: str, ca: str, cert: str, key: str):
        self.url = url
        self.ca = ca
        self.cert = (cert, key)
        self.session = requests.Session()
        # Ignore REQUESTS_CA_BUNDLE and proxies from the environment.
        self.session.trust_env = False
        self.session.verify = ca
        self.session.cert = self.cert

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self.session.request(method, self.url + path, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw) -> requests.Response:
        if body is not None:
            kw["json"] = body
        return self.request("POST", path, **kw)

    def put(self, path: str, body: Any = None, **kw) -> requests.Response:
        if body is not None:
            kw["json"] = body
        return self.request("PUT", path, **kw)

    def patch(self, path: str, body: Any, content_type: str, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        headers["Content-Type"] = content_type
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.request("PATCH", path, data=data, headers=headers, **kw)

    def delete(self, path: str, body: Any = None, **kw) -> requests.Response:
        if body is not None:
            kw["json"] = body
        return self.request("DELETE", path, **kw)

    def ok(self, method: str, path: str, body: Any = None, **kw) -> dict:
        """Sends a request and asserts a 2xx response; returns its JSON."""
        if body is not None:
            kw["json"] = body
        resp = self.request(method, path, **kw)
        assert 200 <= resp.status_code < 300, f"{method} {path} -> {resp.status_code}: {resp.text}"
        return resp.json()


@dataclass
class Server:
    """A running bosun server."""

    url: str
    port: int
    data_dir: Path
    kubeconfig: str
    token_kubeconfig: str
    store: str
    proc: subprocess.Popen
    log_path: Path
    args: list = field(default_factory=list)
    _api: Optional[Api] = None

    @property
    def pki(self) -> Path:
        return self.data_dir / "pki"

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(
                self.url,
                str(self.pki / "ca.crt"),
                str(self.pki / "admin.crt"),
                str(self.pki / "admin.key"),
            )
        return self._api

    def token(self) -> str:
        cfg = yaml.safe_load(Path(self.token_kubeconfig).read_text())
        return cfg["users"][0]["user"]["token"]

    def kubectl(self, *args: str, input: Optional[str] = None, check: bool = True, **kw) -> KubectlResult:
        return run_kubectl(self.kubeconfig, *args, input=input, check=check, **kw)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""


def start_bosun(data_dir: Path, port: Optional[int] = None, extra: Optional[list] = None, store: str = "embedded") -> Server:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-bosun-{port}.log"
    args = [bosun_bin(), "server", "--data-dir", str(data_dir), "--bind", f"127.0.0.1:{port}", *(extra or [])]
    log = open(log_path, "ab")
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "warn")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    log.close()
    url = f"https://127.0.0.1:{port}"
    srv = Server(
        url=url,
        port=port,
        data_dir=data_dir,
        kubeconfig=str(data_dir / "admin.kubeconfig"),
        token_kubeconfig=str(data_dir / "admin-token.kubeconfig"),
        store=store,
        proc=proc,
        log_path=log_path,
        args=args,
    )

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"bosun exited with {proc.returncode}:\n{srv.log()}")
        if not (data_dir / "pki" / "ca.crt").exists():
            return False
        try:
            r = requests.get(url + "/readyz", verify=str(data_dir / "pki" / "ca.crt"), timeout=2)
        except requests.RequestException:
            return False
        return r.status_code == 200 and r.text.strip() == "ok"

    try:
        wait_for(ready, timeout=START_TIMEOUT, interval=0.1, desc=f"bosun on port {port} to be ready")
    except BaseException:
        stop_process(proc)
        raise
    return srv


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def start_etcd(base: Path) -> tuple[subprocess.Popen, str]:
    client, peer = free_port(), free_port()
    data = base / "etcd-data"
    client_url = f"http://127.0.0.1:{client}"
    peer_url = f"http://127.0.0.1:{peer}"
    log = open(base / "etcd.log", "ab")
    proc = subprocess.Popen(
        [
            ETCD,
            "--name", "e2e",
            "--data-dir", str(data),
            "--listen-client-urls", client_url,
            "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url,
            "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"e2e={peer_url}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"etcd exited: {(base / 'etcd.log').read_text()[-3000:]}")
        try:
            r = requests.get(client_url + "/health", timeout=2)
            return r.status_code == 200 and r.json().get("health") == "true"
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, timeout=START_TIMEOUT, interval=0.1, desc="etcd to be healthy")
    except BaseException:
        stop_process(proc)
        raise
    return proc, client_url


def make_namespace(srv: Server, prefix: str = "e2e") -> str:
    name = unique(prefix)
    srv.api.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def configmap(name: str, data: Optional[dict] = None, labels: Optional[dict] = None, namespace: Optional[str] = None) -> dict:
    meta: dict = {"name": name}
    if labels:
        meta["labels"] = labels
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


def pod(name: str, node: Optional[str] = None, labels: Optional[dict] = None, image: str = "nginx:1.27") -> dict:
    spec: dict = {"containers": [{"name": "c", "image": image}]}
    if node:
        spec["nodeName"] = node
    meta: dict = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.27") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def table_rows(text: str) -> list[list[str]]:
    """Splits kubectl's table output into rows of whitespace-separated cells."""
    return [line.split() for line in text.strip().splitlines() if line.strip()]


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()




class KubectlStream:
    """A long-running kubectl (``get -w``) whose output lines are collected
    by a reader thread, so tests can wait for specific lines."""

    def __init__(self, kubeconfig: str, *args: str):
        env = dict(os.environ)
        env["KUBECONFIG"] = kubeconfig
        env["KUBECACHEDIR"] = str(Path(kubeconfig).parent / "kubectl-cache")
        self.proc = subprocess.Popen(
            [KUBECTL, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def wait_for_line(self, predicate: Callable[[list[str]], bool], timeout: float = 15.0, desc: str = "line") -> None:
        try:
            wait_for(lambda: predicate(self.snapshot()), timeout=timeout, desc=desc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; output so far:\n" + "\n".join(self.snapshot())) from None

    def stop(self) -> list[str]:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._thread.join(timeout=5)
        return self.snapshot()

    def __enter__(self) -> "KubectlStream":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = [
    "KubectlStream",
    "ETCD",
    "start_etcd",
    "Api",
    "Server",
    "KubectlResult",
    "b64",
    "configmap",
    "deployment",
    "free_port",
    "make_namespace",
    "pod",
    "run_kubectl",
    "start_bosun",
    "stop_process",
    "table_rows",
    "unique",
    "wait_for",
]


def read_events(resp, count: int) -> list:
    """The first ``count`` events of an open watch response (newline-delimited
    JSON); fewer if the server ends the stream first."""
    events: list = []
    for line in resp.iter_lines():
        if line:
            events.append(json.loads(line))
        if len(events) >= count:
            break
    return events


class SimCluster:
    """A server of its own plus simulated nodes (``bosun sim``)."""

    def __init__(self, srv, base: Path):
        self.srv = srv
        self.base = base
        self.sims: list[subprocess.Popen] = []

    def sim(self, prefix: str, nodes: int, *args: str) -> None:
        log = open(self.base / f"sim-{prefix}.log", "ab")
        proc = subprocess.Popen(
            [bosun_bin(), "sim", "--kubeconfig", self.srv.kubeconfig, "--name-prefix", prefix, "--nodes", str(nodes), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.sims.append(proc)

        def ready() -> bool:
            assert proc.poll() is None, (self.base / f"sim-{prefix}.log").read_text()
            items = self.srv.api.ok("GET", "/api/v1/nodes")["items"]
            return len([n for n in items if n["metadata"]["name"].startswith(prefix)]) == nodes

        wait_for(ready, timeout=30, desc=f"{nodes} sim nodes {prefix}")

    def kubectl(self, *args, **kw):
        return self.srv.kubectl(*args, **kw)

    def pod(self, name: str, cpu: str = "100m", **spec) -> dict:
        container = {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": spec.pop("labels", {"app": "test"})},
            "spec": {"containers": [container], **spec},
        }
        return self.srv.api.ok("POST", "/api/v1/namespaces/default/pods", body)

    def get_pod(self, name: str) -> dict:
        return self.srv.api.ok("GET", f"/api/v1/namespaces/default/pods/{name}")

    def node_of(self, name: str) -> str:
        return self.get_pod(name)["spec"].get("nodeName", "")

    def wait_bound(self, *names: str, timeout: float = 30) -> dict:
        wait_for(lambda: all(self.node_of(n) for n in names), timeout=timeout, desc=f"pods {names} bound")
        return {n: self.node_of(n) for n in names}

    def wait_unschedulable(self, name: str, timeout: float = 30) -> str:
        def cond():
            conds = self.get_pod(name).get("status", {}).get("conditions", [])
            c = [c for c in conds if c["type"] == "PodScheduled"]
            return c[0] if c and c[0]["status"] == "False" else None

        wait_for(lambda: cond() is not None, timeout=timeout, desc=f"{name} unschedulable")
        c = cond()
        assert c["reason"] == "Unschedulable"
        return c["message"]

    def stop(self) -> None:
        for p in self.sims:
            stop_process(p)
        stop_process(self.srv.proc)
