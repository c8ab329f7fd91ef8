//! A minimal PersistentVolume binder (upstream
//! `pkg/controller/volume/persistentvolume`, static binding only): a
//! pending claim is bound to the PersistentVolume it names in
//! `spec.volumeName`, else to the smallest Available volume with the same
//! storage class and volume mode, every requested access mode and enough
//! capacity (or one whose `claimRef` already names it). Binding writes the
//! volume's `claimRef` and phase first, then the claim's `volumeName`,
//! annotations and status, as upstream. A volume whose claim is gone
//! becomes Released. No dynamic provisioning, label selectors or
//! reclaiming.

use std::sync::Arc;

use async_trait::async_trait;
use bosun_core::quantity::Quantity;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";

pub struct PersistentVolumeBinder {
    client: kube::Client,
    claims: Arc<Store<PersistentVolumeClaim>>,
    volumes: Arc<Store<PersistentVolume>>,
    /// Claim keys; a volume change enqueues its claim (or every pending
    /// claim when it is free).
    queue: WorkQueue<ObjectKey>,
}

fn storage(
    map: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
) -> Option<i128> {
    let q = map?.get("storage")?;
    Quantity::parse(&q.0).ok()?.milli_value()
}

fn phase_of_volume(pv: &PersistentVolume) -> &str {
    pv.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Whether `pv` can serve `claim` (ignoring who holds it).
pub fn matches(claim: &PersistentVolumeClaim, pv: &PersistentVolume) -> bool {
    let (Some(cs), Some(vs)) = (claim.spec.as_ref(), pv.spec.as_ref()) else {
        return false;
    };
    let class = |c: Option<&String>| c.cloned().unwrap_or_default();
    let mode = |m: Option<&String>| m.cloned().unwrap_or_else(|| "Filesystem".into());
    let wanted = storage(cs.resources.as_ref().and_then(|r| r.requests.as_ref())).unwrap_or(0);
    let has = storage(vs.capacity.as_ref()).unwrap_or(0);
    let modes = vs.access_modes.clone().unwrap_or_default();
    class(cs.storage_class_name.as_ref()) == class(vs.storage_class_name.as_ref())
        && mode(cs.volume_mode.as_ref()) == mode(vs.volume_mode.as_ref())
        && has >= wanted
        && cs.access_modes.iter().flatten().all(|m| modes.contains(m))
}

fn claim_ref_names(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.namespace == claim.metadata.namespace
        && r.name == claim.metadata.name
        && r.uid
            .as_ref()
            .is_none_or(|u| Some(u) == claim.metadata.uid.as_ref())
}

fn is_free(pv: &PersistentVolume) -> bool {
    pv.spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_none()
        && matches!(phase_of_volume(pv), "Available" | "Pending")
}

impl PersistentVolumeBinder {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        let claim_informer = factory.informer::<PersistentVolumeClaim>();
        let volume_informer = factory.informer::<PersistentVolume>();
        let this = Arc::new(PersistentVolumeBinder {
            client,
            claims: claim_informer.store(),
            volumes: volume_informer.store(),
            queue: WorkQueue::new(),
        });
        let queue = this.queue.clone();
        claim_informer.on_change(move |change| {
            let (Change::Added(c) | Change::Updated { new: c, .. } | Change::Deleted(c)) = change;
            queue.add(ObjectKey::of(c.as_ref()));
        });
        let queue = this.queue.clone();
        let claims = this.claims.clone();
        volume_informer.on_change(move |change| {
            let pv = match change {
                Change::Added(v) | Change::Updated { new: v, .. } | Change::Deleted(v) => v,
            };
            match pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
                Some(r) => queue.add(ObjectKey::new(
                    r.namespace.clone().unwrap_or_default(),
                    r.name.clone().unwrap_or_default(),
                )),
                None => {
                    for c in claims.list() {
                        if c.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
                            queue.add(ObjectKey::of(c.as_ref()));
                        }
                    }
                }
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    async fn release_volumes_of(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        for pv in self.volumes.list() {
            let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
                continue;
            };
            if r.namespace.as_deref() == Some(key.namespace.as_str())
                && r.name.as_deref() == Some(key.name.as_str())
                && phase_of_volume(&pv) == "Bound"
            {
                api.patch_status(
                    &pv.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"phase": "Released"}})),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn bind(
        &self,
        claim: &PersistentVolumeClaim,
        pv: &PersistentVolume,
    ) -> Result<(), SyncError> {
        let ns = claim.namespace().unwrap_or_default();
        let pv_name = pv.name_any();
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        if !claim_ref_names(pv, claim) {
            volumes
                .patch(
                    &pv_name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({
                        "metadata": {"resourceVersion": pv.resource_version(),
                                     "annotations": {BOUND_BY_CONTROLLER: "yes"}},
                        "spec": {"claimRef": {
                            "kind": "PersistentVolumeClaim", "apiVersion": "v1",
                            "namespace": ns, "name": claim.name_any(), "uid": claim.uid(),
                            "resourceVersion": claim.resource_version(),
                        }}
                    })),
                )
                .await?;
        }
        if phase_of_volume(pv) != "Bound" {
            volumes
                .patch_status(
                    &pv_name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"phase": "Bound"}})),
                )
                .await?;
        }
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        let spec = pv.spec.clone().unwrap_or_default();
        let named = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let mut annotations = json!({BIND_COMPLETED: "yes"});
        if !named {
            annotations[BOUND_BY_CONTROLLER] = json!("yes");
        }
        claims
            .patch(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({
                    "metadata": {"annotations": annotations},
                    "spec": {"volumeName": pv_name},
                })),
            )
            .await?;
        claims
            .patch_status(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {
                    "phase": "Bound",
                    "accessModes": spec.access_modes,
                    "capacity": spec.capacity,
                }})),
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Reconciler for PersistentVolumeBinder {
    const NAME: &'static str = "persistentvolume-binder";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(claim) = self.claims.get(key) else {
            return self.release_volumes_of(key).await;
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        let named = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .filter(|n| !n.is_empty());
        let pv = match &named {
            Some(name) => match self.volumes.get(&ObjectKey::new("", name)) {
                Some(pv) if claim_ref_names(&pv, &claim) || is_free(&pv) => pv,
                // Missing or held by another claim: stays Pending.
                _ => return Ok(()),
            },
            None if bound => return Ok(()),
            None => {
                let mut candidates: Vec<_> = self
                    .volumes
                    .list()
                    .into_iter()
                    .filter(|pv| {
                        (claim_ref_names(pv, &claim) || is_free(pv)) && matches(&claim, pv)
                    })
                    .collect();
                // A volume pre-bound to this claim first, then the smallest.
                candidates.sort_by_key(|pv| {
                    (
                        !claim_ref_names(pv, &claim),
                        storage(pv.spec.as_ref().and_then(|s| s.capacity.as_ref())).unwrap_or(0),
                    )
                });
                match candidates.into_iter().next() {
                    Some(pv) => pv,
                    None => return Ok(()),
                }
            }
        };
        if bound && claim_ref_names(&pv, &claim) && phase_of_volume(&pv) == "Bound" {
            return Ok(());
        }
        match self.bind(&claim, &pv).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_conflict() => Err(e),
            Err(SyncError::Api(kube::Error::Api(s))) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volumes_match_class_modes_and_capacity() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "c", "namespace": "ns", "uid": "u"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                     "resources": {"requests": {"storage": "1Gi"}}}
        }))
        .unwrap();
        let pv = |class: &str, size: &str, modes: serde_json::Value| -> PersistentVolume {
            serde_json::from_value(json!({
                "metadata": {"name": "v"},
                "spec": {"storageClassName": class, "capacity": {"storage": size},
                         "accessModes": modes, "hostPath": {"path": "/tmp/v"}}
            }))
            .unwrap()
        };
        assert!(matches(
            &claim,
            &pv("manual", "2Gi", json!(["ReadWriteOnce", "ReadOnlyMany"]))
        ));
        assert!(!matches(
            &claim,
            &pv("other", "2Gi", json!(["ReadWriteOnce"]))
        ));
        assert!(!matches(
            &claim,
            &pv("manual", "500Mi", json!(["ReadWriteOnce"]))
        ));
        assert!(!matches(
            &claim,
            &pv("manual", "2Gi", json!(["ReadOnlyMany"]))
        ));
    }
}
