//! The taint eviction controller (upstream's NoExecuteTaintManager, now
//! `taint-eviction-controller`): a pod on a node with a NoExecute taint it
//! does not tolerate is deleted at once; one it tolerates for
//! `tolerationSeconds` is deleted when that time has passed since the
//! taint was added; one it tolerates forever stays.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use parking_lot::Mutex;
use serde_json::json;

use crate::events::Recorder;
use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

/// Whether `t` tolerates `taint` (upstream `ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// What to do with a pod given its node's NoExecute taints.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    EvictNow,
    EvictAfter(Duration),
}

/// Upstream's rule: any untolerated taint evicts now; otherwise the
/// smallest tolerationSeconds among the tolerations used, counted from
/// when the taint was added.
/// `first_seen` stands in for the time a taint without `timeAdded` was
/// added: when the controller first saw the pod under it.
pub fn verdict(
    taints: &[Taint],
    tolerations: &[Toleration],
    now: jiff::Timestamp,
    first_seen: jiff::Timestamp,
) -> Verdict {
    let mut min_seconds: Option<i64> = None;
    let mut since: Option<jiff::Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let used: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if used.is_empty() {
            return Verdict::EvictNow;
        }
        for t in used {
            if let Some(s) = t.toleration_seconds {
                min_seconds = Some(min_seconds.map_or(s.max(0), |m| m.min(s.max(0))));
                let added = taint.time_added.as_ref().map_or(first_seen, |t| t.0);
                since = Some(since.map_or(added, |s| s.min(added)));
            }
        }
    }
    let Some(seconds) = min_seconds else {
        return Verdict::Keep;
    };
    let start = since.unwrap_or(now);
    // A toleration too long to add up is as good as forever.
    let Ok(deadline) = start.checked_add(jiff::SignedDuration::from_secs(seconds)) else {
        return Verdict::Keep;
    };
    let left = deadline.duration_since(now);
    if left.is_positive() {
        Verdict::EvictAfter(left.unsigned_abs())
    } else {
        Verdict::EvictNow
    }
}

fn no_execute_taints(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoExecute")
        .cloned()
        .collect()
}

pub struct TaintEvictionController {
    client: kube::Client,
    nodes: Arc<Store<Node>>,
    pods: Arc<Store<Pod>>,
    queue: WorkQueue<ObjectKey>,
    recorder: Recorder,
    /// Nodes whose NoExecute taints changed since the last sweep.
    dirty_nodes: Arc<Mutex<HashSet<String>>>,
    /// When each pod was first seen under a tolerated-for-a-while taint
    /// that carries no `timeAdded`.
    first_seen: Mutex<std::collections::HashMap<ObjectKey, jiff::Timestamp>>,
}

impl TaintEvictionController {
    pub fn new(client: kube::Client, factory: &InformerFactory, recorder: Recorder) -> Arc<Self> {
        let node_informer = factory.informer::<Node>();
        let pod_informer = factory.informer::<Pod>();
        crate::pod_util::index_by_node(&pod_informer.store());
        let this = Arc::new(TaintEvictionController {
            client,
            nodes: node_informer.store(),
            pods: pod_informer.store(),
            queue: WorkQueue::new(),
            recorder,
            dirty_nodes: Arc::new(Mutex::new(HashSet::new())),
            first_seen: Mutex::new(std::collections::HashMap::new()),
        });
        let dirty = this.dirty_nodes.clone();
        node_informer.on_change(move |change| {
            let changed = match change {
                Change::Added(n) => !no_execute_taints(n).is_empty(),
                Change::Updated { old, new } => no_execute_taints(old) != no_execute_taints(new),
                Change::Deleted(_) => false,
            };
            if let (true, Change::Added(n) | Change::Updated { new: n, .. }) = (changed, change) {
                dirty.lock().insert(n.name_any());
            }
        });
        let queue = this.queue.clone();
        pod_informer.on_change(move |change| match change {
            Change::Added(p) if crate::pod_util::node_name(p).is_some() => {
                queue.add(ObjectKey::of(p.as_ref()))
            }
            Change::Updated { old, new }
                if crate::pod_util::node_name(new).is_some()
                    && (crate::pod_util::node_name(old) != crate::pod_util::node_name(new)
                        || old.spec.as_ref().map(|s| &s.tolerations)
                            != new.spec.as_ref().map(|s| &s.tolerations)) =>
            {
                queue.add(ObjectKey::of(new.as_ref()))
            }
            _ => {}
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// Queues the pods of nodes whose taints changed (read from the pod
    /// store's node index), every half second.
    pub async fn sweep_dirty_nodes(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let dirty = std::mem::take(&mut *self.dirty_nodes.lock());
            if dirty.is_empty() {
                continue;
            }
            for node in &dirty {
                for pod in self.pods.by_index(crate::pod_util::NODE_INDEX, node) {
                    self.queue.add(ObjectKey::of(pod.as_ref()));
                }
            }
        }
    }

    async fn evict(&self, pod: &Pod) -> Result<(), SyncError> {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let name = pod.name_any();
        let condition = json!({"status": {"conditions": [{
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": crate::clock::now(),
        }]}});
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(condition))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.recorder.normal(
            pod,
            "TaintManagerEviction",
            format!(
                "Marking for deletion Pod {}/{}",
                pod.namespace().unwrap_or_default(),
                name
            ),
        );
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl Reconciler for TaintEvictionController {
    const NAME: &'static str = "taint-eviction-controller";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(pod) = self.pods.get(key) else {
            self.first_seen.lock().remove(key);
            return Ok(());
        };
        if pod.metadata.deletion_timestamp.is_some() {
            self.first_seen.lock().remove(key);
            return Ok(());
        }
        let Some(node) =
            crate::pod_util::node_name(&pod).and_then(|n| self.nodes.get(&ObjectKey::new("", n)))
        else {
            return Ok(());
        };
        let taints = no_execute_taints(&node);
        if taints.is_empty() {
            self.first_seen.lock().remove(key);
            return Ok(());
        }
        let now = crate::clock::now();
        let first_seen = *self.first_seen.lock().entry(key.clone()).or_insert(now);
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.clone())
            .unwrap_or_default();
        match verdict(&taints, &tolerations, now, first_seen) {
            Verdict::Keep => {
                self.first_seen.lock().remove(key);
                Ok(())
            }
            Verdict::EvictNow => self.evict(&pod).await,
            Verdict::EvictAfter(wait) => {
                self.queue
                    .add_after(key.clone(), wait + Duration::from_millis(50));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn taint(key: &str, added_secs_ago: i64, now: jiff::Timestamp) -> Taint {
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            value: None,
            time_added: now
                .checked_sub(jiff::SignedDuration::from_secs(added_secs_ago))
                .ok()
                .map(Time),
        }
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: seconds,
            value: None,
        }
    }

    #[test]
    fn verdicts_as_upstream() {
        let now = crate::clock::now();
        let unreachable = [taint("node.kubernetes.io/unreachable", 10, now)];
        assert_eq!(verdict(&unreachable, &[], now, now), Verdict::EvictNow);
        assert_eq!(
            verdict(
                &unreachable,
                &[toleration("node.kubernetes.io/unreachable", None)],
                now,
                now
            ),
            Verdict::Keep
        );
        assert_eq!(
            verdict(
                &unreachable,
                &[toleration("node.kubernetes.io/unreachable", Some(5))],
                now,
                now
            ),
            Verdict::EvictNow,
            "added 10 s ago, tolerated for 5"
        );
        match verdict(
            &unreachable,
            &[toleration("node.kubernetes.io/unreachable", Some(300))],
            now,
            now,
        ) {
            Verdict::EvictAfter(d) => assert!((289..=290).contains(&d.as_secs()), "{d:?}"),
            v => panic!("{v:?}"),
        }
        // No timeAdded: counted from when the pod was first seen under it.
        let untimed = [Taint {
            time_added: None,
            ..unreachable[0].clone()
        }];
        let seen = now
            .checked_sub(jiff::SignedDuration::from_secs(30))
            .unwrap_or(now);
        assert_eq!(
            verdict(
                &untimed,
                &[toleration("node.kubernetes.io/unreachable", Some(20))],
                now,
                seen
            ),
            Verdict::EvictNow
        );
        assert_eq!(
            verdict(
                &untimed,
                &[toleration("node.kubernetes.io/unreachable", Some(i64::MAX))],
                now,
                seen
            ),
            Verdict::Keep,
            "an absurdly long toleration never evicts"
        );
        // An empty key with Exists tolerates every taint.
        let all = Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        };
        assert_eq!(verdict(&unreachable, &[all], now, now), Verdict::Keep);
    }
}
