//! The Endpoints, EndpointSlice, disruption, ResourceQuota and
//! ServiceAccount controllers against the fake API.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{
    Endpoints, Pod, PodIP, ResourceQuota, ResourceQuotaSpec, Service, ServiceAccount, ServicePort,
    ServiceSpec,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::fixtures::{labels, meta, namespace, selector, set_phase, set_running, template, NS};
use super::{run, wait_until, FakeApi};
use crate::endpoints::slices::SERVICE_NAME;

const WAIT: Duration = Duration::from_secs(30);

/// A pod of app=web on n1 with `ip`, Running and Ready=`ready`.
fn web_pod(api: &FakeApi, name: &str, ip: &str, ready: bool, owner: Option<&ReplicaSet>) {
    let mut pod = Pod {
        metadata: meta(NS, name),
        spec: template(&[], "nginx").spec,
        ..Default::default()
    };
    pod.metadata.labels = Some(labels(&[("app", "web")]));
    pod.metadata.owner_references =
        owner.map(|rs| vec![crate::controller_ref::controller_reference(rs)]);
    if let Some(s) = pod.spec.as_mut() {
        s.node_name = Some("n1".into());
    }
    set_running(&mut pod, ready);
    if let Some(s) = pod.status.as_mut() {
        s.pod_ip = Some(ip.into());
        s.pod_ips = Some(vec![PodIP { ip: ip.into() }]);
    }
    api.add(&pod);
}

#[tokio::test(start_paused = true)]
async fn endpoints_list_ready_and_not_ready_pods_apart() {
    let api = FakeApi::new();
    api.add(&Service {
        metadata: meta(NS, "web"),
        spec: Some(ServiceSpec {
            selector: Some(labels(&[("app", "web")])),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(IntOrString::Int(8080)),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
    web_pod(&api, "a", "10.0.0.1", true, None);
    web_pod(&api, "b", "10.0.0.2", false, None);
    let _m = run(&api, &["endpoint", "endpointslice"]);
    let ips = |list: Option<&Vec<k8s_openapi::api::core::v1::EndpointAddress>>| -> Vec<String> {
        list.into_iter().flatten().map(|a| a.ip.clone()).collect()
    };
    wait_until(&api, "Endpoints web", WAIT, |a| {
        a.get::<Endpoints>(NS, "web").is_some()
    })
    .await;
    let ep = api.get::<Endpoints>(NS, "web").expect("endpoints");
    let subsets = ep.subsets.unwrap_or_default();
    assert_eq!(subsets.len(), 1);
    assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.0.0.1"]);
    assert_eq!(ips(subsets[0].not_ready_addresses.as_ref()), ["10.0.0.2"]);
    assert_eq!(subsets[0].ports.as_ref().map(|p| p[0].port), Some(8080));
    wait_until(&api, "an EndpointSlice", WAIT, |a| {
        !a.list::<EndpointSlice>().is_empty()
    })
    .await;
    let slice = api.list::<EndpointSlice>().remove(0);
    assert_eq!(
        slice.labels().get(SERVICE_NAME).map(String::as_str),
        Some("web")
    );
    let mut seen: Vec<(String, Option<bool>)> = slice
        .endpoints
        .iter()
        .map(|e| {
            (
                e.addresses[0].clone(),
                e.conditions.as_ref().and_then(|c| c.ready),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("10.0.0.1".to_string(), Some(true)),
            ("10.0.0.2".to_string(), Some(false))
        ]
    );
    // b becomes ready: it moves to the ready addresses.
    api.modify::<Pod>(NS, "b", |p| set_running(p, true));
    wait_until(&api, "both addresses ready", WAIT, |a| {
        a.get::<Endpoints>(NS, "web")
            .and_then(|e| e.subsets)
            .is_some_and(|s| s[0].addresses.as_ref().map(Vec::len) == Some(2))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn disruption_budget_status_counts_healthy_pods() {
    let api = FakeApi::new();
    let rs = api.add(&ReplicaSet {
        metadata: meta(NS, "web"),
        spec: Some(ReplicaSetSpec {
            replicas: Some(3),
            selector: selector(&[("app", "web")]),
            template: Some(template(&[("app", "web")], "nginx")),
            ..Default::default()
        }),
        ..Default::default()
    });
    for (name, ip) in [("a", "10.0.0.1"), ("b", "10.0.0.2"), ("c", "10.0.0.3")] {
        web_pod(&api, name, ip, true, Some(&rs));
    }
    api.add(&PodDisruptionBudget {
        metadata: meta(NS, "web"),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(2)),
            selector: Some(selector(&[("app", "web")])),
            ..Default::default()
        }),
        ..Default::default()
    });
    let _m = run(&api, &["disruption"]);
    let status = |a: &FakeApi| {
        a.get::<PodDisruptionBudget>(NS, "web")
            .and_then(|p| p.status)
            .map(|s| {
                (
                    s.current_healthy,
                    s.desired_healthy,
                    s.expected_pods,
                    s.disruptions_allowed,
                )
            })
    };
    wait_until(&api, "one disruption allowed", WAIT, |a| {
        status(a) == Some((3, 2, 3, 1))
    })
    .await;
    api.modify::<Pod>(NS, "c", |p| set_running(p, false));
    wait_until(&api, "no disruption allowed", WAIT, |a| {
        status(a) == Some((2, 2, 3, 0))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn quota_status_counts_the_namespace_pods() {
    let api = FakeApi::new();
    api.add(&ResourceQuota {
        metadata: meta(NS, "q"),
        spec: Some(ResourceQuotaSpec {
            hard: Some(
                [("pods".to_string(), Quantity("5".into()))]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    });
    web_pod(&api, "a", "10.0.0.1", true, None);
    web_pod(&api, "b", "10.0.0.2", true, None);
    let _m = run(&api, &["resourcequota"]);
    let used = |a: &FakeApi| {
        a.get::<ResourceQuota>(NS, "q")
            .and_then(|q| q.status)
            .and_then(|s| s.used)
            .and_then(|u| u.get("pods").cloned())
            .map(|q| q.0)
    };
    wait_until(&api, "used pods 2", WAIT, |a| {
        used(a).as_deref() == Some("2")
    })
    .await;
    let hard = api
        .get::<ResourceQuota>(NS, "q")
        .and_then(|q| q.status)
        .and_then(|s| s.hard)
        .and_then(|h| h.get("pods").cloned());
    assert_eq!(hard, Some(Quantity("5".into())));
    // A finished pod no longer counts.
    api.modify::<Pod>(NS, "b", |p| set_phase(p, "Succeeded"));
    wait_until(&api, "used pods 1", WAIT, |a| {
        used(a).as_deref() == Some("1")
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_new_namespace_gets_its_default_service_account() {
    let api = FakeApi::new();
    let _m = run(&api, &["serviceaccount"]);
    api.add(&namespace("team"));
    wait_until(&api, "team/default", WAIT, |a| {
        a.get::<ServiceAccount>("team", "default").is_some()
    })
    .await;
    // Deleted by someone: it comes back.
    api.remove::<ServiceAccount>("team", "default");
    wait_until(&api, "team/default again", WAIT, |a| {
        a.get::<ServiceAccount>("team", "default").is_some()
    })
    .await;
    let creates = api.actions_on("create", "serviceaccounts");
    assert_eq!(creates.len(), 2);
    assert!(creates
        .iter()
        .all(|c| c.namespace == "team" && c.name == "default"));
}
