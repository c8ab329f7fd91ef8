//! The StatefulSet controller against the fake API.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;

use super::fixtures::{labels, meta, selector, set_running, template, NS};
use super::{kubelet_run_pods, kubelet_run_pods_where, run, settle, wait_until, FakeApi};

const WAIT: Duration = Duration::from_secs(60);
const REVISION: &str = "controller-revision-hash";

fn statefulset(replicas: i32, claims: bool) -> StatefulSet {
    statefulset_with(
        replicas,
        claims,
        Some(RollingUpdateStatefulSetStrategy {
            partition: Some(0),
            max_unavailable: None,
        }),
    )
}

fn statefulset_with(
    replicas: i32,
    claims: bool,
    rolling_update: Option<RollingUpdateStatefulSetStrategy>,
) -> StatefulSet {
    let claim = PersistentVolumeClaim {
        metadata: meta("", "data"),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(
                    [("storage".to_string(), Quantity("1Gi".into()))]
                        .into_iter()
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    StatefulSet {
        metadata: meta(NS, "db"),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some("db".into()),
            selector: selector(&[("app", "db")]),
            template: template(&[("app", "db")], "db:1"),
            volume_claim_templates: claims.then(|| vec![claim]),
            // The API server defaults rollingUpdate to partition 0.
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod_names(api: &FakeApi) -> Vec<String> {
    api.list::<Pod>().iter().map(|p| p.name_any()).collect()
}

#[tokio::test(start_paused = true)]
async fn ordered_ready_creates_the_next_pod_only_after_the_previous_is_ready() {
    let api = FakeApi::new();
    let set = api.add(&statefulset(3, true));
    let _m = run(&api, &["statefulset"]);
    wait_until(&api, "db-0", WAIT, |a| a.get::<Pod>(NS, "db-0").is_some()).await;
    // db-0 is Pending: nothing more may be created however long we wait.
    settle(Duration::from_secs(10)).await;
    assert_eq!(pod_names(&api), ["db-0"]);
    let claim = api
        .get::<PersistentVolumeClaim>(NS, "data-db-0")
        .expect("claim from the volumeClaimTemplate");
    assert_eq!(claim.labels().get("app").map(String::as_str), Some("db"));
    let pod = api.get::<Pod>(NS, "db-0").expect("db-0");
    assert_eq!(
        crate::informer::controller_uid(&pod),
        set.metadata.uid.as_deref()
    );
    let volumes = pod.spec.and_then(|s| s.volumes).unwrap_or_default();
    assert!(volumes.iter().any(|v| v
        .persistent_volume_claim
        .as_ref()
        .is_some_and(|c| c.claim_name == "data-db-0")));
    // Running but not Ready still blocks.
    api.modify::<Pod>(NS, "db-0", |p| set_running(p, false));
    settle(Duration::from_secs(10)).await;
    assert_eq!(pod_names(&api), ["db-0"]);
    api.modify::<Pod>(NS, "db-0", |p| set_running(p, true));
    wait_until(&api, "db-1", WAIT, |a| a.get::<Pod>(NS, "db-1").is_some()).await;
    assert!(api.get::<Pod>(NS, "db-2").is_none());
    wait_until(&api, "all three ready", WAIT, |a| {
        kubelet_run_pods(a, "n1");
        a.list::<Pod>().len() == 3
    })
    .await;
    let creates: Vec<String> = api
        .actions_on("create", "pods")
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(creates, ["db-0", "db-1", "db-2"]);
    assert_eq!(api.list::<PersistentVolumeClaim>().len(), 3);
}

/// Brings up db-0 and db-1, then db-0 crashes on the old revision and a
/// new template is rolled out (an OrderedReady rollout upstream waits for
/// db-0 forever, kubernetes#67250). Returns db-0 as it was and its
/// revision.
async fn stale_pod_and_new_template(api: &FakeApi) -> (Pod, String) {
    wait_until(api, "two ready pods", WAIT, |a| {
        kubelet_run_pods(a, "n1");
        a.list::<Pod>()
            .iter()
            .filter(|p| crate::pod_util::is_ready(p))
            .count()
            == 2
    })
    .await;
    let old = api.get::<Pod>(NS, "db-0").expect("db-0");
    let old_revision = old.labels().get(REVISION).cloned().expect("revision label");
    api.modify::<Pod>(NS, "db-0", |p| set_running(p, false));
    api.modify::<StatefulSet>(NS, "db", |s| {
        let spec = s.spec.get_or_insert_with(Default::default);
        spec.template
            .metadata
            .get_or_insert_with(Default::default)
            .labels = Some(labels(&[("app", "db"), ("v", "2")]));
    });
    wait_until(api, "a new update revision", WAIT, |a| {
        a.get::<StatefulSet>(NS, "db")
            .and_then(|s| s.status)
            .and_then(|s| s.update_revision)
            .is_some_and(|r| r != old_revision)
    })
    .await;
    (old, old_revision)
}

#[tokio::test(start_paused = true)]
async fn a_not_ready_pod_on_an_old_revision_is_replaced_during_rollout() {
    let api = FakeApi::new();
    api.add(&statefulset(2, false));
    let _m = run(&api, &["statefulset"]);
    let (old, old_revision) = stale_pod_and_new_template(&api).await;
    // Only pods at the new revision come up ready.
    wait_until(&api, "both pods at the update revision", WAIT, |a| {
        let update = a
            .get::<StatefulSet>(NS, "db")
            .and_then(|s| s.status)
            .and_then(|s| s.update_revision)
            .unwrap_or_default();
        kubelet_run_pods_where(a, "n1", |p| p.labels().get(REVISION) == Some(&update));
        let pods = a.list::<Pod>();
        pods.len() == 2
            && pods
                .iter()
                .all(|p| p.labels().get(REVISION) == Some(&update) && crate::pod_util::is_ready(p))
    })
    .await;
    let now = api.get::<Pod>(NS, "db-0").expect("db-0 recreated");
    assert_ne!(now.labels().get(REVISION), Some(&old_revision));
    assert_ne!(now.metadata.uid, old.metadata.uid);
    assert!(api
        .actions_on("delete", "pods")
        .iter()
        .any(|a| a.name == "db-0"));
}

/// Without `rollingUpdate` a replacement for db-0 would come back at the
/// old revision (below status.currentReplicas), so the stuck pod is left
/// alone as upstream does, instead of being deleted in a loop.
#[tokio::test(start_paused = true)]
async fn no_replacement_loop_when_the_pod_would_return_stale() {
    let api = FakeApi::new();
    api.add(&statefulset_with(2, false, None));
    let _m = run(&api, &["statefulset"]);
    stale_pod_and_new_template(&api).await;
    api.clear_actions();
    settle(Duration::from_secs(30)).await;
    let pod_writes = api
        .actions()
        .into_iter()
        .filter(|a| a.resource == "pods")
        .count();
    assert!(pod_writes <= 2, "{:#?}", api.actions());
}
