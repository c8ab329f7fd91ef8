//! The ReplicaSet controller against the fake API.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::fixtures::{labels, meta, selector, set_running, template, NS};
use super::{run, settle, wait_until, FakeApi};

const WAIT: Duration = Duration::from_secs(30);

fn replicaset(name: &str, replicas: i32) -> ReplicaSet {
    ReplicaSet {
        metadata: meta(NS, name),
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            selector: selector(&[("app", name)]),
            template: Some(template(&[("app", name)], "nginx")),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn owned_by(api: &FakeApi, rs: &ReplicaSet) -> Vec<Pod> {
    api.list::<Pod>()
        .into_iter()
        .filter(|p| crate::informer::controller_uid(p) == rs.metadata.uid.as_deref())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn creates_replicas_owned_by_the_set() {
    let api = FakeApi::new();
    let rs = api.add(&replicaset("web", 3));
    let _m = run(&api, &["replicaset"]);
    wait_until(&api, "3 pods", WAIT, |a| owned_by(a, &rs).len() == 3).await;
    for pod in owned_by(&api, &rs) {
        let owner = &pod.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", "web")
        );
        assert_eq!(owner.block_owner_deletion, Some(true));
        assert_eq!(pod.labels().get("app").map(String::as_str), Some("web"));
        assert!(pod.name_any().starts_with("web-"));
    }
    wait_until(&api, "status.replicas 3", WAIT, |a| {
        a.get::<ReplicaSet>(NS, "web")
            .and_then(|r| r.status)
            .is_some_and(|s| s.replicas == 3)
    })
    .await;
    settle(Duration::from_secs(5)).await;
    assert_eq!(api.actions_on("create", "pods").len(), 3);
}

#[tokio::test(start_paused = true)]
async fn scaling_down_deletes_the_least_valuable_pod() {
    let api = FakeApi::new();
    let rs = api.add(&replicaset("web", 3));
    let _m = run(&api, &["replicaset"]);
    wait_until(&api, "3 pods", WAIT, |a| owned_by(a, &rs).len() == 3).await;
    let pods = owned_by(&api, &rs);
    // Two pods scheduled, running and ready; the third still pending.
    for p in &pods[..2] {
        api.modify::<Pod>(NS, &p.name_any(), |p| {
            p.spec.get_or_insert_with(Default::default).node_name = Some("n1".into());
            set_running(p, true);
        });
    }
    let pending = pods[2].name_any();
    api.modify::<ReplicaSet>(NS, "web", |r| {
        r.spec.get_or_insert_with(Default::default).replicas = Some(2)
    });
    wait_until(&api, "2 pods", WAIT, |a| owned_by(a, &rs).len() == 2).await;
    let deletes = api.actions_on("delete", "pods");
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].name, pending);
    assert!(api.get::<Pod>(NS, &pending).is_none());
}

#[tokio::test(start_paused = true)]
async fn adopts_a_matching_orphan_instead_of_creating() {
    let api = FakeApi::new();
    let mut orphan = Pod {
        metadata: meta(NS, "stray"),
        spec: template(&[], "nginx").spec,
        ..Default::default()
    };
    orphan.metadata.labels = Some(labels(&[("app", "web")]));
    api.add(&orphan);
    let rs = api.add(&replicaset("web", 2));
    let _m = run(&api, &["replicaset"]);
    wait_until(&api, "2 owned pods", WAIT, |a| owned_by(a, &rs).len() == 2).await;
    let adopted = api.get::<Pod>(NS, "stray").expect("orphan kept");
    assert_eq!(
        crate::informer::controller_uid(&adopted),
        rs.metadata.uid.as_deref()
    );
    assert_eq!(api.actions_on("patch", "pods").len(), 1);
    settle(Duration::from_secs(5)).await;
    assert_eq!(api.actions_on("create", "pods").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lagging_watch_does_not_cause_double_creation() {
    let api = FakeApi::new();
    // Pod changes reach the informers 5 s after they happened.
    api.set_watch_delay("pods", Duration::from_secs(5));
    let rs = api.add(&replicaset("web", 4));
    let _m = run(&api, &["replicaset"]);
    wait_until(&api, "4 pods", WAIT, |a| owned_by(a, &rs).len() == 4).await;
    // The ReplicaSet changes while its pods are not yet in the informer:
    // the sync this triggers must wait for the creations to be observed
    // (expectations) instead of creating 4 more.
    api.modify::<ReplicaSet>(NS, "web", |r| {
        r.metadata.labels = Some(labels(&[("touched", "yes")]));
    });
    settle(Duration::from_secs(20)).await;
    assert_eq!(api.actions_on("create", "pods").len(), 4);
    assert_eq!(owned_by(&api, &rs).len(), 4);
    assert!(api.actions_on("delete", "pods").is_empty());
}
