//! The Job, CronJob and TTL-after-finished controllers against the fake
//! API, in paused time.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{
    CronJob, CronJobSpec, Job, JobCondition, JobSpec, JobStatus, JobTemplateSpec,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use tokio::time::Instant;

use super::fixtures::{meta, set_phase, template, NS};
use super::{run, settle, wait_until, FakeApi};
use crate::job::indexes::COMPLETION_INDEX;
use crate::job::state::TRACKING_FINALIZER;

const WAIT: Duration = Duration::from_secs(60);

fn job_spec(completions: i32, parallelism: i32) -> JobSpec {
    let mut tpl = template(&[("app", "batch")], "busybox");
    if let Some(s) = tpl.spec.as_mut() {
        s.restart_policy = Some("Never".into());
    }
    JobSpec {
        completions: Some(completions),
        parallelism: Some(parallelism),
        template: tpl,
        ..Default::default()
    }
}

fn job(name: &str, spec: JobSpec) -> Job {
    Job {
        metadata: meta(NS, name),
        spec: Some(spec),
        ..Default::default()
    }
}

/// Pods not yet finished (the kubelet has not reported a terminal phase).
fn running_pods(api: &FakeApi) -> Vec<Pod> {
    api.list::<Pod>()
        .into_iter()
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .collect()
}

fn condition(api: &FakeApi, name: &str, type_: &str) -> Option<JobCondition> {
    api.get::<Job>(NS, name)?
        .status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

#[tokio::test(start_paused = true)]
async fn job_runs_completions_with_parallelism() {
    let api = FakeApi::new();
    api.add(&job("pi", job_spec(3, 2)));
    let _m = run(&api, &["job"]);
    wait_until(&api, "2 pods", WAIT, |a| a.list::<Pod>().len() == 2).await;
    settle(Duration::from_secs(5)).await;
    assert_eq!(api.list::<Pod>().len(), 2, "parallelism 2");
    for pod in api.list::<Pod>() {
        assert!(pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER));
    }
    let first = api.list::<Pod>()[0].name_any();
    api.modify::<Pod>(NS, &first, |p| set_phase(p, "Succeeded"));
    wait_until(&api, "a third pod", WAIT, |a| a.list::<Pod>().len() == 3).await;
    assert_eq!(running_pods(&api).len(), 2);
    for pod in running_pods(&api) {
        api.modify::<Pod>(NS, &pod.name_any(), |p| set_phase(p, "Succeeded"));
    }
    wait_until(&api, "Complete", WAIT, |a| {
        condition(a, "pi", "Complete").is_some()
    })
    .await;
    let status = api
        .get::<Job>(NS, "pi")
        .and_then(|j| j.status)
        .expect("status");
    assert_eq!(status.succeeded, Some(3));
    assert_eq!(api.actions_on("create", "pods").len(), 3);
    // Every finished pod was counted and released from tracking.
    wait_until(&api, "finalizers removed", WAIT, |a| {
        a.list::<Pod>()
            .iter()
            .all(|p| !p.finalizers().iter().any(|f| f == TRACKING_FINALIZER))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn exceeding_backoff_limit_fails_the_job() {
    let api = FakeApi::new();
    let mut spec = job_spec(1, 1);
    spec.backoff_limit = Some(1);
    api.add(&job("flaky", spec));
    let _m = run(&api, &["job"]);
    for attempt in 1..=2 {
        wait_until(
            &api,
            &format!("attempt {attempt}"),
            Duration::from_secs(600),
            |a| running_pods(a).len() == 1,
        )
        .await;
        let pod = running_pods(&api)[0].name_any();
        api.modify::<Pod>(NS, &pod, |p| set_phase(p, "Failed"));
    }
    wait_until(&api, "Failed", WAIT, |a| {
        condition(a, "flaky", "Failed").is_some()
    })
    .await;
    let failed = condition(&api, "flaky", "Failed").expect("condition");
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    settle(Duration::from_secs(60)).await;
    assert_eq!(api.actions_on("create", "pods").len(), 2);
    assert!(running_pods(&api).is_empty());
}

#[tokio::test(start_paused = true)]
async fn indexed_job_completes_every_index() {
    let api = FakeApi::new();
    let mut spec = job_spec(3, 3);
    spec.completion_mode = Some("Indexed".into());
    api.add(&job("idx", spec));
    let _m = run(&api, &["job"]);
    wait_until(&api, "3 pods", WAIT, |a| a.list::<Pod>().len() == 3).await;
    let mut indexes: Vec<String> = api
        .list::<Pod>()
        .iter()
        .filter_map(|p| p.annotations().get(COMPLETION_INDEX).cloned())
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
    // Index 1 finishes first: it is the only completed index.
    let one = api
        .list::<Pod>()
        .into_iter()
        .find(|p| p.annotations().get(COMPLETION_INDEX).map(String::as_str) == Some("1"))
        .expect("index 1");
    api.modify::<Pod>(NS, &one.name_any(), |p| set_phase(p, "Succeeded"));
    wait_until(&api, "completedIndexes 1", WAIT, |a| {
        a.get::<Job>(NS, "idx")
            .and_then(|j| j.status)
            .and_then(|s| s.completed_indexes)
            .as_deref()
            == Some("1")
    })
    .await;
    for pod in running_pods(&api) {
        api.modify::<Pod>(NS, &pod.name_any(), |p| set_phase(p, "Succeeded"));
    }
    wait_until(&api, "Complete", WAIT, |a| {
        condition(a, "idx", "Complete").is_some()
    })
    .await;
    let status = api
        .get::<Job>(NS, "idx")
        .and_then(|j| j.status)
        .expect("status");
    assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
}

fn cronjob(policy: &str) -> CronJob {
    let mut spec = job_spec(1, 1);
    spec.backoff_limit = Some(0);
    CronJob {
        metadata: meta(NS, "tick"),
        spec: Some(CronJobSpec {
            schedule: "*/5 * * * *".into(),
            concurrency_policy: Some(policy.into()),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(spec),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn cronjob_creates_a_job_at_the_schedule_and_forbid_skips_while_one_runs() {
    let api = FakeApi::new();
    let start = Instant::now();
    // The test clock starts on a five-minute boundary.
    let t0 = crate::clock::now();
    assert_eq!(t0.as_second() % 300, 0);
    api.add(&cronjob("Forbid"));
    let _m = run(&api, &["cronjob"]);
    settle(Duration::from_secs(60)).await;
    assert!(api.list::<Job>().is_empty(), "nothing before the schedule");
    wait_until(&api, "the first Job", Duration::from_secs(600), |a| {
        !a.list::<Job>().is_empty()
    })
    .await;
    assert!(start.elapsed() >= Duration::from_secs(300));
    let first = &api.list::<Job>()[0];
    assert_eq!(
        first.name_any(),
        format!("tick-{}", (t0.as_second() + 300) / 60)
    );
    assert_eq!(first.owner_references()[0].kind, "CronJob");
    // The Job keeps running past the next two scheduled times: Forbid.
    settle(Duration::from_secs(600)).await;
    assert_eq!(api.list::<Job>().len(), 1);
    assert_eq!(api.actions_on("create", "jobs").len(), 1);
    // It finishes; the next scheduled time starts another.
    let now = Time(crate::clock::now());
    api.modify::<Job>(NS, &first.name_any(), |j| {
        j.status = Some(JobStatus {
            conditions: Some(vec![JobCondition {
                type_: "Complete".into(),
                status: "True".into(),
                last_transition_time: Some(now.clone()),
                ..Default::default()
            }]),
            completion_time: Some(now.clone()),
            succeeded: Some(1),
            ..Default::default()
        })
    });
    wait_until(&api, "a second Job", Duration::from_secs(600), |a| {
        a.list::<Job>().len() == 2
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn finished_job_is_deleted_only_after_its_ttl() {
    let api = FakeApi::new();
    let mut spec = job_spec(1, 1);
    spec.ttl_seconds_after_finished = Some(100);
    let mut done = job("old", spec);
    let now = Time(crate::clock::now());
    done.status = Some(JobStatus {
        conditions: Some(vec![JobCondition {
            type_: "Complete".into(),
            status: "True".into(),
            last_transition_time: Some(now.clone()),
            ..Default::default()
        }]),
        completion_time: Some(now),
        ..Default::default()
    });
    api.add(&done);
    // A running Job with a TTL is left alone.
    let mut running = job_spec(1, 1);
    running.ttl_seconds_after_finished = Some(0);
    api.add(&job("busy", running));
    let start = Instant::now();
    let _m = run(&api, &["ttl-after-finished"]);
    settle(Duration::from_secs(90)).await;
    assert!(
        api.get::<Job>(NS, "old").is_some(),
        "deleted before its TTL"
    );
    wait_until(
        &api,
        "the finished Job deleted",
        Duration::from_secs(60),
        |a| a.get::<Job>(NS, "old").is_none(),
    )
    .await;
    assert!(start.elapsed() >= Duration::from_secs(100));
    assert!(api.get::<Job>(NS, "busy").is_some());
    let deletes = api.actions_on("delete", "jobs");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].name, "old");
}
