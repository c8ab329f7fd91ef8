//! The namespace controller (upstream's namespace-controller): empties a
//! namespace being deleted, reports progress in its status conditions and,
//! once nothing is left, removes the `kubernetes` finalizer through
//! `namespaces/{name}/finalize`, after which the API server deletes it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::verbs;
use kube::Api;

use crate::discovery::{Resources, ServedResource};
use crate::informer::{Change, InformerFactory, Store};
use crate::workqueue::WorkQueue;
use crate::{ObjectKey, Reconciler, SyncError};

/// The finalizer this controller owns in `spec.finalizers`.
pub const FINALIZER: &str = "kubernetes";

/// Upstream's guess, in seconds, of how long content with finalizers
/// takes to go.
const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

/// The conditions this controller maintains, with the reason and message
/// each carries when all is well.
const CONDITIONS: &[(&str, &str, &str)] = &[
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        "NamespaceContentRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        "NamespaceFinalizersRemaining",
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

/// What one deletion pass found.
#[derive(Debug, Default)]
pub struct Pass {
    pub discovery_error: Option<String>,
    pub delete_errors: Vec<String>,
    /// Group resource → objects still present.
    pub remaining: BTreeMap<String, usize>,
    /// Finalizer → objects still carrying it.
    pub finalizers: BTreeMap<String, usize>,
    /// Seconds until the remaining content is likely gone.
    pub estimate: i64,
}

impl Pass {
    pub fn content_remains(&self) -> bool {
        !self.remaining.is_empty()
    }

    /// The failing condition of `type_`, if this pass has one:
    /// (reason, message).
    fn failure(&self, type_: &str) -> Option<(&'static str, String)> {
        match type_ {
            "NamespaceDeletionDiscoveryFailure" => self.discovery_error.as_ref().map(|e| {
                (
                    "DiscoveryFailed",
                    format!("Discovery failed for some groups, 1 failing: {e}"),
                )
            }),
            "NamespaceDeletionContentFailure" if !self.delete_errors.is_empty() => Some((
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    self.delete_errors.len(),
                    self.delete_errors.join(", ")
                ),
            )),
            "NamespaceContentRemaining" if !self.remaining.is_empty() => Some((
                "SomeResourcesRemain",
                format!(
                    "Some resources are remaining: {}",
                    self.remaining
                        .iter()
                        .map(|(gr, n)| format!("{gr} has {n} resource instances"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            "NamespaceFinalizersRemaining" if !self.finalizers.is_empty() => Some((
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    self.finalizers
                        .iter()
                        .map(|(f, n)| format!("{f} in {n} resource instances"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            _ => None,
        }
    }
}

/// The namespace's conditions after `pass`: the five this controller owns
/// (True with a failure reason, or False with the all-well one), keeping
/// the transition time of those whose status did not change, and any
/// others as they were.
pub fn conditions(old: &[NamespaceCondition], pass: &Pass, now: &Time) -> Vec<NamespaceCondition> {
    let mut out: Vec<NamespaceCondition> = old
        .iter()
        .filter(|c| !CONDITIONS.iter().any(|(t, _, _)| *t == c.type_))
        .cloned()
        .collect();
    for (type_, ok_reason, ok_message) in CONDITIONS {
        let (status, reason, message) = match pass.failure(type_) {
            Some((reason, message)) => ("True", reason.to_string(), message),
            None => ("False", ok_reason.to_string(), ok_message.to_string()),
        };
        let previous = old.iter().find(|c| c.type_ == *type_);
        let since = previous
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        out.push(NamespaceCondition {
            type_: type_.to_string(),
            status: status.into(),
            reason: Some(reason),
            message: Some(message),
            last_transition_time: Some(since),
        });
    }
    out
}

/// Whether objects may still be created in the namespace (not deleted,
/// not Terminating), as the per-namespace publishers check.
pub fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

/// Upstream requeues a namespace with content left after half the
/// estimate plus a second.
pub fn requeue_after(estimate: i64) -> Duration {
    Duration::from_secs((estimate.max(0) / 2 + 1).unsigned_abs())
}

pub struct NamespaceController {
    client: kube::Client,
    store: Arc<Store<Namespace>>,
    queue: WorkQueue<ObjectKey>,
}

impl NamespaceController {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        let informer = factory.informer::<Namespace>();
        let queue = WorkQueue::new();
        let q = queue.clone();
        informer.on_change(move |change| {
            let ns = match change {
                Change::Added(ns) => ns,
                Change::Updated { new, .. } => new,
                Change::Deleted(_) => return,
            };
            if ns.metadata.deletion_timestamp.is_some() {
                q.add(ObjectKey::of(ns.as_ref()));
            }
        });
        Arc::new(NamespaceController {
            client,
            store: informer.store(),
            queue,
        })
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    fn dynamic(&self, res: &ServedResource, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &res.ar)
    }

    /// Deletes everything of `res` in `ns`: deletecollection where served,
    /// else list and delete one by one.
    async fn delete_content(&self, res: &ServedResource, ns: &str) -> Result<(), kube::Error> {
        let api = self.dynamic(res, ns);
        let dp = DeleteParams::background();
        if res.supports(verbs::DELETE_COLLECTION) {
            api.delete_collection(&dp, &ListParams::default()).await?;
            return Ok(());
        }
        if !res.supports(verbs::LIST) {
            return Ok(());
        }
        for item in api.list_metadata(&ListParams::default()).await? {
            let name = item.metadata.name.unwrap_or_default();
            match api.delete(&name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Counts what of `res` is left in `ns` into `pass`.
    async fn count_remaining(
        &self,
        res: &ServedResource,
        ns: &str,
        pass: &mut Pass,
    ) -> Result<(), kube::Error> {
        let items = self
            .dynamic(res, ns)
            .list_metadata(&ListParams::default())
            .await?
            .items;
        if items.is_empty() {
            return Ok(());
        }
        pass.remaining.insert(res.group_resource(), items.len());
        let now = jiff::Timestamp::now();
        for item in &items {
            let finalizers = item.metadata.finalizers.as_deref().unwrap_or_default();
            for f in finalizers {
                *pass.finalizers.entry(f.clone()).or_default() += 1;
            }
            if !finalizers.is_empty() {
                pass.estimate = pass.estimate.max(FINALIZER_ESTIMATE_SECONDS);
            }
            // Graceful deletion: deletionTimestamp is when the grace ends.
            if let Some(t) = &item.metadata.deletion_timestamp {
                let left = t.0.as_second() - now.as_second();
                pass.estimate = pass.estimate.max(left);
            }
        }
        Ok(())
    }

    /// Writes the conditions of `pass` if they changed; returns the
    /// namespace as stored afterwards.
    async fn write_conditions(&self, ns: Namespace, pass: &Pass) -> Result<Namespace, SyncError> {
        let old = ns
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let now = Time(jiff::Timestamp::now());
        let new = conditions(&old, pass, &now);
        let same = old.len() == new.len()
            && old.iter().all(|o| {
                new.iter().any(|n| {
                    n.type_ == o.type_
                        && n.status == o.status
                        && n.reason == o.reason
                        && n.message == o.message
                })
            });
        if same {
            return Ok(ns);
        }
        let mut updated = ns.clone();
        updated
            .status
            .get_or_insert_with(Default::default)
            .conditions = Some(new);
        let api: Api<Namespace> = Api::all(self.client.clone());
        let name = ns.metadata.name.as_deref().unwrap_or_default();
        match api
            .replace_status(name, &PostParams::default(), &updated)
            .await
        {
            Ok(written) => Ok(written),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(ns),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl Reconciler for NamespaceController {
    const NAME: &'static str = "namespace";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        // The informer only says which namespace to look at; the decision
        // reads the latest copy, since finalizing a stale one conflicts.
        if self
            .store
            .get(key)
            .is_none_or(|ns| ns.metadata.deletion_timestamp.is_none())
        {
            return Ok(());
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        let Some(ns) = api.get_opt(&key.name).await? else {
            return Ok(());
        };
        if ns.metadata.deletion_timestamp.is_none() {
            return Ok(());
        }
        let finalizers = ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.clone())
            .unwrap_or_default();
        if !finalizers.iter().any(|f| f == FINALIZER) {
            return Ok(());
        }
        let mut pass = Pass::default();
        let resources = match Resources::discover(&self.client).await {
            Ok(r) => r,
            Err(e) => {
                pass.discovery_error = Some(e.to_string());
                self.write_conditions(ns, &pass).await?;
                return Err(e.into());
            }
        };
        let namespaced: Vec<&ServedResource> = resources
            .all
            .iter()
            .filter(|r| r.namespaced && r.supports(verbs::DELETE))
            .collect();
        for res in &namespaced {
            if let Err(e) = self.delete_content(res, &key.name).await {
                pass.delete_errors
                    .push(format!("{}: {e}", res.group_resource()));
            }
        }
        for res in namespaced.iter().filter(|r| r.supports(verbs::LIST)) {
            if let Err(e) = self.count_remaining(res, &key.name, &mut pass).await {
                pass.delete_errors
                    .push(format!("{}: {e}", res.group_resource()));
            }
        }
        let ns = self.write_conditions(ns, &pass).await?;
        if !pass.delete_errors.is_empty() {
            return Err(SyncError::Other(pass.delete_errors.join(", ")));
        }
        if pass.content_remains() {
            self.queue
                .add_after(key.clone(), requeue_after(pass.estimate));
            return Ok(());
        }
        // Empty: hand the namespace back without our finalizer. The write
        // carries the read's resourceVersion, so a concurrent change
        // conflicts and the sync is retried.
        let mut finalized = ns;
        if let Some(spec) = finalized.spec.as_mut() {
            spec.finalizers = Some(finalizers.into_iter().filter(|f| f != FINALIZER).collect());
        }
        match api
            .replace_subresource("finalize", &key.name, &PostParams::default(), &finalized)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_type<'a>(c: &'a [NamespaceCondition], t: &str) -> &'a NamespaceCondition {
        c.iter().find(|c| c.type_ == t).expect(t)
    }

    fn time(s: &str) -> Time {
        Time(s.parse().expect("timestamp"))
    }

    #[test]
    fn all_well_conditions_are_false_with_upstream_reasons() {
        let c = conditions(&[], &Pass::default(), &time("2026-01-01T00:00:00Z"));
        assert_eq!(c.len(), 5);
        assert!(c.iter().all(|c| c.status == "False"));
        let remaining = by_type(&c, "NamespaceContentRemaining");
        assert_eq!(remaining.reason.as_deref(), Some("ContentRemoved"));
        assert_eq!(
            remaining.message.as_deref(),
            Some("All content successfully removed")
        );
    }

    #[test]
    fn remaining_content_and_finalizers_are_reported() {
        let mut pass = Pass::default();
        pass.remaining.insert("pods".into(), 2);
        pass.remaining.insert("configmaps".into(), 1);
        pass.finalizers.insert("example.com/hold".into(), 1);
        let t0 = time("2026-01-01T00:00:00Z");
        let c = conditions(&[], &pass, &t0);
        let remaining = by_type(&c, "NamespaceContentRemaining");
        assert_eq!(remaining.status, "True");
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            remaining.message.as_deref(),
            Some("Some resources are remaining: configmaps has 1 resource instances, pods has 2 resource instances")
        );
        let fin = by_type(&c, "NamespaceFinalizersRemaining");
        assert_eq!(fin.reason.as_deref(), Some("SomeFinalizersRemain"));
        assert_eq!(
            fin.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        );
        assert_eq!(
            by_type(&c, "NamespaceDeletionContentFailure").status,
            "False"
        );
        // Later pass, same status: the transition time stays; a changed
        // status gets the new time.
        let t1 = time("2026-01-01T00:01:00Z");
        let again = conditions(&c, &pass, &t1);
        assert_eq!(
            by_type(&again, "NamespaceContentRemaining").last_transition_time,
            Some(t0.clone())
        );
        let done = conditions(&again, &Pass::default(), &t1);
        assert_eq!(
            by_type(&done, "NamespaceContentRemaining").last_transition_time,
            Some(t1)
        );
        assert_eq!(
            by_type(&done, "NamespaceDeletionDiscoveryFailure").last_transition_time,
            Some(t0)
        );
    }

    #[test]
    fn failures_carry_their_reasons() {
        let pass = Pass {
            discovery_error: Some("boom".into()),
            delete_errors: vec!["pods: denied".into()],
            ..Default::default()
        };
        let c = conditions(&[], &pass, &time("2026-01-01T00:00:00Z"));
        let d = by_type(&c, "NamespaceDeletionDiscoveryFailure");
        assert_eq!(
            (d.status.as_str(), d.reason.as_deref()),
            ("True", Some("DiscoveryFailed"))
        );
        let f = by_type(&c, "NamespaceDeletionContentFailure");
        assert_eq!(f.reason.as_deref(), Some("ContentDeletionFailed"));
        assert_eq!(
            f.message.as_deref(),
            Some("Failed to delete all resource types, 1 remaining: pods: denied")
        );
    }

    #[test]
    fn requeue_is_half_the_estimate_plus_a_second() {
        assert_eq!(requeue_after(0), Duration::from_secs(1));
        assert_eq!(requeue_after(15), Duration::from_secs(8));
        assert_eq!(requeue_after(-3), Duration::from_secs(1));
    }
}
