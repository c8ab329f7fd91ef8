"""Job, CronJob and TTL-after-finished controllers against simulated nodes.

Each test runs its own `bosun server` (scheduler and controllers inside)
with `bosun sim` nodes; pods finish through the sim's
`sim.bosun.dev/complete-after` / `fail-after` annotations (a failed sim pod
exits with code 1). Only the CronJob test waits for a real minute
boundary.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from support import SimCluster, bosun_bin, start_bosun, stop_process, wait_for

INDEX = "batch.kubernetes.io/job-completion-index"


def job_body(name: str, completions=1, parallelism=1, annotations=None, **spec) -> dict:
    template = {
        "metadata": {"annotations": annotations or {}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "resources": {"requests": {"cpu": "10m"}}}],
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"completions": completions, "parallelism": parallelism, "template": template, **spec},
    }


def create_job(c: SimCluster, body: dict) -> dict:
    return c.srv.api.ok("POST", "/apis/batch/v1/namespaces/default/jobs", body)


def get_job(c: SimCluster, name: str) -> dict:
    return c.srv.api.ok("GET", f"/apis/batch/v1/namespaces/default/jobs/{name}")


def job_pods(c: SimCluster, name: str) -> list:
    sel = f"batch.kubernetes.io/job-name={name}"
    return c.srv.api.ok("GET", "/api/v1/namespaces/default/pods", params={"labelSelector": sel})["items"]


def condition(job: dict, type_: str):
    for cond in job.get("status", {}).get("conditions", []) or []:
        if cond["type"] == type_ and cond["status"] == "True":
            return cond
    return None


def wait_condition(c: SimCluster, name: str, type_: str, timeout: float = 40) -> dict:
    def check():
        j = get_job(c, name)
        return j if condition(j, type_) else None

    return wait_for(check, timeout=timeout, desc=f"job {name} {type_}")


def events_for(c: SimCluster, name: str) -> list:
    items = c.srv.api.ok("GET", "/api/v1/namespaces/default/events")["items"]
    return [e for e in items if e["involvedObject"].get("name") == name]


@pytest.fixture
def cluster(sim_cluster: SimCluster) -> SimCluster:
    sim_cluster.sim("jobs-", 2)
    return sim_cluster


def test_parallel_job_runs_to_complete(cluster: SimCluster):
    create_job(cluster, job_body("par", completions=4, parallelism=2, annotations={"sim.bosun.dev/complete-after": "1s"}))
    r = cluster.kubectl("wait", "--for=condition=complete", "job/par", "--timeout=60s")
    assert "condition met" in r.stdout
    job = get_job(cluster, "par")
    st = job["status"]
    assert st["succeeded"] == 4 and st.get("failed", 0) == 0 and st.get("active", 0) == 0
    assert st["startTime"] and st["completionTime"]
    assert condition(job, "SuccessCriteriaMet")["reason"] == "CompletionsReached"
    assert not st.get("uncountedTerminatedPods", {}).get("succeeded")
    pods = job_pods(cluster, "par")
    assert len(pods) == 4
    uid = job["metadata"]["uid"]
    for p in pods:
        labels = p["metadata"]["labels"]
        assert labels["batch.kubernetes.io/controller-uid"] == uid and labels["controller-uid"] == uid
        assert labels["job-name"] == "par"
        assert p["status"]["phase"] == "Succeeded"
        # Counted, so the tracking finalizer is gone.
        assert "batch.kubernetes.io/job-tracking" not in (p["metadata"].get("finalizers") or [])
        assert p["metadata"]["ownerReferences"][0]["kind"] == "Job"
    row = cluster.kubectl("get", "job", "par", "--no-headers").stdout.split()
    assert row[:3] == ["par", "Complete", "4/4"], row
    reasons = {e["reason"] for e in events_for(cluster, "par")}
    assert {"SuccessfulCreate", "Completed"} <= reasons


def test_failing_job_hits_backoff_limit(cluster: SimCluster):
    create_job(cluster, job_body("flaky", backoffLimit=1, annotations={"sim.bosun.dev/fail-after": "500ms"}))
    # One failure, a 10 s pod re-creation back-off, a second failure.
    job = wait_condition(cluster, "flaky", "Failed", timeout=60)
    assert condition(job, "Failed")["reason"] == "BackoffLimitExceeded"
    assert condition(job, "Failed")["message"] == "Job has reached the specified backoff limit"
    assert condition(job, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 2
    assert not job["status"].get("completionTime")
    assert len(job_pods(cluster, "flaky")) == 2
    row = cluster.kubectl("get", "job", "flaky", "--no-headers").stdout.split()
    assert row[1] == "Failed", row
    assert any(e["reason"] == "BackoffLimitExceeded" and e["type"] == "Warning" for e in events_for(cluster, "flaky"))


def test_indexed_job_reports_completed_indexes(cluster: SimCluster):
    body = job_body("idx", completions=3, parallelism=3, completionMode="Indexed", annotations={"sim.bosun.dev/complete-after": "1s"})
    create_job(cluster, body)
    job = wait_condition(cluster, "idx", "Complete")
    assert job["status"]["completedIndexes"] == "0-2"
    assert job["status"]["succeeded"] == 3
    pods = job_pods(cluster, "idx")
    seen = sorted(int(p["metadata"]["annotations"][INDEX]) for p in pods)
    assert seen == [0, 1, 2]
    for p in pods:
        ix = p["metadata"]["annotations"][INDEX]
        assert p["metadata"]["labels"][INDEX] == ix
        assert p["spec"]["hostname"] == f"idx-{ix}"
        assert p["metadata"]["name"].startswith(f"idx-{ix}-")
        env = {e["name"]: e for e in p["spec"]["containers"][0].get("env", [])}
        assert INDEX in env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]


def test_pod_failure_policy_fails_job_on_exit_code(cluster: SimCluster):
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [1]}}]}
    create_job(cluster, job_body("pfp", backoffLimit=6, podFailurePolicy=policy, annotations={"sim.bosun.dev/fail-after": "500ms"}))
    job = wait_condition(cluster, "pfp", "Failed")
    failed = condition(job, "Failed")
    assert failed["reason"] == "PodFailurePolicy"
    assert re.match(r"Container main for pod default/pfp-\w+ failed with exit code 1 matching FailJob rule at index 0", failed["message"]), failed
    assert job["status"]["failed"] == 1
    assert len(job_pods(cluster, "pfp")) == 1


def test_active_deadline_fails_a_running_job(cluster: SimCluster):
    create_job(cluster, job_body("late", completions=2, parallelism=2, activeDeadlineSeconds=2))
    job = wait_condition(cluster, "late", "Failed", timeout=40)
    failed = condition(job, "Failed")
    assert (failed["reason"], failed["message"]) == ("DeadlineExceeded", "Job was active longer than specified deadline")
    # The running pods were deleted, and counted as failed once gone.
    assert job["status"].get("active", 0) == 0 and job["status"]["failed"] == 2
    assert job_pods(cluster, "late") == []


def test_backoff_limit_per_index_and_max_failed_indexes(cluster: SimCluster):
    body = job_body(
        "perix",
        completions=3,
        parallelism=1,
        completionMode="Indexed",
        backoffLimitPerIndex=0,
        maxFailedIndexes=0,
        annotations={"sim.bosun.dev/fail-after": "300ms"},
    )
    create_job(cluster, body)
    job = wait_condition(cluster, "perix", "Failed")
    assert condition(job, "Failed")["reason"] == "MaxFailedIndexesExceeded"
    assert job["status"]["failedIndexes"] == "0"
    assert job["status"]["failed"] == 1
    pods = job_pods(cluster, "perix")
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] for p in pods] == ["0"]


def test_suspend_and_resume(cluster: SimCluster):
    create_job(cluster, job_body("sus", completions=2, parallelism=2, suspend=True))
    job = wait_condition(cluster, "sus", "Suspended")
    assert condition(job, "Suspended")["reason"] == "JobSuspended"
    assert "startTime" not in job["status"]
    assert job_pods(cluster, "sus") == []
    cluster.kubectl("patch", "job", "sus", "-p", '{"spec":{"suspend":false}}')

    def running():
        j = get_job(cluster, "sus")
        return j if j["status"].get("active") == 2 and j["status"].get("startTime") else None

    job = wait_for(running, timeout=30, desc="resumed job runs 2 pods")
    resumed = [c for c in job["status"]["conditions"] if c["type"] == "Suspended"][0]
    assert resumed["status"] == "False" and resumed["reason"] == "JobResumed"
    wait_for(lambda: all(p["status"].get("phase") == "Running" for p in job_pods(cluster, "sus")), timeout=30, desc="pods running")
    cluster.kubectl("patch", "job", "sus", "-p", '{"spec":{"suspend":true}}')
    wait_for(lambda: job_pods(cluster, "sus") == [], timeout=30, desc="pods of the suspended job deleted")
    job = wait_condition(cluster, "sus", "Suspended")
    assert job["status"].get("active", 0) == 0
    # Pods deleted for a suspension are not failures.
    assert job["status"].get("failed", 0) == 0
    reasons = [e["reason"] for e in events_for(cluster, "sus")]
    assert "Suspended" in reasons and "Resumed" in reasons and "SuccessfulDelete" in reasons


def test_ttl_after_finished_deletes_the_job(cluster: SimCluster):
    create_job(cluster, job_body("ttl", ttlSecondsAfterFinished=2, annotations={"sim.bosun.dev/complete-after": "500ms"}))
    wait_condition(cluster, "ttl", "Complete")

    def gone():
        r = cluster.srv.api.get("/apis/batch/v1/namespaces/default/jobs/ttl")
        return r.status_code == 404

    wait_for(gone, timeout=30, desc="job deleted after its TTL")
    # Background propagation: the garbage collector takes the pods too.
    wait_for(lambda: job_pods(cluster, "ttl") == [], timeout=30, desc="pods of the deleted job gone")


def test_no_completion_lost_or_counted_twice_across_controller_restart(tmp_path):
    """The Job controller runs in a `bosun controller-manager` of its own,
    killed with SIGKILL while pods finish and started again."""
    srv = start_bosun(tmp_path / "data", extra=["--controllers", "*,-job"])
    c = SimCluster(srv, tmp_path)
    cms = []

    def start_cm():
        log = open(tmp_path / "cm.log", "ab")
        cm = subprocess.Popen(
            # The server's own controllers hold the kube-controller-manager
            # Lease; this one runs a different set, so it must not wait for it.
            [bosun_bin(), "controller-manager", "--kubeconfig", srv.kubeconfig, "--controllers", "job", "--leader-elect=false"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        cms.append(cm)
        return cm

    try:
        c.sim("restart-", 2)
        cm = start_cm()
        create_job(c, job_body("rs", completions=8, parallelism=2, annotations={"sim.bosun.dev/complete-after": "1s"}))
        wait_for(lambda: get_job(c, "rs")["status"].get("succeeded", 0) >= 2, timeout=30, desc="two completions")
        stop_process(cm, signal.SIGKILL)
        # Meanwhile the running pods finish, uncounted, held by the finalizer
        # (none run if the kill came between counting and re-creating).
        def all_terminal():
            return all(p["status"].get("phase") in ("Succeeded", "Failed") for p in job_pods(c, "rs"))

        wait_for(all_terminal, timeout=30, desc="the running pods finished while the controller was down")
        start_cm()
        job = wait_condition(c, "rs", "Complete", timeout=60)
        st = job["status"]
        assert st["succeeded"] == 8 and st.get("failed", 0) == 0, st
        pods = job_pods(c, "rs")
        assert len(pods) == 8, [p["metadata"]["name"] for p in pods]
        assert all(p["status"]["phase"] == "Succeeded" for p in pods)
        assert not any(p["metadata"].get("finalizers") for p in pods)
    finally:
        for cm in cms:
            stop_process(cm)
        c.stop()
        stop_process(srv.proc)


def test_cronjob_fires_and_keeps_history(cluster: SimCluster):
    """The one slow test: waits for a `* * * * *` schedule to fire."""
    cj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "* * * * *",
            "successfulJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"labels": {"app": "tick"}},
                "spec": job_body("unused", annotations={"sim.bosun.dev/complete-after": "500ms"})["spec"],
            },
        },
    }
    cluster.srv.api.ok("POST", "/apis/batch/v1/namespaces/default/cronjobs", cj)
    # kubectl's client-side Job from the CronJob's template, owned by it.
    cluster.kubectl("create", "job", "manual", "--from=cronjob/tick")
    manual = wait_condition(cluster, "manual", "Complete")
    assert manual["metadata"]["ownerReferences"][0]["kind"] == "CronJob"

    def scheduled_jobs():
        items = cluster.srv.api.ok("GET", "/apis/batch/v1/namespaces/default/jobs")["items"]
        return [j for j in items if re.fullmatch(r"tick-\d+", j["metadata"]["name"])]

    jobs = wait_for(scheduled_jobs, timeout=75, interval=0.5, desc="the CronJob's first Job")
    job = jobs[0]
    name = job["metadata"]["name"]
    minutes = int(name.split("-")[1])
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert stamp == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minutes * 60))
    assert job["metadata"]["labels"]["app"] == "tick"
    wait_condition(cluster, name, "Complete")

    def cron_status():
        st = cluster.srv.api.ok("GET", "/apis/batch/v1/namespaces/default/cronjobs/tick").get("status", {})
        return st if st.get("lastSuccessfulTime") and not st.get("active") else None

    st = wait_for(cron_status, timeout=30, desc="cronjob status after the run")
    assert st["lastScheduleTime"] == stamp
    # History limit 1: the older successful Job (the manual one) is deleted.
    wait_for(lambda: cluster.srv.api.get("/apis/batch/v1/namespaces/default/jobs/manual").status_code == 404, timeout=30, desc="old job cleaned up")
    row = cluster.kubectl("get", "cronjob", "tick", "--no-headers").stdout.split()
    assert row[:2] == ["tick", "*"], row
    reasons = {e["reason"] for e in events_for(cluster, "tick")}
    assert {"SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"} <= reasons, reasons
