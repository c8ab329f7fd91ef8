//! The DaemonSet controller against the fake API.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use super::fixtures::{meta, ready_node, selector, template, NS};
use super::{run, settle, wait_until, FakeApi};
use crate::daemonset::util::target_node_name;

const WAIT: Duration = Duration::from_secs(30);

fn nodes_with_pods(api: &FakeApi) -> Vec<String> {
    let mut nodes: Vec<String> = api
        .list::<Pod>()
        .iter()
        .filter_map(target_node_name)
        .collect();
    nodes.sort();
    nodes
}

#[tokio::test(start_paused = true)]
async fn one_pod_per_eligible_node_and_new_nodes_get_one() {
    let api = FakeApi::new();
    api.add(&ready_node("n1"));
    api.add(&ready_node("n2"));
    let mut tainted = ready_node("n3");
    tainted.spec.get_or_insert_with(Default::default).taints = Some(vec![Taint {
        key: "dedicated".into(),
        value: Some("gpu".into()),
        effect: "NoSchedule".into(),
        ..Default::default()
    }]);
    api.add(&tainted);
    api.add(&DaemonSet {
        metadata: meta(NS, "agent"),
        spec: Some(DaemonSetSpec {
            selector: selector(&[("app", "agent")]),
            template: template(&[("app", "agent")], "agent:1"),
            ..Default::default()
        }),
        ..Default::default()
    });
    let _m = run(&api, &["daemonset"]);
    wait_until(&api, "pods on n1 and n2", WAIT, |a| {
        nodes_with_pods(a) == ["n1", "n2"]
    })
    .await;
    settle(Duration::from_secs(5)).await;
    assert_eq!(nodes_with_pods(&api), ["n1", "n2"], "tainted n3 skipped");
    // Daemon pods tolerate the node-condition taints.
    let pod = &api.list::<Pod>()[0];
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    assert!(tolerations
        .iter()
        .any(|t| t.key.as_deref() == Some("node.kubernetes.io/unreachable")));
    api.add(&ready_node("n4"));
    wait_until(&api, "a pod on the new node", WAIT, |a| {
        nodes_with_pods(a) == ["n1", "n2", "n4"]
    })
    .await;
    assert_eq!(api.actions_on("create", "pods").len(), 3);
    // The taint goes: n3 gets its pod too.
    api.modify::<Node>("", "n3", |n| {
        n.spec.get_or_insert_with(Default::default).taints = None;
    });
    wait_until(&api, "a pod on n3", WAIT, |a| {
        nodes_with_pods(a) == ["n1", "n2", "n3", "n4"]
    })
    .await;
}
