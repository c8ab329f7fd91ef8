//! The root CA certificate publisher (upstream
//! `pkg/controller/certificates/rootcacertpublisher`): every active
//! namespace has a ConfigMap `kube-root-ca.crt` whose `ca.crt` is the
//! cluster CA, recreated if deleted and restored if changed. Pods read it
//! through the projected service account volume.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::metaonly::MetaOnly;
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
const DATA_KEY: &str = "ca.crt";
/// upstream's description annotation on the ConfigMap.
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

pub struct RootCaCertPublisher {
    client: kube::Client,
    root_ca: String,
    namespaces: Arc<Store<Namespace>>,
    /// Metadata only: a changed `kube-root-ca.crt` is read back from the
    /// API, so the informer never decodes every ConfigMap's data.
    config_maps: Arc<Store<MetaOnly<ConfigMap>>>,
    queue: WorkQueue<ObjectKey>,
}

impl RootCaCertPublisher {
    pub fn new(client: kube::Client, factory: &InformerFactory, root_ca: String) -> Arc<Self> {
        let ns_informer = factory.informer::<Namespace>();
        let cm_informer = factory.informer::<MetaOnly<ConfigMap>>();
        let this = Arc::new(RootCaCertPublisher {
            client,
            root_ca,
            namespaces: ns_informer.store(),
            config_maps: cm_informer.store(),
            queue: WorkQueue::new(),
        });
        let queue = this.queue.clone();
        ns_informer.on_change(move |change| {
            if let Change::Added(ns) | Change::Updated { new: ns, .. } = change {
                queue.add(ObjectKey::new("", ns.name_any()));
            }
        });
        let queue = this.queue.clone();
        cm_informer.on_change(move |change| {
            let cm = match change {
                Change::Added(cm) | Change::Deleted(cm) | Change::Updated { new: cm, .. } => cm,
            };
            if cm.name_any() == ROOT_CA_CONFIG_MAP {
                queue.add(ObjectKey::new("", cm.namespace().unwrap_or_default()));
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }
}

#[async_trait]
impl Reconciler for RootCaCertPublisher {
    const NAME: &'static str = "root-ca-cert-publisher";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(ns) = self.namespaces.get(&ObjectKey::new("", &key.name)) else {
            return Ok(());
        };
        let active = crate::namespace::is_active(&ns);
        if !active {
            return Ok(());
        }
        let want = BTreeMap::from([(DATA_KEY.to_string(), self.root_ca.clone())]);
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &key.name);
        let current = match self
            .config_maps
            .get(&ObjectKey::new(&key.name, ROOT_CA_CONFIG_MAP))
        {
            Some(_) => api.get_opt(ROOT_CA_CONFIG_MAP).await?,
            None => None,
        };
        let result = match current {
            Some(cm) if cm.data.as_ref() == Some(&want) => return Ok(()),
            Some(_) => api
                .patch(
                    ROOT_CA_CONFIG_MAP,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"data": {DATA_KEY: self.root_ca}})),
                )
                .await
                .map(|_| ()),
            None => {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(ROOT_CA_CONFIG_MAP.into()),
                        namespace: Some(key.name.clone()),
                        annotations: Some(BTreeMap::from([(
                            "kubernetes.io/description".to_string(),
                            DESCRIPTION.to_string(),
                        )])),
                        ..Default::default()
                    },
                    data: Some(want),
                    ..Default::default()
                };
                api.create(&PostParams::default(), &cm).await.map(|_| ())
            }
        };
        match result {
            Ok(()) => Ok(()),
            // Already there, or the namespace is going away.
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 || s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
