use std::sync::Arc;

use serde_json::json;

use super::host::FakeVolumeHost;
use super::*;

fn pod(volumes: serde_json::Value, mounts: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "x"}},
        "spec": {"serviceAccountName": "robot", "volumes": volumes,
                 "containers": [{"name": "c", "image": "i", "volumeMounts": mounts}]}
    }))
    .unwrap()
}

fn setup() -> (tempfile::TempDir, Arc<FakeVolumeHost>, VolumeManager) {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(FakeVolumeHost::default());
    let vm = VolumeManager::new(dir.path(), host.clone()).with_secrets_on_disk();
    (dir, host, vm)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[tokio::test]
async fn config_map_volume_waits_for_its_object_then_follows_updates() {
    let (dir, host, vm) = setup();
    let p = pod(
        json!([{"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "a", "path": "x/a.txt"}]}}]),
        json!([{"name": "cfg", "mountPath": "/etc/cfg"}]),
    );
    let err = vm.set_up_pod(&p).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"cfg\" : configmap \"settings\" not found"
    );
    let cm = |v: &str| {
        serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"a": v}})).unwrap()
    };
    host.config_maps
        .lock()
        .insert("ns/settings".into(), cm("1"));
    let vols = vm.set_up_pod(&p).await.unwrap();
    let vol = &vols["cfg"];
    assert!(vol.read_only);
    assert_eq!(
        vol.host_path,
        dir.path()
            .join("pods/u1/volumes/kubernetes.io~configmap/cfg")
    );
    assert_eq!(read(&vol.host_path.join("x/a.txt")), "1");
    host.config_maps
        .lock()
        .insert("ns/settings".into(), cm("2"));
    vm.set_up_pod(&p).await.unwrap();
    assert_eq!(read(&vol.host_path.join("x/a.txt")), "2");
    // Gone after set-up: the old content stays.
    host.config_maps.lock().clear();
    vm.set_up_pod(&p).await.unwrap();
    assert_eq!(read(&vol.host_path.join("x/a.txt")), "2");
    vm.tear_down_pod("u1");
    assert!(!dir.path().join("pods/u1/volumes").exists());
}

#[tokio::test]
async fn projected_volume_combines_token_config_map_and_downward_api() {
    let (_dir, host, vm) = setup();
    host.config_maps.lock().insert(
        "ns/kube-root-ca.crt".into(),
        serde_json::from_value(
            json!({"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "PEM"}}),
        )
        .unwrap(),
    );
    let p = pod(
        json!([{"name": "kube-api-access-abcde", "projected": {"defaultMode": 0o644, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token", "audience": "api"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]}}]),
        json!([]),
    );
    let vols = vm.set_up_pod(&p).await.unwrap();
    let dir = &vols["kube-api-access-abcde"].host_path;
    assert_eq!(read(&dir.join("token")), "token-robot-api-1");
    assert_eq!(read(&dir.join("ca.crt")), "PEM");
    assert_eq!(read(&dir.join("namespace")), "ns");
    // A fresh token is reused until 80% of its lifetime has passed.
    vm.set_up_pod(&p).await.unwrap();
    assert_eq!(*host.tokens.lock(), 1);
}

#[test]
fn tokens_are_refreshed_after_eighty_percent_of_their_lifetime() {
    let t = Token {
        token: "t".into(),
        expires_at: 1000 + 3600,
    };
    assert!(!needs_refresh(&t, 3600, 1000 + 2879));
    assert!(needs_refresh(&t, 3600, 1000 + 2880));
}

#[tokio::test]
async fn claims_must_be_bound_to_a_host_path_volume() {
    let (dir, host, vm) = setup();
    let p = pod(
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "c1"}}]),
        json!([]),
    );
    assert_eq!(
        vm.set_up_pod(&p).await.unwrap_err().to_string(),
        "error processing PVC ns/c1: failed to fetch PVC from API server: persistentvolumeclaims \"c1\" not found"
    );
    host.claims.lock().insert(
        "ns/c1".into(),
        serde_json::from_value(
            json!({"metadata": {"name": "c1"}, "spec": {}, "status": {"phase": "Pending"}}),
        )
        .unwrap(),
    );
    assert_eq!(
        vm.set_up_pod(&p).await.unwrap_err().to_string(),
        "error processing PVC ns/c1: PVC is not bound"
    );
    let pv_path = dir.path().join("pv1");
    host.claims.lock().insert(
        "ns/c1".into(),
        serde_json::from_value(json!({"metadata": {"name": "c1"}, "spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}}))
            .unwrap(),
    );
    host.volumes.lock().insert(
        "pv1".into(),
        serde_json::from_value(json!({"metadata": {"name": "pv1"},
            "spec": {"hostPath": {"path": pv_path, "type": "DirectoryOrCreate"}}}))
        .unwrap(),
    );
    let vols = vm.set_up_pod(&p).await.unwrap();
    assert_eq!(vols["data"].host_path, pv_path);
    assert!(pv_path.is_dir());
}

#[tokio::test]
async fn container_mounts_follow_volume_mounts() {
    let (_dir, _host, vm) = setup();
    let p = pod(
        json!([{"name": "scratch", "emptyDir": {}}, {"name": "dapi", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]),
        json!([
            {"name": "scratch", "mountPath": "/a"},
            {"name": "scratch", "mountPath": "/b", "subPath": "sub", "readOnly": true, "mountPropagation": "HostToContainer"},
            {"name": "scratch", "mountPath": "/c", "subPathExpr": "$(POD)"},
            {"name": "dapi", "mountPath": "/etc/podinfo"}
        ]),
    );
    let vols = vm.set_up_pod(&p).await.unwrap();
    let scratch = &vols["scratch"].host_path;
    assert!(scratch.ends_with("pods/u1/volumes/kubernetes.io~empty-dir/scratch"));
    assert_eq!(read(&vols["dapi"].host_path.join("labels")), "app=\"x\"");
    let c = &p.spec.as_ref().unwrap().containers[0];
    let env = HashMap::from([("POD".to_string(), "p".to_string())]);
    let mounts = container_mounts(c, &vols, &env).unwrap();
    let m: Vec<_> = mounts
        .iter()
        .map(|m| (m.container_path.as_str(), m.readonly, m.propagation))
        .collect();
    let private = api::MountPropagation::PropagationPrivate as i32;
    assert_eq!(
        m,
        [
            ("/a", false, private),
            (
                "/b",
                true,
                api::MountPropagation::PropagationHostToContainer as i32
            ),
            ("/c", false, private),
            ("/etc/podinfo", true, private)
        ]
    );
    assert!(scratch.join("sub").is_dir());
    assert!(scratch.join("p").is_dir());
    assert_eq!(
        mounts[1].host_path,
        scratch.join("sub").display().to_string()
    );
    let mut bad = c.clone();
    bad.volume_mounts.as_mut().unwrap()[0].name = "nope".into();
    assert!(container_mounts(&bad, &vols, &env).is_err());
}

#[tokio::test]
async fn host_path_type_failures_are_set_up_errors() {
    let (dir, _host, vm) = setup();
    let missing = dir.path().join("missing");
    let p = pod(
        json!([{"name": "h", "hostPath": {"path": missing, "type": "Directory"}}]),
        json!([]),
    );
    assert_eq!(
        vm.set_up_pod(&p).await.unwrap_err().to_string(),
        format!(
            "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: {} is not a directory",
            missing.display()
        )
    );
}
