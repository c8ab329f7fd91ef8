"""Pod priority as upstream's `Priority` admission plugin gives it: the
built-in system PriorityClasses, spec.priority and spec.preemptionPolicy
resolved from a pod's class (or the global default), and the refusals for
an unknown class, a mismatching explicit priority and a second default."""

from __future__ import annotations

import json

from support import Api, pod, table_rows, unique

PCS = "/apis/scheduling.k8s.io/v1/priorityclasses"


def priority_class(name: str, value: int, global_default: bool = False, policy: str | None = None) -> dict:
    obj: dict = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        "description": "e2e class",
    }
    if global_default:
        obj["globalDefault"] = True
    if policy:
        obj["preemptionPolicy"] = policy
    return obj


def with_class(name: str, class_name: str) -> dict:
    obj = pod(name)
    obj["spec"]["priorityClassName"] = class_name
    return obj


def test_system_classes_exist_and_cannot_be_deleted(kubectl, api: Api):
    rows = {row[0]: row for row in table_rows(kubectl("get", "priorityclasses").stdout)[1:]}
    assert rows["system-node-critical"][1:3] == ["2000001000", "false"]
    assert rows["system-cluster-critical"][1:3] == ["2000000000", "false"]

    node = api.ok("GET", f"{PCS}/system-node-critical")
    assert node["description"] == "Used for system critical pods that must not be moved from their current node."
    assert node["preemptionPolicy"] == "PreemptLowerPriority"
    cluster = api.ok("GET", f"{PCS}/system-cluster-critical")
    assert cluster["description"] == (
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."
    )

    refused = kubectl("delete", "priorityclass", "system-node-critical", check=False)
    assert refused.rc != 0
    assert (
        'Error from server (Forbidden): priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: '
        "this is a system priority class and cannot be deleted"
    ) in refused.stderr
    assert api.get(f"{PCS}/system-node-critical").status_code == 200


def test_pod_gets_priority_and_policy_from_its_class(kubectl, api: Api, ns: str):
    name = unique("e2e-high")
    kubectl("create", "-f", "-", input=json.dumps(priority_class(name, 1000, policy="Never")))
    try:
        kubectl("create", "-n", ns, "-f", "-", input=json.dumps(with_class("high", name)))
        spec = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/high")["spec"]
        assert spec["priorityClassName"] == name
        assert spec["priority"] == 1000
        assert spec["preemptionPolicy"] == "Never"
        shown = kubectl("get", "pod", "high", "-n", ns, "-o", "jsonpath={.spec.priority} {.spec.preemptionPolicy}")
        assert shown.stdout == "1000 Never"

        # Without a class: priority 0, the default policy, no class name.
        kubectl("create", "-n", ns, "-f", "-", input=json.dumps(pod("plain")))
        spec = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/plain")["spec"]
        assert spec["priority"] == 0
        assert spec["preemptionPolicy"] == "PreemptLowerPriority"
        assert "priorityClassName" not in spec

        # A system class is usable outside kube-system (as upstream since 1.17).
        api.ok("POST", f"/api/v1/namespaces/{ns}/pods", with_class("critical", "system-node-critical"))
        spec = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/critical")["spec"]
        assert spec["priority"] == 2000001000

        # An update that leaves the admitted fields out keeps them; changing
        # them is refused by validation.
        current = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/high")
        del current["spec"]["priority"]
        del current["spec"]["preemptionPolicy"]
        current["metadata"]["labels"] = {"touched": "yes"}
        updated = api.ok("PUT", f"/api/v1/namespaces/{ns}/pods/high", current)
        assert updated["spec"]["priority"] == 1000
        assert updated["spec"]["preemptionPolicy"] == "Never"
        current = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/high")
        current["spec"]["priority"] = 5
        assert api.put(f"/api/v1/namespaces/{ns}/pods/high", current).status_code == 422
        kubectl("label", "pod", "high", "-n", ns, "more=yes")
        assert api.ok("GET", f"/api/v1/namespaces/{ns}/pods/high")["spec"]["priority"] == 1000
    finally:
        kubectl("delete", "priorityclass", name, check=False)


def test_unknown_class_is_forbidden(kubectl, api: Api, ns: str):
    refused = kubectl("create", "-n", ns, "-f", "-", input=json.dumps(with_class("lost", "no-such-class")), check=False)
    assert refused.rc != 0
    assert (
        'Error from server (Forbidden): error when creating "STDIN": pods "lost" is forbidden: '
        "no PriorityClass with name no-such-class was found"
    ) in refused.stderr

    resp = api.post(f"/api/v1/namespaces/{ns}/pods", with_class("lost", "no-such-class"))
    assert resp.status_code == 403, resp.text
    status = resp.json()
    assert status["reason"] == "Forbidden"
    assert status["message"] == 'pods "lost" is forbidden: no PriorityClass with name no-such-class was found'
    assert status["details"] == {"name": "lost", "kind": "pods"}

    # A dry run is admitted the same way; generateName names the error.
    generated = with_class("", "no-such-class")
    generated["metadata"] = {"generateName": "gen-"}
    resp = api.post(f"/api/v1/namespaces/{ns}/pods?dryRun=All", generated)
    assert resp.status_code == 403, resp.text
    assert resp.json()["message"] == 'pods "gen-" is forbidden: no PriorityClass with name no-such-class was found'
    assert api.get(f"/api/v1/namespaces/{ns}/pods/lost").status_code == 404


def test_explicit_priority_must_match_the_class(kubectl, api: Api, ns: str):
    explicit = pod("explicit")
    explicit["spec"]["priority"] = 7
    refused = kubectl("create", "-n", ns, "-f", "-", input=json.dumps(explicit), check=False)
    assert refused.rc != 0
    assert (
        'Error from server (Forbidden): error when creating "STDIN": pods "explicit" is forbidden: '
        "the integer value of priority (7) must not be provided in pod spec; "
        "priority admission controller computed 0 from the given PriorityClass name"
    ) in refused.stderr

    never = pod("never")
    never["spec"]["preemptionPolicy"] = "Never"
    resp = api.post(f"/api/v1/namespaces/{ns}/pods", never)
    assert resp.status_code == 403, resp.text
    assert resp.json()["message"] == (
        'pods "never" is forbidden: the string value of PreemptionPolicy (Never) must not be provided in pod spec; '
        "priority admission controller computed PreemptLowerPriority from the given PriorityClass name"
    )

    # Matching values are accepted.
    matching = with_class("matching", "system-cluster-critical")
    matching["spec"]["priority"] = 2000000000
    matching["spec"]["preemptionPolicy"] = "PreemptLowerPriority"
    api.ok("POST", f"/api/v1/namespaces/{ns}/pods", matching)


def test_global_default_applies_to_pods_without_a_class(kubectl, api: Api, ns: str):
    default = unique("e2e-default")
    other = unique("e2e-other")
    kubectl("create", "-f", "-", input=json.dumps(priority_class(default, 42, global_default=True)))
    try:
        rows = {row[0]: row for row in table_rows(kubectl("get", "pc").stdout)[1:]}
        assert rows[default][1:3] == ["42", "true"]

        kubectl("create", "-n", ns, "-f", "-", input=json.dumps(pod("defaulted")))
        spec = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/defaulted")["spec"]
        assert spec["priorityClassName"] == default
        assert spec["priority"] == 42
        assert spec["preemptionPolicy"] == "PreemptLowerPriority"

        # A dry run is admitted too and stores nothing.
        dry = api.ok("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", pod("dry"))
        assert dry["spec"]["priority"] == 42
        assert api.get(f"/api/v1/namespaces/{ns}/pods/dry").status_code == 404

        # Only one default: a second one is refused on create and on update.
        refused = kubectl("create", "-f", "-", input=json.dumps(priority_class(other, 43, global_default=True)), check=False)
        assert refused.rc != 0
        assert (
            f'Error from server (Forbidden): error when creating "STDIN": priorityclasses.scheduling.k8s.io "{other}" '
            f"is forbidden: PriorityClass {default} is already marked as default. Only one default can exist"
        ) in refused.stderr
        kubectl("create", "-f", "-", input=json.dumps(priority_class(other, 43)))
        resp = api.patch(f"{PCS}/{other}", {"globalDefault": True}, "application/merge-patch+json")
        assert resp.status_code == 403, resp.text
        assert resp.json()["message"] == (
            f'priorityclasses.scheduling.k8s.io "{other}" is forbidden: '
            f"PriorityClass {default} is already marked as default. Only one default can exist"
        )
        # The default itself may be updated.
        kubectl("annotate", "pc", default, "note=kept")
    finally:
        kubectl("delete", "priorityclass", default, other, "--ignore-not-found")

    kubectl("create", "-n", ns, "-f", "-", input=json.dumps(pod("after")))
    spec = api.ok("GET", f"/api/v1/namespaces/{ns}/pods/after")["spec"]
    assert spec["priority"] == 0
    assert "priorityClassName" not in spec
