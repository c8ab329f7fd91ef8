//! What volume plugins need from the cluster (kubelet's `VolumeHost`):
//! ConfigMaps, Secrets, claims and volumes, and service account tokens
//! (events go through the agent's one `EventRecorder`). `KubeVolumeHost`
//! asks the API; `FakeVolumeHost` serves fixed objects in tests.

use std::collections::HashMap;

use async_trait::async_trait;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret, ServiceAccount,
};
use kube::api::{Api, PostParams};
use kube::Client;
use parking_lot::Mutex;

/// A token for a projected `serviceAccountToken` source.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What a token is requested for.
#[derive(Clone, Debug)]
pub struct TokenParams<'a> {
    pub namespace: &'a str,
    pub service_account: &'a str,
    pub audience: Option<&'a str>,
    pub expiration_seconds: i64,
    pub pod_name: &'a str,
    pub pod_uid: &'a str,
}

/// `Ok(None)` means the object does not exist; `Err` is any other failure
/// (the message ends up in a FailedMount event).
#[async_trait]
pub trait VolumeHost: Send + Sync {
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, String>;
    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, String>;
    async fn claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, String>;
    async fn volume(&self, name: &str) -> Result<Option<PersistentVolume>, String>;
    async fn request_token(&self, params: &TokenParams<'_>) -> Result<Token, String>;
}

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn optional<T>(r: Result<T, kube::Error>) -> Result<Option<T>, String> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

pub struct KubeVolumeHost {
    pub client: Client,
    pub node_name: String,
}

#[async_trait]
impl VolumeHost for KubeVolumeHost {
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, String> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        optional(api.get(name).await)
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        optional(api.get(name).await)
    }

    async fn claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, String> {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        optional(api.get(name).await)
    }

    async fn volume(&self, name: &str) -> Result<Option<PersistentVolume>, String> {
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        optional(api.get(name).await)
    }

    async fn request_token(&self, p: &TokenParams<'_>) -> Result<Token, String> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), p.namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: p.audience.map(|a| vec![a.to_string()]).unwrap_or_default(),
                expiration_seconds: Some(p.expiration_seconds),
                bound_object_ref: Some(
                    k8s_openapi::api::authentication::v1::BoundObjectReference {
                        api_version: Some("v1".into()),
                        kind: Some("Pod".into()),
                        name: Some(p.pod_name.to_string()),
                        uid: Some(p.pod_uid.to_string()),
                    },
                ),
            },
            ..Default::default()
        };
        let out = api
            .create_token_request(p.service_account, &PostParams::default(), &request)
            .await
            .map_err(|e| e.to_string())?;
        let status = out.status.ok_or("the TokenRequest has no status")?;
        Ok(Token {
            token: status.token,
            expires_at: status.expiration_timestamp.0.as_second(),
        })
    }
}

/// Fixed objects for tests, keyed `namespace/name` (volumes by name).
#[derive(Default)]
pub struct FakeVolumeHost {
    pub config_maps: Mutex<HashMap<String, ConfigMap>>,
    pub secrets: Mutex<HashMap<String, Secret>>,
    pub claims: Mutex<HashMap<String, PersistentVolumeClaim>>,
    pub volumes: Mutex<HashMap<String, PersistentVolume>>,
    /// Tokens handed out so far.
    pub tokens: Mutex<u32>,
}

#[async_trait]
impl VolumeHost for FakeVolumeHost {
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, String> {
        Ok(self
            .config_maps
            .lock()
            .get(&format!("{namespace}/{name}"))
            .cloned())
    }
    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, String> {
        Ok(self
            .secrets
            .lock()
            .get(&format!("{namespace}/{name}"))
            .cloned())
    }
    async fn claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, String> {
        Ok(self
            .claims
            .lock()
            .get(&format!("{namespace}/{name}"))
            .cloned())
    }
    async fn volume(&self, name: &str) -> Result<Option<PersistentVolume>, String> {
        Ok(self.volumes.lock().get(name).cloned())
    }
    async fn request_token(&self, p: &TokenParams<'_>) -> Result<Token, String> {
        let mut n = self.tokens.lock();
        *n += 1;
        Ok(Token {
            token: format!(
                "token-{}-{}-{}",
                p.service_account,
                p.audience.unwrap_or(""),
                *n
            ),
            expires_at: chrono::Utc::now().timestamp() + p.expiration_seconds,
        })
    }
}
