//! DaemonSet facts as upstream's pkg/controller/daemon/util and the
//! scheduling helpers the controller uses: which nodes should run a daemon
//! pod (node name, nodeSelector, required node affinity, taints with the
//! tolerations every daemon pod gets), the pod template with its labels,
//! the node affinity that pins a pod to its node, surge and
//! unavailability, and the failed-pod back-off.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, PodTemplateSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use parking_lot::Mutex;

/// The pod label with the hash of the template the pod was made from
/// (apps.DefaultDaemonSetUniqueLabelKey).
pub const HASH_LABEL: &str = "controller-revision-hash";
/// The pod label with the DaemonSet's template generation.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// The annotation the API server keeps the template generation in.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

const NODE_NAME_FIELD: &str = "metadata.name";

/// The tolerations upstream adds to every daemon pod
/// (AddOrUpdateDaemonPodTolerations): node problems never evict or keep
/// out a daemon pod. `network-unavailable` only for hostNetwork pods.
pub fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut v = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        v.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    v
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// Upstream `Toleration.MatchToleration`: the same key, effect, operator
/// and value.
fn same_toleration(a: &Toleration, b: &Toleration) -> bool {
    s(&a.key) == s(&b.key)
        && s(&a.effect) == s(&b.effect)
        && s(&a.operator) == s(&b.operator)
        && s(&a.value) == s(&b.value)
}

/// Upstream AddOrUpdateTolerationInPodSpec for each daemon toleration: a
/// matching toleration is replaced in place (so a user's
/// tolerationSeconds on it goes), otherwise it is appended.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let host_network = spec.host_network.unwrap_or(false);
    for tol in daemon_tolerations(host_network) {
        let list = spec.tolerations.get_or_insert_with(Vec::new);
        match list.iter_mut().find(|t| same_toleration(t, &tol)) {
            Some(existing) => *existing = tol,
            None => list.push(tol),
        }
    }
}

/// Upstream `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if !s(&t.effect).is_empty() && s(&t.effect) != taint.effect {
        return false;
    }
    if !s(&t.key).is_empty() && s(&t.key) != taint.key {
        return false;
    }
    match s(&t.operator) {
        "" | "Equal" => s(&t.value) == s(&taint.value),
        "Exists" => true,
        _ => false,
    }
}

/// The first taint with an effect `filter` accepts that no toleration
/// tolerates (upstream FindMatchingUntoleratedTaint).
fn untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| filter(t))
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(actual), Some(bound)) = (
                value.and_then(number),
                values.first().and_then(|v| number(v)),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                actual > bound
            } else {
                actual < bound
            }
        }
        _ => false,
    }
}

/// One node selector term: every expression (on labels) and field (only
/// `metadata.name`) holds; an empty term matches no node.
fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let labels = node.metadata.labels.as_ref();
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.and_then(|l| l.get(&r.key)).map(String::as_str)))
        && fields.iter().all(|r| {
            r.key == NODE_NAME_FIELD && requirement_matches(r, node.metadata.name.as_deref())
        })
}

/// Upstream nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): the
/// nodeSelector and the required node affinity terms (ORed) both hold.
pub fn required_affinity_matches(spec: &PodSpec, node: &Node) -> bool {
    if let Some(sel) = &spec.node_selector {
        let labels = node.metadata.labels.as_ref();
        if sel
            .iter()
            .any(|(k, v)| labels.and_then(|l| l.get(k)) != Some(v))
        {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        Some(sel) => sel
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, node)),
        None => true,
    }
}

fn node_name(node: &Node) -> &str {
    node.metadata.name.as_deref().unwrap_or("")
}

/// Upstream NodeShouldRunDaemonPod: (should run, should continue running).
/// A node whose taints the pod does not tolerate keeps a running pod only
/// while every NoExecute taint is tolerated.
pub fn node_should_run(node: &Node, ds: &DaemonSet) -> (bool, bool) {
    let Some(template) = ds.spec.as_ref().map(|s| &s.template) else {
        return (false, false);
    };
    let mut spec = template.spec.clone().unwrap_or_default();
    let wanted = spec.node_name.as_deref().unwrap_or("");
    if !wanted.is_empty() && wanted != node_name(node) {
        return (false, false);
    }
    add_daemon_tolerations(&mut spec);
    if !required_affinity_matches(&spec, node) {
        return (false, false);
    }
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let hard = untolerated(taints, tolerations, |t| {
        t.effect == "NoSchedule" || t.effect == "NoExecute"
    });
    if hard.is_none() {
        return (true, true);
    }
    let evicting = untolerated(taints, tolerations, |t| t.effect == "NoExecute");
    (false, evicting.is_none())
}

/// The node a daemon pod is for: its nodeName, or before it is bound, the
/// `matchFields metadata.name In [node]` term the controller gave it
/// (upstream GetTargetNodeName).
pub fn target_node_name(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n.to_string());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    for term in terms {
        for r in term.match_fields.iter().flatten() {
            if r.key == NODE_NAME_FIELD && r.operator == "In" {
                let values = r.values.as_deref().unwrap_or_default();
                return (values.len() == 1).then(|| values[0].clone());
            }
        }
    }
    None
}

/// Upstream ReplaceDaemonSetPodNodeNameNodeAffinity: the required node
/// affinity becomes the single term `metadata.name In [node]` (the
/// controller already checked the template's own terms against the node),
/// so the default scheduler binds the pod there.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![NodeSelectorRequirement {
                key: NODE_NAME_FIELD.into(),
                operator: "In".into(),
                values: Some(vec![node.to_string()]),
            }]),
        }],
    };
    let mut affinity = affinity.unwrap_or_default();
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(selector);
    affinity
}

/// The template generation the API server records in an annotation
/// (upstream GetTemplateGeneration); `None` when absent or unparsable.
pub fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.metadata
        .annotations
        .as_ref()?
        .get(TEMPLATE_GENERATION_ANNOTATION)?
        .parse()
        .ok()
}

/// The template new pods are made from (upstream CreatePodTemplate): the
/// daemon tolerations, and the template generation and hash labels.
pub fn pod_template(
    template: &PodTemplateSpec,
    generation: Option<i64>,
    hash: &str,
) -> PodTemplateSpec {
    let mut t = template.clone();
    add_daemon_tolerations(t.spec.get_or_insert_with(Default::default));
    let labels = t
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default);
    if let Some(g) = generation {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
    }
    if !hash.is_empty() {
        labels.insert(HASH_LABEL.into(), hash.to_string());
    }
    t
}

/// Whether `pod` was made from the current template (upstream
/// IsPodUpdated): its hash label, or its template generation label.
pub fn is_pod_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    let label = |k: &str| pod.metadata.labels.as_ref().and_then(|l| l.get(k));
    let generation_matches = generation.is_some_and(|g| {
        label(TEMPLATE_GENERATION_LABEL).map(String::as_str) == Some(&g.to_string())
    });
    let hash_matches = !hash.is_empty() && label(HASH_LABEL).map(String::as_str) == Some(hash);
    hash_matches || generation_matches
}

fn rolling_update(ds: &DaemonSet) -> Option<&k8s_openapi::api::apps::v1::RollingUpdateDaemonSet> {
    let strategy = ds.spec.as_ref()?.update_strategy.as_ref()?;
    if strategy.type_.as_deref().unwrap_or("RollingUpdate") != "RollingUpdate" {
        return None;
    }
    strategy.rolling_update.as_ref()
}

/// Whether the update strategy is OnDelete (RollingUpdate otherwise).
pub fn is_on_delete(ds: &DaemonSet) -> bool {
    ds.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete")
}

/// intstr.GetScaledValueFromIntOrPercent.
fn scaled(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let p: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let v = i64::from(total) * p;
            Ok((if round_up {
                (v + 99).div_euclid(100)
            } else {
                v.div_euclid(100)
            }) as i32)
        }
    }
}

/// maxSurge resolved against `desired` pods, rounding up; 0 when not
/// rolling or not asked (upstream SurgeCount).
pub fn surge_count(ds: &DaemonSet, desired: i32) -> Result<i32, String> {
    match rolling_update(ds).and_then(|r| r.max_surge.as_ref()) {
        Some(v) => scaled(v, desired, true),
        None => Ok(0),
    }
}

/// maxUnavailable resolved against `desired` pods, rounding up (upstream
/// UnavailableCount).
pub fn unavailable_count(ds: &DaemonSet, desired: i32) -> Result<i32, String> {
    match rolling_update(ds).and_then(|r| r.max_unavailable.as_ref()) {
        Some(v) => scaled(v, desired, true),
        None => Ok(0),
    }
}

/// More than one pod per node is allowed during an update.
pub fn allows_surge(ds: &DaemonSet) -> bool {
    surge_count(ds, 1).is_ok_and(|n| n > 0)
}

fn has_node(p: &Pod) -> bool {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

/// Upstream podByCreationTimestampAndPhase: scheduled pods first, then
/// oldest first, then by name.
pub fn by_creation_and_phase(a: &Pod, b: &Pod) -> Ordering {
    has_node(b)
        .cmp(&has_node(a))
        .then_with(|| {
            let t = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            t(a).cmp(&t(b))
        })
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// client-go's flowcontrol.Backoff as the controller uses it for failed
/// daemon pods: 1 s doubling to 15 min per (DaemonSet, node), reset once
/// an entry has been quiet for twice the maximum.
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: Mutex<HashMap<String, (Duration, Instant)>>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(15 * 60))
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` is still backing off since its last [`next`](Self::next).
    pub fn in_backoff(&self, key: &str, now: Instant) -> bool {
        self.entries
            .lock()
            .get(key)
            .is_some_and(|(delay, at)| now.saturating_duration_since(*at) < *delay)
    }

    /// The current delay for `key`.
    pub fn get(&self, key: &str) -> Duration {
        self.entries
            .lock()
            .get(key)
            .map(|(d, _)| *d)
            .unwrap_or_default()
    }

    /// Moves `key` to its next, doubled delay starting `now`.
    pub fn next(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock();
        let e = entries
            .entry(key.to_string())
            .or_insert((Duration::ZERO, now));
        let expired = now.saturating_duration_since(e.1) > self.max * 2;
        e.0 = if e.0.is_zero() || expired {
            self.initial
        } else {
            (e.0 * 2).min(self.max)
        };
        e.1 = now;
    }

    /// Drops entries quiet for twice the maximum.
    pub fn gc(&self, now: Instant) {
        let max = self.max * 2;
        self.entries
            .lock()
            .retain(|_, (_, at)| now.saturating_duration_since(*at) <= max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
    };
    use k8s_openapi::api::core::v1::NodeSpec;

    fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        n.spec = Some(NodeSpec {
            taints: Some(
                taints
                    .iter()
                    .map(|(k, e)| Taint {
                        key: k.to_string(),
                        effect: e.to_string(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        n
    }

    fn ds(spec: PodSpec) -> DaemonSet {
        DaemonSet {
            spec: Some(DaemonSetSpec {
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(spec),
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn daemon_pods_get_upstreams_tolerations() {
        let mut spec = PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("node.kubernetes.io/not-ready".into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(300),
                ..Default::default()
            }]),
            ..Default::default()
        };
        add_daemon_tolerations(&mut spec);
        let tols = spec.tolerations.as_deref().unwrap_or_default();
        assert_eq!(tols.len(), 6);
        // The user's tolerationSeconds on a matching toleration is replaced.
        assert_eq!(tols[0].toleration_seconds, None);
        assert_eq!(s(&tols[5].key), "node.kubernetes.io/unschedulable");
        let mut host = PodSpec {
            host_network: Some(true),
            ..Default::default()
        };
        add_daemon_tolerations(&mut host);
        add_daemon_tolerations(&mut host);
        let tols = host.tolerations.as_deref().unwrap_or_default();
        assert_eq!(tols.len(), 7);
        assert_eq!(s(&tols[6].key), "node.kubernetes.io/network-unavailable");
    }

    #[test]
    fn eligibility_follows_selector_affinity_and_taints() {
        let plain = ds(PodSpec::default());
        let selective = ds(PodSpec {
            node_selector: Some([("role".to_string(), "edge".to_string())].into()),
            ..Default::default()
        });
        let tolerant = ds(PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let edge = node("n1", &[("role", "edge")], &[]);
        let dedicated = node("n2", &[], &[("dedicated", "NoSchedule")]);
        let evicting = node("n3", &[], &[("dedicated", "NoExecute")]);
        let cordoned = node(
            "n4",
            &[],
            &[("node.kubernetes.io/unschedulable", "NoSchedule")],
        );
        let not_ready = node("n5", &[], &[("node.kubernetes.io/not-ready", "NoExecute")]);
        assert_eq!(node_should_run(&edge, &plain), (true, true));
        assert_eq!(node_should_run(&edge, &selective), (true, true));
        assert_eq!(node_should_run(&dedicated, &selective), (false, false));
        // An untolerated NoSchedule taint: no new pod, a running one stays.
        assert_eq!(node_should_run(&dedicated, &plain), (false, true));
        assert_eq!(node_should_run(&evicting, &plain), (false, false));
        assert_eq!(node_should_run(&dedicated, &tolerant), (true, true));
        assert_eq!(node_should_run(&evicting, &tolerant), (true, true));
        // Tolerated by every daemon pod.
        assert_eq!(node_should_run(&cordoned, &plain), (true, true));
        assert_eq!(node_should_run(&not_ready, &plain), (true, true));
        // A template naming another node.
        let named = ds(PodSpec {
            node_name: Some("n2".into()),
            ..Default::default()
        });
        assert_eq!(node_should_run(&edge, &named), (false, false));
    }

    #[test]
    fn required_terms_and_fields() {
        let term = |key: &str, op: &str, v: &str, field: bool| {
            let r = NodeSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: Some(vec![v.into()]),
            };
            NodeSelectorTerm {
                match_expressions: (!field).then(|| vec![r.clone()]),
                match_fields: field.then(|| vec![r]),
            }
        };
        let spec = |terms: Vec<NodeSelectorTerm>| PodSpec {
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: terms,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let n = node("n1", &[("zone", "a"), ("cores", "8")], &[]);
        assert!(required_affinity_matches(
            &spec(vec![term("zone", "In", "a", false)]),
            &n
        ));
        assert!(!required_affinity_matches(
            &spec(vec![term("zone", "In", "b", false)]),
            &n
        ));
        assert!(required_affinity_matches(
            &spec(vec![
                term("zone", "In", "b", false),
                term("cores", "Gt", "4", false)
            ]),
            &n
        ));
        assert!(required_affinity_matches(
            &spec(vec![term("metadata.name", "In", "n1", true)]),
            &n
        ));
        assert!(!required_affinity_matches(
            &spec(vec![term("metadata.name", "In", "n2", true)]),
            &n
        ));
        assert!(!required_affinity_matches(
            &spec(vec![NodeSelectorTerm::default()]),
            &n
        ));
    }

    #[test]
    fn pinning_replaces_required_terms_and_names_the_target() {
        let user = Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![
                        NodeSelectorTerm::default(),
                        NodeSelectorTerm::default(),
                    ],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pinned = pin_to_node(Some(user), "n7");
        let mut pod = Pod {
            spec: Some(PodSpec {
                affinity: Some(pinned.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let terms = &pinned
            .node_affinity
            .as_ref()
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|s| s.node_selector_terms.clone())
            .unwrap_or_default();
        assert_eq!(terms.len(), 1);
        assert_eq!(target_node_name(&pod).as_deref(), Some("n7"));
        if let Some(s) = pod.spec.as_mut() {
            s.node_name = Some("n8".into());
        }
        assert_eq!(target_node_name(&pod).as_deref(), Some("n8"));
        assert_eq!(target_node_name(&Pod::default()), None);
    }

    #[test]
    fn surge_and_unavailability_round_up() {
        let mut d = ds(PodSpec::default());
        let strategy = |type_: &str| {
            Some(DaemonSetUpdateStrategy {
                type_: Some(type_.into()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_surge: Some(IntOrString::String("10%".into())),
                    max_unavailable: Some(IntOrString::String("25%".into())),
                }),
            })
        };
        if let Some(s) = d.spec.as_mut() {
            s.update_strategy = strategy("RollingUpdate");
        }
        assert_eq!(surge_count(&d, 5), Ok(1));
        assert_eq!(unavailable_count(&d, 5), Ok(2));
        assert!(allows_surge(&d));
        if let Some(s) = d.spec.as_mut() {
            s.update_strategy = strategy("OnDelete");
        }
        assert_eq!(surge_count(&d, 5), Ok(0));
        assert!(is_on_delete(&d));
    }

    #[test]
    fn updated_by_hash_or_generation() {
        let mut p = Pod::default();
        p.metadata.labels = Some([(TEMPLATE_GENERATION_LABEL.to_string(), "2".to_string())].into());
        assert!(is_pod_updated(&p, "abc", Some(2)));
        assert!(!is_pod_updated(&p, "abc", Some(3)));
        p.metadata.labels = Some([(HASH_LABEL.to_string(), "abc".to_string())].into());
        assert!(is_pod_updated(&p, "abc", Some(3)));
        assert!(!is_pod_updated(&p, "", None));
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(3));
        let t0 = Instant::now();
        assert!(!b.in_backoff("k", t0));
        b.next("k", t0);
        assert_eq!(b.get("k"), Duration::from_secs(1));
        assert!(b.in_backoff("k", t0 + Duration::from_millis(500)));
        assert!(!b.in_backoff("k", t0 + Duration::from_secs(2)));
        b.next("k", t0 + Duration::from_secs(2));
        assert_eq!(b.get("k"), Duration::from_secs(2));
        b.next("k", t0 + Duration::from_secs(3));
        assert_eq!(b.get("k"), Duration::from_secs(3));
        // Quiet for more than twice the cap: starts over.
        b.next("k", t0 + Duration::from_secs(20));
        assert_eq!(b.get("k"), Duration::from_secs(1));
    }
}
