//! The generic pod lifecycle event generator: containerd 1.6 has no CRI
//! events, so the runtime is listed every period and the pods whose
//! sandboxes or containers changed state are reported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::cri::{CriResult, RuntimeService, LABEL_POD_UID};

/// One relist's view: pod uid → (object id → state), sorted.
pub type Snapshot = HashMap<String, BTreeMap<String, i32>>;

/// What a relist found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Relist {
    /// Pods whose runtime objects changed since the last relist.
    pub changed: Vec<String>,
    /// Every pod uid the runtime has objects for.
    pub present: HashSet<String>,
}

pub async fn snapshot(runtime: &dyn RuntimeService) -> CriResult<Snapshot> {
    let mut snap: Snapshot = HashMap::new();
    for sb in runtime.list_pod_sandbox(None).await? {
        if let Some(uid) = sb.labels.get(LABEL_POD_UID) {
            snap.entry(uid.clone())
                .or_default()
                .insert(format!("sb/{}", sb.id), sb.state);
        }
    }
    for c in runtime.list_containers(None).await? {
        if let Some(uid) = c.labels.get(LABEL_POD_UID) {
            snap.entry(uid.clone())
                .or_default()
                .insert(format!("c/{}", c.id), c.state);
        }
    }
    Ok(snap)
}

/// The pods that differ between two snapshots.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Relist {
    let mut changed: Vec<String> = new
        .iter()
        .filter(|(uid, objs)| old.get(*uid) != Some(objs))
        .map(|(uid, _)| uid.clone())
        .chain(old.keys().filter(|uid| !new.contains_key(*uid)).cloned())
        .collect();
    changed.sort();
    Relist {
        changed,
        present: new.keys().cloned().collect(),
    }
}

/// Relists every `period` and sends what it found until the receiver is
/// dropped.
pub async fn run(runtime: Arc<dyn RuntimeService>, period: Duration, tx: mpsc::Sender<Relist>) {
    let mut old = Snapshot::new();
    let mut timer = tokio::time::interval(period);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        match snapshot(&*runtime).await {
            Ok(new) => {
                let relist = diff(&old, &new);
                old = new;
                if tx.send(relist).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::debug!(error = %e, "relist failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_changed_and_vanished_pods() {
        let mut a = Snapshot::new();
        a.entry("u1".into()).or_default().insert("c/1".into(), 1);
        a.entry("u2".into()).or_default().insert("c/2".into(), 1);
        let mut b = a.clone();
        b.get_mut("u1").unwrap().insert("c/1".into(), 2);
        b.remove("u2");
        b.entry("u3".into()).or_default().insert("sb/3".into(), 0);
        let r = diff(&a, &b);
        assert_eq!(r.changed, ["u1", "u2", "u3"]);
        assert_eq!(
            r.present,
            HashSet::from(["u1".to_string(), "u3".to_string()])
        );
        assert!(diff(&b, &b).changed.is_empty());
    }
}
