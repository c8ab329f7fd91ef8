//! Pod and workload (apps, batch) validation cases.

use super::*;
use crate::defaults::apply_defaults;
use serde_json::json;

#[test]
fn pod_cases() {
    let cases: Vec<Case> = vec![
        (
            "/metadata/name",
            Some(json!("Foo_Bar")),
            "metadata.name",
            "FieldValueInvalid",
        ),
        (
            "/metadata/name",
            None,
            "metadata.name",
            "FieldValueRequired",
        ),
        (
            "/metadata/namespace",
            None,
            "metadata.namespace",
            "FieldValueRequired",
        ),
        (
            "/metadata/labels",
            Some(json!({"a": "-bad"})),
            "metadata.labels",
            "FieldValueInvalid",
        ),
        (
            "/metadata/labels",
            Some(json!({"a/b/c": "x"})),
            "metadata.labels",
            "FieldValueInvalid",
        ),
        (
            "/metadata/annotations",
            Some(json!({"bad key": "x"})),
            "metadata.annotations",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers",
            Some(json!([])),
            "spec.containers",
            "FieldValueRequired",
        ),
        (
            "/spec/containers/0/name",
            Some(json!("Bad_Name")),
            "spec.containers[0].name",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/name",
            Some(json!("")),
            "spec.containers[0].name",
            "FieldValueRequired",
        ),
        (
            "/spec/containers/0/image",
            None,
            "spec.containers[0].image",
            "FieldValueRequired",
        ),
        (
            "/spec/containers/0/ports/0/containerPort",
            Some(json!(70000)),
            "spec.containers[0].ports[0].containerPort",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/ports/0/protocol",
            Some(json!("HTTP")),
            "spec.containers[0].ports[0].protocol",
            "FieldValueNotSupported",
        ),
        (
            "/spec/containers/0/ports/0/name",
            Some(json!("1234")),
            "spec.containers[0].ports[0].name",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/env/0/name",
            Some(json!("A=B")),
            "spec.containers[0].env[0].name",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/volumeMounts/0/name",
            Some(json!("nope")),
            "spec.containers[0].volumeMounts[0].name",
            "FieldValueNotFound",
        ),
        (
            "/spec/containers/0/resources/limits/cpu",
            Some(json!("abc")),
            "spec.containers[0].resources.limits[cpu]",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/resources/requests",
            Some(json!({"cpu": "1"})),
            "spec.containers[0].resources.requests",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/resources/limits/cpu",
            Some(json!("-1")),
            "spec.containers[0].resources.limits[cpu]",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/resources/limits/gpu",
            Some(json!("1")),
            "spec.containers[0].resources.limits[gpu]",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/livenessProbe/successThreshold",
            Some(json!(2)),
            "spec.containers[0].livenessProbe.successThreshold",
            "FieldValueInvalid",
        ),
        (
            "/spec/containers/0/livenessProbe/httpGet",
            None,
            "spec.containers[0].livenessProbe",
            "FieldValueRequired",
        ),
        (
            "/spec/initContainers",
            Some(json!([{"name": "app", "image": "busybox"}])),
            "spec.initContainers[0].name",
            "FieldValueDuplicate",
        ),
        (
            "/spec/restartPolicy",
            Some(json!("Sometimes")),
            "spec.restartPolicy",
            "FieldValueNotSupported",
        ),
        (
            "/spec/dnsPolicy",
            Some(json!("Bogus")),
            "spec.dnsPolicy",
            "FieldValueNotSupported",
        ),
        (
            "/spec/volumes/0/name",
            Some(json!("Data")),
            "spec.volumes[0].name",
            "FieldValueInvalid",
        ),
        (
            "/spec/volumes/1",
            Some(json!({"name": "data", "emptyDir": {}})),
            "spec.volumes[1].name",
            "FieldValueDuplicate",
        ),
        (
            "/spec/volumes/0/configMap",
            Some(json!({"defaultMode": 4000})),
            "spec.volumes[0].configMap.name",
            "FieldValueRequired",
        ),
        (
            "/spec/activeDeadlineSeconds",
            Some(json!(0)),
            "spec.activeDeadlineSeconds",
            "FieldValueInvalid",
        ),
        (
            "/spec/tolerations",
            Some(json!([{"key": "k", "operator": "Exists", "value": "v"}])),
            "spec.tolerations[0].operator",
            "FieldValueInvalid",
        ),
        (
            "/spec/nodeSelector",
            Some(json!({"k": "bad value"})),
            "spec.nodeSelector",
            "FieldValueInvalid",
        ),
    ];
    run("", "Pod", pod(), &cases);
}

#[test]
fn pod_message_texts() {
    let mut p = pod();
    put(&mut p, "/metadata/name", Some(json!("Foo_Bar")));
    put(&mut p, "/spec/containers/0/image", None);
    apply_defaults("", "Pod", &mut p);
    let errs = validate_create("", "Pod", &p);
    assert_eq!(
        status_message(&qualified_kind("", "Pod"), "Foo_Bar", &errs),
        "Pod \"Foo_Bar\" is invalid: [metadata.name: Invalid value: \"Foo_Bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), spec.containers[0].image: Required value]"
    );
}

#[test]
fn pod_update_rules() {
    let mut old = pod();
    apply_defaults("", "Pod", &mut old);
    put(&mut old, "/metadata/uid", Some(json!("u1")));
    let mut new = old.clone();
    put(&mut new, "/spec/containers/0/image", Some(json!("nginx:2")));
    assert!(validate_update("", "Pod", &new, &old).is_empty());
    put(&mut new, "/spec/restartPolicy", Some(json!("Never")));
    let errs = validate_update("", "Pod", &new, &old);
    assert!(errs.iter().any(|e| e.field == "spec"
        && e.reason() == "FieldValueForbidden"
        && e.message().starts_with(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
        )));
    let mut renamed = old.clone();
    put(&mut renamed, "/metadata/name", Some(json!("other")));
    let errs = validate_update("", "Pod", &renamed, &old);
    assert_eq!(errs[0].field, "metadata.name");
    assert_eq!(
        errs[0].message(),
        "Invalid value: \"other\": field is immutable"
    );
}

#[test]
fn deployment_cases() {
    let cases: Vec<Case> = vec![
        (
            "/spec/replicas",
            Some(json!(-1)),
            "spec.replicas",
            "FieldValueInvalid",
        ),
        (
            "/spec/selector",
            None,
            "spec.selector",
            "FieldValueRequired",
        ),
        (
            "/spec/selector",
            Some(json!({})),
            "spec.selector",
            "FieldValueInvalid",
        ),
        (
            "/spec/template/metadata/labels",
            Some(json!({"app": "other"})),
            "spec.template.metadata.labels",
            "FieldValueInvalid",
        ),
        (
            "/spec/template/metadata/labels",
            Some(json!({"app": "web", "x": "-"})),
            "spec.template.labels",
            "FieldValueInvalid",
        ),
        (
            "/spec/template/spec/restartPolicy",
            Some(json!("Never")),
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
        ),
        (
            "/spec/template/spec/containers/0/name",
            Some(json!("")),
            "spec.template.spec.containers[0].name",
            "FieldValueRequired",
        ),
        (
            "/spec/strategy",
            Some(
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
            ),
            "spec.strategy.rollingUpdate.maxUnavailable",
            "FieldValueInvalid",
        ),
        (
            "/spec/strategy",
            Some(json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x%"}})),
            "spec.strategy.rollingUpdate.maxSurge",
            "FieldValueInvalid",
        ),
        (
            "/spec/strategy",
            Some(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}})),
            "spec.strategy.rollingUpdate.maxUnavailable",
            "FieldValueInvalid",
        ),
        (
            "/spec/strategy",
            Some(json!({"type": "Recreate", "rollingUpdate": {}})),
            "spec.strategy.rollingUpdate",
            "FieldValueForbidden",
        ),
        (
            "/spec/strategy",
            Some(json!({"type": "Blue"})),
            "spec.strategy",
            "FieldValueNotSupported",
        ),
        (
            "/spec/progressDeadlineSeconds",
            Some(json!(0)),
            "spec.progressDeadlineSeconds",
            "FieldValueInvalid",
        ),
        (
            "/spec/selector/matchExpressions",
            Some(json!([{"key": "a", "operator": "In"}])),
            "spec.selector.matchExpressions[0].values",
            "FieldValueRequired",
        ),
        (
            "/spec/selector/matchExpressions",
            Some(json!([{"key": "a", "operator": "Foo", "values": ["x"]}])),
            "spec.selector.matchExpressions[0].operator",
            "FieldValueInvalid",
        ),
        (
            "/metadata/namespace",
            Some(json!("Bad_NS")),
            "metadata.namespace",
            "FieldValueInvalid",
        ),
    ];
    run("apps", "Deployment", deployment(), &cases);
}

#[test]
fn deployment_selector_message_and_immutability() {
    let mut d = deployment();
    put(
        &mut d,
        "/spec/template/metadata/labels",
        Some(json!({"app": "other"})),
    );
    apply_defaults("apps", "Deployment", &mut d);
    let errs = validate_create("apps", "Deployment", &d);
    assert_eq!(
        status_message("Deployment.apps", "web", &errs),
        "Deployment.apps \"web\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"
    );
    let mut old = deployment();
    apply_defaults("apps", "Deployment", &mut old);
    let mut new = old.clone();
    put(
        &mut new,
        "/spec/selector/matchLabels/tier",
        Some(json!("x")),
    );
    put(
        &mut new,
        "/spec/template/metadata/labels/tier",
        Some(json!("x")),
    );
    let errs = validate_update("apps", "Deployment", &new, &old);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].field, "spec.selector");
    assert!(errs[0].message().ends_with("field is immutable"));
}

#[test]
fn replica_set_daemon_set_stateful_set_cases() {
    let rs = json!({"metadata": {"name": "rs", "namespace": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": pod_template(json!({"a": "b"}))}});
    run(
        "apps",
        "ReplicaSet",
        rs,
        &[
            (
                "/spec/replicas",
                Some(json!(-2)),
                "spec.replicas",
                "FieldValueInvalid",
            ),
            (
                "/spec/template/spec/activeDeadlineSeconds",
                Some(json!(5)),
                "spec.template.spec.activeDeadlineSeconds",
                "FieldValueInvalid",
            ),
        ],
    );
    let ds = json!({"metadata": {"name": "ds", "namespace": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": pod_template(json!({"a": "b"}))}});
    run(
        "apps",
        "DaemonSet",
        ds,
        &[
            (
                "/spec/updateStrategy",
                Some(
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}),
                ),
                "spec.updateStrategy.rollingUpdate.maxSurge",
                "FieldValueInvalid",
            ),
            (
                "/spec/updateStrategy",
                Some(
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}),
                ),
                "spec.updateStrategy.rollingUpdate.maxUnavailable",
                "FieldValueRequired",
            ),
            (
                "/spec/updateStrategy",
                Some(json!({"type": "Sometimes"})),
                "spec.updateStrategy.type",
                "FieldValueNotSupported",
            ),
            (
                "/spec/selector",
                Some(json!({"matchLabels": {"a": "c"}})),
                "spec.template.metadata.labels",
                "FieldValueInvalid",
            ),
        ],
    );
    let mut sts = json!({"metadata": {"name": "db", "namespace": "d"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"a": "b"}}, "template": pod_template(json!({"a": "b"})),
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
    // Containers mount the claim templates by name.
    put(
        &mut sts,
        "/spec/template/spec/containers/0/volumeMounts",
        Some(json!([{"name": "data", "mountPath": "/data"}])),
    );
    run(
        "apps",
        "StatefulSet",
        sts.clone(),
        &[
            (
                "/metadata/name",
                Some(json!("db.x")),
                "metadata.name",
                "FieldValueInvalid",
            ),
            (
                "/spec/podManagementPolicy",
                Some(json!("Random")),
                "spec.podManagementPolicy",
                "FieldValueInvalid",
            ),
            (
                "/spec/selector",
                Some(json!({})),
                "spec.selector",
                "FieldValueInvalid",
            ),
            (
                "/spec/volumeClaimTemplates/0/spec/accessModes",
                Some(json!([])),
                "spec.volumeClaimTemplates[0].spec.accessModes",
                "FieldValueRequired",
            ),
            (
                "/spec/persistentVolumeClaimRetentionPolicy",
                Some(json!({"whenDeleted": "Keep"})),
                "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
                "FieldValueNotSupported",
            ),
            (
                "/spec/template/spec/containers/0/volumeMounts/0/name",
                Some(json!("nope")),
                "spec.template.spec.containers[0].volumeMounts[0].name",
                "FieldValueNotFound",
            ),
            (
                "/spec/updateStrategy",
                Some(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}})),
                "spec.updateStrategy.rollingUpdate.maxUnavailable",
                "FieldValueInvalid",
            ),
            (
                "/spec/updateStrategy",
                Some(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}})),
                "spec.updateStrategy.rollingUpdate.maxUnavailable",
                "FieldValueInvalid",
            ),
        ],
    );
    let mut old = sts;
    apply_defaults("apps", "StatefulSet", &mut old);
    let mut new = old.clone();
    put(&mut new, "/spec/replicas", Some(json!(3)));
    assert!(validate_update("apps", "StatefulSet", &new, &old).is_empty());
    put(&mut new, "/spec/serviceName", Some(json!("other")));
    let errs = validate_update("apps", "StatefulSet", &new, &old);
    assert!(errs
        .iter()
        .any(|e| e.field == "spec" && e.reason() == "FieldValueForbidden"));
}

#[test]
fn job_cases() {
    let mut base = job();
    apply_defaults("batch", "Job", &mut base);
    crate::defaults::generate_job_selector(&mut base, "1234-uid");
    assert!(
        validate_create("batch", "Job", &base).is_empty(),
        "{:#?}",
        validate_create("batch", "Job", &base)
    );
    let cases: Vec<Case> = vec![
        (
            "/spec/parallelism",
            Some(json!(-1)),
            "spec.parallelism",
            "FieldValueInvalid",
        ),
        (
            "/spec/backoffLimit",
            Some(json!(-1)),
            "spec.backoffLimit",
            "FieldValueInvalid",
        ),
        (
            "/spec/completionMode",
            Some(json!("Sometimes")),
            "spec.completionMode",
            "FieldValueNotSupported",
        ),
        (
            "/spec/template/spec/restartPolicy",
            None,
            "spec.template.spec.restartPolicy",
            "FieldValueRequired",
        ),
        (
            "/spec/template/spec/restartPolicy",
            Some(json!("Always")),
            "spec.template.spec.restartPolicy",
            "FieldValueRequired",
        ),
        (
            "/spec/template/spec/restartPolicy",
            Some(json!("Maybe")),
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
        ),
        (
            "/spec/selector/matchLabels",
            Some(json!({"x": "y"})),
            "spec.template.metadata.labels",
            "FieldValueInvalid",
        ),
    ];
    for (ptr, val, field, reason) in &cases {
        let mut o = base.clone();
        put(&mut o, ptr, val.clone());
        let errs = validate_create("batch", "Job", &o);
        assert!(
            errs.iter()
                .any(|e| e.field == *field && e.reason() == *reason),
            "{ptr}: {errs:#?}"
        );
    }
    let mut o = base.clone();
    put(&mut o, "/spec/template/spec/restartPolicy", None);
    let errs = validate_create("batch", "Job", &o);
    assert_eq!(
        errs[0].to_string(),
        "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
    let mut o = job();
    put(&mut o, "/spec/completionMode", Some(json!("Indexed")));
    put(&mut o, "/spec/parallelism", Some(json!(2)));
    apply_defaults("batch", "Job", &mut o);
    crate::defaults::generate_job_selector(&mut o, "u");
    let errs = validate_create("batch", "Job", &o);
    assert!(errs
        .iter()
        .any(|e| e.field == "spec.completions" && e.reason() == "FieldValueRequired"));
    // Unsuspended job: the template is immutable.
    let mut new = base.clone();
    put(
        &mut new,
        "/spec/template/spec/containers/0/image",
        Some(json!("perl:2")),
    );
    let errs = validate_update("batch", "Job", &new, &base);
    assert!(errs
        .iter()
        .any(|e| e.field == "spec.template" && e.message().ends_with("field is immutable")));
}

#[test]
fn cron_job_cases() {
    let cj = json!({"metadata": {"name": "hello", "namespace": "d"},
        "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}});
    run(
        "batch",
        "CronJob",
        cj,
        &[
            (
                "/spec/schedule",
                Some(json!("")),
                "spec.schedule",
                "FieldValueRequired",
            ),
            (
                "/spec/schedule",
                Some(json!("every minute")),
                "spec.schedule",
                "FieldValueInvalid",
            ),
            (
                "/spec/schedule",
                Some(json!("TZ=UTC * * * * *")),
                "spec.schedule",
                "FieldValueInvalid",
            ),
            (
                "/spec/timeZone",
                Some(json!("Local")),
                "spec.timeZone",
                "FieldValueInvalid",
            ),
            (
                "/spec/concurrencyPolicy",
                Some(json!("Sometimes")),
                "spec.concurrencyPolicy",
                "FieldValueNotSupported",
            ),
            (
                "/spec/jobTemplate/spec/template/spec/restartPolicy",
                None,
                "spec.jobTemplate.spec.template.spec.restartPolicy",
                "FieldValueRequired",
            ),
            (
                "/spec/jobTemplate/spec/selector",
                Some(json!({"matchLabels": {"a": "b"}})),
                "spec.jobTemplate.spec.selector",
                "FieldValueInvalid",
            ),
            (
                "/metadata/name",
                Some(json!("a".repeat(53))),
                "metadata.name",
                "FieldValueInvalid",
            ),
            (
                "/spec/successfulJobsHistoryLimit",
                Some(json!(-1)),
                "spec.successfulJobsHistoryLimit",
                "FieldValueInvalid",
            ),
        ],
    );
}

#[test]
fn generate_name_is_accepted() {
    let mut p = pod();
    put(&mut p, "/metadata/name", None);
    put(&mut p, "/metadata/generateName", Some(json!("web-")));
    apply_defaults("", "Pod", &mut p);
    assert!(validate_create("", "Pod", &p).is_empty());
    put(&mut p, "/metadata/generateName", Some(json!("Web-")));
    assert_eq!(
        validate_create("", "Pod", &p)[0].field,
        "metadata.generateName"
    );
}
