"""The pods/eviction subresource honours PodDisruptionBudgets as upstream's
eviction registry does: 429 with a DisruptionBudget cause while the budget
allows no disruption, one disruption spent per eviction otherwise."""

from __future__ import annotations

from support import Api, pod


def running(api: Api, ns: str, name: str, ready: bool = True) -> None:
    obj = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    obj["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    api.ok("PUT", f"/api/v1/namespaces/{ns}/pods/{name}/status", obj)


def budget(api: Api, ns: str, name: str, allowed: int, labels: dict | None = None) -> dict:
    pdbs = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
    created = api.ok("POST", pdbs, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": labels or {"app": "web"}}},
    })
    # What the disruption controller would report.
    created["status"] = {
        "observedGeneration": created["metadata"]["generation"],
        "disruptionsAllowed": allowed, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3,
    }
    return api.ok("PUT", f"{pdbs}/{name}/status", created)


def evict(api: Api, ns: str, name: str, dry_run: bool = False):
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}}
    if dry_run:
        body["deleteOptions"] = {"dryRun": ["All"]}
    return api.post(f"/api/v1/namespaces/{ns}/pods/{name}/eviction", body)


def test_eviction_spends_the_budget_then_is_refused(api: Api, ns: str):
    for i in range(3):
        api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod(f"web-{i}", labels={"app": "web"}))
        running(api, ns, f"web-{i}")
    budget(api, ns, "web", allowed=1)

    # A dry run checks the budget but spends nothing.
    assert evict(api, ns, "web-0", dry_run=True).status_code == 201
    pdb = api.ok("GET", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/web")
    assert pdb["status"]["disruptionsAllowed"] == 1

    resp = evict(api, ns, "web-0")
    assert resp.status_code == 201, resp.text
    assert api.get(f"/api/v1/namespaces/{ns}/pods/web-0").status_code == 404
    pdb = api.ok("GET", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/web")
    assert pdb["status"]["disruptionsAllowed"] == 0
    assert "web-0" in pdb["status"]["disruptedPods"]

    resp = evict(api, ns, "web-1")
    assert resp.status_code == 429, resp.text
    status = resp.json()
    assert status["reason"] == "TooManyRequests"
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget web needs 2 healthy pods and has 3 currently",
    }]
    assert api.get(f"/api/v1/namespaces/{ns}/pods/web-1").status_code == 200

    # An unready pod may go while the budget is healthy (IfHealthyBudget).
    running(api, ns, "web-2", ready=False)
    assert evict(api, ns, "web-2").status_code == 201


def test_pods_outside_budgets_and_pending_pods_are_evicted(api: Api, ns: str):
    budget(api, ns, "strict", allowed=0)
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("other", labels={"app": "other"}))
    running(api, ns, "other")
    assert evict(api, ns, "other").status_code == 201
    # A pending pod cannot disrupt anything.
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("web-p", labels={"app": "web"}))
    assert evict(api, ns, "web-p").status_code == 201
    assert evict(api, ns, "missing").status_code == 404


def test_two_budgets_for_one_pod_is_an_error(api: Api, ns: str):
    budget(api, ns, "a", allowed=5)
    budget(api, ns, "b", allowed=5)
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod("web-0", labels={"app": "web"}))
    running(api, ns, "web-0")
    resp = evict(api, ns, "web-0")
    assert resp.status_code == 500
    assert "more than one PodDisruptionBudget" in resp.json()["message"]


def test_kubectl_drain_waits_for_the_budget(api: Api, kubectl, ns: str):
    node = f"drain-{ns}"
    api.ok("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    for name, app in (("web-0", "web"), ("other", "other")):
        api.ok("POST", f"/api/v1/namespaces/{ns}/pods", pod(name, node=node, labels={"app": app}))
        running(api, ns, name)
    budget(api, ns, "web", allowed=0)

    # --force: the pods have no controller; grace 0: no node agent confirms.
    blocked = kubectl("drain", node, "--grace-period=0", "--force", "--timeout=7s", check=False)
    assert blocked.rc != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in blocked.stderr + blocked.stdout
    assert api.get(f"/api/v1/namespaces/{ns}/pods/other").status_code == 404
    assert api.get(f"/api/v1/namespaces/{ns}/pods/web-0").status_code == 200
    assert api.ok("GET", f"/api/v1/nodes/{node}")["spec"]["unschedulable"] is True

    pdbs = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
    current = api.ok("GET", f"{pdbs}/web")
    current["status"]["disruptionsAllowed"] = 1
    api.ok("PUT", f"{pdbs}/web/status", current)
    drained = kubectl("drain", node, "--grace-period=0", "--force", "--timeout=20s")
    assert f"node/{node} drained" in drained.stdout
    assert api.get(f"/api/v1/namespaces/{ns}/pods/web-0").status_code == 404
    api.ok("DELETE", f"/api/v1/nodes/{node}")
