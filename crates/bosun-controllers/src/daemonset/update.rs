//! RollingUpdate as upstream's rollingUpdate (pkg/controller/daemon/
//! update.go), as a pure plan over nodes and their daemon pods: which old
//! pods to delete and, when surging, which nodes get a new pod next to
//! their old one. The manage step creates the replacements.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};

use super::util;
use crate::pod_util;

/// What one rolling-update step does.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub delete: Vec<String>,
    pub create_on: Vec<String>,
}

/// The new and the old pod on a node, or `None` when the node has more
/// than one of either (the manage step prunes it first). Pods being
/// deleted do not count (upstream findUpdatedPodsOnNode).
fn updated_pods_on_node<'a>(
    pods: &'a [Arc<Pod>],
    hash: &str,
    generation: Option<i64>,
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for p in pods {
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let slot = if util::is_pod_updated(p, hash, generation) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p.as_ref());
    }
    Some((new, old))
}

/// (maxSurge, maxUnavailable, desired) for this DaemonSet over `nodes`,
/// adding an empty entry for each node that should run a pod and has
/// none (upstream updatedDesiredNodeCounts).
fn desired_counts(
    ds: &DaemonSet,
    nodes: &HashMap<String, Arc<Node>>,
    node_pods: &mut BTreeMap<String, Vec<Arc<Pod>>>,
) -> Result<(i32, i32, i32), String> {
    let mut desired = 0;
    for (name, node) in nodes {
        if util::node_should_run(node, ds).0 {
            desired += 1;
            node_pods.entry(name.clone()).or_default();
        }
    }
    let unavailable = util::unavailable_count(ds, desired)
        .map_err(|e| format!("invalid value for MaxUnavailable: {e}"))?;
    let surge =
        util::surge_count(ds, desired).map_err(|e| format!("invalid value for MaxSurge: {e}"))?;
    // Both zero (an impossible configuration) means one unavailable.
    if desired > 0 && unavailable == 0 && surge == 0 {
        return Ok((0, 1, desired));
    }
    Ok((surge, unavailable, desired))
}

/// One rolling-update step. `node_pods` holds the daemon pods per node;
/// only nodes in `nodes` are considered (pods of deleted nodes are left
/// to whatever removes them and never hold the update back).
pub fn plan(
    ds: &DaemonSet,
    nodes: &HashMap<String, Arc<Node>>,
    node_pods: &HashMap<String, Vec<Arc<Pod>>>,
    hash: &str,
    now: jiff::Timestamp,
) -> Result<Plan, String> {
    let mut node_pods: BTreeMap<String, Vec<Arc<Pod>>> = node_pods
        .iter()
        .filter(|(n, _)| nodes.contains_key(*n))
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect();
    let (max_surge, max_unavailable, desired) = desired_counts(ds, nodes, &mut node_pods)?;
    let generation = util::template_generation(ds);
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let available = |p: &Pod| pod_util::is_available(p, min_ready, now);
    let should_run = |n: &str| {
        nodes
            .get(n)
            .is_some_and(|node| util::node_should_run(node, ds).0)
    };

    if max_surge == 0 {
        // Delete just enough old pods to stay within maxUnavailable; the
        // manage step creates their replacements.
        let mut unavailable = 0;
        let mut replacements = Vec::new();
        let mut candidates = Vec::new();
        for pods in node_pods.values() {
            let Some((new, old)) = updated_pods_on_node(pods, hash, generation) else {
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new), None) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) => {
                    if !available(old) {
                        replacements.push(old.metadata.name.clone().unwrap_or_default());
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.push(old.metadata.name.clone().unwrap_or_default());
                    }
                }
            }
        }
        let room = (max_unavailable - unavailable).max(0) as usize;
        replacements.extend(candidates.into_iter().take(room));
        return Ok(Plan {
            delete: replacements,
            create_on: Vec::new(),
        });
    }

    // Surging: a new pod next to each old one (at most maxSurge at once
    // for available old pods), and an old pod goes once its new one is
    // available.
    let mut delete = Vec::new();
    let mut should_not_run = Vec::new();
    let mut candidates = Vec::new();
    let mut allowed = Vec::new();
    let mut surging = 0;
    let mut available_count = 0;
    for (node, pods) in &node_pods {
        let Some((new, old)) = updated_pods_on_node(pods, hash, generation) else {
            surging += 1;
            continue;
        };
        if let Some(p) = old.or(new) {
            if available(p) {
                available_count += 1;
            }
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                let name = old.metadata.name.clone().unwrap_or_default();
                if !available(old) {
                    if !should_run(node) {
                        delete.push(name);
                        continue;
                    }
                    allowed.push(node.clone());
                } else {
                    if !should_run(node) {
                        should_not_run.push(name);
                        continue;
                    }
                    if surging >= max_surge {
                        continue;
                    }
                    candidates.push(node.clone());
                }
            }
            (Some(new), Some(old)) => {
                if !available(new) {
                    surging += 1;
                    continue;
                }
                delete.push(old.metadata.name.clone().unwrap_or_default());
            }
        }
    }
    // With surge the owner expects full availability: a pod on a node
    // that should no longer run it goes only once enough others are up.
    let deletable = (available_count - desired).max(0) as usize;
    delete.extend(should_not_run.into_iter().take(deletable));
    let room = (max_surge - surging).max(0) as usize;
    allowed.extend(candidates.into_iter().take(room));
    Ok(Plan {
        delete,
        create_on: allowed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
    };
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn ds(surge: i32, unavailable: i32) -> DaemonSet {
        DaemonSet {
            spec: Some(DaemonSetSpec {
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDaemonSet {
                        max_surge: Some(IntOrString::Int(surge)),
                        max_unavailable: Some(IntOrString::Int(unavailable)),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn nodes(n: usize) -> HashMap<String, Arc<Node>> {
        (0..n)
            .map(|i| {
                let mut node = Node::default();
                node.metadata.name = Some(format!("n{i}"));
                (format!("n{i}"), Arc::new(node))
            })
            .collect()
    }

    fn pod(name: &str, node: &str, hash: &str, ready: bool) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.labels = Some([(util::HASH_LABEL.to_string(), hash.to_string())].into());
        p.spec = Some(PodSpec {
            node_name: Some(node.into()),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(Time(jiff::Timestamp::UNIX_EPOCH)),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(p)
    }

    fn by_node(pods: Vec<Arc<Pod>>) -> HashMap<String, Vec<Arc<Pod>>> {
        let mut m: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        for p in pods {
            let n = util::target_node_name(&p).unwrap_or_default();
            m.entry(n).or_default().push(p);
        }
        m
    }

    #[test]
    fn without_surge_old_pods_go_within_max_unavailable() {
        let now = crate::clock::now();
        let pods = by_node(vec![
            pod("a", "n0", "old", true),
            pod("b", "n1", "old", true),
            pod("c", "n2", "old", true),
        ]);
        let p = plan(&ds(0, 1), &nodes(3), &pods, "new", now).expect("plan");
        assert_eq!(p.delete, ["a"]);
        assert!(p.create_on.is_empty());
        let p = plan(&ds(0, 2), &nodes(3), &pods, "new", now).expect("plan");
        assert_eq!(p.delete, ["a", "b"]);
        // A new pod not ready yet uses up the budget.
        let pods = by_node(vec![
            pod("a2", "n0", "new", false),
            pod("b", "n1", "old", true),
            pod("c", "n2", "old", false),
        ]);
        let p = plan(&ds(0, 1), &nodes(3), &pods, "new", now).expect("plan");
        // An unavailable old pod is always replaced.
        assert_eq!(p.delete, ["c"]);
        // A node without a pod counts as unavailable.
        let pods = by_node(vec![pod("b", "n1", "old", true)]);
        let p = plan(&ds(0, 1), &nodes(2), &pods, "new", now).expect("plan");
        assert!(p.delete.is_empty());
    }

    #[test]
    fn pods_of_deleted_nodes_do_not_hold_the_update_back() {
        let now = crate::clock::now();
        let mut gone = (*pod("g", "gone", "old", true)).clone();
        gone.metadata.deletion_timestamp = Some(Time(now));
        let pods = by_node(vec![Arc::new(gone), pod("a", "n0", "old", true)]);
        let p = plan(&ds(0, 1), &nodes(1), &pods, "new", now).expect("plan");
        assert_eq!(p.delete, ["a"]);
    }

    #[test]
    fn surge_creates_next_to_old_pods_then_deletes_them() {
        let now = crate::clock::now();
        let pods = by_node(vec![
            pod("a", "n0", "old", true),
            pod("b", "n1", "old", true),
            pod("c", "n2", "old", false),
        ]);
        let p = plan(&ds(1, 0), &nodes(3), &pods, "new", now).expect("plan");
        assert!(p.delete.is_empty());
        // The unavailable one is replaced at once, plus one surge candidate.
        assert_eq!(p.create_on, ["n2", "n0"]);
        let pods = by_node(vec![
            pod("a", "n0", "old", true),
            pod("a2", "n0", "new", true),
            pod("b", "n1", "old", true),
            pod("b2", "n1", "new", false),
        ]);
        let p = plan(&ds(1, 0), &nodes(2), &pods, "new", now).expect("plan");
        assert_eq!(p.delete, ["a"]);
        assert!(p.create_on.is_empty());
    }
}
