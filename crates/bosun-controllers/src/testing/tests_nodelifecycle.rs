//! The node lifecycle and taint-eviction controllers against the fake API,
//! in paused time.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use tokio::time::Instant;

use super::fixtures::{meta, ready_node, template, NS};
use super::{run, settle, wait_until, FakeApi};
use crate::nodelifecycle::UNREACHABLE;

fn ready_of(node: &Node) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone())
        .unwrap_or_default()
}

fn has_unreachable_taint(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| {
            t.iter()
                .any(|t| t.key == UNREACHABLE && t.effect == "NoExecute")
        })
}

fn lease(node: &str) -> Lease {
    Lease {
        metadata: meta("kube-node-lease", node),
        spec: Some(LeaseSpec {
            holder_identity: Some(node.into()),
            lease_duration_seconds: Some(40),
            renew_time: Some(MicroTime(crate::clock::now())),
            ..Default::default()
        }),
    }
}

fn renew(api: &FakeApi, node: &str) {
    let now = MicroTime(crate::clock::now());
    api.modify::<Lease>("kube-node-lease", node, |l| {
        l.spec.get_or_insert_with(Default::default).renew_time = Some(now);
    });
}

#[tokio::test(start_paused = true)]
async fn a_node_whose_lease_stops_is_marked_unknown_and_tainted() {
    let api = FakeApi::new();
    // Two nodes: with every node of a zone down the controller stops
    // tainting (full disruption), as upstream.
    for node in ["n1", "n2"] {
        api.add(&ready_node(node));
        api.add(&lease(node));
    }
    let kubelet_n2 = {
        let api = api.clone();
        tokio::spawn(async move {
            loop {
                settle(Duration::from_secs(10)).await;
                renew(&api, "n2");
            }
        })
    };
    let _m = run(&api, &["nodelifecycle"]);
    // n1's kubelet renews every 10 s for two minutes: the node stays Ready.
    for _ in 0..12 {
        settle(Duration::from_secs(10)).await;
        renew(&api, "n1");
    }
    let node = api.get::<Node>("", "n1").expect("node");
    assert_eq!(ready_of(&node), "True");
    assert!(!has_unreachable_taint(&node));
    // The kubelet stops.
    let stopped = Instant::now();
    wait_until(&api, "Ready Unknown", Duration::from_secs(120), |a| {
        a.get::<Node>("", "n1")
            .is_some_and(|n| ready_of(&n) == "Unknown")
    })
    .await;
    // The default grace period is 50 s.
    assert!(
        stopped.elapsed() >= Duration::from_secs(50),
        "{:?}",
        stopped.elapsed()
    );
    wait_until(
        &api,
        "the unreachable NoExecute taint",
        Duration::from_secs(60),
        |a| {
            a.get::<Node>("", "n1")
                .is_some_and(|n| has_unreachable_taint(&n))
        },
    )
    .await;
    let n2 = api.get::<Node>("", "n2").expect("n2");
    assert_eq!(ready_of(&n2), "True");
    assert!(!has_unreachable_taint(&n2));
    kubelet_n2.abort();
}

fn pod_on_n1(name: &str, toleration_seconds: Option<i64>) -> Pod {
    let mut pod = Pod {
        metadata: meta(NS, name),
        spec: template(&[], "nginx").spec,
        ..Default::default()
    };
    if let Some(s) = pod.spec.as_mut() {
        s.node_name = Some("n1".into());
        s.tolerations = toleration_seconds.map(|secs| {
            vec![Toleration {
                key: Some(UNREACHABLE.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(secs),
                ..Default::default()
            }]
        });
    }
    pod
}

#[tokio::test(start_paused = true)]
async fn taint_eviction_waits_for_toleration_seconds() {
    let api = FakeApi::new();
    let mut node = ready_node("n1");
    node.spec.get_or_insert_with(Default::default).taints = Some(vec![Taint {
        key: UNREACHABLE.into(),
        effect: "NoExecute".into(),
        time_added: Some(Time(crate::clock::now())),
        ..Default::default()
    }]);
    api.add(&node);
    api.add(&pod_on_n1("intolerant", None));
    api.add(&pod_on_n1("patient", Some(30)));
    api.add(&pod_on_n1("forever", Some(i64::from(u32::MAX))));
    let start = Instant::now();
    let _m = run(&api, &["taint-eviction-controller"]);
    wait_until(&api, "intolerant evicted", Duration::from_secs(5), |a| {
        a.get::<Pod>(NS, "intolerant").is_none()
    })
    .await;
    settle(Duration::from_secs(20)).await;
    assert!(
        api.get::<Pod>(NS, "patient").is_some(),
        "evicted before tolerationSeconds"
    );
    wait_until(&api, "patient evicted", Duration::from_secs(30), |a| {
        a.get::<Pod>(NS, "patient").is_none()
    })
    .await;
    assert!(start.elapsed() >= Duration::from_secs(30));
    settle(Duration::from_secs(120)).await;
    assert!(api.get::<Pod>(NS, "forever").is_some());
    // Each eviction marks the pod's DisruptionTarget condition first.
    let patches = api.actions_on("patch", "pods/status");
    let deletes = api.actions_on("delete", "pods");
    assert_eq!(patches.len(), 2);
    assert_eq!(deletes.len(), 2);
}
