//! Pod and claim writes for a StatefulSet, with upstream's events
//! (StatefulPodControl): claims before pods, identity and storage repairs,
//! the retention policy's owner references on claims.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};

use super::utils;
use super::StatefulSetController;
use crate::informer::ObjectKey;
use crate::SyncError;

/// What Go's error string would say: the API's message, else the error.
pub(super) fn error_text(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        e => e.to_string(),
    }
}

fn already_exists(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 409)
}

fn title(verb: &str) -> String {
    let mut c = verb.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

impl StatefulSetController {
    fn pod_api(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn claim_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Upstream recordPodEvent: `SuccessfulCreate` "create Pod web-0 in
    /// StatefulSet web successful", or `FailedCreate` with the error.
    pub(super) fn record_pod_event(
        &self,
        verb: &str,
        set: &StatefulSet,
        pod: &Pod,
        err: Option<&str>,
    ) {
        match err {
            None => self.recorder.normal(
                set,
                &format!("Successful{}", title(verb)),
                format!(
                    "{verb} Pod {} in StatefulSet {} successful",
                    pod.name_any(),
                    set.name_any()
                ),
            ),
            Some(e) => self.recorder.warning(
                set,
                &format!("Failed{}", title(verb)),
                format!(
                    "{verb} Pod {} in StatefulSet {} failed error: {e}",
                    pod.name_any(),
                    set.name_any()
                ),
            ),
        }
    }

    fn record_claim_event(
        &self,
        verb: &str,
        set: &StatefulSet,
        pod: &Pod,
        claim: &str,
        err: Option<&str>,
    ) {
        match err {
            None => self.recorder.normal(
                set,
                &format!("Successful{}", title(verb)),
                format!(
                    "{verb} Claim {claim} Pod {} in StatefulSet {} success",
                    pod.name_any(),
                    set.name_any()
                ),
            ),
            Some(e) => self.recorder.warning(
                set,
                &format!("Failed{}", title(verb)),
                format!(
                    "{verb} Claim {claim} for Pod {} in StatefulSet {} failed error: {e}",
                    pod.name_any(),
                    set.name_any()
                ),
            ),
        }
    }

    /// Creates the pod's missing claims. A claim that another sync just
    /// created (the informer has not shown it yet) counts as present; a
    /// claim being deleted is an error until it is gone.
    async fn create_claims(&self, set: &StatefulSet, pod: &Pod) -> Result<(), SyncError> {
        let mut errors = Vec::new();
        for (_, claim) in utils::claims_for(set, pod) {
            let ns = claim.namespace().unwrap_or_default();
            let name = claim.name_any();
            match self.claims.get(&ObjectKey::new(&ns, &name)) {
                None => match self
                    .claim_api(&ns)
                    .create(&PostParams::default(), &claim)
                    .await
                {
                    Ok(_) => self.record_claim_event("create", set, pod, &name, None),
                    Err(e) if already_exists(&e) => {}
                    Err(e) => {
                        let text = error_text(&e);
                        self.record_claim_event("create", set, pod, &name, Some(&text));
                        errors.push(format!("failed to create PVC {name}: {text}"));
                    }
                },
                Some(existing) if existing.metadata.deletion_timestamp.is_some() => {
                    errors.push(format!("pvc {name} is being deleted"));
                }
                Some(_) => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(SyncError::Other(errors.join("; ")))
        }
    }

    /// Upstream CreateStatefulPod: claims first, then the pod, then the
    /// claims' retention owner references.
    pub(super) async fn create_stateful_pod(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> Result<(), SyncError> {
        if let Err(e) = self.create_claims(set, pod).await {
            self.record_pod_event("create", set, pod, Some(&e.to_string()));
            return Err(e);
        }
        let ns = pod.namespace().unwrap_or_default();
        let created = match self.pod_api(&ns).create(&PostParams::default(), pod).await {
            Ok(p) => p,
            // The informer is behind: the pod is there; nothing to report.
            Err(e) if already_exists(&e) => return Err(e.into()),
            Err(e) => {
                self.record_pod_event("create", set, pod, Some(&error_text(&e)));
                return Err(e.into());
            }
        };
        if let Err(e) = self.update_claims_for_retention(set, &created).await {
            self.record_pod_event("update", set, pod, Some(&e.to_string()));
            return Err(e);
        }
        self.record_pod_event("create", set, pod, None);
        Ok(())
    }

    /// Upstream createMissingPersistentVolumeClaims (for a Pending pod).
    pub(super) async fn create_missing_claims(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> Result<(), SyncError> {
        self.create_claims(set, pod).await?;
        if let Err(e) = self.update_claims_for_retention(set, pod).await {
            self.record_pod_event("update", set, pod, Some(&e.to_string()));
            return Err(e);
        }
        Ok(())
    }

    /// Upstream UpdateStatefulPod: repairs identity, storage and the
    /// claims' retention references, retrying conflicts with the
    /// informer's newer copy.
    pub(super) async fn update_stateful_pod(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> Result<(), SyncError> {
        let ns = pod.namespace().unwrap_or_default();
        let api = self.pod_api(&ns);
        let mut pod = pod.clone();
        let mut attempted = false;
        let mut result = Ok(());
        for attempt in 0..4u32 {
            let mut consistent = true;
            if !utils::identity_matches(set, &pod) {
                utils::update_identity(set, &mut pod);
                consistent = false;
            }
            if !utils::storage_matches(set, &pod) {
                utils::update_storage(set, &mut pod);
                consistent = false;
                if let Err(e) = self.create_claims(set, &pod).await {
                    self.record_pod_event("update", set, &pod, Some(&e.to_string()));
                    return Err(e);
                }
            }
            if !self.claims_match_retention(set, &pod) {
                if let Err(e) = self.update_claims_for_retention(set, &pod).await {
                    self.record_pod_event("update", set, &pod, Some(&e.to_string()));
                    return Err(e);
                }
                consistent = false;
            }
            if consistent {
                result = Ok(());
                break;
            }
            attempted = true;
            match api
                .replace(&pod.name_any(), &PostParams::default(), &pod)
                .await
            {
                Ok(_) => {
                    result = Ok(());
                    break;
                }
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < 3 => {
                    if let Some(fresh) = self.pods.get(&ObjectKey::of(&pod)) {
                        pod = (*fresh).clone();
                    }
                    result = Err(SyncError::Api(kube::Error::Api(s)));
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        if attempted {
            let text = result.as_ref().err().map(|e| match e {
                SyncError::Api(a) => error_text(a),
                other => other.to_string(),
            });
            self.record_pod_event("update", set, &pod, text.as_deref());
        }
        result
    }

    /// Upstream DeleteStatefulPod.
    pub(super) async fn delete_stateful_pod(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> Result<(), kube::Error> {
        let result = self
            .pod_api(&pod.namespace().unwrap_or_default())
            .delete(&pod.name_any(), &DeleteParams::default())
            .await
            .map(|_| ());
        let text = result.as_ref().err().map(error_text);
        self.record_pod_event("delete", set, pod, text.as_deref());
        result
    }

    /// Whether every existing claim of the pod carries the owner
    /// references the retention policy asks for (missing claims are picked
    /// up later).
    pub(super) fn claims_match_retention(&self, set: &StatefulSet, pod: &Pod) -> bool {
        utils::claims_for(set, pod).iter().all(|(_, claim)| {
            match self.claims.get(&ObjectKey::of(claim)) {
                None => true,
                Some(existing) => utils::claim_owner_up_to_date(&existing, set, pod),
            }
        })
    }

    /// Upstream UpdatePodClaimForRetentionPolicy.
    pub(super) async fn update_claims_for_retention(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> Result<(), SyncError> {
        for (_, claim) in utils::claims_for(set, pod) {
            let Some(existing) = self.claims.get(&ObjectKey::of(&claim)) else {
                continue;
            };
            if utils::has_unexpected_controller(&existing, set, pod) {
                self.recorder.warning(
                    set,
                    "ConflictingController",
                    format!(
                        "PersistentVolumeClaim {} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim",
                        claim.name_any()
                    ),
                );
            }
            if !utils::claim_owner_up_to_date(&existing, set, pod) {
                let mut updated: PersistentVolumeClaim = (*existing).clone();
                utils::update_claim_owner_refs(&mut updated, set, pod);
                self.claim_api(&existing.namespace().unwrap_or_default())
                    .replace(&existing.name_any(), &PostParams::default(), &updated)
                    .await
                    .map_err(|e| {
                        SyncError::Other(format!(
                            "could not update claim {} for delete policy ownerRefs: {}",
                            claim.name_any(),
                            error_text(&e)
                        ))
                    })?;
            }
        }
        Ok(())
    }

    /// Upstream PodClaimIsStale: with whenScaled Delete, a claim still
    /// owned by an earlier pod of this name must go (the garbage collector
    /// deletes it) before the pod is created again.
    pub(super) fn pod_claim_is_stale(&self, set: &StatefulSet, pod: &Pod) -> bool {
        if utils::retention_policy(set).1 == utils::Retention::Retain {
            return false;
        }
        utils::claims_for(set, pod).iter().any(|(_, claim)| {
            self.claims
                .get(&ObjectKey::of(claim))
                .is_some_and(|existing| utils::has_stale_pod_ref(&existing, pod))
        })
    }
}
