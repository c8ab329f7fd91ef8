//! Writes pod statuses to the API (only when they change) and removes
//! terminated pods from it (kubelet's status manager).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::Client;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::error::AgentError;

/// The API calls the status manager makes (a fake records them in tests).
#[async_trait]
pub trait PodApi: Send + Sync {
    async fn patch_status(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        status: &Value,
    ) -> Result<(), AgentError>;
    /// Deletes the pod object at once (grace 0), only if it still has `uid`.
    async fn delete_pod(&self, namespace: &str, name: &str, uid: &str) -> Result<(), AgentError>;
}

pub struct KubePodApi(pub Client);

fn gone(e: &kube::Error) -> bool {
    // 404: already deleted; 409: a newer pod of the same name.
    matches!(e, kube::Error::Api(s) if s.code == 404 || s.code == 409)
}

#[async_trait]
impl PodApi for KubePodApi {
    async fn patch_status(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        status: &Value,
    ) -> Result<(), AgentError> {
        let api: Api<Pod> = Api::namespaced(self.0.clone(), namespace);
        // The uid in the patch makes the write fail on a recreated pod.
        let patch = json!({"metadata": {"uid": uid}, "status": status});
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(AgentError::api("pod status update", e)),
        }
    }

    async fn delete_pod(&self, namespace: &str, name: &str, uid: &str) -> Result<(), AgentError> {
        let api: Api<Pod> = Api::namespaced(self.0.clone(), namespace);
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(name, &dp).await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(AgentError::api("pod deletion", e)),
        }
    }
}

pub struct StatusManager {
    api: Arc<dyn PodApi>,
    /// The last status written per pod uid.
    last: Mutex<HashMap<String, Value>>,
}

fn key(pod: &Pod) -> (String, String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
        pod.metadata.uid.clone().unwrap_or_default(),
    )
}

/// Whether `status` says nothing new over what the pod object holds.
fn same_as_object(pod: &Pod, status: &Value) -> bool {
    let Some(current) = pod
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
    else {
        return false;
    };
    let Ok(ours) = serde_json::from_value::<k8s_openapi::api::core::v1::PodStatus>(status.clone())
    else {
        return false;
    };
    serde_json::to_value(ours).ok().as_ref() == Some(&current)
}

impl StatusManager {
    pub fn new(api: Arc<dyn PodApi>) -> Self {
        StatusManager {
            api,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Writes `status` unless it is what was last written or what the
    /// object already says.
    pub async fn set_pod_status(&self, pod: &Pod, status: Value) -> Result<(), AgentError> {
        let (ns, name, uid) = key(pod);
        if self.last.lock().get(&uid) == Some(&status) && same_as_object(pod, &status) {
            return Ok(());
        }
        if same_as_object(pod, &status) {
            self.last.lock().insert(uid, status);
            return Ok(());
        }
        self.api.patch_status(&ns, &name, &uid, &status).await?;
        self.last.lock().insert(uid, status);
        Ok(())
    }

    /// Removes a pod whose containers are all stopped from the API.
    pub async fn delete_pod(&self, pod: &Pod) -> Result<(), AgentError> {
        let (ns, name, uid) = key(pod);
        self.api.delete_pod(&ns, &name, &uid).await
    }

    pub fn forget(&self, uid: &str) {
        self.last.lock().remove(uid);
    }

    /// The phase this agent last wrote for the pod: newer than a pod
    /// object the watch has not caught up with yet (kubelet's status
    /// manager cache).
    pub fn last_phase(&self, uid: &str) -> Option<String> {
        self.last
            .lock()
            .get(uid)
            .and_then(|s| s["phase"].as_str())
            .map(str::to_string)
    }
}

/// A `PodApi` that records calls (tests).
#[derive(Default)]
pub struct RecordingPodApi {
    pub statuses: Mutex<Vec<(String, Value)>>,
    pub deleted: Mutex<Vec<String>>,
}

#[async_trait]
impl PodApi for RecordingPodApi {
    async fn patch_status(
        &self,
        _ns: &str,
        name: &str,
        _uid: &str,
        status: &Value,
    ) -> Result<(), AgentError> {
        self.statuses
            .lock()
            .push((name.to_string(), status.clone()));
        Ok(())
    }

    async fn delete_pod(&self, _ns: &str, name: &str, _uid: &str) -> Result<(), AgentError> {
        self.deleted.lock().push(name.to_string());
        Ok(())
    }
}
