//! The Job's policies as pure functions: podFailurePolicy matching,
//! successPolicy matching, and the pod re-creation back-off.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{PodFailurePolicy, SuccessPolicy};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::indexes::Intervals;

/// A podFailurePolicy rule's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FailJob,
    FailIndex,
    Ignore,
    Count,
}

/// What the pod failure policy says about one failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Set when a FailJob rule matched: the Job fails with this message.
    pub fail_job: Option<String>,
    /// Whether the failure counts towards backoffLimit.
    pub counts: bool,
    /// The matched rule's action, if any rule matched.
    pub action: Option<Action>,
}

impl Verdict {
    const DEFAULT: Verdict = Verdict {
        fail_job: None,
        counts: true,
        action: None,
    };
}

/// Upstream's matchPodFailurePolicy: the first rule that matches the
/// pod's container exit codes or conditions decides.
pub fn match_pod_failure_policy(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Verdict {
    let Some(policy) = policy else {
        return Verdict::DEFAULT;
    };
    let status = pod.status.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (index, rule) in policy.rules.iter().enumerate() {
        let action = match rule.action.as_str() {
            "FailJob" => Action::FailJob,
            "FailIndex" => Action::FailIndex,
            "Ignore" => Action::Ignore,
            "Count" => Action::Count,
            _ => continue,
        };
        let message = if let Some(req) = &rule.on_exit_codes {
            let matching = |list: &Option<Vec<ContainerStatus>>| -> Option<(String, i32)> {
                list.iter().flatten().find_map(|c| {
                    if req.container_name.as_ref().is_some_and(|n| *n != c.name) {
                        return None;
                    }
                    let code = c.state.as_ref()?.terminated.as_ref()?.exit_code;
                    if code == 0 {
                        return None;
                    }
                    let listed = req.values.contains(&code);
                    let hit = match req.operator.as_str() {
                        "In" => listed,
                        "NotIn" => !listed,
                        _ => false,
                    };
                    hit.then(|| (c.name.clone(), code))
                })
            };
            let Some((container, code)) = matching(&status.container_statuses)
                .or_else(|| matching(&status.init_container_statuses))
            else {
                continue;
            };
            format!(
                "Container {container} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {index}",
                rule.action
            )
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let hit = patterns.iter().find_map(|p| {
                status
                    .conditions
                    .iter()
                    .flatten()
                    .find(|c| c.type_ == p.type_ && c.status == p.status)
            });
            let Some(cond) = hit else { continue };
            format!(
                "Pod {ns}/{name} has condition {} matching {} rule at index {index}",
                cond.type_, rule.action
            )
        } else {
            continue;
        };
        return match action {
            Action::Ignore => Verdict {
                fail_job: None,
                counts: false,
                action: Some(action),
            },
            Action::FailJob => Verdict {
                fail_job: Some(message),
                counts: true,
                action: Some(action),
            },
            Action::FailIndex | Action::Count => Verdict {
                fail_job: None,
                counts: true,
                action: Some(action),
            },
        };
    }
    Verdict::DEFAULT
}

/// Upstream's matchSuccessPolicy: the message of the first rule the
/// succeeded indexes satisfy.
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &Intervals,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        let met = if let Some(indexes) = &rule.succeeded_indexes {
            let required = Intervals::parse(indexes, completions);
            if required.is_empty() {
                continue;
            }
            let matched = required.overlap(succeeded);
            match rule.succeeded_count {
                Some(n) => matched >= n,
                None => matched == required.total(),
            }
        } else {
            rule.succeeded_count.is_some_and(|n| succeeded.total() >= n)
        };
        if met {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

/// Upstream's DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);

/// The pause before re-creating pods after `failures` failures in a row:
/// 10 s doubling per further failure, at most 6 minutes.
pub fn backoff_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = (failures - 1).min(16);
    BACKOFF_BASE
        .checked_mul(1u32 << exp)
        .unwrap_or(BACKOFF_MAX)
        .min(BACKOFF_MAX)
}

/// How long to wait from `now` when the last failure was at `last`.
pub fn backoff_remaining(failures: u32, last: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    let delay = backoff_delay(failures);
    let elapsed = now.duration_since(last);
    if elapsed.is_negative() {
        return delay;
    }
    delay.saturating_sub(elapsed.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{
        PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
        PodFailurePolicyRule, SuccessPolicyRule,
    };
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, PodCondition, PodStatus,
    };

    fn failed_pod(exit_codes: &[(&str, i32)], conditions: &[&str]) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("ns".into());
        p.metadata.name = Some("p".into());
        p.status = Some(PodStatus {
            phase: Some("Failed".into()),
            container_statuses: Some(
                exit_codes
                    .iter()
                    .map(|(n, c)| ContainerStatus {
                        name: n.to_string(),
                        state: Some(ContainerState {
                            terminated: Some(ContainerStateTerminated {
                                exit_code: *c,
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
            conditions: Some(
                conditions
                    .iter()
                    .map(|t| PodCondition {
                        type_: t.to_string(),
                        status: "True".into(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        p
    }

    fn exit_rule(
        action: &str,
        op: &str,
        values: &[i32],
        container: Option<&str>,
    ) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: container.map(String::from),
                operator: op.into(),
                values: values.to_vec(),
            }),
            on_pod_conditions: None,
        }
    }

    fn cond_rule(action: &str, cond: &str) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: None,
            on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                type_: cond.into(),
                status: "True".into(),
            }]),
        }
    }

    #[test]
    fn pod_failure_policy_table() {
        let policy = PodFailurePolicy {
            rules: vec![
                cond_rule("Ignore", "DisruptionTarget"),
                exit_rule("FailJob", "In", &[42], Some("main")),
                exit_rule("Count", "In", &[3], None),
                exit_rule("FailIndex", "NotIn", &[1, 2, 3], None),
            ],
        };
        let p = Some(&policy);
        // Disruption: ignored, not counted.
        let v = match_pod_failure_policy(p, &failed_pod(&[("main", 1)], &["DisruptionTarget"]));
        assert_eq!((v.counts, v.action), (false, Some(Action::Ignore)));
        // FailJob with upstream's message.
        let v = match_pod_failure_policy(p, &failed_pod(&[("main", 42)], &[]));
        assert_eq!(
            v.fail_job.as_deref(),
            Some("Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1")
        );
        // The container name must match.
        let v = match_pod_failure_policy(p, &failed_pod(&[("side", 42)], &[]));
        assert_eq!(v.action, Some(Action::FailIndex));
        let v = match_pod_failure_policy(p, &failed_pod(&[("side", 3)], &[]));
        assert_eq!((v.counts, v.action), (true, Some(Action::Count)));
        // No rule matches: counted, no action.
        let v = match_pod_failure_policy(p, &failed_pod(&[("main", 1)], &[]));
        assert_eq!(v, Verdict::DEFAULT);
        // Exit code 0 never matches NotIn.
        let v = match_pod_failure_policy(p, &failed_pod(&[("main", 0)], &[]));
        assert_eq!(v.action, None);
        // No policy: counted.
        assert_eq!(
            match_pod_failure_policy(None, &failed_pod(&[], &[])),
            Verdict::DEFAULT
        );
        // Condition FailJob message.
        let policy = PodFailurePolicy {
            rules: vec![cond_rule("FailJob", "ConfigIssue")],
        };
        let v = match_pod_failure_policy(Some(&policy), &failed_pod(&[], &["ConfigIssue"]));
        assert_eq!(
            v.fail_job.as_deref(),
            Some("Pod ns/p has condition ConfigIssue matching FailJob rule at index 0")
        );
    }

    #[test]
    fn success_policy_table() {
        let rule = |ix: Option<&str>, n: Option<i32>| SuccessPolicyRule {
            succeeded_indexes: ix.map(String::from),
            succeeded_count: n,
        };
        let policy = SuccessPolicy {
            rules: vec![
                rule(Some("0,1"), None),
                rule(Some("2-9"), Some(3)),
                rule(None, Some(6)),
            ],
        };
        let p = Some(&policy);
        let s = |x: &str| Intervals::parse(x, 10);
        assert_eq!(match_success_policy(p, 10, &s("")), None);
        assert_eq!(match_success_policy(p, 10, &s("0")), None);
        assert_eq!(
            match_success_policy(p, 10, &s("0,1")).as_deref(),
            Some("Matched rules at index 0")
        );
        assert_eq!(match_success_policy(p, 10, &s("2,5")), None);
        assert_eq!(
            match_success_policy(p, 10, &s("2,5,9")).as_deref(),
            Some("Matched rules at index 1")
        );
        assert_eq!(match_success_policy(p, 10, &s("0,2,4")), None);
        assert_eq!(match_success_policy(None, 10, &s("0-9")), None);
        let only_count = SuccessPolicy {
            rules: vec![rule(None, Some(2))],
        };
        assert_eq!(
            match_success_policy(Some(&only_count), 10, &s("3,7")).as_deref(),
            Some("Matched rules at index 0")
        );
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_to_six_minutes() {
        let secs: Vec<u64> = (0..8).map(|n| backoff_delay(n).as_secs()).collect();
        assert_eq!(secs, [0, 10, 20, 40, 80, 160, 320, 360]);
        assert_eq!(backoff_delay(1000), BACKOFF_MAX);
        let now = jiff::Timestamp::from_second(1_000).expect("ts");
        let last = jiff::Timestamp::from_second(996).expect("ts");
        assert_eq!(backoff_remaining(1, last, now), Duration::from_secs(6));
        assert_eq!(
            backoff_remaining(1, jiff::Timestamp::from_second(900).expect("ts"), now),
            Duration::ZERO
        );
    }
}
