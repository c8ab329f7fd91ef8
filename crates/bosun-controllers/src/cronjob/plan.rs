//! The CronJob controller's decisions as pure functions of the CronJob,
//! its Jobs and the current time (upstream syncCronJob and
//! cleanupFinishedJobs without the API calls), so every policy is
//! testable with a fake clock.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::ResourceExt;

use super::schedule::{self, MissedSchedules, Schedule};
use crate::controller_ref;

/// The annotation with the scheduled time a Job was created for.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// An event the controller records on the CronJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

fn normal(reason: &'static str, message: String) -> Event {
    Event {
        warning: false,
        reason,
        message,
    }
}

fn warning(reason: &'static str, message: String) -> Event {
    Event {
        warning: true,
        reason,
        message,
    }
}

/// The type of a Job's true Complete or Failed condition.
pub fn finished_type(job: &Job) -> Option<&str> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

fn active_refs(cj: &CronJob) -> &[ObjectReference] {
    cj.status
        .as_ref()
        .and_then(|s| s.active.as_deref())
        .unwrap_or_default()
}

pub fn in_active_list(cj: &CronJob, uid: &str) -> bool {
    active_refs(cj)
        .iter()
        .any(|r| r.uid.as_deref() == Some(uid))
}

fn delete_from_active_list(cj: &mut CronJob, uid: &str) {
    if let Some(status) = cj.status.as_mut() {
        if let Some(list) = status.active.as_mut() {
            list.retain(|r| r.uid.as_deref() != Some(uid));
            if list.is_empty() {
                status.active = None;
            }
        }
    }
}

/// A reference to a Job for `status.active`.
pub fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: Some(job.name_any()),
        namespace: job.namespace(),
        uid: job.uid(),
        resource_version: job.resource_version(),
        ..Default::default()
    }
}

/// Upstream's first part of syncCronJob: brings `status.active` and
/// `status.lastSuccessfulTime` in line with the Jobs. `missing` holds the
/// uids of active Jobs the API confirmed gone. Returns whether the status
/// changed.
pub fn reconcile_jobs(
    cj: &mut CronJob,
    jobs: &[Arc<Job>],
    missing: &HashSet<String>,
    events: &mut Vec<Event>,
) -> bool {
    let mut update = false;
    let mut children: HashSet<String> = HashSet::new();
    for j in jobs {
        let uid = j.uid().unwrap_or_default();
        children.insert(uid.clone());
        let found = in_active_list(cj, &uid);
        let finished = finished_type(j);
        if !found && finished.is_none() {
            events.push(warning(
                "UnexpectedJob",
                format!(
                    "Saw a job that the controller did not create or forgot: {}",
                    j.name_any()
                ),
            ));
        } else if found && finished.is_some() {
            delete_from_active_list(cj, &uid);
            events.push(normal(
                "SawCompletedJob",
                format!(
                    "Saw completed job: {}, condition: {}",
                    j.name_any(),
                    finished.unwrap_or_default()
                ),
            ));
            update = true;
        }
        if finished == Some("Complete") {
            let done = j.status.as_ref().and_then(|s| s.completion_time.clone());
            let status = cj.status.get_or_insert_default();
            if let Some(done) = done {
                if status
                    .last_successful_time
                    .as_ref()
                    .is_none_or(|t| done.0 > t.0)
                {
                    status.last_successful_time = Some(done);
                    update = true;
                }
            }
        }
    }
    let gone: Vec<ObjectReference> = active_refs(cj)
        .iter()
        .filter(|r| {
            let uid = r.uid.clone().unwrap_or_default();
            !children.contains(&uid) && missing.contains(&uid)
        })
        .cloned()
        .collect();
    for r in gone {
        events.push(normal(
            "MissingJob",
            format!(
                "Active job went missing: {}",
                r.name.clone().unwrap_or_default()
            ),
        ));
        delete_from_active_list(cj, r.uid.as_deref().unwrap_or_default());
        update = true;
    }
    update
}

/// Active references whose Job the informer does not have (to confirm
/// with the API).
pub fn unseen_active(cj: &CronJob, jobs: &[Arc<Job>]) -> Vec<ObjectReference> {
    let children: HashSet<String> = jobs.iter().filter_map(|j| j.uid()).collect();
    active_refs(cj)
        .iter()
        .filter(|r| !r.uid.as_ref().is_some_and(|u| children.contains(u)))
        .cloned()
        .collect()
}

/// Upstream's cleanupFinishedJobs: the oldest finished Jobs beyond the
/// history limits, successful and failed counted separately.
pub fn jobs_to_clean(cj: &CronJob, jobs: &[Arc<Job>]) -> Vec<Arc<Job>> {
    let spec = cj.spec.as_ref();
    let ok_limit = spec.and_then(|s| s.successful_jobs_history_limit);
    let failed_limit = spec.and_then(|s| s.failed_jobs_history_limit);
    let mut out = Vec::new();
    for (kind, limit) in [("Complete", ok_limit), ("Failed", failed_limit)] {
        let Some(limit) = limit else { continue };
        let mut finished: Vec<Arc<Job>> = jobs
            .iter()
            .filter(|j| finished_type(j) == Some(kind))
            .cloned()
            .collect();
        let excess = finished.len().saturating_sub(limit.max(0) as usize);
        if excess == 0 {
            continue;
        }
        finished.sort_by(|a, b| {
            let start = |j: &Job| {
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0)
            };
            match (start(a), start(b)) {
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (x, y) if x == y => a.name_any().cmp(&b.name_any()),
                (x, y) => x.cmp(&y),
            }
        });
        out.extend(finished.into_iter().take(excess));
    }
    out
}

/// After a cleanup deleted `job`.
pub fn job_deleted(cj: &mut CronJob, job: &Job, events: &mut Vec<Event>) {
    delete_from_active_list(cj, job.uid().as_deref().unwrap_or_default());
    events.push(normal(
        "SuccessfulDelete",
        format!("Deleted job {}", job.name_any()),
    ));
}

/// What to do about the schedule.
#[derive(Debug)]
pub enum Next {
    /// Nothing until the CronJob changes (suspended, invalid).
    Idle,
    /// Look again after this long.
    Wait(Duration),
    /// Start `job` for `scheduled`, after deleting the `replace`d active
    /// Jobs (concurrencyPolicy Replace); then look again after `requeue`.
    Start {
        job: Box<Job>,
        scheduled: Timestamp,
        replace: Vec<ObjectReference>,
        requeue: Option<Duration>,
    },
}

/// The zone the schedule is read in: `spec.timeZone`, else the
/// controller's local zone.
pub fn time_zone(cj: &CronJob) -> Result<TimeZone, String> {
    match cj.spec.as_ref().and_then(|s| s.time_zone.as_deref()) {
        Some(name) => TimeZone::get(name).map_err(|e| e.to_string()),
        None => Ok(TimeZone::system()),
    }
}

/// `<cronjob>-<scheduled time in minutes since the epoch>`.
pub fn job_name(cj: &CronJob, scheduled: Timestamp) -> String {
    format!("{}-{}", cj.name_any(), scheduled.as_second().div_euclid(60))
}

/// Go's RFC3339 layout: `Z` for a zero offset.
fn rfc3339(t: &Zoned) -> String {
    if t.offset().seconds() == 0 {
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The Job for one scheduled time (upstream getJobFromTemplate2).
pub fn job_from_template(cj: &CronJob, scheduled: Timestamp) -> Job {
    let spec = cj.spec.clone().unwrap_or_default();
    let tmeta = spec.job_template.metadata.clone().unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    // The annotation is written in spec.timeZone, or UTC without one.
    let tz = cj
        .spec
        .as_ref()
        .and_then(|s| s.time_zone.as_deref())
        .and_then(|n| TimeZone::get(n).ok())
        .unwrap_or(TimeZone::UTC);
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339(&scheduled.to_zoned(tz)));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(cj, scheduled)),
            namespace: cj.namespace(),
            labels: tmeta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref::controller_reference(cj)]),
            ..Default::default()
        },
        spec: spec.job_template.spec,
        status: None,
    }
}

fn earliest(cj: &CronJob, tz: &TimeZone) -> Zoned {
    let t = cj
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .or(cj.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    t.to_zoned(tz.clone())
}

/// Upstream nextScheduleTimeDuration as a std Duration.
fn requeue_after(cj: &CronJob, now: &Zoned, sched: &Schedule) -> Option<Duration> {
    let d = schedule::next_schedule_time_duration(&earliest(cj, now.time_zone()), now, sched)?;
    Some(if d.is_negative() {
        Duration::ZERO
    } else {
        d.unsigned_abs()
    })
}

/// Upstream's scheduling half of syncCronJob.
pub fn decide(cj: &CronJob, now: Timestamp, events: &mut Vec<Event>) -> Next {
    if cj.metadata.deletion_timestamp.is_some() {
        return Next::Idle;
    }
    let spec = cj.spec.clone().unwrap_or_default();
    let tz = match time_zone(cj) {
        Ok(tz) => tz,
        Err(e) => {
            events.push(warning(
                "UnknownTimeZone",
                format!(
                    "invalid timeZone: {:?}: {e}",
                    spec.time_zone.clone().unwrap_or_default()
                ),
            ));
            return Next::Idle;
        }
    };
    if spec.suspend == Some(true) {
        return Next::Idle;
    }
    let sched = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            events.push(warning(
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {e}", spec.schedule),
            ));
            return Next::Idle;
        }
    };
    let now = now.to_zoned(tz);
    let wait = |cj: &CronJob| requeue_after(cj, &now, &sched).map_or(Next::Idle, Next::Wait);
    let recent = match schedule::most_recent_schedule_time(
        &earliest(cj, now.time_zone()),
        &now,
        &sched,
        spec.starting_deadline_seconds,
    ) {
        Ok(r) => r,
        Err(e) => {
            events.push(warning(
                "InvalidSchedule",
                format!("invalid schedule: {} : {e}", spec.schedule),
            ));
            return Next::Idle;
        }
    };
    let Some(scheduled) = recent.most_recent.filter(|t| *t <= now) else {
        return wait(cj);
    };
    if recent.missed == MissedSchedules::Many {
        events.push(warning(
            "TooManyMissedTimes",
            format!(
                "too many missed start times: {}. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
                recent.missed_count
            ),
        ));
    }
    let scheduled_ts = scheduled.timestamp();
    if let Some(deadline) = spec.starting_deadline_seconds {
        let too_late = scheduled_ts
            .checked_add(jiff::SignedDuration::from_secs(deadline))
            .is_ok_and(|t| t < now.timestamp());
        if too_late {
            events.push(warning(
                "MissSchedule",
                format!(
                    "Missed scheduled time to start a job: {}",
                    scheduled_ts
                        .to_zoned(TimeZone::UTC)
                        .strftime("%a, %d %b %Y %H:%M:%S %z")
                ),
            ));
            return wait(cj);
        }
    }
    let name = job_name(cj, scheduled_ts);
    let already = active_refs(cj)
        .iter()
        .any(|r| r.name.as_deref() == Some(name.as_str()))
        || cj
            .status
            .as_ref()
            .and_then(|s| s.last_schedule_time.as_ref())
            .is_some_and(|t| t.0 == scheduled_ts);
    if already {
        return wait(cj);
    }
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    if policy == "Forbid" && !active_refs(cj).is_empty() {
        events.push(normal(
            "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid"
                .into(),
        ));
        return wait(cj);
    }
    let replace = if policy == "Replace" {
        active_refs(cj).to_vec()
    } else {
        Vec::new()
    };
    let mut after = cj.clone();
    after.status.get_or_insert_default().last_schedule_time = Some(Time(scheduled_ts));
    Next::Start {
        job: Box::new(job_from_template(cj, scheduled_ts)),
        scheduled: scheduled_ts,
        replace,
        requeue: requeue_after(&after, &now, &sched),
    }
}

/// Records a started Job in the status.
pub fn job_started(cj: &mut CronJob, job: &Job, scheduled: Timestamp) {
    let status = cj.status.get_or_insert_default();
    let list = status.active.get_or_insert_default();
    if !list.iter().any(|r| r.uid == job.uid()) {
        list.push(job_ref(job));
    }
    status.last_schedule_time = Some(Time(scheduled));
}

/// After a Replace deleted an active Job.
pub fn replaced(cj: &mut CronJob, r: &ObjectReference, events: &mut Vec<Event>) {
    delete_from_active_list(cj, r.uid.as_deref().unwrap_or_default());
    events.push(normal(
        "SuccessfulDelete",
        format!("Deleted job {}", r.name.clone().unwrap_or_default()),
    ));
}
