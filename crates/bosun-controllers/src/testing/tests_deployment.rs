//! The Deployment controller (with the ReplicaSet controller) against the
//! fake API.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, ReplicaSet, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use tokio::time::Instant;

use super::fixtures::{meta, selector, template, NS};
use super::{kubelet_run_pods, run, wait_until, FakeApi};
use crate::deployment::util::POD_TEMPLATE_HASH;

const WAIT: Duration = Duration::from_secs(60);

fn deployment(replicas: i32, strategy: DeploymentStrategy) -> Deployment {
    Deployment {
        metadata: meta(NS, "web"),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: selector(&[("app", "web")]),
            template: template(&[("app", "web")], "nginx:1"),
            strategy: Some(strategy),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn rolling(surge: i32, unavailable: i32) -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(surge)),
            max_unavailable: Some(IntOrString::Int(unavailable)),
        }),
    }
}

fn image_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers[0].image.clone())
        .unwrap_or_default()
}

fn set_image(api: &FakeApi, image: &str) {
    api.modify::<Deployment>(NS, "web", |d| {
        let spec = d.spec.get_or_insert_with(Default::default);
        if let Some(ps) = spec.template.spec.as_mut() {
            ps.containers[0].image = Some(image.into());
        }
    });
}

/// Runs the kubelet until every pod runs `image` and `replicas` are ready.
async fn roll_out(api: &FakeApi, image: &str, replicas: usize) {
    wait_until(
        api,
        &format!("{replicas} ready pods of {image}"),
        WAIT,
        |a| {
            kubelet_run_pods(a, "n1");
            let pods = a.list::<Pod>();
            pods.len() == replicas
                && pods
                    .iter()
                    .all(|p| image_of(p) == image && crate::pod_util::is_ready(p))
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn creates_a_replicaset_labelled_with_the_template_hash() {
    let api = FakeApi::new();
    api.add(&deployment(3, rolling(1, 0)));
    let _m = run(&api, &["deployment", "replicaset"]);
    roll_out(&api, "nginx:1", 3).await;
    let sets = api.list::<ReplicaSet>();
    assert_eq!(sets.len(), 1);
    let rs = &sets[0];
    let hash = rs
        .labels()
        .get(POD_TEMPLATE_HASH)
        .cloned()
        .expect("hash label");
    assert_eq!(rs.name_any(), format!("web-{hash}"));
    assert_eq!(
        rs.spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .and_then(|l| l.get(POD_TEMPLATE_HASH)),
        Some(&hash)
    );
    assert_eq!(rs.owner_references()[0].kind, "Deployment");
    for pod in api.list::<Pod>() {
        assert_eq!(pod.labels().get(POD_TEMPLATE_HASH), Some(&hash));
    }
    wait_until(&api, "deployment status", WAIT, |a| {
        a.get::<Deployment>(NS, "web")
            .and_then(|d| d.status)
            .is_some_and(|s| s.available_replicas == Some(3) && s.updated_replicas == Some(3))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn rolling_update_stays_within_surge_and_unavailability() {
    let api = FakeApi::new();
    api.add(&deployment(4, rolling(1, 0)));
    let _m = run(&api, &["deployment", "replicaset"]);
    roll_out(&api, "nginx:1", 4).await;
    set_image(&api, "nginx:2");
    let (mut max_pods, mut min_ready) = (0, usize::MAX);
    let deadline = Instant::now() + WAIT;
    loop {
        let pods = api.list::<Pod>();
        let ready = pods.iter().filter(|p| crate::pod_util::is_ready(p)).count();
        max_pods = max_pods.max(pods.len());
        min_ready = min_ready.min(ready);
        if pods.len() == 4 && ready == 4 && pods.iter().all(|p| image_of(p) == "nginx:2") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rollout stuck: {:#?}",
            api.actions()
        );
        // New pods become ready one poll after they appear.
        kubelet_run_pods(&api, "n1");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(max_pods <= 5, "maxSurge 1 exceeded: {max_pods} pods");
    assert!(
        min_ready >= 4,
        "maxUnavailable 0 violated: {min_ready} ready"
    );
    let sets = api.list::<ReplicaSet>();
    assert_eq!(sets.len(), 2, "old ReplicaSet kept for history");
    let replicas: Vec<i32> = sets
        .iter()
        .map(|r| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(-1))
        .collect();
    assert!(
        replicas.contains(&0) && replicas.contains(&4),
        "{replicas:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn recreate_removes_old_pods_before_creating_new_ones() {
    let api = FakeApi::new();
    let strategy = DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    };
    api.add(&deployment(3, strategy));
    let _m = run(&api, &["deployment", "replicaset"]);
    roll_out(&api, "nginx:1", 3).await;
    api.clear_actions();
    set_image(&api, "nginx:2");
    roll_out(&api, "nginx:2", 3).await;
    let actions = api.actions();
    let last_delete = actions
        .iter()
        .rposition(|a| a.verb == "delete" && a.resource == "pods")
        .expect("old pods deleted");
    let first_create = actions
        .iter()
        .position(|a| a.verb == "create" && a.resource == "pods")
        .expect("new pods created");
    assert!(last_delete < first_create, "{actions:#?}");
    assert_eq!(api.actions_on("delete", "pods").len(), 3);
}
