//! Table tests of the Job controller's decisions (upstream's syncJob and
//! trackJobStatusAndRemoveFinalizers cases, without the API).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy,
    PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule, SuccessPolicy, SuccessPolicyRule,
    UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodCondition, PodSpec,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::indexes::{Intervals, COMPLETION_INDEX, INDEX_FAILURE_COUNT};
use super::state::{self, BackoffRecord, TrackInput, TRACKING_FINALIZER};
use super::{decide_finished, index_pod_template, pod_template, Ctx};
use crate::informer::ObjectKey;
use crate::workqueue::WorkQueue;

fn ts(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_700_000_000 + secs).expect("timestamp")
}

#[derive(Default)]
struct J {
    completions: Option<i32>,
    parallelism: i32,
    backoff_limit: i32,
    indexed: bool,
    per_index: Option<i32>,
    max_failed_indexes: Option<i32>,
    suspend: bool,
    deadline: Option<i64>,
    pfp: Option<PodFailurePolicy>,
    success: Option<SuccessPolicy>,
}

impl J {
    fn build(self) -> Job {
        let mut j = Job::default();
        j.metadata.name = Some("job".into());
        j.metadata.namespace = Some("ns".into());
        j.metadata.uid = Some("job-uid".into());
        j.spec = Some(JobSpec {
            completions: self.completions,
            parallelism: Some(self.parallelism),
            backoff_limit: Some(self.backoff_limit),
            completion_mode: Some(
                if self.indexed {
                    "Indexed"
                } else {
                    "NonIndexed"
                }
                .into(),
            ),
            backoff_limit_per_index: self.per_index,
            max_failed_indexes: self.max_failed_indexes,
            suspend: Some(self.suspend),
            active_deadline_seconds: self.deadline,
            pod_failure_policy: self.pfp,
            success_policy: self.success,
            template: Default::default(),
            ..Default::default()
        });
        j.status = Some(JobStatus {
            start_time: Some(Time(ts(0))),
            ..Default::default()
        });
        j
    }
}

/// A pod: phase, finalizer, index, exit code of container `main`.
fn pod(name: &str, phase: &str, finalizer: bool, index: Option<i32>) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = Some(name.into());
    p.metadata.namespace = Some("ns".into());
    p.metadata.uid = Some(name.into());
    p.metadata.creation_timestamp = Some(Time(ts(0)));
    if finalizer {
        p.metadata.finalizers = Some(vec![TRACKING_FINALIZER.into()]);
    }
    if let Some(ix) = index {
        p.metadata.annotations = Some([(COMPLETION_INDEX.to_string(), ix.to_string())].into());
    }
    let code = match phase {
        "Failed" => Some(1),
        "Succeeded" => Some(0),
        _ => None,
    };
    p.spec = Some(PodSpec::default());
    p.status = Some(PodStatus {
        phase: Some(phase.into()),
        container_statuses: code.map(|c| {
            vec![ContainerStatus {
                name: "main".into(),
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: c,
                        finished_at: Some(Time(ts(10))),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]
        }),
        conditions: (phase == "Running").then(|| {
            vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]
        }),
        ..Default::default()
    });
    p
}

fn arcs(pods: Vec<Pod>) -> Vec<Arc<Pod>> {
    pods.into_iter().map(Arc::new).collect()
}

fn ctx(job: Job, pods: Vec<Pod>, now: i64) -> Ctx {
    let pods = arcs(pods);
    let counts = state::pod_counts(&pods);
    let status = job.status.clone().unwrap_or_default();
    let uncounted = state::Uncounted::of(&status);
    let (s, _) = state::new_finished_pods(&job, &pods, &uncounted, &HashSet::new());
    Ctx {
        key: ObjectKey::new("ns", "job"),
        ready: counts.ready,
        terminating: counts.terminating.len() as i32,
        active_pods: counts.active,
        terminating_pods: counts.terminating,
        succeeded: status.succeeded.unwrap_or(0)
            + s.len() as i32
            + uncounted.succeeded.len() as i32,
        pods,
        expected_rm: HashSet::new(),
        finished: None,
        prev_succeeded: Intervals::default(),
        succeeded_indexes: Intervals::default(),
        failed_indexes: None,
        new_backoff: BackoffRecord::default(),
        now: ts(now),
        job,
    }
}

fn finished_of(c: &Ctx) -> Option<(String, String)> {
    c.finished
        .as_ref()
        .map(|f| (f.type_.clone(), f.reason.clone().unwrap_or_default()))
}

fn exit_rule(action: &str, codes: &[i32]) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            container_name: None,
            operator: "In".into(),
            values: codes.to_vec(),
        }),
        on_pod_conditions: None,
    }
}

#[tokio::test]
async fn failure_conditions_as_upstream() {
    let q = WorkQueue::new();
    // backoffLimit 1: two counted failures fail the Job.
    let job = J {
        completions: Some(1),
        parallelism: 1,
        backoff_limit: 1,
        ..Default::default()
    };
    let mut c = ctx(job.build(), vec![], 5);
    decide_finished(&mut c, 2, &q);
    assert_eq!(
        finished_of(&c),
        Some(("FailureTarget".into(), "BackoffLimitExceeded".into()))
    );
    let mut c = ctx(
        J {
            backoff_limit: 1,
            parallelism: 1,
            ..Default::default()
        }
        .build(),
        vec![],
        5,
    );
    decide_finished(&mut c, 1, &q);
    assert_eq!(finished_of(&c), None);

    // activeDeadlineSeconds 30, started at 0: not yet at 10 s, failed at 30 s.
    let deadline = || J {
        parallelism: 1,
        backoff_limit: 6,
        deadline: Some(30),
        ..Default::default()
    };
    let mut c = ctx(deadline().build(), vec![], 10);
    decide_finished(&mut c, 0, &q);
    assert_eq!(finished_of(&c), None);
    let mut c = ctx(deadline().build(), vec![], 30);
    decide_finished(&mut c, 0, &q);
    assert_eq!(
        finished_of(&c),
        Some(("FailureTarget".into(), "DeadlineExceeded".into()))
    );
    // Suspended Jobs have no deadline.
    let mut c = ctx(
        J {
            suspend: true,
            ..deadline()
        }
        .build(),
        vec![],
        300,
    );
    decide_finished(&mut c, 0, &q);
    assert_eq!(finished_of(&c), None);

    // FailJob rule: the message names the pod and the rule.
    let pfp = J {
        parallelism: 1,
        backoff_limit: 6,
        pfp: Some(PodFailurePolicy {
            rules: vec![exit_rule("Ignore", &[2]), exit_rule("FailJob", &[1])],
        }),
        ..Default::default()
    };
    let mut c = ctx(pfp.build(), vec![pod("p1", "Failed", true, None)], 20);
    decide_finished(&mut c, 1, &q);
    let f = c.finished.clone().expect("finished");
    assert_eq!(
        (f.type_.as_str(), f.reason.as_deref()),
        ("FailureTarget", Some("PodFailurePolicy"))
    );
    assert_eq!(
        f.message.as_deref(),
        Some(
            "Container main for pod ns/p1 failed with exit code 1 matching FailJob rule at index 1"
        )
    );

    // An existing FailureTarget turns into Failed with its reason.
    let mut job = deadline().build();
    job.status.get_or_insert_default().conditions = Some(vec![state::new_condition(
        "FailureTarget",
        "True",
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
        ts(30),
    )]);
    let mut c = ctx(job, vec![], 40);
    decide_finished(&mut c, 0, &q);
    assert_eq!(
        finished_of(&c),
        Some(("Failed".into(), "DeadlineExceeded".into()))
    );
}

#[tokio::test]
async fn indexed_success_policy_and_failed_indexes() {
    let q = WorkQueue::new();
    // Success policy: indexes 0 and 1 suffice.
    let job = J {
        completions: Some(5),
        parallelism: 5,
        backoff_limit: 6,
        indexed: true,
        success: Some(SuccessPolicy {
            rules: vec![SuccessPolicyRule {
                succeeded_indexes: Some("0-1".into()),
                succeeded_count: None,
            }],
        }),
        ..Default::default()
    };
    let pods = vec![
        pod("a", "Succeeded", true, Some(0)),
        pod("b", "Succeeded", false, Some(1)),
        pod("c", "Running", true, Some(2)),
    ];
    let mut c = ctx(job.build(), pods, 20);
    decide_finished(&mut c, 0, &q);
    assert_eq!(c.succeeded_indexes.to_string(), "0,1");
    assert_eq!(c.succeeded, 2);
    let f = c.finished.clone().expect("finished");
    assert_eq!(
        (f.type_.as_str(), f.reason.as_deref(), f.message.as_deref()),
        (
            "SuccessCriteriaMet",
            Some("SuccessPolicy"),
            Some("Matched rules at index 0")
        )
    );

    // backoffLimitPerIndex 1: a pod whose index already failed once fails
    // the index; maxFailedIndexes 0 then fails the Job.
    let per_index = |max| J {
        completions: Some(3),
        parallelism: 3,
        backoff_limit: i32::MAX,
        indexed: true,
        per_index: Some(1),
        max_failed_indexes: max,
        ..Default::default()
    };
    let mut second = pod("x2", "Failed", true, Some(1));
    second
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(INDEX_FAILURE_COUNT.into(), "1".into());
    let first = pod("x1", "Failed", false, Some(1));
    let mut c = ctx(
        per_index(Some(0)).build(),
        vec![first.clone(), second.clone()],
        20,
    );
    decide_finished(&mut c, 2, &q);
    assert_eq!(
        c.failed_indexes.as_ref().map(|f| f.to_string()).as_deref(),
        Some("1")
    );
    assert_eq!(
        finished_of(&c),
        Some(("FailureTarget".into(), "MaxFailedIndexesExceeded".into()))
    );
    // Without maxFailedIndexes the others still run...
    let mut c = ctx(
        per_index(None).build(),
        vec![first.clone(), second.clone()],
        20,
    );
    decide_finished(&mut c, 2, &q);
    assert_eq!(finished_of(&c), None);
    // ... and once all others succeeded the Job fails with FailedIndexes.
    let mut c = ctx(
        per_index(None).build(),
        vec![
            first,
            second,
            pod("y", "Succeeded", true, Some(0)),
            pod("z", "Succeeded", true, Some(2)),
        ],
        20,
    );
    decide_finished(&mut c, 2, &q);
    assert_eq!(
        finished_of(&c),
        Some(("FailureTarget".into(), "FailedIndexes".into()))
    );
    // A first failure only counts for the index: not failed yet.
    let mut c = ctx(
        per_index(None).build(),
        vec![pod("w", "Failed", true, Some(0))],
        20,
    );
    decide_finished(&mut c, 1, &q);
    assert_eq!(c.failed_indexes.as_ref().map(|f| f.total()), Some(0));
    let f = state::index_failures(&c.job, &c.pods);
    assert_eq!(f.get(&0).map(|f| f.failed), Some(1));
}

fn track(
    job: &Job,
    pods: &[Arc<Pod>],
    finished: Option<&JobCondition>,
    expected_rm: &HashSet<String>,
) -> (JobStatus, Vec<String>, bool) {
    let mut status = job.status.clone().unwrap_or_default();
    let uncounted = state::Uncounted::of(&status);
    let (prev, mut all) = state::succeeded_indexes(job, pods);
    let t = state::track(
        &mut status,
        TrackInput {
            job,
            pods,
            expected_rm,
            uncounted: &uncounted,
            prev_succeeded: &prev,
            succeeded: &mut all,
            failed_indexes: None,
            finished,
        },
        false,
    );
    let names = t
        .remove_finalizer
        .iter()
        .map(|p| state::pod_name(p))
        .collect();
    (status, names, t.needs_flush)
}

fn uncounted(status: &JobStatus) -> (Vec<String>, Vec<String>) {
    let u = status.uncounted_terminated_pods.clone().unwrap_or_default();
    (
        u.succeeded.unwrap_or_default(),
        u.failed.unwrap_or_default(),
    )
}

#[test]
fn finished_pods_are_counted_exactly_once() {
    let job = J {
        completions: Some(3),
        parallelism: 3,
        backoff_limit: 6,
        ..Default::default()
    }
    .build();
    let pods = arcs(vec![
        pod("s1", "Succeeded", true, None),
        pod("f1", "Failed", true, None),
        pod("r1", "Running", true, None),
        pod("done", "Succeeded", false, None),
    ]);
    // First sync: finished pods with the finalizer go to the uncounted
    // lists, and their finalizers are to be removed; the running pod
    // stays, the pod without finalizer was counted before.
    let (status, removed, flush) = track(&job, &pods, None, &HashSet::new());
    assert!(flush);
    assert_eq!(uncounted(&status), (vec!["s1".into()], vec!["f1".into()]));
    assert_eq!(removed, ["s1", "f1"]);
    assert_eq!((status.succeeded, status.failed), (None, None));

    // The finalizers went: the next step moves them into the counters.
    let mut after = status.clone();
    let with_finalizer: HashSet<String> = ["r1".to_string()].into();
    assert!(state::clean_uncounted(&mut after, &with_finalizer));
    assert_eq!((after.succeeded, after.failed), (Some(1), Some(1)));
    assert_eq!(uncounted(&after), (vec![], vec![]));

    // A restart after the status write but before the finalizer removal:
    // the pods are already uncounted, so they are not added again.
    let mut job2 = job.clone();
    job2.status = Some(status.clone());
    let (again, removed, flush) = track(&job2, &pods, None, &HashSet::new());
    assert!(!flush);
    assert_eq!(uncounted(&again), (vec!["s1".into()], vec!["f1".into()]));
    assert_eq!(removed, ["s1", "f1"]);

    // A stale informer still shows the finalizer of a pod whose removal
    // was sent: it is skipped, and the counted status is kept.
    let mut job3 = job.clone();
    job3.status = Some(after.clone());
    let expected: HashSet<String> = ["s1".to_string(), "f1".to_string()].into();
    let (stale, removed, flush) = track(&job3, &pods, None, &expected);
    assert!(!flush);
    assert!(removed.is_empty());
    assert_eq!((stale.succeeded, stale.failed), (Some(1), Some(1)));
}

#[test]
fn running_pods_of_a_finished_job() {
    let job = J {
        completions: Some(3),
        parallelism: 3,
        backoff_limit: 6,
        ..Default::default()
    }
    .build();
    let pods = arcs(vec![pod("r1", "Running", true, None)]);
    // A failing Job counts its remaining pods as failed.
    let failing = state::new_condition("FailureTarget", "True", "BackoffLimitExceeded", "", ts(1));
    let (status, removed, _) = track(&job, &pods, Some(&failing), &HashSet::new());
    assert_eq!(uncounted(&status).1, ["r1"]);
    assert_eq!(removed, ["r1"]);
    // A Job that met its success criteria does not.
    let success = state::new_condition("SuccessCriteriaMet", "True", "SuccessPolicy", "", ts(1));
    let (status, removed, _) = track(&job, &pods, Some(&success), &HashSet::new());
    assert!(uncounted(&status).1.is_empty());
    assert_eq!(removed, ["r1"]);
    // The terminal condition waits for terminating pods and uncounted ones.
    let mut st = JobStatus::default();
    assert!(!state::enact_finished(&mut st, &success, 1, ts(2)));
    st.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: Some(vec!["x".into()]),
        failed: None,
    });
    assert!(!state::enact_finished(&mut st, &success, 0, ts(2)));
    st.uncounted_terminated_pods = None;
    let complete = state::new_condition("Complete", "True", "CompletionsReached", "", ts(2));
    assert!(state::enact_finished(&mut st, &complete, 0, ts(2)));
    assert_eq!(st.completion_time.map(|t| t.0), Some(ts(2)));
}

#[test]
fn ignored_failures_are_not_counted() {
    let job = J {
        parallelism: 1,
        backoff_limit: 0,
        pfp: Some(PodFailurePolicy {
            rules: vec![exit_rule("Ignore", &[1])],
        }),
        ..Default::default()
    }
    .build();
    let pods = arcs(vec![pod("f", "Failed", true, None)]);
    let (status, removed, _) = track(&job, &pods, None, &HashSet::new());
    assert!(uncounted(&status).1.is_empty());
    assert_eq!(removed, ["f"]);
    assert!(!state::counts_as_failure(&job, &pods[0]));
}

#[test]
fn indexed_jobs_count_by_index() {
    let job = J {
        completions: Some(4),
        parallelism: 4,
        backoff_limit: 6,
        indexed: true,
        ..Default::default()
    }
    .build();
    let pods = arcs(vec![
        pod("a", "Succeeded", true, Some(2)),
        pod("b", "Succeeded", true, Some(0)),
        // A second success of index 0 is not a second completion.
        pod("c", "Succeeded", true, Some(0)),
        // Out of range: never counted.
        pod("d", "Succeeded", true, Some(9)),
    ]);
    let (status, removed, flush) = track(&job, &pods, None, &HashSet::new());
    assert!(flush);
    assert_eq!(status.completed_indexes.as_deref(), Some("0,2"));
    assert_eq!(status.succeeded, Some(2));
    assert!(uncounted(&status).0.is_empty());
    assert_eq!(removed.len(), 4);
}

#[test]
fn how_many_pods_to_run() {
    let j = |completions, parallelism| {
        J {
            completions,
            parallelism,
            ..Default::default()
        }
        .build()
    };
    // (completions, parallelism, active, succeeded, failed indexes) → want
    let cases = [
        (Some(5), 2, 0, 0, 0, 2),
        (Some(5), 2, 2, 4, 0, 1),
        (Some(5), 10, 0, 1, 0, 4),
        (Some(5), 10, 0, 2, 1, 2),
        (Some(5), 2, 0, 5, 0, 0),
        (None, 3, 0, 0, 0, 3),
        // Work-queue Jobs: after the first success, no new pods.
        (None, 3, 2, 1, 0, 2),
    ];
    for (completions, parallelism, active, succeeded, failed_ix, want) in cases {
        assert_eq!(
            state::want_active(&j(completions, parallelism), active, succeeded, failed_ix),
            want,
            "{completions:?} {parallelism} {active} {succeeded}"
        );
    }
}

#[test]
fn indexed_pods_to_remove_and_create() {
    let job = J {
        completions: Some(4),
        parallelism: 4,
        indexed: true,
        ..Default::default()
    }
    .build();
    let active = arcs(vec![
        pod("dup-a", "Running", true, Some(1)),
        pod("dup-b", "Pending", true, Some(1)),
        pod("none", "Running", true, None),
        pod("big", "Running", true, Some(7)),
        pod("ok", "Running", true, Some(3)),
    ]);
    let mut rm: Vec<String> = state::pods_for_removal(&job, &active, 0)
        .iter()
        .map(|p| state::pod_name(p))
        .collect();
    rm.sort();
    // The pending duplicate goes, the running one of index 1 stays.
    assert_eq!(rm, ["big", "dup-b", "none"]);
    let succeeded = Intervals::parse("0", 4);
    let keep = arcs(vec![
        pod("dup-a", "Running", true, Some(1)),
        pod("ok", "Running", true, Some(3)),
    ]);
    assert_eq!(
        state::pending_indexes(&job, &keep, &[], &succeeded, None, 10),
        [2]
    );
    let failed = Intervals::parse("2", 4);
    assert!(state::pending_indexes(&job, &keep, &[], &succeeded, Some(&failed), 10).is_empty());
    // NonIndexed: the least valuable first.
    let plain = J {
        completions: Some(4),
        parallelism: 1,
        ..Default::default()
    }
    .build();
    let active = arcs(vec![
        pod("run", "Running", true, None),
        pod("pend", "Pending", true, None),
    ]);
    let rm: Vec<String> = state::pods_for_removal(&plain, &active, 1)
        .iter()
        .map(|p| state::pod_name(p))
        .collect();
    assert_eq!(rm, ["pend"]);
}

#[test]
fn backoff_record_follows_failures_and_successes() {
    let f = |n: &str, at: i64| {
        let mut p = pod(n, "Failed", true, None);
        if let Some(cs) = p
            .status
            .as_mut()
            .and_then(|s| s.container_statuses.as_mut())
        {
            cs[0]
                .state
                .as_mut()
                .and_then(|s| s.terminated.as_mut())
                .expect("terminated")
                .finished_at = Some(Time(ts(at)));
        }
        Arc::new(p)
    };
    let s = |n: &str, at: i64| {
        let mut p = pod(n, "Succeeded", true, None);
        if let Some(cs) = p
            .status
            .as_mut()
            .and_then(|s| s.container_statuses.as_mut())
        {
            cs[0]
                .state
                .as_mut()
                .and_then(|s| s.terminated.as_mut())
                .expect("terminated")
                .finished_at = Some(Time(ts(at)));
        }
        Arc::new(p)
    };
    let r = BackoffRecord::default().next(&[], &[f("a", 10)]);
    assert_eq!(r.failures_after_last_success, 1);
    assert_eq!(r.remaining(ts(14)), Duration::from_secs(6));
    let r = r.next(&[], &[f("b", 20), f("c", 21)]);
    assert_eq!(r.failures_after_last_success, 3);
    // 40 s after the last failure at 21.
    assert_eq!(r.remaining(ts(31)), Duration::from_secs(30));
    // A success resets; failures after it count again.
    let r = r.next(&[s("d", 30)], &[f("e", 25), f("g", 35)]);
    assert_eq!(
        (r.failures_after_last_success, r.last_failure),
        (1, Some(ts(35)))
    );
    let r = r.next(&[s("h", 40)], &[]);
    assert_eq!(r.remaining(ts(40)), Duration::ZERO);
}

#[test]
fn pod_templates_carry_finalizer_and_index() {
    let mut job = J {
        completions: Some(2),
        parallelism: 2,
        indexed: true,
        ..Default::default()
    }
    .build();
    if let Some(s) = job.spec.as_mut() {
        s.template.spec = Some(PodSpec {
            containers: vec![Default::default()],
            ..Default::default()
        });
    }
    let mut t = pod_template(&job);
    index_pod_template(&mut t, "job", 1);
    let meta = t.metadata.clone().unwrap_or_default();
    assert_eq!(meta.finalizers, Some(vec![TRACKING_FINALIZER.to_string()]));
    let idx: BTreeMap<_, _> = meta.annotations.clone().unwrap_or_default();
    assert_eq!(idx[COMPLETION_INDEX], "1");
    assert_eq!(meta.labels.unwrap_or_default()[COMPLETION_INDEX], "1");
    let spec = t.spec.unwrap_or_default();
    assert_eq!(spec.hostname.as_deref(), Some("job-1"));
    let env = spec.containers[0].env.clone().unwrap_or_default();
    assert_eq!(env[0].name, "JOB_COMPLETION_INDEX");
}

#[test]
fn suspended_condition_transitions() {
    let mut list = Vec::new();
    // False is never added from nothing.
    assert!(!state::ensure_condition(
        &mut list,
        "Suspended",
        "False",
        "JobResumed",
        "Job resumed",
        ts(0)
    ));
    assert!(state::ensure_condition(
        &mut list,
        "Suspended",
        "True",
        "JobSuspended",
        "Job suspended",
        ts(1)
    ));
    assert!(!state::ensure_condition(
        &mut list,
        "Suspended",
        "True",
        "JobSuspended",
        "Job suspended",
        ts(2)
    ));
    assert!(state::ensure_condition(
        &mut list,
        "Suspended",
        "False",
        "JobResumed",
        "Job resumed",
        ts(3)
    ));
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0].last_transition_time.as_ref().map(|t| t.0),
        Some(ts(3))
    );
}
