//! DefaultPreemption: when a pod fits nowhere, find the node where evicting
//! the fewest, least important lower-priority pods makes it fit, and
//! nominate it. Victims are chosen as upstream: remove every lower-priority
//! pod, then reprieve them from the most important down while the pod
//! still fits.

use std::sync::Arc;

use crate::cache::Cache;
use crate::framework::{
    Code, CycleState, Framework, NodeToStatus, Plugin, PostFilter, PostFilterResult, Status,
};
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "DefaultPreemption";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

pub struct DefaultPreemption {
    pub min_candidate_nodes_percentage: usize,
    pub min_candidate_nodes_absolute: usize,
}

impl Default for DefaultPreemption {
    fn default() -> Self {
        DefaultPreemption {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilter> {
        Some(self)
    }
}

struct Candidate {
    node: String,
    victims: Vec<Arc<PodInfo>>,
    /// Victims whose eviction a PodDisruptionBudget does not allow.
    pdb_violations: usize,
}

/// Disruptions each budget still allows, by `namespace/name`.
type Allowance = std::collections::HashMap<String, i32>;

/// Splits `pods` (most important first) into those whose eviction would
/// break a budget and those it would not, spending allowances in order,
/// as upstream's `filterPodsWithPDBViolation`.
fn split_by_pdb(pods: Vec<Arc<PodInfo>>, cache: &Cache) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Allowance = cache
        .pdbs()
        .map(|p| {
            let n = p.status.as_ref().map_or(0, |s| s.disruptions_allowed);
            (crate::cache::pdb_key(p), n)
        })
        .collect();
    let (mut violating, mut fine) = (Vec::new(), Vec::new());
    for pod in pods {
        let labels = crate::matching::labels_of_pod(&pod.pod);
        let mut breaks = false;
        for pdb in cache.pdbs() {
            if pdb.metadata.namespace.as_deref() != Some(pod.namespace.as_str()) {
                continue;
            }
            let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                continue;
            };
            let empty = selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && selector
                    .match_expressions
                    .as_ref()
                    .is_none_or(|e| e.is_empty());
            if empty || !crate::matching::selector_matches(selector, labels) {
                continue;
            }
            // Already being disrupted: it does not spend the budget again.
            let disrupted = pdb
                .status
                .as_ref()
                .and_then(|s| s.disrupted_pods.as_ref())
                .is_some_and(|d| d.contains_key(pod.name()));
            if disrupted {
                continue;
            }
            let left = allowed.entry(crate::cache::pdb_key(pdb)).or_insert(0);
            *left -= 1;
            if *left < 0 {
                breaks = true;
            }
        }
        if breaks {
            violating.push(pod);
        } else {
            fine.push(pod);
        }
    }
    (violating, fine)
}

fn start_time(p: &PodInfo) -> Option<&k8s_openapi::jiff::Timestamp> {
    p.pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| &t.0)
}

/// Upstream's `MoreImportantPod`: higher priority, then earlier start.
fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| match (start_time(a), start_time(b)) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        })
}

fn select_victims(
    framework: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    cache: &Cache,
) -> Option<(Vec<Arc<PodInfo>>, usize)> {
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return None;
    }
    let mut trial = node.clone();
    for p in &potential {
        trial.remove_pod(&p.uid);
    }
    if !framework.run_filter(state, pod, &trial).is_success() {
        return None;
    }
    potential.sort_by(|a, b| more_important(a, b));
    // Try hardest to keep the pods a budget protects.
    let (violating, fine) = split_by_pdb(potential, cache);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (protected, group) in [(true, violating), (false, fine)] {
        for p in group {
            trial.add_pod(p.clone());
            if !framework.run_filter(state, pod, &trial).is_success() {
                trial.remove_pod(&p.uid);
                victims.push(p);
                if protected {
                    pdb_violations += 1;
                }
            }
        }
    }
    Some((victims, pdb_violations))
}

/// Upstream's `pickOneNodeForPreemption` order of preference.
fn pick(candidates: Vec<Candidate>) -> Option<Candidate> {
    candidates.into_iter().min_by(|a, b| {
        let highest = |c: &Candidate| {
            c.victims
                .iter()
                .map(|v| v.priority)
                .max()
                .unwrap_or(i32::MIN)
        };
        let sum = |c: &Candidate| {
            c.victims
                .iter()
                .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
                .sum::<i64>()
        };
        // Latest start among the most important victims goes first.
        let earliest = |c: &Candidate| {
            c.victims
                .iter()
                .filter(|v| v.priority == highest(c))
                .filter_map(|v| start_time(v).copied())
                .min()
        };
        a.pdb_violations
            .cmp(&b.pdb_violations)
            .then_with(|| highest(a).cmp(&highest(b)))
            .then_with(|| sum(a).cmp(&sum(b)))
            .then_with(|| a.victims.len().cmp(&b.victims.len()))
            .then_with(|| earliest(b).cmp(&earliest(a)))
    })
}

fn histogram(all: usize, counts: &[(usize, &str)]) -> String {
    let mut parts: Vec<String> = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, r)| format!("{n} {r}"))
        .collect();
    parts.sort();
    format!(
        "preemption: 0/{all} nodes are available: {}.",
        parts.join(", ")
    )
}

impl PostFilter for DefaultPreemption {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        cache: &Cache,
        rejected: &NodeToStatus,
        framework: &Framework,
    ) -> PostFilterResult {
        let none = |status| PostFilterResult {
            nominated_node: None,
            victims: Vec::new(),
            status,
        };
        let policy = pod.spec().and_then(|s| s.preemption_policy.as_deref());
        if policy == Some("Never") {
            return none(Status::unschedulable(
                "not eligible due to preemptionPolicy=Never.",
            ));
        }
        let all = cache.node_count();
        let wanted = (all * self.min_candidate_nodes_percentage / 100)
            .max(self.min_candidate_nodes_absolute);
        let (mut not_helpful, mut no_victims) = (0, 0);
        let mut candidates = Vec::new();
        for node in cache.nodes() {
            match rejected.get(&node.name).map(|s| s.code) {
                Some(Code::Unschedulable) => {}
                Some(_) => {
                    not_helpful += 1;
                    continue;
                }
                None => continue,
            }
            if candidates.len() >= wanted {
                break;
            }
            match select_victims(framework, state, pod, node, cache) {
                Some((victims, pdb_violations)) => candidates.push(Candidate {
                    node: node.name.clone(),
                    victims,
                    pdb_violations,
                }),
                None => no_victims += 1,
            }
        }
        match pick(candidates) {
            Some(c) => PostFilterResult {
                nominated_node: Some(c.node),
                victims: c.victims,
                status: Status::success(),
            },
            None => none(Status::unschedulable(histogram(
                all,
                &[(no_victims, NO_VICTIMS), (not_helpful, NOT_HELPFUL)],
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KubeSchedulerConfiguration;
    use crate::framework::Status;
    use crate::testing::{node, pod, with_labels};
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::policy::v1::{
        PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn bound(name: &str, cpu: &str, node: &str, priority: i32, app: &str) -> Pod {
        let mut p = with_labels(pod(name, cpu, "1Gi"), &[("app", app)]);
        let spec = p.spec.as_mut().unwrap();
        spec.node_name = Some(node.into());
        spec.priority = Some(priority);
        p
    }

    fn preemptor(cpu: &str, policy: Option<&str>) -> PodInfo {
        let mut p = pod("vip", cpu, "1Gi");
        let spec = p.spec.as_mut().unwrap();
        spec.priority = Some(1000);
        spec.preemption_policy = policy.map(String::from);
        PodInfo::new(Arc::new(p))
    }

    fn run(cache: &Cache, pod: &PodInfo) -> PostFilterResult {
        let fws = KubeSchedulerConfiguration::default().frameworks().unwrap();
        let rejected: NodeToStatus = cache
            .nodes()
            .map(|n| (n.name.clone(), Status::unschedulable("Insufficient cpu")))
            .collect();
        DefaultPreemption::default().post_filter(
            &CycleState::default(),
            pod,
            cache,
            &rejected,
            &fws[0],
        )
    }

    fn names(victims: &[Arc<PodInfo>]) -> Vec<String> {
        victims.iter().map(|v| v.name().to_string()).collect()
    }

    #[test]
    fn evicts_the_fewest_lowest_priority_pods() {
        let mut cache = Cache::default();
        cache.add_or_update_node(Arc::new(node("n1", "2", "16Gi")));
        cache.add_or_update_pod(Arc::new(bound("a", "1", "n1", 10, "x")));
        cache.add_or_update_pod(Arc::new(bound("b", "1", "n1", 5, "x")));
        let r = run(&cache, &preemptor("1", None));
        assert_eq!(r.nominated_node.as_deref(), Some("n1"));
        assert_eq!(names(&r.victims), vec!["b"]);
    }

    #[test]
    fn keeps_pods_a_budget_protects_when_others_make_room() {
        let mut cache = Cache::default();
        cache.add_or_update_node(Arc::new(node("n1", "2", "16Gi")));
        cache.add_or_update_pod(Arc::new(bound("guarded", "1", "n1", 5, "db")));
        cache.add_or_update_pod(Arc::new(bound("free", "1", "n1", 10, "web")));
        cache.add_or_update_pdb(Arc::new(PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_string(), "db".to_string())].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                disruptions_allowed: 0,
                ..Default::default()
            }),
        }));
        // "guarded" has the lower priority, but its budget allows nothing.
        let r = run(&cache, &preemptor("1", None));
        assert_eq!(names(&r.victims), vec!["free"]);
    }

    #[test]
    fn no_victims_and_never_policy_give_upstream_messages() {
        let mut cache = Cache::default();
        cache.add_or_update_node(Arc::new(node("n1", "1", "16Gi")));
        cache.add_or_update_pod(Arc::new(bound("a", "1", "n1", 2000, "x")));
        let r = run(&cache, &preemptor("1", None));
        assert!(r.nominated_node.is_none());
        assert_eq!(
            r.status.message(),
            "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        );
        let r = run(&cache, &preemptor("1", Some("Never")));
        assert_eq!(
            r.status.message(),
            "not eligible due to preemptionPolicy=Never."
        );
    }
}
