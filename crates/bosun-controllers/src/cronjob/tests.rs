//! The CronJob controller's policies against a fake clock (upstream's
//! TestControllerV2SyncCronJob cases, reduced to the pure decisions).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{
    CronJob, CronJobSpec, CronJobStatus, Job, JobCondition, JobStatus,
};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::plan::{self, Event, Next};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

struct Cj {
    schedule: &'static str,
    created: &'static str,
    last: Option<&'static str>,
    policy: &'static str,
    suspend: bool,
    deadline: Option<i64>,
    active: usize,
    tz: Option<&'static str>,
}

impl Default for Cj {
    fn default() -> Self {
        Cj {
            schedule: "* * * * *",
            created: "2026-01-05T09:59:30Z",
            last: None,
            policy: "Allow",
            suspend: false,
            deadline: None,
            active: 0,
            tz: Some("UTC"),
        }
    }
}

impl Cj {
    fn build(&self) -> CronJob {
        let mut cj = CronJob::default();
        cj.metadata.name = Some("cj".into());
        cj.metadata.namespace = Some("ns".into());
        cj.metadata.uid = Some("cj-uid".into());
        cj.metadata.creation_timestamp = Some(Time(ts(self.created)));
        cj.spec = Some(CronJobSpec {
            schedule: self.schedule.into(),
            concurrency_policy: Some(self.policy.into()),
            suspend: Some(self.suspend),
            starting_deadline_seconds: self.deadline,
            time_zone: self.tz.map(String::from),
            ..Default::default()
        });
        let active: Vec<ObjectReference> = (0..self.active)
            .map(|i| ObjectReference {
                name: Some(format!("running-{i}")),
                uid: Some(format!("running-{i}")),
                ..Default::default()
            })
            .collect();
        cj.status = Some(CronJobStatus {
            active: (!active.is_empty()).then_some(active),
            last_schedule_time: self.last.map(|t| Time(ts(t))),
            last_successful_time: None,
        });
        cj
    }
}

fn decide(cj: &Cj, now: &str) -> (Next, Vec<Event>) {
    let mut events = Vec::new();
    let next = plan::decide(&cj.build(), ts(now), &mut events);
    (next, events)
}

fn reasons(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.reason).collect()
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

#[test]
fn not_due_yet_waits_for_the_next_minute() {
    let cj = Cj {
        created: "2026-01-05T10:00:30Z",
        ..Default::default()
    };
    let (next, events) = decide(&cj, "2026-01-05T10:00:50Z");
    match next {
        Next::Wait(d) => assert_eq!(secs(d), 10.1),
        other => panic!("{other:?}"),
    }
    assert!(events.is_empty());
}

#[test]
fn due_schedule_starts_a_named_annotated_job_and_requeues_for_the_next() {
    let (next, events) = decide(&Cj::default(), "2026-01-05T10:00:05Z");
    let Next::Start {
        job,
        scheduled,
        replace,
        requeue,
    } = next
    else {
        panic!("expected a start")
    };
    assert_eq!(scheduled, ts("2026-01-05T10:00:00Z"));
    let minutes = ts("2026-01-05T10:00:00Z").as_second() / 60;
    assert_eq!(
        job.metadata.name.as_deref(),
        Some(format!("cj-{minutes}").as_str())
    );
    let ann = job.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(ann[plan::SCHEDULED_TIMESTAMP], "2026-01-05T10:00:00Z");
    let owner = &job.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("CronJob", "cj-uid", Some(true))
    );
    assert!(replace.is_empty());
    assert_eq!(requeue.map(secs), Some(55.1));
    assert!(events.is_empty());
}

#[test]
fn an_already_scheduled_time_is_not_started_twice() {
    let cj = Cj {
        last: Some("2026-01-05T10:00:00Z"),
        ..Default::default()
    };
    match decide(&cj, "2026-01-05T10:00:30Z").0 {
        Next::Wait(d) => assert_eq!(secs(d), 30.1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn concurrency_policies() {
    // Forbid with a running Job: skip this time, say why.
    let forbid = Cj {
        policy: "Forbid",
        active: 1,
        ..Default::default()
    };
    let (next, events) = decide(&forbid, "2026-01-05T10:00:05Z");
    assert!(matches!(next, Next::Wait(_)), "{next:?}");
    assert_eq!(reasons(&events), ["JobAlreadyActive"]);
    assert_eq!(
        events[0].message,
        "Not starting job because prior execution is running and concurrency policy is Forbid"
    );
    assert!(!events[0].warning);
    // Forbid without running Jobs: start.
    let idle = Cj {
        policy: "Forbid",
        ..Default::default()
    };
    assert!(matches!(
        decide(&idle, "2026-01-05T10:00:05Z").0,
        Next::Start { .. }
    ));
    // Allow: start alongside.
    let allow = Cj {
        active: 2,
        ..Default::default()
    };
    match decide(&allow, "2026-01-05T10:00:05Z").0 {
        Next::Start { replace, .. } => assert!(replace.is_empty()),
        other => panic!("{other:?}"),
    }
    // Replace: start after deleting every running Job.
    let replace = Cj {
        policy: "Replace",
        active: 2,
        ..Default::default()
    };
    match decide(&replace, "2026-01-05T10:00:05Z").0 {
        Next::Start { replace, .. } => {
            let names: Vec<_> = replace.iter().filter_map(|r| r.name.clone()).collect();
            assert_eq!(names, ["running-0", "running-1"]);
        }
        other => panic!("{other:?}"),
    }
    let mut cj = replace.build();
    let mut events = Vec::new();
    let r = cj
        .status
        .as_ref()
        .and_then(|s| s.active.clone())
        .expect("active")[0]
        .clone();
    plan::replaced(&mut cj, &r, &mut events);
    assert_eq!(
        cj.status
            .as_ref()
            .and_then(|s| s.active.as_ref())
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(events[0].message, "Deleted job running-0");
}

#[test]
fn suspended_does_nothing() {
    let cj = Cj {
        suspend: true,
        ..Default::default()
    };
    let (next, events) = decide(&cj, "2026-01-05T10:00:05Z");
    assert!(matches!(next, Next::Idle));
    assert!(events.is_empty());
}

#[test]
fn starting_deadline() {
    // Scheduled 10:00, now 10:00:30: a 10 s deadline has passed, so the
    // time is not even looked at (upstream narrows the search window to
    // the deadline before its MissSchedule check); wait for 10:01.
    let late = Cj {
        last: Some("2026-01-05T09:59:00Z"),
        deadline: Some(10),
        ..Default::default()
    };
    let (next, events) = decide(&late, "2026-01-05T10:00:30Z");
    match next {
        Next::Wait(d) => assert_eq!(secs(d), 30.1),
        other => panic!("{other:?}"),
    }
    assert!(events.is_empty(), "{events:?}");
    // A 60 s deadline still allows it.
    let ok = Cj {
        deadline: Some(60),
        ..late
    };
    assert!(matches!(
        decide(&ok, "2026-01-05T10:00:30Z").0,
        Next::Start { .. }
    ));
    // A deadline also bounds how far back missed times are looked for:
    // a CronJob down for a day starts only the latest time, no warning.
    let down = Cj {
        last: Some("2026-01-04T10:00:00Z"),
        deadline: Some(200),
        ..Default::default()
    };
    let (next, events) = decide(&down, "2026-01-05T10:00:30Z");
    match next {
        Next::Start { scheduled, .. } => assert_eq!(scheduled, ts("2026-01-05T10:00:00Z")),
        other => panic!("{other:?}"),
    }
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn too_many_missed_starts_only_the_most_recent_with_a_warning() {
    let cj = Cj {
        last: Some("2026-01-04T10:00:00Z"),
        ..Default::default()
    };
    let (next, events) = decide(&cj, "2026-01-05T10:00:30Z");
    match next {
        Next::Start { scheduled, .. } => assert_eq!(scheduled, ts("2026-01-05T10:00:00Z")),
        other => panic!("{other:?}"),
    }
    assert_eq!(reasons(&events), ["TooManyMissedTimes"]);
    assert!(events[0].warning);
    assert!(events[0]
        .message
        .starts_with("too many missed start times: 1440. Set or decrease"));
    // A few missed times: the latest starts, without a warning.
    let few = Cj {
        last: Some("2026-01-05T09:55:00Z"),
        ..Default::default()
    };
    let (next, events) = decide(&few, "2026-01-05T10:00:30Z");
    assert!(
        matches!(next, Next::Start { scheduled, .. } if scheduled == ts("2026-01-05T10:00:00Z"))
    );
    assert!(events.is_empty());
}

#[test]
fn invalid_schedule_and_time_zone_are_reported() {
    let bad = Cj {
        schedule: "61 * * * *",
        ..Default::default()
    };
    let (next, events) = decide(&bad, "2026-01-05T10:00:05Z");
    assert!(matches!(next, Next::Idle));
    assert_eq!(reasons(&events), ["UnparseableSchedule"]);
    assert!(events[0]
        .message
        .starts_with("unparseable schedule: \"61 * * * *\" : "));
    let tz = Cj {
        tz: Some("Mars/Olympus"),
        ..Default::default()
    };
    let (next, events) = decide(&tz, "2026-01-05T10:00:05Z");
    assert!(matches!(next, Next::Idle));
    assert_eq!(reasons(&events), ["UnknownTimeZone"]);
    assert!(events[0]
        .message
        .starts_with("invalid timeZone: \"Mars/Olympus\": "));
}

#[test]
fn time_zone_and_macros() {
    // 09:00 in Tokyo is 00:00 UTC; the annotation is written in the zone.
    let tokyo = Cj {
        schedule: "0 9 * * *",
        created: "2026-01-04T12:00:00Z",
        tz: Some("Asia/Tokyo"),
        ..Default::default()
    };
    match decide(&tokyo, "2026-01-05T00:00:30Z").0 {
        Next::Start {
            job,
            scheduled,
            requeue,
            ..
        } => {
            assert_eq!(scheduled, ts("2026-01-05T00:00:00Z"));
            let ann = job.metadata.annotations.clone().unwrap_or_default();
            assert_eq!(ann[plan::SCHEDULED_TIMESTAMP], "2026-01-05T09:00:00+09:00");
            // Next: tomorrow 09:00 JST.
            assert_eq!(requeue.map(secs), Some(86_370.1));
        }
        other => panic!("{other:?}"),
    }
    // Not yet 09:00 in Tokyo at 23:00 UTC.
    assert!(matches!(
        decide(&tokyo, "2026-01-04T23:00:00Z").0,
        Next::Wait(_)
    ));
    let hourly = Cj {
        schedule: "@hourly",
        created: "2026-01-05T09:30:00Z",
        ..Default::default()
    };
    assert!(
        matches!(decide(&hourly, "2026-01-05T10:00:01Z").0, Next::Start { scheduled, .. } if scheduled == ts("2026-01-05T10:00:00Z"))
    );
    match decide(&hourly, "2026-01-05T09:59:00Z").0 {
        Next::Wait(d) => assert_eq!(secs(d), 60.1),
        other => panic!("{other:?}"),
    }
}

fn job(name: &str, uid: &str, finished: Option<&str>, start: &str) -> Arc<Job> {
    let mut j = Job::default();
    j.metadata.name = Some(name.into());
    j.metadata.uid = Some(uid.into());
    j.status = Some(JobStatus {
        start_time: Some(Time(ts(start))),
        completion_time: (finished == Some("Complete")).then(|| Time(ts(start))),
        conditions: finished.map(|t| {
            vec![JobCondition {
                type_: t.into(),
                status: "True".into(),
                ..Default::default()
            }]
        }),
        ..Default::default()
    });
    Arc::new(j)
}

#[test]
fn active_list_follows_the_jobs() {
    let mut cj = Cj {
        active: 3,
        ..Default::default()
    }
    .build();
    let jobs = vec![
        job("running-0", "running-0", None, "2026-01-05T10:00:00Z"),
        job(
            "running-1",
            "running-1",
            Some("Complete"),
            "2026-01-05T10:01:00Z",
        ),
        job("stray", "stray", None, "2026-01-05T10:02:00Z"),
    ];
    // running-2 is not in the informer and the API says it is gone.
    let unseen = plan::unseen_active(&cj, &jobs);
    assert_eq!(unseen.len(), 1);
    let missing: HashSet<String> = ["running-2".to_string()].into();
    let mut events = Vec::new();
    assert!(plan::reconcile_jobs(&mut cj, &jobs, &missing, &mut events));
    let active: Vec<_> = cj
        .status
        .as_ref()
        .and_then(|s| s.active.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.name)
        .collect();
    assert_eq!(active, ["running-0"]);
    assert_eq!(
        reasons(&events),
        ["SawCompletedJob", "UnexpectedJob", "MissingJob"]
    );
    assert_eq!(
        events[0].message,
        "Saw completed job: running-1, condition: Complete"
    );
    assert_eq!(
        cj.status
            .as_ref()
            .and_then(|s| s.last_successful_time.clone())
            .map(|t| t.0),
        Some(ts("2026-01-05T10:01:00Z"))
    );
    // Nothing changes the second time.
    let mut events = Vec::new();
    assert!(!plan::reconcile_jobs(
        &mut cj,
        &jobs,
        &HashSet::new(),
        &mut events
    ));
}

#[test]
fn history_limits_delete_the_oldest_finished_jobs() {
    let mut cj = Cj::default().build();
    if let Some(s) = cj.spec.as_mut() {
        s.successful_jobs_history_limit = Some(1);
        s.failed_jobs_history_limit = Some(0);
    }
    let jobs = vec![
        job("ok-new", "1", Some("Complete"), "2026-01-05T10:03:00Z"),
        job("ok-old", "2", Some("Complete"), "2026-01-05T10:01:00Z"),
        job("ok-mid", "3", Some("Complete"), "2026-01-05T10:02:00Z"),
        job("failed", "4", Some("Failed"), "2026-01-05T10:00:00Z"),
        job("running", "5", None, "2026-01-05T09:00:00Z"),
    ];
    let names: Vec<String> = plan::jobs_to_clean(&cj, &jobs)
        .iter()
        .map(|j| j.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["ok-old", "ok-mid", "failed"]);
    // No limits: nothing is cleaned.
    if let Some(s) = cj.spec.as_mut() {
        s.successful_jobs_history_limit = None;
        s.failed_jobs_history_limit = None;
    }
    assert!(plan::jobs_to_clean(&cj, &jobs).is_empty());
}

#[test]
fn started_jobs_are_recorded_once() {
    let mut cj = Cj::default().build();
    let j = job("cj-1", "u1", None, "2026-01-05T10:00:00Z");
    plan::job_started(&mut cj, &j, ts("2026-01-05T10:00:00Z"));
    plan::job_started(&mut cj, &j, ts("2026-01-05T10:00:00Z"));
    let st = cj.status.clone().unwrap_or_default();
    assert_eq!(st.active.map(|a| a.len()), Some(1));
    assert_eq!(
        st.last_schedule_time.map(|t| t.0),
        Some(ts("2026-01-05T10:00:00Z"))
    );
}
