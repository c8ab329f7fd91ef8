//! Shared deployment steps: owning ReplicaSets, finding or creating the
//! new one with its revision, scaling (proportionally when several are
//! active), history cleanup and status.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};

use super::util::{self, replicas, rs_replicas};
use super::DeploymentController;
use crate::controller_ref::{self, Claim};
use crate::informer::controller_uid;
use crate::SyncError;

/// The new ReplicaSet (template equal to the Deployment's) and the others.
pub(super) struct Sets {
    pub new: Option<ReplicaSet>,
    pub old: Vec<ReplicaSet>,
}

impl Sets {
    pub fn all(&self) -> Vec<ReplicaSet> {
        let mut all = self.old.clone();
        all.extend(self.new.clone());
        all
    }
}

/// New sizes for several active RSs when the Deployment's count changes
/// mid-rollout (upstream's proportional scaling): each RS gets its share of
/// the change in proportion to its size against the `max-replicas` it was
/// last scaled for; rounding leftovers go to the largest.
pub(super) fn proportional_sizes(d: &Deployment, actives: Vec<ReplicaSet>) -> HashMap<String, i32> {
    let want = replicas(d);
    let total: i32 = actives.iter().map(rs_replicas).sum();
    let allowed = if want > 0 {
        want + util::max_surge(d)
    } else {
        0
    };
    let to_add = allowed - total;
    let mut order = actives;
    // Largest first; ties to the newer when growing, the older when
    // shrinking.
    order.sort_by(|a, b| {
        rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| {
            if to_add > 0 {
                by_creation(b, a)
            } else {
                by_creation(a, b)
            }
        })
    });
    let mut sizes: HashMap<String, i32> = HashMap::new();
    let mut added = 0;
    for rs in &order {
        let mut size = rs_replicas(rs);
        if to_add != 0 {
            let p = util::proportion(rs, d, to_add, added);
            size += p;
            added += p;
        }
        sizes.insert(rs.name_any(), size);
    }
    if to_add != 0 {
        if let Some(first) = order.first() {
            let e = sizes.entry(first.name_any()).or_default();
            *e = (*e + to_add - added).max(0);
        }
    }
    sizes
}

/// Oldest first, then by name (upstream ReplicaSetsByCreationTimestamp).
pub(super) fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> std::cmp::Ordering {
    a.metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Splits owned ReplicaSets into the new one and the old ones.
pub(super) fn split(d: &Deployment, mut rs_list: Vec<ReplicaSet>) -> Sets {
    rs_list.sort_by(by_creation);
    let template = d
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let new_idx = rs_list.iter().position(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| util::equal_ignore_hash(t, &template))
    });
    let new = new_idx.map(|i| rs_list.remove(i));
    Sets { new, old: rs_list }
}

pub(super) fn active(rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    rss.iter().filter(|r| rs_replicas(r) > 0).cloned().collect()
}

fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

impl DeploymentController {
    fn rs_api(&self, ns: &str) -> Api<ReplicaSet> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn d_api(&self, ns: &str) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// The ReplicaSets this Deployment owns after adopting and releasing.
    pub(super) async fn claim_replica_sets(
        &self,
        d: &Deployment,
    ) -> Result<Vec<ReplicaSet>, SyncError> {
        let ns = d.namespace().unwrap_or_default();
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let selector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        let mut candidates = self.replicasets.controlled_by(&uid);
        candidates.extend(self.replicasets.uncontrolled_in(&ns));
        let api = self.rs_api(&ns);
        let mut owned = Vec::new();
        for rs in candidates {
            match controller_ref::classify(d, &selector, rs.as_ref()) {
                Claim::Owned => owned.push((*rs).clone()),
                Claim::Adopt => match controller_ref::adopt(&api, d, rs.as_ref()).await {
                    Ok(r) => owned.push(r),
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                    Err(e) => return Err(e.into()),
                },
                Claim::Release => controller_ref::release(&api, d, rs.as_ref()).await?,
                Claim::Ignore => {}
            }
        }
        Ok(owned)
    }

    /// Finds the new RS (creating it when asked), brings its revision and
    /// copied annotations up to date, and records the revision on the
    /// Deployment (upstream getAllReplicaSetsAndSyncRevision).
    pub(super) async fn sets_with_revision(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
        create: bool,
    ) -> Result<Sets, SyncError> {
        let mut sets = split(d, rs_list);
        let max_old = sets.old.iter().map(util::rs_revision).max().unwrap_or(0);
        let new_revision = max_old + 1;
        let ns = d.namespace().unwrap_or_default();
        let mut created = false;
        match sets.new.as_mut() {
            Some(rs) => {
                let mut updated = rs.clone();
                let mut changed = util::set_new_rs_annotations(d, &mut updated, new_revision, true);
                let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
                let spec = updated.spec.get_or_insert_with(Default::default);
                if spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0) {
                    spec.min_ready_seconds = min_ready;
                    changed = true;
                }
                if changed {
                    *rs = self
                        .rs_api(&ns)
                        .replace(&rs.name_any(), &PostParams::default(), &updated)
                        .await?;
                }
            }
            None if create => {
                let rs = self.create_new_rs(d, &sets.old, new_revision).await?;
                created = rs.1;
                sets.new = Some(rs.0);
            }
            None => return Ok(sets),
        }
        let Some(new_rs) = sets.new.as_ref() else {
            return Ok(sets);
        };
        // The Deployment carries its current revision.
        let revision = util::rs_revision(new_rs).to_string();
        let current = d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(util::REVISION));
        if current != Some(&revision) {
            let mut updated = d.clone();
            updated
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(util::REVISION.into(), revision);
            *d = self
                .d_api(&ns)
                .replace(&d.name_any(), &PostParams::default(), &updated)
                .await?;
        }
        if util::has_progress_deadline(d) {
            let mut status = d.status.clone().unwrap_or_default();
            let name = new_rs.name_any();
            if created {
                util::set_condition(
                    &mut status,
                    util::new_condition(
                        "Progressing",
                        "True",
                        util::NEW_RS_CREATED,
                        format!("Created new replica set \"{name}\""),
                    ),
                );
                self.update_status(d, status).await?;
            } else if util::condition(&status, "Progressing").is_none() {
                util::set_condition(
                    &mut status,
                    util::new_condition(
                        "Progressing",
                        "True",
                        util::FOUND_NEW_RS,
                        format!("Found new replica set \"{name}\""),
                    ),
                );
                self.update_status(d, status).await?;
            }
        }
        Ok(sets)
    }

    /// Creates the RS for the current template; returns it and whether it
    /// was created now (an equal one left by an earlier attempt is reused).
    async fn create_new_rs(
        &self,
        d: &mut Deployment,
        old: &[ReplicaSet],
        revision: i64,
    ) -> Result<(ReplicaSet, bool), SyncError> {
        let ns = d.namespace().unwrap_or_default();
        let spec = d.spec.clone().unwrap_or_default();
        let collisions = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = util::template_hash(&spec.template, collisions);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(util::POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(util::POD_TEMPLATE_HASH.into(), hash.clone());
        let name = format!("{}-{}", d.name_any(), hash);
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: Some(vec![controller_ref::controller_reference(d)]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let mut all = old.to_vec();
        all.push(rs.clone());
        let count = util::new_rs_new_replicas(d, &all, 0);
        util::set_new_rs_annotations(d, &mut rs, revision, false);
        if let Some(s) = rs.spec.as_mut() {
            s.replicas = Some(count);
        }
        let api = self.rs_api(&ns);
        match api.create(&PostParams::default(), &rs).await {
            Ok(created) => {
                if count > 0 {
                    self.recorder.normal(
                        d,
                        "ScalingReplicaSet",
                        format!("Scaled up replica set {name} to {count} from 0"),
                    );
                }
                Ok((created, true))
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = api.get(&name).await?;
                let ours = controller_uid(&existing) == d.metadata.uid.as_deref();
                let same = existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|t| util::equal_ignore_hash(t, &spec.template));
                if ours && same {
                    return Ok((existing, false));
                }
                // A different RS holds the name: bump the collision count so
                // the next attempt hashes differently.
                let mut status = d.status.clone().unwrap_or_default();
                let before = status.collision_count.unwrap_or(0);
                status.collision_count = Some(before + 1);
                self.update_status(d, status).await?;
                Err(SyncError::Other(format!(
                    "found a hash collision for deployment {:?} - bumping collisionCount ({}->{}) to resolve it",
                    d.name_any(),
                    before,
                    before + 1
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sets an RS's size and the desired/max annotations; returns whether
    /// the size changed.
    pub(super) async fn scale_rs(
        &self,
        rs: &mut ReplicaSet,
        to: i32,
        d: &Deployment,
    ) -> Result<bool, SyncError> {
        let from = rs_replicas(rs);
        let mut updated = rs.clone();
        let annotations_changed = util::set_replicas_annotations(
            &mut updated,
            replicas(d),
            replicas(d) + util::max_surge(d),
        );
        if from == to && !annotations_changed {
            return Ok(false);
        }
        updated.spec.get_or_insert_with(Default::default).replicas = Some(to);
        *rs = self
            .rs_api(&rs.namespace().unwrap_or_default())
            .replace(&rs.name_any(), &PostParams::default(), &updated)
            .await?;
        if from != to {
            let op = if to > from { "up" } else { "down" };
            self.recorder.normal(
                d,
                "ScalingReplicaSet",
                format!(
                    "Scaled {op} replica set {} to {to} from {from}",
                    rs.name_any()
                ),
            );
        }
        Ok(from != to)
    }

    /// Whether the replica count changed since the active RSs were last
    /// scaled (upstream isScalingEvent).
    pub(super) fn is_scaling_event(&self, d: &Deployment, rs_list: &[ReplicaSet]) -> bool {
        let sets = split(d, rs_list.to_vec());
        active(&sets.all())
            .iter()
            .any(|rs| util::desired_annotation(rs).is_some_and(|n| n != replicas(d)))
    }

    /// Scaling without a rollout: paused, or only the replica count
    /// changed (upstream sync).
    pub(super) async fn sync_scale(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Result<(), SyncError> {
        let mut sets = self.sets_with_revision(d, rs_list, false).await?;
        self.scale(d, &mut sets).await?;
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused {
            self.cleanup(d, &sets.old).await?;
        }
        let status = self.calculate_status(d, &sets);
        self.update_status(d, status).await
    }

    /// Upstream scale: one active RS takes the whole count; a saturated
    /// new RS retires the old ones; otherwise the change is spread in
    /// proportion to each RS's size.
    async fn scale(&self, d: &Deployment, sets: &mut Sets) -> Result<(), SyncError> {
        let want = replicas(d);
        let all = sets.all();
        let actives = active(&all);
        let only = match actives.len() {
            0 => sets.new.clone().or_else(|| {
                let mut old = sets.old.clone();
                old.sort_by(by_creation);
                old.pop()
            }),
            1 => actives.first().cloned(),
            _ => None,
        };
        if let Some(target) = only {
            if rs_replicas(&target) == want {
                return Ok(());
            }
            let name = target.name_any();
            for rs in sets.new.iter_mut().chain(sets.old.iter_mut()) {
                if rs.name_any() == name {
                    self.scale_rs(rs, want, d).await?;
                }
            }
            return Ok(());
        }
        let saturated = sets.new.as_ref().is_some_and(|n| {
            rs_replicas(n) == want
                && util::desired_annotation(n) == Some(want)
                && util::rs_available(n) == want
        });
        if saturated {
            for rs in sets.old.iter_mut() {
                if rs_replicas(rs) > 0 {
                    self.scale_rs(rs, 0, d).await?;
                }
            }
            return Ok(());
        }
        if !util::is_rolling(d) {
            return Ok(());
        }
        let sizes = proportional_sizes(d, actives);
        for rs in sets.new.iter_mut().chain(sets.old.iter_mut()) {
            if let Some(size) = sizes.get(&rs.name_any()).copied() {
                self.scale_rs(rs, size, d).await?;
            }
        }
        Ok(())
    }

    /// Deletes the oldest fully scaled-down RSs beyond
    /// revisionHistoryLimit.
    pub(super) async fn cleanup(
        &self,
        d: &Deployment,
        old: &[ReplicaSet],
    ) -> Result<(), SyncError> {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let excess = cleanable.len() as i64 - i64::from(limit);
        if excess <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| {
            util::rs_revision(a)
                .cmp(&util::rs_revision(b))
                .then_with(|| by_creation(a, b))
        });
        let api = self.rs_api(&d.namespace().unwrap_or_default());
        for rs in cleanable.into_iter().take(excess as usize) {
            let settled = util::rs_status_replicas(rs) == 0
                && rs_replicas(rs) == 0
                && rs.status.as_ref().and_then(|s| s.observed_generation) >= rs.metadata.generation;
            if !settled {
                continue;
            }
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: rs.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(&rs.name_any(), &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Status from the RSs (upstream calculateStatus), with the Available
    /// condition.
    pub(super) fn calculate_status(&self, d: &Deployment, sets: &Sets) -> DeploymentStatus {
        let all = sets.all();
        let available: i32 = all.iter().map(util::rs_available).sum();
        let want = replicas(d);
        let mut status = DeploymentStatus {
            observed_generation: d.metadata.generation,
            replicas: nonzero(all.iter().map(util::rs_status_replicas).sum()),
            updated_replicas: nonzero(sets.new.as_ref().map(util::rs_status_replicas).unwrap_or(0)),
            ready_replicas: nonzero(all.iter().map(util::rs_ready).sum()),
            available_replicas: nonzero(available),
            // Upstream counts against the RSs' sizes (surge included).
            unavailable_replicas: nonzero(
                (all.iter().map(rs_replicas).sum::<i32>() - available).max(0),
            ),
            collision_count: d.status.as_ref().and_then(|s| s.collision_count),
            conditions: d.status.as_ref().and_then(|s| s.conditions.clone()),
        };
        let cond = if available >= want - util::max_unavailable(d) {
            util::new_condition(
                "Available",
                "True",
                util::MIN_AVAILABLE,
                "Deployment has minimum availability.".into(),
            )
        } else {
            util::new_condition(
                "Available",
                "False",
                util::MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
            )
        };
        util::set_condition(&mut status, cond);
        status
    }

    /// Writes `status` unless it is what the Deployment already has.
    pub(super) async fn update_status(
        &self,
        d: &mut Deployment,
        status: DeploymentStatus,
    ) -> Result<(), SyncError> {
        if d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut updated = d.clone();
        updated.status = Some(status);
        *d = self
            .d_api(&d.namespace().unwrap_or_default())
            .replace_status(&d.name_any(), &PostParams::default(), &updated)
            .await?;
        Ok(())
    }

    /// A Deployment being deleted only reports status.
    pub(super) async fn sync_status_only(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Result<(), SyncError> {
        let sets = self.sets_with_revision(d, rs_list, false).await?;
        let status = self.calculate_status(d, &sets);
        self.update_status(d, status).await
    }

    /// Pausing and resuming show in the Progressing condition.
    pub(super) async fn check_paused_conditions(
        &self,
        d: &mut Deployment,
    ) -> Result<(), SyncError> {
        if !util::has_progress_deadline(d) {
            return Ok(());
        }
        let mut status = d.status.clone().unwrap_or_default();
        let reason = util::condition(&status, "Progressing").and_then(|c| c.reason.clone());
        if reason.as_deref() == Some(util::TIMED_OUT) {
            return Ok(());
        }
        let paused_shown = reason.as_deref() == Some(util::PAUSED);
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let cond = if paused && !paused_shown {
            util::new_condition(
                "Progressing",
                "Unknown",
                util::PAUSED,
                "Deployment is paused".into(),
            )
        } else if !paused && paused_shown {
            util::new_condition(
                "Progressing",
                "Unknown",
                util::RESUMED,
                "Deployment is resumed".into(),
            )
        } else {
            return Ok(());
        };
        util::set_condition(&mut status, cond);
        self.update_status(d, status).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn deployment(replicas: i32, surge: i32) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(IntOrString::Int(surge)),
                        max_unavailable: Some(IntOrString::Int(0)),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn rs(name: &str, replicas: i32, max_annotation: i32, age: i64) -> ReplicaSet {
        let mut r = ReplicaSet {
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                ..Default::default()
            }),
            ..Default::default()
        };
        r.metadata.name = Some(name.into());
        r.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::UNIX_EPOCH
                .checked_add(jiff::SignedDuration::from_secs(1_000_000 - age))
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        ));
        util::set_replicas_annotations(&mut r, 0, max_annotation);
        r
    }

    #[test]
    fn scaling_mid_rollout_splits_in_proportion() {
        // 10 replicas + surge 3 = 13 in flight as 8 old + 5 new; scaled to
        // 20 (+ 3 = 23), the 10 extra split 8:5 (rounded), leftovers to the
        // largest.
        let sizes = proportional_sizes(
            &deployment(20, 3),
            vec![rs("old", 8, 13, 100), rs("new", 5, 13, 10)],
        );
        assert_eq!(sizes["old"] + sizes["new"], 23);
        assert_eq!((sizes["old"], sizes["new"]), (14, 9));
        // Scaling down to 0 empties both.
        let sizes = proportional_sizes(
            &deployment(0, 3),
            vec![rs("old", 8, 13, 100), rs("new", 5, 13, 10)],
        );
        assert_eq!((sizes["old"], sizes["new"]), (0, 0));
    }

    #[test]
    fn the_new_replica_set_is_the_one_with_the_deployments_template() {
        let mut d = deployment(3, 1);
        let t = k8s_openapi::api::core::v1::PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "a".to_string())].into()),
                ..Default::default()
            }),
            spec: None,
        };
        if let Some(s) = d.spec.as_mut() {
            s.template = t.clone();
        }
        let mut same = rs("same", 3, 4, 5);
        let mut hashed = t.clone();
        if let Some(m) = hashed.metadata.as_mut() {
            m.labels
                .get_or_insert_with(Default::default)
                .insert(util::POD_TEMPLATE_HASH.into(), "abc".into());
        }
        same.spec.get_or_insert_with(Default::default).template = Some(hashed);
        let other = rs("other", 0, 4, 50);
        let sets = split(&d, vec![other, same]);
        assert_eq!(sets.new.map(|r| r.name_any()), Some("same".to_string()));
        assert_eq!(sets.old.len(), 1);
    }
}
