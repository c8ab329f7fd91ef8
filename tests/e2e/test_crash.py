"""Crash safety of the embedded store: every write the server acknowledged
survives a ``kill -9``, and resourceVersions keep growing afterwards."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
import requests

from support import Api, configmap, start_bosun, stop_process, wait_for

WRITERS = 8
MIN_ACKS = 1000
MAX_RUN_SECONDS = 30.0


@pytest.fixture
def crash_server(tmp_path):
    data = tmp_path / "data"
    srv = start_bosun(data)
    holder = {"srv": srv}
    yield holder
    stop_process(holder["srv"].proc)


def writer(
    api_args: tuple,
    ns: str,
    index: int,
    acks: list,
    lock: threading.Lock,
    errors: list,
    cut_off: list,
):
    api = Api(*api_args)
    i = 0
    # Writes until the server is gone: each writer ends on the request the
    # kill cut off (a check on a stop flag would race with an ack that
    # arrived just before the kill).
    while True:
        name = f"w{index}-{i}"
        i += 1
        try:
            resp = api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap(name, {"writer": str(index), "seq": str(i)}), timeout=10)
        except requests.RequestException:
            # The server is gone (killed mid-request): nothing acknowledged.
            with lock:
                cut_off.append(index)
            return
        if resp.status_code == 201:
            obj = resp.json()
            with lock:
                acks.append((name, int(obj["metadata"]["resourceVersion"]), obj["metadata"]["uid"]))
        else:
            with lock:
                errors.append((resp.status_code, resp.text[:300]))
            return


def test_acknowledged_writes_survive_kill_9(crash_server):
    srv = crash_server["srv"]
    api = srv.api
    ns = "crash"
    api.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    # One object updated several times before the crash, to check that the
    # latest acknowledged version is what survives.
    obj = api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("counter", {"n": "0"}))
    for n in range(1, 6):
        obj["data"]["n"] = str(n)
        obj = api.ok("PUT", f"/api/v1/namespaces/{ns}/configmaps/counter", obj)
    counter_rv = int(obj["metadata"]["resourceVersion"])

    acks: list = []
    errors: list = []
    cut_off: list = []
    lock = threading.Lock()
    api_args = (api.url, api.ca, api.cert[0], api.cert[1])
    threads = [
        threading.Thread(target=writer, args=(api_args, ns, i, acks, lock, errors, cut_off), daemon=True)
        for i in range(WRITERS)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + MAX_RUN_SECONDS
    while time.monotonic() < deadline:
        with lock:
            if len(acks) >= MIN_ACKS or errors:
                break
        time.sleep(0.01)
    # Crash while the writers are still going.
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(timeout=10)
    for t in threads:
        t.join(timeout=30)
    assert not errors, f"writes failed before the crash: {errors[:5]}"
    # Every writer was still writing when the server died.
    assert sorted(cut_off) == list(range(WRITERS))
    assert len(acks) >= 50, f"too few acknowledged writes before the crash: {len(acks)}"
    max_before = max([counter_rv] + [rv for _, rv, _ in acks])

    # Restart on the same data dir and port.
    srv2 = start_bosun(srv.data_dir, port=srv.port)
    crash_server["srv"] = srv2
    api2 = srv2.api
    listed = api2.ok("GET", f"/api/v1/namespaces/{ns}/configmaps")
    by_name = {i["metadata"]["name"]: i for i in listed["items"]}
    missing = [name for name, _, _ in acks if name not in by_name]
    assert not missing, f"{len(missing)} acknowledged objects lost, e.g. {missing[:10]}"
    for name, rv, uid in acks:
        item = by_name[name]
        assert int(item["metadata"]["resourceVersion"]) == rv, name
        assert item["metadata"]["uid"] == uid, name
    assert by_name["counter"]["data"] == {"n": "5"}
    assert int(by_name["counter"]["metadata"]["resourceVersion"]) == counter_rv
    assert int(listed["metadata"]["resourceVersion"]) >= max_before

    # Revisions continue upwards.
    after = api2.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("after-restart"))
    assert int(after["metadata"]["resourceVersion"]) > max_before
    by_name["counter"]["data"]["n"] = "6"
    updated = api2.ok("PUT", f"/api/v1/namespaces/{ns}/configmaps/counter", by_name["counter"])
    assert int(updated["metadata"]["resourceVersion"]) > int(after["metadata"]["resourceVersion"])

    # The restarted server's watch cache starts at the current revision: a
    # watch from before the crash is too old.
    resp = api2.get(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"watch": "true", "resourceVersion": str(counter_rv), "timeoutSeconds": "5"},
        stream=True,
        timeout=(5, 15),
    )
    with resp:
        if resp.status_code == 200:
            first = next(l for l in resp.iter_lines() if l)
            event = json.loads(first)
            assert event["type"] == "ERROR", event
            status = event["object"]
        else:
            assert resp.status_code == 410
            status = resp.json()
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    assert "too old resource version" in status["message"]
    # A watch from the current revision works and sees new writes.
    start = api2.ok("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=1")["metadata"]["resourceVersion"]
    with api2.get(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"watch": "true", "resourceVersion": start, "timeoutSeconds": "10"},
        stream=True,
        timeout=(5, 15),
    ) as w:
        assert w.status_code == 200
        api2.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("watched-after-restart"))
        event = json.loads(next(l for l in w.iter_lines() if l))
    assert event["type"] == "ADDED"
    assert event["object"]["metadata"]["name"] == "watched-after-restart"

    # kubectl works against the restarted server with the same kubeconfig.
    out = srv2.kubectl("get", "cm", "counter", "-n", ns, "-o", "jsonpath={.data.n}").stdout
    assert out == "6"


def test_graceful_restart_keeps_everything(crash_server):
    srv = crash_server["srv"]
    api = srv.api
    srv.kubectl("create", "namespace", "keep")
    srv.kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "-n", "keep")
    srv.kubectl("create", "configmap", "cfg", "--from-literal=a=b", "-n", "keep")
    before = api.ok("GET", "/apis/apps/v1/namespaces/keep/deployments/web")
    ca_before = (srv.pki / "ca.crt").read_bytes()
    token_before = srv.token()
    stop_process(srv.proc)
    srv2 = start_bosun(srv.data_dir, port=srv.port)
    crash_server["srv"] = srv2
    after = srv2.api.ok("GET", "/apis/apps/v1/namespaces/keep/deployments/web")
    assert after == before
    assert srv2.kubectl("get", "cm", "cfg", "-n", "keep", "-o", "jsonpath={.data.a}").stdout == "b"
    # Certificates and tokens are reused: the old kubeconfigs still work.
    assert (srv2.pki / "ca.crt").read_bytes() == ca_before
    assert srv2.token() == token_before
    assert srv2.api.ok("GET", "/api/v1/namespaces/keep")["status"]["phase"] == "Active"
    names = {n["metadata"]["name"] for n in srv2.api.ok("GET", "/api/v1/namespaces")["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "keep"} <= names
    wait_for(lambda: srv2.api.get("/readyz").text == "ok", desc="ready after restart")
