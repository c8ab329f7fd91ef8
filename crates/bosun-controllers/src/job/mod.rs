//! The Job controller (upstream pkg/controller/job): runs pods to
//! completion with completions/parallelism, NonIndexed and Indexed
//! completion modes, backoffLimit (with the pod re-creation back-off),
//! backoffLimitPerIndex/maxFailedIndexes, podFailurePolicy, successPolicy,
//! activeDeadlineSeconds and suspend. Finished pods are counted through the
//! `batch.kubernetes.io/job-tracking` finalizer and
//! `status.uncountedTerminatedPods`, so no pod is lost or counted twice
//! across restarts.
//!
//! [`state`] holds the pure decisions; this module does the API calls in
//! upstream's order.

pub mod indexes;
pub mod policy;
pub mod state;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use parking_lot::Mutex;
use serde_json::json;

use self::indexes::{Intervals, COMPLETION_INDEX};
use self::state::{BackoffRecord, TrackInput, TRACKING_FINALIZER};
use crate::controller_ref::{self, Claim};
use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::pod_util;
use crate::slow_start::slow_start;
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

/// The value of `spec.managedBy` that means this controller.
pub const CONTROLLER_NAME: &str = "kubernetes.io/job-controller";

pub struct JobController {
    client: kube::Client,
    jobs: Arc<Store<Job>>,
    pods: Arc<Store<Pod>>,
    expectations: Arc<Expectations>,
    /// Per Job: uids of pods whose finalizer removal was sent but not yet
    /// seen (upstream finalizerExpectations), so a stale pod is not
    /// counted again.
    finalizer_expectations: Mutex<HashMap<ObjectKey, HashSet<String>>>,
    backoff: Mutex<HashMap<ObjectKey, BackoffRecord>>,
    queue: WorkQueue<ObjectKey>,
    orphans: WorkQueue<ObjectKey>,
    recorder: Recorder,
}

/// Everything one sync works with.
struct Ctx {
    key: ObjectKey,
    job: Job,
    pods: Vec<Arc<Pod>>,
    active_pods: Vec<Arc<Pod>>,
    terminating_pods: Vec<Arc<Pod>>,
    ready: i32,
    terminating: i32,
    succeeded: i32,
    expected_rm: HashSet<String>,
    finished: Option<JobCondition>,
    prev_succeeded: Intervals,
    succeeded_indexes: Intervals,
    failed_indexes: Option<Intervals>,
    new_backoff: BackoffRecord,
    now: jiff::Timestamp,
}

impl JobController {
    pub fn new(client: kube::Client, factory: &InformerFactory, recorder: Recorder) -> Arc<Self> {
        let job_informer = factory.informer::<Job>();
        let pod_informer = factory.informer::<Pod>();
        let this = Arc::new(JobController {
            client,
            jobs: job_informer.store(),
            pods: pod_informer.store(),
            expectations: Arc::new(Expectations::new()),
            finalizer_expectations: Mutex::new(HashMap::new()),
            backoff: Mutex::new(HashMap::new()),
            queue: WorkQueue::new(),
            orphans: WorkQueue::new(),
            recorder,
        });
        let weak = Arc::downgrade(&this);
        job_informer.on_change(move |change| {
            let Some(c) = weak.upgrade() else { return };
            match change {
                Change::Added(j) | Change::Updated { new: j, .. } => {
                    c.queue.add(ObjectKey::of(j.as_ref()))
                }
                Change::Deleted(j) => {
                    c.queue.add(ObjectKey::of(j.as_ref()));
                    c.cleanup_pod_finalizers(j);
                }
            }
        });
        let weak = Arc::downgrade(&this);
        pod_informer.on_change(move |change| {
            if let Some(c) = weak.upgrade() {
                c.pod_changed(change);
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// The queue of pods whose tracking finalizer must go because their
    /// Job is gone or finished.
    pub fn orphan_queue(&self) -> WorkQueue<ObjectKey> {
        self.orphans.clone()
    }

    /// The Job a pod's controller reference names, if it exists with that
    /// uid.
    fn owner_of(&self, pod: &Pod) -> Option<Arc<Job>> {
        crate::controller_ref::resolve(&self.jobs, pod)
    }

    fn finalizer_removal_observed(&self, key: &ObjectKey, uid: &str) {
        let mut m = self.finalizer_expectations.lock();
        if let Some(set) = m.get_mut(key) {
            set.remove(uid);
            if set.is_empty() {
                m.remove(key);
            }
        }
    }

    fn pod_changed(&self, change: &Change<'_, Pod>) {
        let (pod, old) = match change {
            Change::Added(p) => (*p, None),
            Change::Updated { old, new } => (*new, Some(*old)),
            Change::Deleted(p) => {
                if let Some(job) = self.owner_of(p) {
                    let key = ObjectKey::of(job.as_ref());
                    self.expectations
                        .deletion_observed(&key, &ObjectKey::of(p.as_ref()));
                    self.finalizer_removal_observed(&key, &state::uid(p));
                    self.queue.add(key);
                }
                return;
            }
        };
        let Some(job) = self.owner_of(pod) else {
            if state::has_finalizer(pod) {
                self.orphans.add(ObjectKey::of(pod.as_ref()));
            }
            return;
        };
        let key = ObjectKey::of(job.as_ref());
        if old.is_none() {
            self.expectations.creation_observed(&key);
        }
        if pod.metadata.deletion_timestamp.is_some() {
            self.expectations
                .deletion_observed(&key, &ObjectKey::of(pod.as_ref()));
        }
        if !state::has_finalizer(pod) {
            self.finalizer_removal_observed(&key, &state::uid(pod));
        } else if state::is_finished(&job) {
            self.orphans.add(ObjectKey::of(pod.as_ref()));
        }
        self.queue.add(key);
    }

    /// A deleted Job's pods keep their finalizer no longer.
    fn cleanup_pod_finalizers(&self, job: &Job) {
        let uid = job.metadata.uid.clone().unwrap_or_default();
        for pod in self.pods.controlled_by(&uid) {
            if state::has_finalizer(&pod) {
                self.orphans.add(ObjectKey::of(pod.as_ref()));
            }
        }
    }

    /// The pods this Job owns after adopting matching orphans (pods being
    /// deleted and finished pods included).
    async fn claim_pods(&self, job: &Job, ns: &str) -> Result<Vec<Arc<Pod>>, SyncError> {
        let selector = job
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let mut owned: Vec<Arc<Pod>> = Vec::new();
        for pod in self.pods.controlled_by(&uid) {
            // Pods with the finalizer stay ours even if their labels
            // changed, so they are still counted.
            if state::has_finalizer(&pod)
                || controller_ref::classify(job, &selector, pod.as_ref()) == Claim::Owned
            {
                owned.push(pod);
            }
        }
        if crate::selector::is_empty(&selector) || job.metadata.deletion_timestamp.is_some() {
            return Ok(owned);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        for pod in self.pods.uncontrolled_in(ns) {
            if controller_ref::classify(job, &selector, pod.as_ref()) != Claim::Adopt {
                continue;
            }
            match controller_ref::adopt(&api, job, pod.as_ref()).await {
                Ok(p) => owned.push(Arc::new(p)),
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(owned)
    }

    async fn write_status(&self, job: &Job) -> Result<Job, SyncError> {
        let mut out = job.clone();
        if let Some(s) = out.status.as_mut() {
            normalize(s);
        }
        let api: Api<Job> =
            Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        Ok(api
            .replace_status(&job.name_any(), &PostParams::default(), &out)
            .await?)
    }

    /// Deletes pods (keeping their finalizer: they are counted as failed
    /// once gone). Returns (ready deleted, deleted).
    async fn delete_active_pods(
        &self,
        job: &Job,
        pods: &[Arc<Pod>],
    ) -> (i32, i32, Option<kube::Error>) {
        self.delete_pods(job, pods, false).await
    }

    /// Deletes pods after removing their finalizer, so they are not
    /// counted (suspend, too many pods).
    async fn delete_job_pods(
        &self,
        key: &ObjectKey,
        job: &Job,
        pods: &[Arc<Pod>],
    ) -> (i32, i32, Option<kube::Error>) {
        self.expectations
            .expect_deletions(key, pods.iter().map(|p| ObjectKey::of(p.as_ref())));
        self.delete_pods(job, pods, true).await
    }

    async fn delete_pods(
        &self,
        job: &Job,
        pods: &[Arc<Pod>],
        strip: bool,
    ) -> (i32, i32, Option<kube::Error>) {
        let ns = job.namespace().unwrap_or_default();
        let key = ObjectKey::of(job);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let results = join_all(pods.iter().map(|p| {
            let api = api.clone();
            async move {
                if strip && state::has_finalizer(p) {
                    if let Err(e) = remove_finalizer(&api, p).await {
                        return (p.clone(), Err(e));
                    }
                }
                (
                    p.clone(),
                    api.delete(&p.name_any(), &DeleteParams::default())
                        .await
                        .map(|_| ()),
                )
            }
        }))
        .await;
        let (mut ready, mut deleted, mut error) = (0, 0, None);
        for (p, r) in results {
            match r {
                Ok(()) => {
                    deleted += 1;
                    if pod_util::is_ready(&p) {
                        ready += 1;
                    }
                    self.recorder.normal(
                        job,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", p.name_any()),
                    );
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    self.expectations
                        .deletion_observed(&key, &ObjectKey::of(p.as_ref()));
                    deleted += 1;
                    if pod_util::is_ready(&p) {
                        ready += 1;
                    }
                }
                Err(e) => {
                    self.expectations
                        .deletion_observed(&key, &ObjectKey::of(p.as_ref()));
                    self.recorder
                        .warning(job, "FailedDelete", format!("Error deleting: {e}"));
                    error.get_or_insert(e);
                }
            }
        }
        (ready, deleted, error)
    }

    /// Upstream's manageJob: deletes pods of a suspended Job or beyond
    /// what is wanted, else creates the missing ones (after the back-off).
    /// Returns the new active count.
    async fn manage_job(&self, ctx: &mut Ctx) -> (i32, Option<kube::Error>) {
        let job = ctx.job.clone();
        let mut active = ctx.active_pods.len() as i32;
        if state::suspended(&job) {
            let victims = state::pods_for_removal(&job, &ctx.active_pods, ctx.active_pods.len());
            let (ready, removed, err) = self.delete_job_pods(&ctx.key, &job, &victims).await;
            ctx.terminating += removed;
            ctx.ready -= ready;
            return (active - removed, err);
        }
        let failed_ix = ctx.failed_indexes.as_ref().map_or(0, |f| f.total());
        let want = state::want_active(&job, active, ctx.succeeded, failed_ix);
        let rm_at_least = (active - want).max(0) as usize;
        let mut victims = state::pods_for_removal(&job, &ctx.active_pods, rm_at_least);
        victims.truncate(state::MAX_POD_CREATE_DELETE_PER_SYNC);
        if !victims.is_empty() {
            let (ready, removed, err) = self.delete_job_pods(&ctx.key, &job, &victims).await;
            ctx.terminating += removed;
            ctx.ready -= ready;
            return (active - removed, err);
        }
        let terminating = if state::only_replace_failed(&job) {
            ctx.terminating
        } else {
            0
        };
        let diff = want - terminating - active;
        if diff <= 0 {
            return (active, None);
        }
        let per_index = state::backoff_limit_per_index(&job).is_some();
        if !per_index {
            let wait = ctx.new_backoff.remaining(ctx.now);
            if !wait.is_zero() {
                self.queue.add_after(ctx.key.clone(), wait);
                return (active, None);
            }
        }
        let mut diff = (diff as usize).min(state::MAX_POD_CREATE_DELETE_PER_SYNC);
        let mut indexes: Vec<i32> = Vec::new();
        let failures = state::index_failures(&job, &ctx.pods);
        if state::is_indexed(&job) {
            indexes = state::pending_indexes(
                &job,
                &ctx.active_pods,
                &ctx.terminating_pods,
                &ctx.succeeded_indexes,
                ctx.failed_indexes.as_ref(),
                diff,
            );
            if per_index {
                let mut now_ready = Vec::new();
                let mut min_wait: Option<Duration> = None;
                for ix in indexes {
                    let f = failures.get(&ix).copied().unwrap_or_default();
                    let wait = match f.last {
                        Some(last) if f.failed > 0 => {
                            policy::backoff_remaining(f.failed as u32, last, ctx.now)
                        }
                        _ => Duration::ZERO,
                    };
                    if wait.is_zero() {
                        now_ready.push(ix);
                    } else {
                        min_wait = Some(min_wait.map_or(wait, |m| m.min(wait)));
                    }
                }
                if now_ready.is_empty() {
                    if let Some(w) = min_wait {
                        self.queue.add_after(ctx.key.clone(), w);
                    }
                    return (active, None);
                }
                indexes = now_ready;
            }
            diff = indexes.len();
        }
        if diff == 0 {
            return (active, None);
        }
        self.expectations.expect_creations(&ctx.key, diff);
        let template = pod_template(&job);
        let ns = ctx.key.namespace.clone();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let owner = controller_ref::controller_reference(&job);
        let job_name = job.name_any();
        let created = slow_start(diff, 1, |i| {
            let api = api.clone();
            let mut t = template.clone();
            let mut prefix = job_name.clone();
            if let Some(&ix) = indexes.get(i) {
                index_pod_template(&mut t, &job_name, ix);
                if per_index {
                    let f = failures.get(&ix).copied().unwrap_or_default();
                    let ann = t
                        .metadata
                        .get_or_insert_default()
                        .annotations
                        .get_or_insert_default();
                    ann.extend(state::failure_annotations(f));
                }
                prefix = format!("{job_name}-{ix}");
            }
            let pod = pod_util::pod_from_template(&t, &ns, &prefix, owner.clone());
            async move { api.create(&PostParams::default(), &pod).await }
        })
        .await;
        for _ in created.succeeded..diff {
            self.expectations.creation_observed(&ctx.key);
        }
        active += created.succeeded as i32;
        for p in &created.pods {
            self.recorder.normal(
                &job,
                "SuccessfulCreate",
                format!("Created pod: {}", p.name_any()),
            );
        }
        if let Some(err) = &created.error {
            self.recorder
                .warning(&job, "FailedCreate", format!("Error creating: {err}"));
        }
        (active, created.error)
    }

    /// Upstream's trackJobStatusAndRemoveFinalizers plus
    /// flushUncountedAndRemoveFinalizers and enactJobFinished.
    async fn track_and_remove_finalizers(
        &self,
        ctx: &mut Ctx,
        needs_flush: bool,
    ) -> Result<(), SyncError> {
        let mut status = ctx.job.status.clone().unwrap_or_default();
        let uncounted = state::Uncounted::of(&status);
        let tracking = state::track(
            &mut status,
            TrackInput {
                job: &ctx.job,
                pods: &ctx.pods,
                expected_rm: &ctx.expected_rm,
                uncounted: &uncounted,
                prev_succeeded: &ctx.prev_succeeded,
                succeeded: &mut ctx.succeeded_indexes,
                failed_indexes: ctx.failed_indexes.as_ref(),
                finished: ctx.finished.as_ref(),
            },
            needs_flush,
        );
        let mut needs_flush = tracking.needs_flush;
        let now = ctx.now;
        let mut final_condition = ctx.finished.clone();
        if let Some(f) = &ctx.finished {
            let mut conditions = status.conditions.take().unwrap_or_default();
            if f.type_ == "FailureTarget" {
                conditions.push(f.clone());
                needs_flush = true;
                final_condition = Some(state::new_condition(
                    "Failed",
                    "True",
                    f.reason.as_deref().unwrap_or_default(),
                    f.message.as_deref().unwrap_or_default(),
                    now,
                ));
            } else if f.type_ == "SuccessCriteriaMet" {
                if !state::condition_true(&conditions, "SuccessCriteriaMet") {
                    conditions.push(f.clone());
                    needs_flush = true;
                }
                final_condition = Some(state::new_condition(
                    "Complete",
                    "True",
                    f.reason.as_deref().unwrap_or_default(),
                    f.message.as_deref().unwrap_or_default(),
                    now,
                ));
            }
            status.conditions = (!conditions.is_empty()).then_some(conditions);
        }
        ctx.job.status = Some(status);
        if needs_flush {
            ctx.job = self.write_status(&ctx.job).await?;
            self.backoff.lock().insert(ctx.key.clone(), ctx.new_backoff);
            needs_flush = false;
        }
        let mut with_finalizer: HashSet<String> = ctx
            .pods
            .iter()
            .filter(|p| state::has_finalizer(p) && !ctx.expected_rm.contains(&state::uid(p)))
            .map(|p| state::uid(p))
            .collect();
        let mut rm_err = None;
        if !tracking.remove_finalizer.is_empty() {
            {
                let mut m = self.finalizer_expectations.lock();
                let set = m.entry(ctx.key.clone()).or_default();
                set.extend(tracking.remove_finalizer.iter().map(|p| state::uid(p)));
            }
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ctx.key.namespace);
            let results = join_all(tracking.remove_finalizer.iter().map(|p| {
                let api = api.clone();
                async move { (p.clone(), remove_finalizer(&api, p).await) }
            }))
            .await;
            for (p, r) in results {
                match r {
                    Ok(()) => {
                        with_finalizer.remove(&state::uid(&p));
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        self.finalizer_removal_observed(&ctx.key, &state::uid(&p));
                        with_finalizer.remove(&state::uid(&p));
                    }
                    Err(e) => {
                        self.finalizer_removal_observed(&ctx.key, &state::uid(&p));
                        rm_err.get_or_insert(e);
                    }
                }
            }
        }
        let mut status = ctx.job.status.clone().unwrap_or_default();
        if state::clean_uncounted(&mut status, &with_finalizer) {
            needs_flush = true;
        }
        ctx.job.status = Some(status);
        if let Some(e) = rm_err {
            if needs_flush {
                self.write_status(&ctx.job).await?;
            }
            return Err(e.into());
        }
        let mut status = ctx.job.status.clone().unwrap_or_default();
        let finished = !tracking.reached_max
            && final_condition
                .as_ref()
                .is_some_and(|f| state::enact_finished(&mut status, f, ctx.terminating, now));
        ctx.job.status = Some(status);
        if finished {
            needs_flush = true;
        }
        if needs_flush {
            ctx.job = self.write_status(&ctx.job).await?;
            if finished {
                if let Some(f) = &final_condition {
                    self.record_finished(&ctx.job, f);
                }
                self.backoff.lock().remove(&ctx.key);
            }
        }
        Ok(())
    }

    fn record_finished(&self, job: &Job, cond: &JobCondition) {
        if cond.type_ == "Complete" {
            let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
            if state::completions(job).is_some_and(|c| succeeded > c) {
                self.recorder.warning(
                    job,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached".into(),
                );
            }
            self.recorder
                .normal(job, "Completed", "Job completed".into());
        } else {
            self.recorder.warning(
                job,
                cond.reason.as_deref().unwrap_or("Failed"),
                cond.message.clone().unwrap_or_default(),
            );
        }
    }
}

/// Zero counters are omitted, as upstream's JSON does.
fn normalize(s: &mut JobStatus) {
    for v in [&mut s.active, &mut s.succeeded, &mut s.failed] {
        if *v == Some(0) {
            *v = None;
        }
    }
    if let Some(u) = s.uncounted_terminated_pods.as_mut() {
        if u.succeeded.as_ref().is_some_and(|v| v.is_empty()) {
            u.succeeded = None;
        }
        if u.failed.as_ref().is_some_and(|v| v.is_empty()) {
            u.failed = None;
        }
    }
    if s.completed_indexes.as_deref() == Some("") {
        s.completed_indexes = None;
    }
}

/// Removes the tracking finalizer; a pod already gone is fine for the
/// caller to judge.
async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}});
    api.patch(
        &pod.name_any(),
        &PatchParams::default(),
        &Patch::Strategic(patch),
    )
    .await
    .map(|_| ())
}

/// The Job's pod template with the tracking finalizer, and for Indexed
/// Jobs the JOB_COMPLETION_INDEX variable in every container.
pub fn pod_template(job: &Job) -> PodTemplateSpec {
    let mut t = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = t.metadata.get_or_insert_default();
    let fins = meta.finalizers.get_or_insert_default();
    if !fins.iter().any(|f| f == TRACKING_FINALIZER) {
        fins.push(TRACKING_FINALIZER.to_string());
    }
    if state::is_indexed(job) {
        if let Some(spec) = t.spec.as_mut() {
            let env = EnvVar {
                name: "JOB_COMPLETION_INDEX".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: None,
                        field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
                    }),
                    ..Default::default()
                }),
            };
            let containers = spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten());
            for c in containers {
                let list = c.env.get_or_insert_default();
                if !list.iter().any(|e| e.name == env.name) {
                    list.push(env.clone());
                }
            }
        }
    }
    t
}

/// Marks a template with one completion index: annotation, label and
/// hostname `<job>-<index>`.
pub fn index_pod_template(t: &mut PodTemplateSpec, job_name: &str, ix: i32) {
    let meta = t.metadata.get_or_insert_default();
    meta.annotations
        .get_or_insert_default()
        .insert(COMPLETION_INDEX.into(), ix.to_string());
    meta.labels
        .get_or_insert_default()
        .insert(COMPLETION_INDEX.into(), ix.to_string());
    if let Some(spec) = t.spec.as_mut() {
        spec.hostname = Some(format!("{job_name}-{ix}"));
    }
}

#[async_trait]
impl Reconciler for JobController {
    const NAME: &'static str = "job";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(shared) = self.jobs.get(key) else {
            self.expectations.forget(key);
            self.finalizer_expectations.lock().remove(key);
            self.backoff.lock().remove(key);
            return Ok(());
        };
        if state::is_finished(&shared) {
            self.backoff.lock().remove(key);
            return Ok(());
        }
        let spec = shared.spec.clone().unwrap_or_default();
        if spec
            .managed_by
            .as_deref()
            .is_some_and(|m| m != CONTROLLER_NAME)
        {
            return Ok(());
        }
        if let Some(mode) = spec.completion_mode.as_deref() {
            if mode != "NonIndexed" && mode != "Indexed" {
                self.recorder.warning(
                    shared.as_ref(),
                    "UnknownCompletionMode",
                    "Skipped Job sync because completion mode is unknown".into(),
                );
                return Ok(());
            }
        }
        let now = crate::clock::now();
        let mut job = (*shared).clone();
        let status = job.status.get_or_insert_default();
        status.uncounted_terminated_pods.get_or_insert_default();
        let satisfied = self.expectations.satisfied(key);
        let pods = self.claim_pods(&job, &key.namespace).await?;
        let expected_rm = self
            .finalizer_expectations
            .lock()
            .get(key)
            .cloned()
            .unwrap_or_default();
        let counts = state::pod_counts(&pods);
        let status = job.status.clone().unwrap_or_default();
        let uncounted = state::Uncounted::of(&status);
        let (new_succeeded, new_failed) =
            state::new_finished_pods(&job, &pods, &uncounted, &expected_rm);
        let counted_new_failed = new_failed
            .iter()
            .filter(|p| state::counts_as_failure(&job, p))
            .count() as i32;
        let succeeded = status.succeeded.unwrap_or(0)
            + new_succeeded.len() as i32
            + uncounted.succeeded.len() as i32;
        let failed =
            status.failed.unwrap_or(0) + counted_new_failed + uncounted.failed.len() as i32;
        if status.start_time.is_none() && !state::suspended(&job) {
            job.status.get_or_insert_default().start_time =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
        }
        let new_backoff = self
            .backoff
            .lock()
            .get(key)
            .copied()
            .unwrap_or_default()
            .next(&new_succeeded, &new_failed);
        let mut ctx = Ctx {
            key: key.clone(),
            ready: counts.ready,
            terminating: counts.terminating.len() as i32,
            active_pods: counts.active,
            terminating_pods: counts.terminating,
            pods,
            succeeded,
            expected_rm,
            finished: None,
            prev_succeeded: Intervals::default(),
            succeeded_indexes: Intervals::default(),
            failed_indexes: None,
            new_backoff,
            now,
            job,
        };
        decide_finished(&mut ctx, failed, &self.queue);
        let mut active = ctx.active_pods.len() as i32;
        let mut manage_err = None;
        let mut suspend_changed = false;
        if ctx.finished.is_some() {
            let (ready, deleted, err) = self.delete_active_pods(&ctx.job, &ctx.active_pods).await;
            if deleted != active || !satisfied {
                ctx.finished = None;
            }
            active -= deleted;
            ctx.terminating += deleted;
            ctx.ready -= ready;
            manage_err = err;
        } else {
            let mut manage_called = false;
            if satisfied && ctx.job.metadata.deletion_timestamp.is_none() {
                let (a, err) = self.manage_job(&mut ctx).await;
                active = a;
                manage_err = err;
                manage_called = true;
            }
            let complete = match state::completions(&ctx.job) {
                None => ctx.succeeded > 0 && active == 0,
                Some(c) => ctx.succeeded >= c && active == 0,
            };
            if complete {
                ctx.finished = Some(state::new_condition(
                    "SuccessCriteriaMet",
                    "True",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    now,
                ));
            } else if manage_called {
                let job_for_event = ctx.job.clone();
                let status = ctx.job.status.get_or_insert_default();
                let mut conds = status.conditions.take().unwrap_or_default();
                if state::suspended(&job_for_event) {
                    if state::ensure_condition(
                        &mut conds,
                        "Suspended",
                        "True",
                        "JobSuspended",
                        "Job suspended",
                        now,
                    ) {
                        suspend_changed = true;
                        self.recorder
                            .normal(&job_for_event, "Suspended", "Job suspended".into());
                    }
                } else if state::ensure_condition(
                    &mut conds,
                    "Suspended",
                    "False",
                    "JobResumed",
                    "Job resumed",
                    now,
                ) {
                    suspend_changed = true;
                    self.recorder
                        .normal(&job_for_event, "Resumed", "Job resumed".into());
                    // The deadline counts from the resumption.
                    status.start_time =
                        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
                }
                status.conditions = (!conds.is_empty()).then_some(conds);
            }
        }
        let status = ctx.job.status.get_or_insert_default();
        let needs_update = suspend_changed
            || active != status.active.unwrap_or(0)
            || Some(ctx.ready) != status.ready
            || Some(ctx.terminating) != status.terminating
            || shared.status.as_ref().and_then(|s| s.start_time.clone()) != status.start_time;
        status.active = Some(active);
        status.ready = Some(ctx.ready);
        status.terminating = Some(ctx.terminating);
        self.track_and_remove_finalizers(&mut ctx, needs_update)
            .await?;
        match manage_err {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

/// The part of syncJob that decides whether the Job has failed or met
/// its success policy before any pod is touched.
fn decide_finished(ctx: &mut Ctx, failed: i32, queue: &WorkQueue<ObjectKey>) {
    let now = ctx.now;
    let job = &ctx.job;
    let conds = state::conditions(job);
    ctx.finished = conds
        .iter()
        .find(|c| c.type_ == "SuccessCriteriaMet" && c.status == "True")
        .cloned();
    if ctx.finished.is_none() {
        if let Some(target) = conds
            .iter()
            .find(|c| c.type_ == "FailureTarget" && c.status == "True")
        {
            ctx.finished = Some(state::new_condition(
                "Failed",
                "True",
                target.reason.as_deref().unwrap_or_default(),
                target.message.as_deref().unwrap_or_default(),
                now,
            ));
        } else if let Some(msg) = state::fail_job_message(job, &ctx.pods) {
            ctx.finished = Some(state::new_condition(
                "FailureTarget",
                "True",
                "PodFailurePolicy",
                &msg,
                now,
            ));
        }
    }
    let failure = |reason: &str, message: &str| {
        Some(state::new_condition(
            "FailureTarget",
            "True",
            reason,
            message,
            now,
        ))
    };
    if ctx.finished.is_none() {
        let deadline = job.spec.as_ref().and_then(|s| s.active_deadline_seconds);
        let start = job
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0);
        if failed > state::backoff_limit(job)
            || state::past_backoff_limit_on_failure(job, &ctx.pods)
        {
            ctx.finished = failure(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            );
        } else if let (Some(secs), Some(start), false) = (deadline, start, state::suspended(job)) {
            let elapsed = now.duration_since(start);
            let allowed = jiff::SignedDuration::from_secs(secs);
            if elapsed >= allowed {
                ctx.finished = failure(
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                );
            } else {
                let left = (allowed - elapsed).unsigned_abs();
                queue.add_after(ctx.key.clone(), left + Duration::from_millis(10));
            }
        }
    }
    if state::is_indexed(job) {
        let (prev, all) = state::succeeded_indexes(job, &ctx.pods);
        ctx.succeeded = all.total();
        ctx.prev_succeeded = prev;
        ctx.succeeded_indexes = all;
        if state::backoff_limit_per_index(job).is_some() {
            let failed_ix = state::failed_indexes(job, &ctx.pods, &ctx.expected_rm);
            if ctx.finished.is_none() {
                let max = job.spec.as_ref().and_then(|s| s.max_failed_indexes);
                let c = state::completions(job).unwrap_or(0);
                if max.is_some_and(|m| failed_ix.total() > m) {
                    ctx.finished = failure(
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                    );
                } else if failed_ix.total() > 0
                    && failed_ix.total() + ctx.succeeded_indexes.total() >= c
                {
                    ctx.finished = failure("FailedIndexes", "Job has failed indexes");
                }
            }
            ctx.failed_indexes = Some(failed_ix);
        }
        if ctx.finished.is_none() {
            let sp = job.spec.as_ref().and_then(|s| s.success_policy.as_ref());
            if let Some(msg) = policy::match_success_policy(
                sp,
                state::completions(job).unwrap_or(0),
                &ctx.succeeded_indexes,
            ) {
                ctx.finished = Some(state::new_condition(
                    "SuccessCriteriaMet",
                    "True",
                    "SuccessPolicy",
                    &msg,
                    now,
                ));
            }
        }
    }
}

/// Removes the tracking finalizer from pods whose Job is gone or finished
/// (upstream syncOrphanPod).
pub struct OrphanPods {
    client: kube::Client,
    jobs: Arc<Store<Job>>,
    pods: Arc<Store<Pod>>,
}

impl OrphanPods {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        Arc::new(OrphanPods {
            client,
            jobs: factory.informer::<Job>().store(),
            pods: factory.informer::<Pod>().store(),
        })
    }
}

#[async_trait]
impl Reconciler for OrphanPods {
    const NAME: &'static str = "job-orphan-pods";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(pod) = self.pods.get(key) else {
            return Ok(());
        };
        if !state::has_finalizer(&pod) {
            return Ok(());
        }
        if let Some(r) = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))
        {
            if r.kind != "Job" || r.api_version != "batch/v1" {
                return Ok(());
            }
            let job = self
                .jobs
                .get(&ObjectKey::new(&key.namespace, &r.name))
                .filter(|j| j.metadata.uid.as_deref() == Some(r.uid.as_str()));
            if let Some(job) = job {
                let external = job
                    .spec
                    .as_ref()
                    .and_then(|s| s.managed_by.as_deref())
                    .is_some_and(|m| m != CONTROLLER_NAME);
                if external || !state::is_finished(&job) {
                    return Ok(());
                }
            }
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        match remove_finalizer(&api, &pod).await {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests;
