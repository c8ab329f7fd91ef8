//! The ServiceAccount controller: every active namespace has a `default`
//! ServiceAccount, recreated if deleted.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, ResourceExt};

use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

const DEFAULT: &str = "default";

pub struct ServiceAccountController {
    client: kube::Client,
    namespaces: Arc<Store<Namespace>>,
    accounts: Arc<Store<ServiceAccount>>,
    queue: WorkQueue<ObjectKey>,
}

impl ServiceAccountController {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        let ns_informer = factory.informer::<Namespace>();
        let sa_informer = factory.informer::<ServiceAccount>();
        let this = Arc::new(ServiceAccountController {
            client,
            namespaces: ns_informer.store(),
            accounts: sa_informer.store(),
            queue: WorkQueue::new(),
        });
        let queue = this.queue.clone();
        ns_informer.on_change(move |change| {
            if let Change::Added(ns) | Change::Updated { new: ns, .. } = change {
                queue.add(ObjectKey::new("", ns.name_any()));
            }
        });
        let queue = this.queue.clone();
        sa_informer.on_change(move |change| {
            if let Change::Deleted(sa) = change {
                if sa.name_any() == DEFAULT {
                    queue.add(ObjectKey::new("", sa.namespace().unwrap_or_default()));
                }
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }
}

#[async_trait]
impl Reconciler for ServiceAccountController {
    const NAME: &'static str = "serviceaccount";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(ns) = self.namespaces.get(&ObjectKey::new("", &key.name)) else {
            return Ok(());
        };
        let active = crate::namespace::is_active(&ns);
        if !active
            || self
                .accounts
                .get(&ObjectKey::new(&key.name, DEFAULT))
                .is_some()
        {
            return Ok(());
        }
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(DEFAULT.into()),
                namespace: Some(key.name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &key.name);
        match api.create(&PostParams::default(), &sa).await {
            Ok(_) => Ok(()),
            // Already there, or the namespace is going away.
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 || s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
