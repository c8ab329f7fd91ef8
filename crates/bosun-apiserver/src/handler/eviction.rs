//! `pods/{name}/eviction`: a delete that respects PodDisruptionBudgets, as
//! upstream's eviction registry does (what `kubectl drain` relies on).
//!
//! A pod that is not running yet, has finished or is already terminating is
//! deleted without looking at budgets. Otherwise the one budget whose
//! selector matches the pod must allow a disruption: the eviction then takes
//! one from `status.disruptionsAllowed` and records the pod under
//! `status.disruptedPods` (the disruption controller confirms it later),
//! all in one status write that is retried on conflict. A budget the
//! controller has not observed yet, or one with no disruption left, answers
//! 429 with a `DisruptionBudget` cause. Pods that are not ready may go
//! without spending the budget when the budget is healthy (the default
//! `IfHealthyBudget` policy) or always (`AlwaysAllow`).

use axum::response::Response;
use bosun_api::registry::ResourceDef;
use http::StatusCode;
use serde_json::{json, Value};

use super::subresource::status_success;
use super::{json_response, Handler, RequestContext};
use crate::error::{ApiError, Result};
use crate::objects;
use crate::rest::DeleteOptions;

/// Upstream's cap on evictions the disruption controller has not confirmed.
const MAX_DISRUPTED_PODS: usize = 2000;

impl Handler {
    pub(super) async fn evict(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let body = ctx.body_value()?;
        let delete_options = body.get("deleteOptions").cloned();
        let opts = DeleteOptions::from_parts(delete_options.as_ref(), &ctx.query)?;
        let ns = ctx.namespace().unwrap_or("");
        let pod = self
            .rest
            .get_latest(def, ctx.namespace(), ctx.name())
            .await?
            .ok_or_else(|| ApiError::not_found(def.group, def.plural, ctx.name()))?;
        if !can_ignore_budgets(&pod) {
            let pdbs = bosun_api::registry::lookup("policy", "v1", "poddisruptionbudgets")
                .ok_or_else(|| ApiError::internal("poddisruptionbudgets not registered"))?;
            let budgets = self.budgets_of(pdbs, ns, &pod);
            match budgets.as_slice() {
                [] => {}
                [budget] => {
                    self.spend_budget(ctx, pdbs, &pod, budget, opts.dry_run)
                        .await?
                }
                _ => {
                    return Err(ApiError::internal(
                        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                    ))
                }
            }
        }
        self.rest
            .delete(def, ctx.namespace(), ctx.name(), &opts)
            .await?;
        Ok(json_response(StatusCode::CREATED, &status_success(201)))
    }

    /// Budgets (`pdbs`) in `ns` whose selector matches `pod`.
    fn budgets_of(&self, pdbs: &'static ResourceDef, ns: &str, pod: &Value) -> Vec<Value> {
        let state = self.rest.cache.read();
        let mut out = Vec::new();
        for (_, entry) in state.range_entries(pdbs, Some(ns), None) {
            let budget = entry.value();
            let selector = &budget["spec"]["selector"];
            // A budget without a selector selects nothing (policy/v1).
            if selector.is_null() {
                continue;
            }
            let Ok(selector) = bosun_core::from_label_selector(selector) else {
                continue;
            };
            if selector.matches_object(pod) {
                out.push(budget);
            }
        }
        out
    }

    /// Takes one disruption from `budget` for `pod`, or refuses.
    async fn spend_budget(
        &self,
        ctx: &RequestContext,
        pdbs: &'static ResourceDef,
        pod: &Value,
        budget: &Value,
        dry_run: bool,
    ) -> Result<()> {
        let status = &budget["status"];
        if !is_ready(pod) {
            let always = budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow";
            let desired = status["desiredHealthy"].as_i64().unwrap_or(0);
            let current = status["currentHealthy"].as_i64().unwrap_or(0);
            if always || (desired > 0 && current >= desired) {
                return Ok(());
            }
        }
        let name = objects::name(budget).to_string();
        let pod_name = objects::name(pod).to_string();
        let mut opts = ctx.write_options()?;
        opts.dry_run = dry_run;
        self.rest
            .update(
                pdbs,
                ctx.namespace(),
                &name,
                Some("status"),
                &opts,
                |current| {
                    let mut next = current.clone();
                    take_disruption(&mut next, &pod_name)?;
                    objects::meta_mut(&mut next).remove("resourceVersion");
                    Ok((next, Vec::new()))
                },
            )
            .await?;
        Ok(())
    }
}

/// Pods that are not running (pending, finished) or already terminating
/// cannot disrupt anything.
fn can_ignore_budgets(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed" | "Pending")
    ) || objects::is_terminating(pod)
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Checks `budget` (its latest state) and takes one disruption for `pod`.
fn take_disruption(budget: &mut Value, pod: &str) -> Result<()> {
    let name = objects::name(budget).to_string();
    let generation = objects::meta(budget)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status = &budget["status"];
    let observed = status["observedGeneration"].as_i64().unwrap_or(0);
    if observed < generation {
        return Err(blocked(format!(
            "The disruption budget {name} is still being processed by the server."
        )));
    }
    let allowed = status["disruptionsAllowed"].as_i64().unwrap_or(0);
    if allowed < 0 {
        return Err(ApiError::forbidden(format!(
            "poddisruptionbudgets.policy \"{name}\" is forbidden: pdb disruptions allowed is negative"
        )));
    }
    let disrupted = status["disruptedPods"].as_object().map_or(0, |m| m.len());
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(ApiError::forbidden(format!(
            "poddisruptionbudgets.policy \"{name}\" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller"
        )));
    }
    if allowed == 0 {
        let desired = status["desiredHealthy"].as_i64().unwrap_or(0);
        let current = status["currentHealthy"].as_i64().unwrap_or(0);
        return Err(blocked(format!(
            "The disruption budget {name} needs {desired} healthy pods and has {current} currently"
        )));
    }
    budget["status"]["disruptionsAllowed"] = json!(allowed - 1);
    if !budget["status"]["disruptedPods"].is_object() {
        budget["status"]["disruptedPods"] = json!({});
    }
    budget["status"]["disruptedPods"][pod] = json!(objects::now_rfc3339());
    Ok(())
}

/// Upstream's refusal: 429 with a `DisruptionBudget` cause.
fn blocked(cause: String) -> ApiError {
    let mut err = ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
    );
    err.details = Some(json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]}));
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(generation: i64, observed: i64, allowed: i64) -> Value {
        json!({
            "metadata": {"name": "web", "generation": generation},
            "status": {"observedGeneration": observed, "disruptionsAllowed": allowed,
                       "desiredHealthy": 2, "currentHealthy": 2},
        })
    }

    #[test]
    fn takes_one_disruption_and_records_the_pod() {
        let mut b = budget(1, 1, 2);
        take_disruption(&mut b, "web-0").unwrap();
        assert_eq!(b["status"]["disruptionsAllowed"], 1);
        assert!(b["status"]["disruptedPods"]["web-0"].is_string());
    }

    #[test]
    fn refuses_exhausted_unobserved_and_negative_budgets() {
        let err = take_disruption(&mut budget(1, 1, 0), "p").unwrap_err();
        assert_eq!((err.code, err.reason), (429, "TooManyRequests"));
        let cause = err.details.unwrap()["causes"][0]["message"].clone();
        assert_eq!(
            cause,
            "The disruption budget web needs 2 healthy pods and has 2 currently"
        );
        let err = take_disruption(&mut budget(2, 1, 5), "p").unwrap_err();
        assert_eq!(err.code, 429);
        assert!(err
            .details
            .unwrap()
            .to_string()
            .contains("still being processed"));
        let err = take_disruption(&mut budget(1, 1, -1), "p").unwrap_err();
        assert_eq!(err.code, 403);
    }

    #[test]
    fn pending_finished_and_terminating_pods_skip_budgets() {
        assert!(can_ignore_budgets(&json!({"status": {"phase": "Pending"}})));
        assert!(can_ignore_budgets(
            &json!({"status": {"phase": "Succeeded"}})
        ));
        assert!(can_ignore_budgets(
            &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running"}})
        ));
        assert!(!can_ignore_budgets(
            &json!({"status": {"phase": "Running"}})
        ));
    }
}
