"""core/v1 and events.k8s.io/v1 Events are one storage, as upstream: an
Event written through either API is read, listed, watched, selected and
deleted through both, with the fields renamed between the versions."""

from __future__ import annotations

from support import Api, read_events


def core_event(name: str, ns: str, pod: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": ns, "apiVersion": "v1"},
        "reason": "Pulled",
        "message": "Container image pulled",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
        "count": 3,
        "firstTimestamp": "2026-11-27T10:00:00Z",
        "lastTimestamp": "2026-11-27T10:05:00Z",
    }


def v1_event(name: str, ns: str, pod: str) -> dict:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "eventTime": "2026-11-27T10:00:00.000000Z",
        "regarding": {"kind": "Pod", "name": pod, "namespace": ns, "apiVersion": "v1"},
        "reason": "FailedScheduling",
        "note": "0/3 nodes are available: 3 Insufficient cpu.",
        "type": "Warning",
        "action": "Scheduling",
        "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-node-1",
    }


def core(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/events"


def v1(ns: str) -> str:
    return f"/apis/events.k8s.io/v1/namespaces/{ns}/events"


def test_core_event_reads_through_events_api(api: Api, ns: str):
    created = api.ok("POST", core(ns), core_event("pulled", ns, "web-0"))
    got = api.ok("GET", f"{v1(ns)}/pulled")
    assert got["apiVersion"] == "events.k8s.io/v1"
    assert got["regarding"]["name"] == "web-0"
    assert got["note"] == "Container image pulled"
    assert got["deprecatedSource"] == {"component": "kubelet", "host": "node-1"}
    assert got["deprecatedCount"] == 3
    assert got["deprecatedFirstTimestamp"] == "2026-11-27T10:00:00Z"
    for core_only in ("involvedObject", "message", "source", "count", "firstTimestamp"):
        assert core_only not in got
    # One object: same uid and resourceVersion through both APIs.
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_events_api_write_is_a_core_event(api: Api, ns: str):
    created = api.ok("POST", v1(ns), v1_event("sched", ns, "big-0"))
    assert created["apiVersion"] == "events.k8s.io/v1"
    assert created["note"].startswith("0/3 nodes")
    got = api.ok("GET", f"{core(ns)}/sched")
    assert got["apiVersion"] == "v1"
    assert got["involvedObject"]["name"] == "big-0"
    assert got["message"] == "0/3 nodes are available: 3 Insufficient cpu."
    assert got["reportingComponent"] == "default-scheduler"
    # kubectl describe selects a pod's events by involvedObject fields.
    listed = api.ok("GET", core(ns), params={"fieldSelector": "involvedObject.name=big-0"})
    assert [e["metadata"]["name"] for e in listed["items"]] == ["sched"]
    listed = api.ok("GET", v1(ns), params={"fieldSelector": "regarding.name=big-0"})
    assert [e["metadata"]["name"] for e in listed["items"]] == ["sched"]
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"

    # An update through events.k8s.io/v1 (a series) shows in core/v1.
    created["series"] = {"count": 2, "lastObservedTime": "2026-11-27T10:01:00.000000Z"}
    updated = api.ok("PUT", f"{v1(ns)}/sched", created)
    assert updated["series"]["count"] == 2
    assert api.ok("GET", f"{core(ns)}/sched")["series"]["count"] == 2

    # Deleting through one API removes it from both.
    api.ok("DELETE", f"{core(ns)}/sched")
    assert api.get(f"{v1(ns)}/sched").status_code == 404


def test_events_api_watch_sees_core_writes(api: Api, ns: str):
    start = api.ok("GET", v1(ns))["metadata"]["resourceVersion"]
    query = {"watch": "true", "resourceVersion": start, "timeoutSeconds": "15"}
    with api.get(v1(ns), params=query, stream=True, timeout=(5, 20)) as resp:
        assert resp.status_code == 200
        api.ok("POST", core(ns), core_event("live", ns, "web-1"))
        api.ok("DELETE", f"{core(ns)}/live")
        events = read_events(resp, 2)
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]
    assert all(e["object"]["apiVersion"] == "events.k8s.io/v1" for e in events)
    assert events[0]["object"]["regarding"]["name"] == "web-1"


def test_kubectl_lists_both_versions(kubectl, api: Api, ns: str):
    api.ok("POST", v1(ns), v1_event("via-v1", ns, "p"))
    api.ok("POST", core(ns), core_event("via-core", ns, "p"))
    core_out = kubectl("get", "events", "-n", ns, "-o", "name").stdout.split()
    v1_out = kubectl("get", "events.v1.events.k8s.io", "-n", ns, "-o", "name").stdout.split()
    assert sorted(core_out) == ["event/via-core", "event/via-v1"]
    assert sorted(v1_out) == ["event.events.k8s.io/via-core", "event.events.k8s.io/via-v1"]
    table = kubectl("get", "events", "-n", ns).stdout
    assert "FailedScheduling" in table and "Pulled" in table
