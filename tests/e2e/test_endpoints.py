"""Endpoints and EndpointSlices follow a Service's ready pods."""

from __future__ import annotations

import json

from support import wait_for


def test_endpoints_and_slices_track_ready_pods(sim_cluster):
    sim_cluster.sim("ep-", 2)
    api = sim_cluster.srv.api
    k = sim_cluster.kubectl
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]},
            },
        },
    }
    k("apply", "-f", "-", input=json.dumps(deployment))
    k("rollout", "status", "deploy/web", "--timeout=60s")
    k("expose", "deploy/web", "--port=80", "--target-port=http")

    def pod_ips():
        pods = api.ok("GET", "/api/v1/namespaces/default/pods?labelSelector=app=web")["items"]
        return sorted(p["status"]["podIP"] for p in pods if not p["metadata"].get("deletionTimestamp"))

    def endpoint_ips():
        ep = api.get("/api/v1/namespaces/default/endpoints/web")
        if ep.status_code != 200:
            return None
        subsets = ep.json().get("subsets") or []
        return sorted(a["ip"] for s in subsets for a in s.get("addresses", []))

    wait_for(lambda: endpoint_ips() == pod_ips() and len(pod_ips()) == 3, desc="3 endpoint addresses")
    ep = api.ok("GET", "/api/v1/namespaces/default/endpoints/web")
    assert ep["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}], "named targetPort resolved"
    refs = {a["targetRef"]["name"] for a in ep["subsets"][0]["addresses"]}
    assert all(r.startswith("web-") for r in refs)
    out = k("get", "endpoints", "web").stdout
    assert ":8080" in out

    def slice_endpoints():
        slices = api.ok("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io/service-name=web")["items"]
        return slices

    wait_for(lambda: sum(len(s.get("endpoints") or []) for s in slice_endpoints()) == 3, desc="slice with 3 endpoints")
    s = slice_endpoints()[0]
    assert s["addressType"] == "IPv4"
    assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert s["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    assert all(e["conditions"]["ready"] for e in s["endpoints"])

    # Scale down: the removed pods leave both.
    k("scale", "deploy/web", "--replicas=1")
    wait_for(lambda: len(pod_ips()) == 1 and endpoint_ips() == pod_ips(), timeout=30, desc="1 endpoint")
    wait_for(lambda: [e["addresses"][0] for s in slice_endpoints() for e in s.get("endpoints") or [] if e["conditions"]["ready"]] == pod_ips(), timeout=30, desc="1 ready slice endpoint")

    # The Service goes: so do its Endpoints.
    k("delete", "service", "web")
    wait_for(lambda: api.get("/api/v1/namespaces/default/endpoints/web").status_code == 404, desc="endpoints deleted")
