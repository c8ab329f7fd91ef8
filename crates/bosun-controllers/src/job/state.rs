//! Pure facts about a Job and its pods (no API calls): counters, finished
//! conditions, which pods to create or remove, and the finalizer-based
//! accounting of finished pods (upstream's trackJobStatusAndRemoveFinalizers
//! without the writes).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::indexes::{self, Intervals};
use super::policy::{self, Action};
use crate::pod_util;

/// The finalizer the controller puts on its pods so that no finished pod
/// disappears before it is counted.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// Upstream's MaxUncountedPods: at most this many pods are added to
/// `status.uncountedTerminatedPods` per sync.
pub const MAX_UNCOUNTED_PODS: usize = 500;

/// Upstream's MaxPodCreateDeletePerSync.
pub const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;

pub fn is_indexed(job: &Job) -> bool {
    spec_of(job).and_then(|s| s.completion_mode.as_deref()) == Some("Indexed")
}

fn spec_of(job: &Job) -> Option<&k8s_openapi::api::batch::v1::JobSpec> {
    job.spec.as_ref()
}

pub fn completions(job: &Job) -> Option<i32> {
    spec_of(job).and_then(|s| s.completions)
}

pub fn parallelism(job: &Job) -> i32 {
    spec_of(job).and_then(|s| s.parallelism).unwrap_or(1)
}

pub fn backoff_limit(job: &Job) -> i32 {
    spec_of(job).and_then(|s| s.backoff_limit).unwrap_or(6)
}

pub fn suspended(job: &Job) -> bool {
    spec_of(job).and_then(|s| s.suspend) == Some(true)
}

pub fn backoff_limit_per_index(job: &Job) -> Option<i32> {
    spec_of(job).and_then(|s| s.backoff_limit_per_index)
}

fn pod_failure_policy(job: &Job) -> Option<&k8s_openapi::api::batch::v1::PodFailurePolicy> {
    spec_of(job).and_then(|s| s.pod_failure_policy.as_ref())
}

pub fn conditions(job: &Job) -> &[JobCondition] {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

pub fn condition_true(list: &[JobCondition], type_: &str) -> bool {
    list.iter().any(|c| c.type_ == type_ && c.status == "True")
}

/// Complete or Failed (upstream `IsJobFinished`).
pub fn is_finished(job: &Job) -> bool {
    let c = conditions(job);
    condition_true(c, "Complete") || condition_true(c, "Failed")
}

pub fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TRACKING_FINALIZER)
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

pub fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// Only pods in phase Failed are replaced (podReplacementPolicy Failed, or
/// a pod failure policy).
pub fn only_replace_failed(job: &Job) -> bool {
    let spec = spec_of(job);
    spec.and_then(|s| s.pod_replacement_policy.as_deref()) == Some("Failed")
        || spec.is_some_and(|s| s.pod_failure_policy.is_some())
}

/// Failed, or (unless only failed pods are replaced) being deleted before
/// it succeeded, which counts orphans that never reach a phase.
pub fn is_pod_failed(pod: &Pod, job: &Job) -> bool {
    if phase(pod) == Some("Failed") {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    pod.metadata.deletion_timestamp.is_some() && phase(pod) != Some("Succeeded")
}

/// Being deleted and not yet terminal (upstream CountTerminatingPods).
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
        && !matches!(phase(pod), Some("Succeeded") | Some("Failed"))
}

/// When the pod finished: its last container's finish, else when it
/// stopped being ready, else its deletion, else its creation.
pub fn finished_time(pod: &Pod) -> Option<jiff::Timestamp> {
    let status = pod.status.as_ref();
    let from_containers = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max();
    from_containers
        .or_else(|| {
            status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "Ready" && c.status == "False")
                .and_then(|c| c.last_transition_time.as_ref())
                .map(|t| t.0)
        })
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// A condition as the controller writes it.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: jiff::Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        message: (!message.is_empty()).then(|| message.to_string()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Upstream's ensureJobConditionStatus: sets a condition's status,
/// appending it only when it is not False; reports whether anything
/// changed.
pub fn ensure_condition(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: jiff::Timestamp,
) -> bool {
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status
            || c.reason.as_deref().unwrap_or_default() != reason
            || c.message.as_deref().unwrap_or_default() != message
        {
            *c = new_condition(type_, status, reason, message, now);
            return true;
        }
        return false;
    }
    if status != "False" {
        list.push(new_condition(type_, status, reason, message, now));
        return true;
    }
    false
}

/// The message of the first FailJob rule a failed pod matches.
pub fn fail_job_message(job: &Job, pods: &[Arc<Pod>]) -> Option<String> {
    let pfp = pod_failure_policy(job)?;
    pods.iter()
        .filter(|p| is_pod_failed(p, job))
        .find_map(|p| policy::match_pod_failure_policy(Some(pfp), p).fail_job)
}

/// Whether a failed pod counts towards backoffLimit.
pub fn counts_as_failure(job: &Job, pod: &Pod) -> bool {
    policy::match_pod_failure_policy(pod_failure_policy(job), pod).counts
}

/// With restartPolicy OnFailure, container restarts of running pods count
/// against backoffLimit.
pub fn past_backoff_limit_on_failure(job: &Job, pods: &[Arc<Pod>]) -> bool {
    let restart = spec_of(job)
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.restart_policy.as_deref());
    if restart != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|p| matches!(phase(p), Some("Running") | Some("Pending")))
        .flat_map(|p| {
            let s = p.status.as_ref();
            let init = s
                .and_then(|s| s.init_container_statuses.clone())
                .unwrap_or_default();
            let main = s
                .and_then(|s| s.container_statuses.clone())
                .unwrap_or_default();
            init.into_iter().chain(main).map(|c| c.restart_count)
        })
        .sum();
    let limit = backoff_limit(job);
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// Whether a pod's index is within `[0, completions)`.
fn valid_index(pod: &Pod, completions: i32) -> Option<i32> {
    indexes::completion_index(pod).filter(|ix| *ix < completions)
}

/// Pods with the finalizer that finished and are not in the uncounted
/// lists yet (upstream getNewFinishedPods).
pub fn new_finished_pods(
    job: &Job,
    pods: &[Arc<Pod>],
    uncounted: &Uncounted,
    expected_rm: &HashSet<String>,
) -> (Vec<Arc<Pod>>, Vec<Arc<Pod>>) {
    let indexed = is_indexed(job).then(|| completions(job).unwrap_or(0));
    let valid = |p: &Pod, set: &HashSet<String>| {
        let u = uid(p);
        has_finalizer(p)
            && !set.contains(&u)
            && !expected_rm.contains(&u)
            && indexed.is_none_or(|c| valid_index(p, c).is_some())
    };
    let succeeded = pods
        .iter()
        .filter(|p| valid(p, &uncounted.succeeded) && phase(p) == Some("Succeeded"))
        .cloned()
        .collect();
    let failed = pods
        .iter()
        .filter(|p| valid(p, &uncounted.failed) && is_pod_failed(p, job))
        .cloned()
        .collect();
    (succeeded, failed)
}

/// `status.uncountedTerminatedPods` as sets.
#[derive(Debug, Default, Clone)]
pub struct Uncounted {
    pub succeeded: HashSet<String>,
    pub failed: HashSet<String>,
}

impl Uncounted {
    pub fn of(status: &JobStatus) -> Self {
        let u = status.uncounted_terminated_pods.clone().unwrap_or_default();
        Uncounted {
            succeeded: u.succeeded.unwrap_or_default().into_iter().collect(),
            failed: u.failed.unwrap_or_default().into_iter().collect(),
        }
    }
}

/// The completed indexes before and after this sync's succeeded pods.
pub fn succeeded_indexes(job: &Job, pods: &[Arc<Pod>]) -> (Intervals, Intervals) {
    let c = completions(job).unwrap_or(0);
    let prev = Intervals::parse(
        job.status
            .as_ref()
            .and_then(|s| s.completed_indexes.as_deref())
            .unwrap_or_default(),
        c,
    );
    let mut new: Vec<i32> = pods
        .iter()
        .filter(|p| phase(p) == Some("Succeeded"))
        .filter_map(|p| valid_index(p, c))
        .collect();
    new.sort_unstable();
    new.dedup();
    let all = prev.with_indexes(&new);
    (prev, all)
}

/// Whether a failed pod fails its whole index: a FailIndex rule matched,
/// or the index used up backoffLimitPerIndex.
fn is_index_failed(job: &Job, pod: &Pod) -> bool {
    if !is_pod_failed(pod, job) {
        return false;
    }
    let v = policy::match_pod_failure_policy(pod_failure_policy(job), pod);
    if v.action == Some(Action::FailIndex) {
        return true;
    }
    v.counts
        && indexes::annotation_count(pod, indexes::INDEX_FAILURE_COUNT)
            >= backoff_limit_per_index(job).unwrap_or(i32::MAX)
}

/// The failed indexes (backoffLimitPerIndex): the previous ones plus
/// those a pod with the finalizer fails now.
pub fn failed_indexes(job: &Job, pods: &[Arc<Pod>], expected_rm: &HashSet<String>) -> Intervals {
    let c = completions(job).unwrap_or(0);
    let prev = Intervals::parse(
        job.status
            .as_ref()
            .and_then(|s| s.failed_indexes.as_deref())
            .unwrap_or_default(),
        c,
    );
    let mut new: Vec<i32> = pods
        .iter()
        .filter(|p| has_finalizer(p) && !expected_rm.contains(&uid(p)))
        .filter(|p| is_index_failed(job, p))
        .filter_map(|p| valid_index(p, c))
        .collect();
    new.sort_unstable();
    new.dedup();
    prev.with_indexes(&new)
}

/// Per index (backoffLimitPerIndex): the failure counts the next pod
/// inherits and when the index last failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IndexFailures {
    pub failed: i32,
    pub ignored: i32,
    pub last: Option<jiff::Timestamp>,
}

pub fn index_failures(job: &Job, pods: &[Arc<Pod>]) -> BTreeMap<i32, IndexFailures> {
    let c = completions(job).unwrap_or(0);
    let mut out: BTreeMap<i32, IndexFailures> = BTreeMap::new();
    for p in pods {
        let Some(ix) = valid_index(p, c) else {
            continue;
        };
        let mut failed = indexes::annotation_count(p, indexes::INDEX_FAILURE_COUNT);
        let mut ignored = indexes::annotation_count(p, indexes::INDEX_IGNORED_FAILURE_COUNT);
        let mut last = None;
        if is_pod_failed(p, job) {
            if counts_as_failure(job, p) {
                failed += 1;
            } else {
                ignored += 1;
            }
            last = finished_time(p);
        }
        let e = out.entry(ix).or_default();
        e.failed = e.failed.max(failed);
        e.ignored = e.ignored.max(ignored);
        e.last = e.last.max(last);
    }
    out
}

/// The first `n` indexes that have no succeeded, failed or active pod
/// (upstream firstPendingIndexes).
pub fn pending_indexes(
    job: &Job,
    active: &[Arc<Pod>],
    terminating: &[Arc<Pod>],
    succeeded: &Intervals,
    failed: Option<&Intervals>,
    n: usize,
) -> Vec<i32> {
    let c = completions(job).unwrap_or(0);
    let mut busy: HashSet<i32> = active.iter().filter_map(|p| valid_index(p, c)).collect();
    if only_replace_failed(job) {
        busy.extend(terminating.iter().filter_map(|p| valid_index(p, c)));
    }
    (0..c)
        .filter(|ix| {
            !succeeded.has(*ix) && !failed.is_some_and(|f| f.has(*ix)) && !busy.contains(ix)
        })
        .take(n)
        .collect()
}

/// Active pods to delete: for Indexed Jobs first those with a missing or
/// out-of-range index and all but one of each repeated index; then the
/// least valuable pods until `at_least` are chosen (upstream
/// activePodsForRemoval).
pub fn pods_for_removal(job: &Job, active: &[Arc<Pod>], at_least: usize) -> Vec<Arc<Pod>> {
    let mut rm: Vec<Arc<Pod>> = Vec::new();
    let mut left: Vec<Arc<Pod>> = Vec::new();
    if is_indexed(job) {
        let c = completions(job).unwrap_or(0);
        let mut by_index: BTreeMap<i32, Vec<Arc<Pod>>> = BTreeMap::new();
        for p in active {
            match valid_index(p, c) {
                Some(ix) => by_index.entry(ix).or_default().push(p.clone()),
                None => rm.push(p.clone()),
            }
        }
        for (_, group) in by_index {
            if group.len() == 1 {
                left.extend(group);
            } else {
                // Keep the most valuable pod of the index.
                let mut ranked =
                    crate::replicaset::pods_to_delete(&group, group.len(), crate::clock::now());
                if let Some(keep) = ranked.pop() {
                    left.push(keep);
                }
                rm.extend(ranked);
            }
        }
    } else {
        left = active.to_vec();
    }
    if rm.len() < at_least {
        let more = at_least - rm.len();
        rm.extend(crate::replicaset::pods_to_delete(
            &left,
            more,
            crate::clock::now(),
        ));
    }
    rm
}

/// How many pods should run now.
pub fn want_active(job: &Job, active: i32, succeeded: i32, failed_indexes: i32) -> i32 {
    let parallelism = parallelism(job);
    match completions(job) {
        None if succeeded > 0 => active,
        None => parallelism,
        Some(c) => (c - succeeded - failed_indexes).min(parallelism).max(0),
    }
}

/// The pod failure back-off record of one Job (upstream backoffRecord).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    pub failures_after_last_success: u32,
    pub last_failure: Option<jiff::Timestamp>,
}

impl BackoffRecord {
    /// The record after this sync's newly finished pods.
    pub fn next(self, new_succeeded: &[Arc<Pod>], new_failed: &[Arc<Pod>]) -> BackoffRecord {
        let mut failed_times: Vec<jiff::Timestamp> =
            new_failed.iter().filter_map(|p| finished_time(p)).collect();
        failed_times.sort_unstable();
        let last_success = new_succeeded.iter().filter_map(|p| finished_time(p)).max();
        match last_success {
            None if new_failed.is_empty() => self,
            None => BackoffRecord {
                failures_after_last_success: self.failures_after_last_success
                    + new_failed.len() as u32,
                last_failure: failed_times.last().copied().or(self.last_failure),
            },
            Some(success) => {
                let after: Vec<_> = failed_times.iter().filter(|t| **t > success).collect();
                BackoffRecord {
                    failures_after_last_success: after.len() as u32,
                    last_failure: after.last().map(|t| **t),
                }
            }
        }
    }

    /// How long pod creation must still wait.
    pub fn remaining(&self, now: jiff::Timestamp) -> std::time::Duration {
        match self.last_failure {
            Some(last) if self.failures_after_last_success > 0 => {
                policy::backoff_remaining(self.failures_after_last_success, last, now)
            }
            _ => std::time::Duration::ZERO,
        }
    }
}

/// What the accounting step decided (before any write).
pub struct Tracking {
    /// Pods whose finalizer is to be removed, in order.
    pub remove_finalizer: Vec<Arc<Pod>>,
    /// Whether the status must be written before the finalizers go.
    pub needs_flush: bool,
    /// Stopped early at [`MAX_UNCOUNTED_PODS`].
    pub reached_max: bool,
}

/// Inputs of [`track`] besides the status being built.
pub struct TrackInput<'a> {
    pub job: &'a Job,
    pub pods: &'a [Arc<Pod>],
    pub expected_rm: &'a HashSet<String>,
    pub uncounted: &'a Uncounted,
    pub prev_succeeded: &'a Intervals,
    pub succeeded: &'a mut Intervals,
    pub failed_indexes: Option<&'a Intervals>,
    /// The finished condition decided so far (SuccessCriteriaMet counts no
    /// running pod as failed; anything else counts them all).
    pub finished: Option<&'a JobCondition>,
}

/// Upstream's first half of trackJobStatusAndRemoveFinalizers: moves
/// newly finished pods into the uncounted lists (or, for Indexed Jobs,
/// the completed indexes) of `status`, and picks the pods whose finalizer
/// may go.
pub fn track(status: &mut JobStatus, input: TrackInput<'_>, mut needs_flush: bool) -> Tracking {
    let job = input.job;
    let indexed = is_indexed(job);
    let c = completions(job).unwrap_or(0);
    let mut pods: Vec<Arc<Pod>> = input.pods.to_vec();
    if indexed {
        pods.sort_by_key(|p| indexes::completion_index(p).unwrap_or(i32::MAX));
    }
    let with_finalizer: HashSet<String> = pods
        .iter()
        .filter(|p| has_finalizer(p) && !input.expected_rm.contains(&uid(p)))
        .map(|p| uid(p))
        .collect();
    if clean_uncounted(status, &with_finalizer) {
        needs_flush = true;
    }
    let finished_non_success = input
        .finished
        .is_some_and(|c| c.type_ != "SuccessCriteriaMet" && c.type_ != "Complete");
    let mut uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut unc_succeeded = uncounted.succeeded.take().unwrap_or_default();
    let mut unc_failed = uncounted.failed.take().unwrap_or_default();
    let mut new_indexes = Vec::new();
    let mut remove = Vec::new();
    let mut reached_max = false;
    for pod in &pods {
        let u = uid(pod);
        if !has_finalizer(pod) || input.expected_rm.contains(&u) {
            continue;
        }
        let failed = is_pod_failed(pod, job);
        let can_remove = job.metadata.deletion_timestamp.is_some()
            || input.finished.is_some()
            || phase(pod) == Some("Succeeded")
            || failed;
        if !can_remove {
            continue;
        }
        remove.push(pod.clone());
        if phase(pod) == Some("Succeeded") && !input.uncounted.failed.contains(&u) {
            if indexed {
                if let Some(ix) = valid_index(pod, c) {
                    if !input.prev_succeeded.has(ix) {
                        new_indexes.push(ix);
                        needs_flush = true;
                    }
                }
            } else if !input.uncounted.succeeded.contains(&u) {
                needs_flush = true;
                unc_succeeded.push(u.clone());
            }
        } else if failed || finished_non_success {
            let index_ok = !indexed || valid_index(pod, c).is_some();
            if !input.uncounted.failed.contains(&u) && index_ok && counts_as_failure(job, pod) {
                needs_flush = true;
                unc_failed.push(u.clone());
            }
        }
        if new_indexes.len() + unc_succeeded.len() + unc_failed.len() >= MAX_UNCOUNTED_PODS {
            reached_max = true;
            break;
        }
    }
    uncounted.succeeded = Some(unc_succeeded);
    uncounted.failed = Some(unc_failed);
    status.uncounted_terminated_pods = Some(uncounted);
    if indexed {
        new_indexes.sort_unstable();
        *input.succeeded = input.succeeded.with_indexes(&new_indexes);
        let s = input.succeeded.to_string();
        let prev = status.completed_indexes.clone().unwrap_or_default();
        if s != prev {
            needs_flush = true;
        }
        status.succeeded = Some(input.succeeded.total());
        status.completed_indexes = Some(s);
        let failed_s = input.failed_indexes.map(|f| f.to_string());
        if status.failed_indexes != failed_s {
            status.failed_indexes = failed_s;
            needs_flush = true;
        }
    }
    Tracking {
        remove_finalizer: remove,
        needs_flush,
        reached_max,
    }
}

/// Moves uncounted pods that no longer carry the finalizer into the
/// counters; reports whether anything moved.
pub fn clean_uncounted(status: &mut JobStatus, with_finalizer: &HashSet<String>) -> bool {
    let mut u = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut changed = false;
    let succ = u.succeeded.take().unwrap_or_default();
    let (keep, counted): (Vec<String>, Vec<String>) =
        succ.into_iter().partition(|x| with_finalizer.contains(x));
    if !counted.is_empty() {
        changed = true;
        status.succeeded = Some(status.succeeded.unwrap_or(0) + counted.len() as i32);
    }
    u.succeeded = Some(keep);
    let fail = u.failed.take().unwrap_or_default();
    let (keep, counted): (Vec<String>, Vec<String>) =
        fail.into_iter().partition(|x| with_finalizer.contains(x));
    if !counted.is_empty() {
        changed = true;
        status.failed = Some(status.failed.unwrap_or(0) + counted.len() as i32);
    }
    u.failed = Some(keep);
    status.uncounted_terminated_pods = Some(u);
    changed
}

/// Whether the uncounted lists are empty.
pub fn nothing_uncounted(status: &JobStatus) -> bool {
    status
        .uncounted_terminated_pods
        .as_ref()
        .is_none_or(|u: &UncountedTerminatedPods| {
            u.succeeded.as_ref().is_none_or(|v| v.is_empty())
                && u.failed.as_ref().is_none_or(|v| v.is_empty())
        })
}

/// Upstream's enactJobFinished: adds the terminal condition once nothing
/// is uncounted and no pod is still terminating.
pub fn enact_finished(
    status: &mut JobStatus,
    finished: &JobCondition,
    terminating: i32,
    now: jiff::Timestamp,
) -> bool {
    if !nothing_uncounted(status) || terminating > 0 {
        return false;
    }
    let mut list = status.conditions.take().unwrap_or_default();
    ensure_condition(
        &mut list,
        &finished.type_,
        &finished.status,
        finished.reason.as_deref().unwrap_or_default(),
        finished.message.as_deref().unwrap_or_default(),
        now,
    );
    status.conditions = Some(list);
    if finished.type_ == "Complete" {
        status.completion_time = Some(Time(now));
    }
    true
}

/// Counts of the pods as the status reports them.
pub struct PodCounts {
    pub active: Vec<Arc<Pod>>,
    pub terminating: Vec<Arc<Pod>>,
    pub ready: i32,
}

pub fn pod_counts(pods: &[Arc<Pod>]) -> PodCounts {
    let active: Vec<Arc<Pod>> = pods
        .iter()
        .filter(|p| pod_util::is_active(p))
        .cloned()
        .collect();
    let terminating = pods.iter().filter(|p| is_terminating(p)).cloned().collect();
    let ready = active.iter().filter(|p| pod_util::is_ready(p)).count() as i32;
    PodCounts {
        active,
        terminating,
        ready,
    }
}

/// A short name for logs.
pub fn pod_name(p: &Pod) -> String {
    p.name_any()
}

/// The failure count annotations an index's next pod carries.
pub fn failure_annotations(f: IndexFailures) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert(
        indexes::INDEX_FAILURE_COUNT.to_string(),
        f.failed.to_string(),
    );
    if f.ignored > 0 {
        m.insert(
            indexes::INDEX_IGNORED_FAILURE_COUNT.to_string(),
            f.ignored.to_string(),
        );
    }
    m
}
