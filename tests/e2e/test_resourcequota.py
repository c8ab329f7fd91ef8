"""ResourceQuota usage status from the resourcequota controller."""

from __future__ import annotations

import json

from support import wait_for


def test_quota_status_counts_objects_and_requests(sim_cluster):
    sim_cluster.sim("rq-", 1)
    api = sim_cluster.srv.api
    k = sim_cluster.kubectl
    k("create", "namespace", "team")
    quota = {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "team"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "4", "limits.memory": "8Gi", "configmaps": "5", "count/deployments.apps": "2"}},
    }
    k("apply", "-f", "-", input=json.dumps(quota))
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "team"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "app"}},
                 "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{
                     "name": "c", "image": "nginx",
                     "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "512Mi"}}}]}}},
    }
    k("apply", "-f", "-", input=json.dumps(deployment))
    k("create", "configmap", "one", "-n", "team", "--from-literal=a=b")

    def used():
        return api.ok("GET", "/api/v1/namespaces/team/resourcequotas/q").get("status", {}).get("used", {})

    want = {"pods": "3", "requests.cpu": "750m", "limits.memory": "1536Mi", "count/deployments.apps": "1"}
    wait_for(lambda: all(used().get(k) == v for k, v in want.items()), timeout=30, desc=f"quota used {want}")
    # Ours plus the namespace's root CA configmap (kube-root-ca.crt), as upstream.
    assert api.ok("GET", "/api/v1/namespaces/team/configmaps/kube-root-ca.crt")["data"]["ca.crt"]
    wait_for(lambda: used().get("configmaps") == "2", timeout=30, desc="configmaps counted")
    assert api.ok("GET", "/api/v1/namespaces/team/resourcequotas/q")["status"]["hard"]["pods"] == "10"
    out = k("describe", "quota", "q", "-n", "team").stdout
    assert "requests.cpu" in out and "750m" in out

    k("scale", "deploy/app", "-n", "team", "--replicas=1")
    wait_for(lambda: used().get("pods") == "1" and used().get("requests.cpu") == "250m", timeout=30, desc="usage drops with the pods")
