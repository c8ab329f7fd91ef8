//! The StatefulSet control loop (upstream defaultStatefulSetControl):
//! find or create the current and update revisions, bring the pods to the
//! set's spec — create missing ordinals, replace failed pods, delete
//! condemned ordinals, roll pods to the update revision — write the
//! status, and truncate the revision history.
//!
//! OrderedReady ("monotonic") does one thing at a time in ordinal order and
//! waits for every pod below to be Running and Ready (and available for
//! minReadySeconds) before creating the next or deleting any; it deletes in
//! reverse ordinal order. Parallel does everything at once.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::PostParams;
use kube::{Api, ResourceExt};

use super::pod_control::error_text;
use super::rollout::{self, SetStatus};
use super::utils;
use super::StatefulSetController;
use crate::history;
use crate::SyncError;

/// Upstream MaxBatchSize: parallel creations in flight at most.
const MAX_BATCH: usize = 500;

/// The outcome of the pod phase: the status to write, and the error that
/// stopped it, if any (the status is written either way).
type Step = (SetStatus, Result<(), SyncError>);

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Upstream runForAll: in order, stopping at the first step that asks to
/// stop (OrderedReady); or everything in slow-start batches of 1, 2, 4, …
/// stopping after a batch with errors (Parallel). `Ok(true)`: stop here.
async fn run_for_all<F, Fut>(n: usize, monotonic: bool, f: F) -> Result<bool, SyncError>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<bool, SyncError>>,
{
    if monotonic {
        for i in 0..n {
            if f(i).await? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    let (mut next, mut batch) = (0, 1);
    while next < n {
        let size = batch.min(n - next).min(MAX_BATCH);
        let results = join_all((next..next + size).map(&f)).await;
        let mut errors: Vec<SyncError> = results.into_iter().filter_map(Result::err).collect();
        match errors.len() {
            0 => {}
            1 => return Err(errors.remove(0)),
            _ => {
                let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return Err(SyncError::Other(format!("[{}]", text.join(", "))));
            }
        }
        next += size;
        batch = size * 2;
    }
    Ok(false)
}

fn history_error(e: history::HistoryError) -> SyncError {
    SyncError::Other(e.to_string())
}

impl StatefulSetController {
    /// Upstream UpdateStatefulSet: the status written, if the revisions
    /// could be established.
    pub(super) async fn update_stateful_set(
        &self,
        set: &StatefulSet,
        pods: Vec<Arc<Pod>>,
    ) -> Result<Option<SetStatus>, SyncError> {
        if set.spec.is_none() {
            return Ok(None);
        }
        let mut revisions = self.history.list(set, &utils::spec(set).selector);
        history::sort_revisions(&mut revisions);
        let (current, update, collisions) = self.revisions(set, &revisions).await?;
        let updated = self
            .perform_update(set, &pods, &current, &update, collisions)
            .await;
        let truncated = self
            .truncate_history(set, &pods, &revisions, &current, &update)
            .await;
        let status = updated?;
        truncated?;
        Ok(Some(status))
    }

    /// Upstream getStatefulSetRevisions: the current revision (the one the
    /// status names, else the update revision) and the update revision
    /// (the live template's: the latest revision if equal, an older equal
    /// one renumbered to the top — a rollback —, or a new one), and the
    /// collision count used to name it.
    async fn revisions(
        &self,
        set: &StatefulSet,
        revisions: &[Arc<ControllerRevision>],
    ) -> Result<(Arc<ControllerRevision>, Arc<ControllerRevision>, i32), SyncError> {
        let mut collisions = set
            .status
            .as_ref()
            .and_then(|s| s.collision_count)
            .unwrap_or(0);
        let raw = history::template_patch(set).map_err(history_error)?;
        let template_labels = utils::spec(set)
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref());
        let mut candidate = history::new_revision(
            set,
            template_labels,
            &raw,
            history::next_revision(revisions),
            collisions,
        );
        if let Some(a) = set.metadata.annotations.as_ref() {
            candidate
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .extend(a.clone());
        }
        let equal = history::find_equal_revisions(revisions, &candidate);
        let update = match (equal.last(), revisions.last()) {
            (Some(eq), Some(latest)) if history::equal_revision(latest, eq) => latest.clone(),
            (Some(eq), _) => Arc::new(self.history.update_revision(eq, candidate.revision).await?),
            (None, _) => Arc::new(
                self.history
                    .create(set, &candidate, &mut collisions)
                    .await?,
            ),
        };
        let current_name = set
            .status
            .as_ref()
            .and_then(|s| s.current_revision.as_deref())
            .unwrap_or_default();
        let current = revisions
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(current_name))
            .cloned()
            .unwrap_or_else(|| update.clone());
        Ok((current, update, collisions))
    }

    /// Upstream performUpdate: the pod phase, then the status (written even
    /// when the pod phase stopped with an error).
    async fn perform_update(
        &self,
        set: &StatefulSet,
        pods: &[Arc<Pod>],
        current: &ControllerRevision,
        update: &ControllerRevision,
        collisions: i32,
    ) -> Result<SetStatus, SyncError> {
        let (mut status, result) = self
            .update_pods(set, pods, current, update, collisions)
            .await?;
        let written = self.write_status(set, &mut status).await;
        result?;
        written?;
        Ok(status)
    }

    /// Upstream updateStatefulSet.
    async fn update_pods(
        &self,
        set: &StatefulSet,
        pods: &[Arc<Pod>],
        current: &ControllerRevision,
        update: &ControllerRevision,
        collisions: i32,
    ) -> Result<Step, SyncError> {
        let current_set = history::apply_revision(set, current).map_err(history_error)?;
        let update_set = history::apply_revision(set, update).map_err(history_error)?;
        let (cur_name, upd_name) = (current.name_any(), update.name_any());
        let min_ready = utils::min_ready_seconds(set);
        let now = crate::clock::now();
        let counts = |list: &mut dyn Iterator<Item = &Arc<Pod>>| {
            rollout::count(list, min_ready, &cur_name, &upd_name, now)
        };
        let mut status = SetStatus {
            observed_generation: set.metadata.generation.unwrap_or(0),
            counts: counts(&mut pods.iter()),
            current_revision: cur_name.clone(),
            update_revision: upd_name.clone(),
            collision_count: collisions,
        };

        // Pods in the ordinal range by index, the rest condemned.
        let start = utils::start_ordinal(set);
        let n = utils::replicas(set).max(0) as usize;
        let mut slots: Vec<Option<Arc<Pod>>> = vec![None; n];
        let mut condemned: Vec<Arc<Pod>> = Vec::new();
        for pod in pods {
            let ord = utils::ordinal(pod);
            if utils::in_ordinal_range(pod, set) {
                slots[(ord - start) as usize] = Some(pod.clone());
            } else if ord >= 0 {
                condemned.push(pod.clone());
            }
        }
        let replicas: Vec<Arc<Pod>> = slots
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                p.unwrap_or_else(|| {
                    Arc::new(utils::new_versioned_pod(
                        &current_set,
                        &update_set,
                        &cur_name,
                        &upd_name,
                        start + i as i64,
                    ))
                })
            })
            .collect();
        condemned.sort_by_key(|p| Reverse(utils::ordinal(p)));
        let first_unavailable: Option<String> = replicas
            .iter()
            .chain(condemned.iter().rev())
            .find(|p| utils::is_unavailable(p, min_ready, now))
            .map(|p| p.name_any());
        let recount = |status: &mut SetStatus| {
            status.counts = counts(&mut replicas.iter().chain(condemned.iter()));
        };

        // A set being deleted only reports.
        if set.metadata.deletion_timestamp.is_some() {
            return Ok((status, Ok(())));
        }
        let monotonic = !utils::allows_burst(set);

        // Living replicas: create, replace, repair.
        let step = run_for_all(replicas.len(), monotonic, |i| {
            self.process_replica(set, &update_set, monotonic, &replicas[i], &upd_name, now)
        })
        .await;
        if !matches!(step, Ok(false)) {
            recount(&mut status);
            return Ok((status, step.map(|_| ())));
        }

        // Claims of condemned pods get the references whenScaled asks for.
        let step = run_for_all(condemned.len(), monotonic, |i| {
            let pod = condemned[i].clone();
            let update_set = &update_set;
            async move {
                if !self.claims_match_retention(update_set, &pod) {
                    self.update_claims_for_retention(update_set, &pod).await?;
                }
                Ok(false)
            }
        })
        .await;
        if !matches!(step, Ok(false)) {
            recount(&mut status);
            return Ok((status, step.map(|_| ())));
        }

        // Condemned pods go, highest ordinal first; OrderedReady only once
        // everything below is healthy.
        let step = run_for_all(condemned.len(), monotonic, |i| {
            self.process_condemned(
                set,
                first_unavailable.as_deref(),
                monotonic,
                &condemned[i],
                now,
            )
        })
        .await;
        if !matches!(step, Ok(false)) {
            recount(&mut status);
            return Ok((status, step.map(|_| ())));
        }
        recount(&mut status);

        // OnDelete: pods are updated when someone deletes them.
        if utils::is_on_delete(set) {
            return Ok((status, Ok(())));
        }
        let result = match utils::max_unavailable(set) {
            Some(max) => {
                self.roll_with_max_unavailable(set, &replicas, &upd_name, max, &mut status, now)
                    .await
            }
            None => {
                self.roll_one(set, &replicas, &upd_name, &mut status, now)
                    .await
            }
        };
        Ok((status, result))
    }

    /// Upstream processReplica. `Ok(true)`: OrderedReady stops here.
    async fn process_replica(
        &self,
        set: &StatefulSet,
        update_set: &StatefulSet,
        monotonic: bool,
        pod: &Arc<Pod>,
        update_revision: &str,
        now: jiff::Timestamp,
    ) -> Result<bool, SyncError> {
        // Finished pods (evicted, node gone, …) are replaced whatever their
        // exit code; the new one comes once this one is gone.
        if utils::is_failed(pod) || utils::is_succeeded(pod) {
            if !utils::is_terminating(pod) {
                match self.delete_stateful_pod(set, pod).await {
                    Ok(()) => {}
                    Err(e) if not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(true);
        }
        if !utils::is_created(pod) {
            if self.pod_claim_is_stale(set, pod) {
                return Ok(true);
            }
            self.create_stateful_pod(set, pod).await?;
            if monotonic {
                return Ok(true);
            }
        }
        if utils::is_pending(pod) {
            self.create_missing_claims(set, pod).await?;
        }
        if utils::is_terminating(pod) && monotonic {
            return Ok(true);
        }
        if !utils::is_running_and_ready(pod) && monotonic {
            // Upstream waits here forever when the pod sits on a revision
            // the rollout replaces (kubernetes/kubernetes#67250); Bosun
            // replaces it. A pod on the update revision still blocks.
            if rollout::is_stuck_on_stale_revision(set, pod, update_revision) {
                self.replace_stuck_pod(set, pod, update_revision).await?;
            }
            return Ok(true);
        }
        if !utils::is_running_and_available(pod, utils::min_ready_seconds(set), now) && monotonic {
            return Ok(true);
        }
        let retention_ok = self.claims_match_retention(update_set, pod);
        if utils::identity_matches(set, pod) && utils::storage_matches(set, pod) && retention_ok {
            return Ok(false);
        }
        self.update_stateful_pod(update_set, pod).await?;
        Ok(false)
    }

    /// Bosun's answer to kubernetes/kubernetes#67250: deletes a pod that is
    /// not Running and Ready on a revision the rolling update replaces
    /// (see [`rollout::is_stuck_on_stale_revision`]); the next sync creates
    /// it at the update revision.
    async fn replace_stuck_pod(
        &self,
        set: &StatefulSet,
        pod: &Pod,
        update_revision: &str,
    ) -> Result<(), SyncError> {
        self.recorder.normal(
            set,
            "RecreatingStalePod",
            format!(
                "Pod {} is not Running and Ready on revision {}, which the rolling update replaces; deleting it to recreate it at revision {update_revision}",
                pod.name_any(),
                utils::pod_revision(pod),
            ),
        );
        match self.delete_stateful_pod(set, pod).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Upstream processCondemned. `Ok(true)`: OrderedReady stops here.
    async fn process_condemned(
        &self,
        set: &StatefulSet,
        first_unavailable: Option<&str>,
        monotonic: bool,
        pod: &Arc<Pod>,
        now: jiff::Timestamp,
    ) -> Result<bool, SyncError> {
        if utils::is_terminating(pod) {
            return Ok(monotonic);
        }
        let is_first = first_unavailable == Some(pod.name_any().as_str());
        if monotonic && !is_first {
            if !utils::is_running_and_ready(pod) {
                return Ok(true);
            }
            if !utils::is_running_and_available(pod, utils::min_ready_seconds(set), now) {
                return Ok(true);
            }
        }
        match self.delete_stateful_pod(set, pod).await {
            Ok(()) => Ok(true),
            Err(e) if not_found(&e) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// The rolling update without maxUnavailable: one step of
    /// [`rollout::next_roll_step`].
    async fn roll_one(
        &self,
        set: &StatefulSet,
        replicas: &[Arc<Pod>],
        update_revision: &str,
        status: &mut SetStatus,
        now: jiff::Timestamp,
    ) -> Result<(), SyncError> {
        if let rollout::RollStep::Delete(i) =
            rollout::next_roll_step(set, replicas, update_revision, now)
        {
            match self.delete_stateful_pod(set, &replicas[i]).await {
                Ok(()) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
            status.counts.current -= 1;
        }
        Ok(())
    }

    /// The rolling update with `maxUnavailable` set (the alpha
    /// MaxUnavailableStatefulSet behaviour), as [`rollout::budgeted_roll`]
    /// plans it.
    async fn roll_with_max_unavailable(
        &self,
        set: &StatefulSet,
        replicas: &[Arc<Pod>],
        update_revision: &str,
        max_unavailable: i64,
        status: &mut SetStatus,
        now: jiff::Timestamp,
    ) -> Result<(), SyncError> {
        let plan = rollout::budgeted_roll(set, replicas, update_revision, max_unavailable, now);
        for i in plan.stuck {
            self.replace_stuck_pod(set, &replicas[i], update_revision)
                .await?;
            status.counts.current -= 1;
        }
        for i in plan.delete {
            match self.delete_stateful_pod(set, &replicas[i]).await {
                Ok(()) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
            status.counts.current -= 1;
        }
        Ok(())
    }

    /// Upstream updateStatefulSetStatus: completes a finished rolling
    /// update and writes the status if it changed, retrying conflicts on a
    /// fresh copy.
    async fn write_status(
        &self,
        set: &StatefulSet,
        status: &mut SetStatus,
    ) -> Result<(), SyncError> {
        rollout::complete_rolling_update(set, status);
        if !rollout::inconsistent_status(set, status) {
            return Ok(());
        }
        let api: Api<StatefulSet> =
            Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let mut current = set.clone();
        for attempt in 0..5u32 {
            current.status = Some(status.to_api());
            match api
                .replace_status(&set.name_any(), &PostParams::default(), &current)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if not_found(&e) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < 4 => {
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                    current = api.get(&set.name_any()).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Upstream truncateHistory: deletes the oldest revisions that no pod,
    /// nor the current or update revision, uses, down to
    /// revisionHistoryLimit. `revisions` must be sorted.
    async fn truncate_history(
        &self,
        set: &StatefulSet,
        pods: &[Arc<Pod>],
        revisions: &[Arc<ControllerRevision>],
        current: &ControllerRevision,
        update: &ControllerRevision,
    ) -> Result<(), SyncError> {
        let mut live: HashSet<String> = HashSet::from([current.name_any(), update.name_any()]);
        live.extend(pods.iter().map(|p| utils::pod_revision(p).to_string()));
        let old: Vec<&Arc<ControllerRevision>> = revisions
            .iter()
            .filter(|r| !live.contains(&r.name_any()))
            .collect();
        let limit = utils::spec(set).revision_history_limit.unwrap_or(10);
        if limit < 0 || old.len() <= limit as usize {
            return Ok(());
        }
        for revision in &old[..old.len() - limit as usize] {
            self.history.delete(revision).await.map_err(|e| {
                SyncError::Other(format!(
                    "cannot delete revision {}: {}",
                    revision.name_any(),
                    error_text(&e)
                ))
            })?;
        }
        Ok(())
    }
}
