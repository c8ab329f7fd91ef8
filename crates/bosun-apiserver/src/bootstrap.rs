//! Objects every cluster starts with: the four system namespaces, the
//! `kubernetes` Service and the system PriorityClasses.

use serde_json::json;

use crate::admission::{priority, KUBERNETES_SERVICE_IP};
use crate::error::{ApiError, Result};
use crate::rest::{FieldValidation, Rest, WriteOptions};

pub async fn run(rest: &Rest) -> Result<()> {
    let opts = WriteOptions {
        dry_run: false,
        field_manager: "kube-apiserver".into(),
        validation: FieldValidation::Strict,
        managed_fields_done: false,
    };
    let namespaces = bosun_api::registry::lookup("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces not registered"))?;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if rest.get_latest(namespaces, None, ns).await?.is_none() {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            match rest.create(namespaces, None, obj, &opts, false).await {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
    }
    let services = bosun_api::registry::lookup("", "v1", "services")
        .ok_or_else(|| ApiError::internal("services not registered"))?;
    if rest
        .get_latest(services, Some("default"), "kubernetes")
        .await?
        .is_none()
    {
        let svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
        });
        match rest
            .create(services, Some("default"), svc, &opts, false)
            .await
        {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    // Upstream's post-start hook creates the system priority classes.
    let classes = priority::priority_classes()?;
    for class in priority::system_class_objects() {
        let name = class["metadata"]["name"].as_str().unwrap_or("").to_string();
        if rest.get_latest(classes, None, &name).await?.is_none() {
            match rest.create(classes, None, class, &opts, false).await {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
