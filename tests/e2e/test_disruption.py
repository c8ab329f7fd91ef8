"""PodDisruptionBudget status from the disruption controller, spent by the
eviction API (what ``kubectl drain`` uses)."""

from __future__ import annotations

import json

from support import wait_for


def test_budget_status_tracks_healthy_pods_and_gates_evictions(sim_cluster):
    sim_cluster.sim("pdb-", 2)
    api = sim_cluster.srv.api
    k = sim_cluster.kubectl
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "postgres"}]}}},
    }
    k("apply", "-f", "-", input=json.dumps(deployment))
    k("rollout", "status", "deploy/db", "--timeout=60s")
    k("create", "pdb", "db-min", "--selector=app=db", "--min-available=2")
    k("create", "pdb", "db-pct", "--selector=app=db", "--max-unavailable=50%")

    def status(name):
        return api.ok("GET", f"/apis/policy/v1/namespaces/default/poddisruptionbudgets/{name}").get("status", {})

    wait_for(lambda: status("db-min").get("disruptionsAllowed") == 1, desc="db-min allows 1")
    st = status("db-min")
    assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"]) == (3, 2, 3)
    assert st["conditions"][0]["type"] == "DisruptionAllowed" and st["conditions"][0]["reason"] == "SufficientPods"
    # 50% of the Deployment's 3 replicas, rounded up: 2 may be unavailable.
    wait_for(lambda: status("db-pct").get("disruptionsAllowed") == 2, desc="db-pct allows 2")
    assert (status("db-pct")["expectedPods"], status("db-pct")["desiredHealthy"]) == (3, 1)
    out = k("get", "pdb", "db-min").stdout.split("\n")[1].split()
    assert out[:4] == ["db-min", "2", "N/A", "1"], out

    # Evicting through the API spends the budget; the second is refused
    # until the Deployment's replacement is ready. Two budgets cover the
    # pods, which upstream refuses outright, so drop one first.
    k("delete", "pdb", "db-pct")
    pods = [p["metadata"]["name"] for p in api.ok("GET", "/api/v1/namespaces/default/pods?labelSelector=app=db")["items"]]
    eviction = lambda name: {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}
    first = api.post(f"/api/v1/namespaces/default/pods/{pods[0]}/eviction", eviction(pods[0]))
    assert first.status_code == 201, first.text
    second = api.post(f"/api/v1/namespaces/default/pods/{pods[1]}/eviction", eviction(pods[1]))
    assert second.status_code == 429, second.text
    assert "disruption budget" in second.json()["message"]
    # The replacement becomes ready; the budget recovers on its own.
    wait_for(lambda: status("db-min").get("disruptionsAllowed") == 1 and status("db-min").get("currentHealthy") == 3, timeout=30, desc="budget recovered")
    third = api.post(f"/api/v1/namespaces/default/pods/{pods[1]}/eviction", eviction(pods[1]))
    assert third.status_code == 201, third.text
