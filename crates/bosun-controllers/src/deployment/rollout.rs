//! The two rollout strategies and the progress reporting after each step.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::ResourceExt;

use super::sync::{by_creation, Sets};
use super::util::{self, replicas, rs_replicas};
use super::DeploymentController;
use crate::informer::ObjectKey;
use crate::SyncError;

impl DeploymentController {
    /// RollingUpdate: grow the new RS within maxSurge, shrink old ones
    /// within maxUnavailable, one step per sync.
    pub(super) async fn rollout_rolling(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Result<(), SyncError> {
        let mut sets = self.sets_with_revision(d, rs_list, true).await?;
        if self.reconcile_new(d, &mut sets).await? {
            return self.sync_rollout_status(d, &sets).await;
        }
        if self.reconcile_old(d, &mut sets).await? {
            return self.sync_rollout_status(d, &sets).await;
        }
        if d.status.as_ref().is_some_and(|s| util::complete(d, s)) {
            self.cleanup(d, &sets.old).await?;
        }
        self.sync_rollout_status(d, &sets).await
    }

    /// Recreate: every old pod gone before the new RS scales up.
    pub(super) async fn rollout_recreate(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Result<(), SyncError> {
        let mut sets = self.sets_with_revision(d, rs_list.clone(), false).await?;
        let mut scaled_down = false;
        for rs in sets.old.iter_mut() {
            if rs_replicas(rs) > 0 {
                scaled_down |= self.scale_rs(rs, 0, d).await?;
            }
        }
        if scaled_down || self.old_pods_running(&sets) {
            return self.sync_rollout_status(d, &sets).await;
        }
        if sets.new.is_none() {
            sets = self.sets_with_revision(d, rs_list, true).await?;
        }
        if let Some(new) = sets.new.as_mut() {
            self.scale_rs(new, replicas(d), d).await?;
        }
        if d.status.as_ref().is_some_and(|s| util::complete(d, s)) {
            self.cleanup(d, &sets.old).await?;
        }
        self.sync_rollout_status(d, &sets).await
    }

    fn old_pods_running(&self, sets: &Sets) -> bool {
        if sets.old.iter().map(util::rs_status_replicas).sum::<i32>() > 0 {
            return true;
        }
        sets.old.iter().any(|rs| {
            let uid = rs.metadata.uid.clone().unwrap_or_default();
            self.pods.controlled_by(&uid).iter().any(|p| {
                !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded") | Some("Failed")
                )
            })
        })
    }

    /// Upstream reconcileNewReplicaSet.
    async fn reconcile_new(&self, d: &Deployment, sets: &mut Sets) -> Result<bool, SyncError> {
        let all = sets.all();
        let Some(new) = sets.new.as_mut() else {
            return Ok(false);
        };
        let want = replicas(d);
        let have = rs_replicas(new);
        if have == want {
            return Ok(false);
        }
        if have > want {
            return self.scale_rs(new, want, d).await;
        }
        let next = util::new_rs_new_replicas(d, &all, have);
        self.scale_rs(new, next, d).await
    }

    /// Upstream reconcileOldReplicaSets: first old pods that are not
    /// available anyway, then healthy ones down to minAvailable.
    async fn reconcile_old(&self, d: &Deployment, sets: &mut Sets) -> Result<bool, SyncError> {
        let old_count: i32 = sets.old.iter().map(rs_replicas).sum();
        if old_count == 0 {
            return Ok(false);
        }
        let all_count: i32 = sets.all().iter().map(rs_replicas).sum();
        let min_available = replicas(d) - util::max_unavailable(d);
        let new_unavailable = sets
            .new
            .as_ref()
            .map(|n| rs_replicas(n) - util::rs_available(n))
            .unwrap_or(0);
        let max_scaled_down = all_count - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        sets.old.sort_by(by_creation);
        let mut cleaned = 0;
        for rs in sets.old.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let unhealthy = rs_replicas(rs) - util::rs_available(rs);
            if rs_replicas(rs) == 0 || unhealthy <= 0 {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(unhealthy);
            let to = rs_replicas(rs) - n;
            self.scale_rs(rs, to, d).await?;
            cleaned += n;
        }
        let scaled = self.scale_down_old_for_rolling(d, sets).await?;
        Ok(cleaned + scaled > 0)
    }

    async fn scale_down_old_for_rolling(
        &self,
        d: &Deployment,
        sets: &mut Sets,
    ) -> Result<i32, SyncError> {
        let min_available = replicas(d) - util::max_unavailable(d);
        let available: i32 = sets.all().iter().map(util::rs_available).sum();
        if available <= min_available {
            return Ok(0);
        }
        let total = available - min_available;
        let mut scaled = 0;
        for rs in sets.old.iter_mut() {
            if scaled >= total {
                break;
            }
            if rs_replicas(rs) == 0 {
                continue;
            }
            let n = rs_replicas(rs).min(total - scaled);
            let to = rs_replicas(rs) - n;
            self.scale_rs(rs, to, d).await?;
            scaled += n;
        }
        Ok(scaled)
    }

    /// Status plus the Progressing and ReplicaFailure conditions (upstream
    /// syncRolloutStatus); a stuck rollout is rechecked at its deadline.
    pub(super) async fn sync_rollout_status(
        &self,
        d: &mut Deployment,
        sets: &Sets,
    ) -> Result<(), SyncError> {
        let mut status = self.calculate_status(d, sets);
        let now = crate::clock::now();
        if !util::has_progress_deadline(d) {
            util::remove_condition(&mut status, "Progressing");
        }
        let current = util::condition(&status, "Progressing").cloned();
        let is_complete = status.replicas == status.updated_replicas
            && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(util::NEW_RS_AVAILABLE);
        let new_name = sets.new.as_ref().map(|n| n.name_any());
        if util::has_progress_deadline(d) && !is_complete {
            if util::complete(d, &status) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet \"{n}\" has successfully progressed."),
                    None => "Deployment has successfully progressed.".into(),
                };
                util::set_condition(
                    &mut status,
                    util::new_condition("Progressing", "True", util::NEW_RS_AVAILABLE, msg),
                );
            } else if util::progressing(d, &status) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet \"{n}\" is progressing."),
                    None => "Deployment is progressing.".into(),
                };
                let mut cond = util::new_condition("Progressing", "True", util::RS_UPDATED, msg);
                if let Some(cur) = current.as_ref().filter(|c| c.status == "True") {
                    cond.last_transition_time = cur.last_transition_time.clone();
                }
                // Progress always refreshes lastUpdateTime: the deadline
                // counts from the last step forward.
                util::remove_condition(&mut status, "Progressing");
                status.conditions.get_or_insert_with(Vec::new).push(cond);
            } else if util::timed_out(d, &status, now) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet \"{n}\" has timed out progressing."),
                    None => "Deployment has timed out progressing.".into(),
                };
                util::set_condition(
                    &mut status,
                    util::new_condition("Progressing", "False", util::TIMED_OUT, msg),
                );
            }
        }
        // A failure to create pods shows on the Deployment too.
        let failure = sets.all().iter().find_map(|rs| {
            rs.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "ReplicaFailure")
                .cloned()
        });
        match failure {
            Some(c) => util::set_condition(
                &mut status,
                util::new_condition(
                    "ReplicaFailure",
                    &c.status,
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.unwrap_or_default(),
                ),
            ),
            None => util::remove_condition(&mut status, "ReplicaFailure"),
        }
        if d.status.as_ref() == Some(&status) {
            self.requeue_if_stuck(d, &status, now);
            return Ok(());
        }
        self.update_status(d, status).await
    }

    /// Rechecks a rollout that has not finished when its progress deadline
    /// would pass.
    fn requeue_if_stuck(
        &self,
        d: &Deployment,
        status: &k8s_openapi::api::apps::v1::DeploymentStatus,
        now: jiff::Timestamp,
    ) {
        if !util::has_progress_deadline(d) || util::complete(d, status) {
            return;
        }
        let Some(cond) = util::condition(status, "Progressing") else {
            return;
        };
        // Only a rollout still counting towards its deadline needs a
        // recheck (a completed or timed-out one cannot change by waiting).
        if matches!(
            cond.reason.as_deref(),
            Some(util::TIMED_OUT) | Some(util::NEW_RS_AVAILABLE)
        ) {
            return;
        }
        let Some(from) = cond.last_update_time.as_ref().map(|t| t.0) else {
            return;
        };
        let deadline = jiff::SignedDuration::from_secs(i64::from(util::progress_deadline(d)));
        let Ok(at) = from.checked_add(deadline) else {
            return;
        };
        let left = at.duration_since(now);
        let key = ObjectKey::of(d);
        if left.as_secs() < 1 {
            self.queue.add_rate_limited(key);
        } else {
            self.queue
                .add_after(key, left.unsigned_abs() + Duration::from_millis(100));
        }
    }
}
