"""Leader election end to end: two `bosun scheduler` processes stand by for
each other on the `kube-system/kube-scheduler` Lease; only the holder
schedules, a killed leader is replaced once its Lease expires, and a leader
stopped cleanly releases the Lease. The controllers inside `bosun server`
hold `kube-controller-manager` under the server's stable identity.
"""

from __future__ import annotations

import os
import signal
import subprocess

from support import SimCluster, bosun_bin, start_bosun, stop_process, wait_for

FAST = ["--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "500ms"]


def lease(api, name):
    return api.ok("GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}")["spec"]


def start_scheduler(srv, tmp_path, n):
    log_path = tmp_path / f"scheduler-{n}.log"
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [bosun_bin(), "scheduler", "--kubeconfig", srv.kubeconfig, *FAST],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()

    def identity():
        for line in log_path.read_text().splitlines():
            if "running as " in line:
                return line.split("running as ")[1].split(" ")[0]
        return None

    wait_for(lambda: identity() is not None, timeout=20, desc=f"scheduler {n} started")
    return proc, identity()


def test_one_scheduler_leads_a_killed_leader_is_replaced_and_a_stopped_one_releases(tmp_path):
    srv = start_bosun(tmp_path / "data", extra=["--disable-scheduler"])
    cluster = SimCluster(srv, tmp_path)
    api = srv.api
    procs = []
    try:
        cluster.sim("le-", 1)
        a = start_scheduler(srv, tmp_path, "a")
        b = start_scheduler(srv, tmp_path, "b")
        procs = [a[0], b[0]]
        by_id = {a[1]: a[0], b[1]: b[0]}
        wait_for(lambda: lease(api, "kube-scheduler").get("holderIdentity") in by_id, timeout=20, desc="a scheduler leads")
        first = lease(api, "kube-scheduler")
        leader = first["holderIdentity"]
        standby = next(i for i in by_id if i != leader)
        assert first["leaseDurationSeconds"] == 3
        cluster.pod("before")
        cluster.wait_bound("before")

        # The leader dies without releasing: the standby takes over after
        # the Lease has gone unrenewed for its duration, and schedules.
        os.killpg(by_id[leader].pid, signal.SIGKILL)
        by_id[leader].wait()
        wait_for(lambda: lease(api, "kube-scheduler").get("holderIdentity") == standby, timeout=20, desc="standby takes over")
        second = lease(api, "kube-scheduler")
        assert second["leaseTransitions"] == first.get("leaseTransitions", 0) + 1
        cluster.pod("after")
        cluster.wait_bound("after")

        events = api.ok("GET", "/api/v1/namespaces/kube-system/events")["items"]
        messages = {e["message"] for e in events if e["reason"] == "LeaderElection" and e["involvedObject"]["name"] == "kube-scheduler"}
        assert {f"{leader} became leader", f"{standby} became leader"} <= messages, messages

        # A clean stop releases the Lease: no holder, 1 s duration.
        by_id[standby].send_signal(signal.SIGTERM)
        by_id[standby].wait(timeout=15)
        released = lease(api, "kube-scheduler")
        assert not released.get("holderIdentity"), released
        assert released["leaseDurationSeconds"] == 1

        # With no scheduler running, a new pod stays pending.
        cluster.pod("nobody")
        assert cluster.node_of("nobody") == ""

        # The built-in controllers lead under the server's own identity.
        cm = lease(api, "kube-controller-manager")
        assert cm["holderIdentity"] and cm["holderIdentity"].count("_") >= 1
    finally:
        for p in procs:
            stop_process(p)
        cluster.stop()


def test_a_restarted_server_takes_its_leases_back_at_once(tmp_path):
    srv = start_bosun(tmp_path / "data")
    cluster = SimCluster(srv, tmp_path)
    try:
        cluster.sim("rs-", 1)
        wait_for(lambda: lease(srv.api, "kube-scheduler").get("holderIdentity"), timeout=20, desc="scheduler leads")
        holder = lease(srv.api, "kube-scheduler")["holderIdentity"]
        # kill -9: the Lease is not released, yet the same server (same
        # identity) takes it back without waiting 15 s for it to expire.
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
        srv2 = start_bosun(tmp_path / "data", port=srv.port)
        cluster.srv = srv2
        cluster.pod("prompt")
        cluster.wait_bound("prompt", timeout=8)
        assert lease(srv2.api, "kube-scheduler")["holderIdentity"] == holder
    finally:
        cluster.stop()
