//! Table-driven defaulting tests: each case defaults an object and checks
//! values at JSON pointers (`None` = must be absent).

use super::*;
use serde_json::{json, Value};

fn check(group: &str, kind: &str, input: Value, expect: &[(&str, Option<Value>)]) {
    let mut o = input;
    apply_defaults(group, kind, &mut o);
    for (ptr, want) in expect {
        assert_eq!(o.pointer(ptr), want.as_ref(), "{kind} {ptr} in {o:#}");
    }
}

#[test]
fn pod_defaults() {
    let pod = json!({"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "a", "image": "nginx",
            "ports": [{"containerPort": 80}],
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}},
            "livenessProbe": {"httpGet": {"port": 80}},
            "readinessProbe": {"grpc": {"port": 9000}}},
          {"name": "b", "image": "busybox:1.36"},
          {"name": "c", "image": "busybox:latest", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "100m"}}}],
        "volumes": [{"name": "v"}, {"name": "cm", "configMap": {"name": "x"}}, {"name": "s", "secret": {"secretName": "y"}}, {"name": "h", "hostPath": {"path": "/x"}}]
    }});
    check(
        "",
        "Pod",
        pod,
        &[
            ("/spec/restartPolicy", Some(json!("Always"))),
            ("/spec/terminationGracePeriodSeconds", Some(json!(30))),
            ("/spec/dnsPolicy", Some(json!("ClusterFirst"))),
            ("/spec/schedulerName", Some(json!("default-scheduler"))),
            ("/spec/securityContext", Some(json!({}))),
            ("/spec/enableServiceLinks", Some(json!(true))),
            ("/spec/containers/0/imagePullPolicy", Some(json!("Always"))),
            (
                "/spec/containers/1/imagePullPolicy",
                Some(json!("IfNotPresent")),
            ),
            ("/spec/containers/2/imagePullPolicy", Some(json!("Always"))),
            (
                "/spec/containers/0/terminationMessagePath",
                Some(json!("/dev/termination-log")),
            ),
            (
                "/spec/containers/0/terminationMessagePolicy",
                Some(json!("File")),
            ),
            ("/spec/containers/0/ports/0/protocol", Some(json!("TCP"))),
            (
                "/spec/containers/0/env/0/valueFrom/fieldRef/apiVersion",
                Some(json!("v1")),
            ),
            (
                "/spec/containers/0/resources/limits/cpu",
                Some(json!("500m")),
            ),
            (
                "/spec/containers/0/resources/limits/memory",
                Some(json!("1Gi")),
            ),
            (
                "/spec/containers/0/resources/requests/cpu",
                Some(json!("500m")),
            ),
            (
                "/spec/containers/0/resources/requests/memory",
                Some(json!("1Gi")),
            ),
            (
                "/spec/containers/2/resources/requests/cpu",
                Some(json!("100m")),
            ),
            ("/spec/containers/1/resources", Some(json!({}))),
            (
                "/spec/containers/0/livenessProbe/timeoutSeconds",
                Some(json!(1)),
            ),
            (
                "/spec/containers/0/livenessProbe/periodSeconds",
                Some(json!(10)),
            ),
            (
                "/spec/containers/0/livenessProbe/successThreshold",
                Some(json!(1)),
            ),
            (
                "/spec/containers/0/livenessProbe/failureThreshold",
                Some(json!(3)),
            ),
            (
                "/spec/containers/0/livenessProbe/httpGet/scheme",
                Some(json!("HTTP")),
            ),
            (
                "/spec/containers/0/livenessProbe/httpGet/path",
                Some(json!("/")),
            ),
            (
                "/spec/containers/0/readinessProbe/grpc/service",
                Some(json!("")),
            ),
            ("/spec/volumes/0/emptyDir", Some(json!({}))),
            ("/spec/volumes/1/configMap/defaultMode", Some(json!(420))),
            ("/spec/volumes/2/secret/defaultMode", Some(json!(420))),
            ("/spec/volumes/3/hostPath/type", Some(json!(""))),
            ("/status/phase", Some(json!("Pending"))),
            ("/status/qosClass", Some(json!("Burstable"))),
        ],
    );
}

#[test]
fn qos_classes() {
    let mk = |res: Value| json!({"spec": {"containers": [{"name": "a", "image": "x", "resources": res}]}});
    let cases = [
        (json!({}), "BestEffort"),
        (
            json!({"limits": {"cpu": "1", "memory": "1Gi"}}),
            "Guaranteed",
        ),
        (
            json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}),
            "Burstable",
        ),
        (json!({"requests": {"cpu": "1"}}), "Burstable"),
    ];
    for (res, want) in cases {
        let mut p = mk(res.clone());
        apply_defaults("", "Pod", &mut p);
        assert_eq!(pod_qos_class(&p), want, "{res}");
    }
}

#[test]
fn host_network_ports() {
    check(
        "",
        "Pod",
        json!({"spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 8080}]}]}}),
        &[("/spec/containers/0/ports/0/hostPort", Some(json!(8080)))],
    );
}

#[test]
fn workload_defaults() {
    let tmpl = json!({"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "a", "image": "nginx:1"}]}});
    check(
        "apps",
        "Deployment",
        json!({"spec": {"template": tmpl.clone()}}),
        &[
            ("/spec/replicas", Some(json!(1))),
            (
                "/spec/strategy",
                Some(
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                ),
            ),
            ("/spec/revisionHistoryLimit", Some(json!(10))),
            ("/spec/progressDeadlineSeconds", Some(json!(600))),
            (
                "/spec/template/metadata/creationTimestamp",
                Some(Value::Null),
            ),
            ("/spec/template/spec/restartPolicy", Some(json!("Always"))),
            ("/spec/template/spec/enableServiceLinks", None),
            (
                "/spec/template/spec/containers/0/resources",
                Some(json!({})),
            ),
            ("/status", Some(json!({}))),
        ],
    );
    check(
        "apps",
        "Deployment",
        json!({"spec": {"strategy": {"type": "Recreate"}}}),
        &[("/spec/strategy", Some(json!({"type": "Recreate"})))],
    );
    check(
        "apps",
        "ReplicaSet",
        json!({"spec": {"template": tmpl.clone()}}),
        &[("/spec/replicas", Some(json!(1)))],
    );
    check(
        "apps",
        "StatefulSet",
        json!({"spec": {"template": tmpl.clone(),
        "volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {"resources": {"requests": {"storage": "1024Mi"}}}}]}}),
        &[
            ("/spec/podManagementPolicy", Some(json!("OrderedReady"))),
            (
                "/spec/updateStrategy",
                Some(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})),
            ),
            (
                "/spec/persistentVolumeClaimRetentionPolicy",
                Some(json!({"whenDeleted": "Retain", "whenScaled": "Retain"})),
            ),
            ("/spec/replicas", Some(json!(1))),
            ("/spec/revisionHistoryLimit", Some(json!(10))),
            (
                "/spec/volumeClaimTemplates/0/spec/volumeMode",
                Some(json!("Filesystem")),
            ),
            (
                "/spec/volumeClaimTemplates/0/spec/resources/requests/storage",
                Some(json!("1Gi")),
            ),
            (
                "/spec/volumeClaimTemplates/0/status/phase",
                Some(json!("Pending")),
            ),
        ],
    );
    check(
        "apps",
        "StatefulSet",
        json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
        &[("/spec/updateStrategy", Some(json!({"type": "OnDelete"})))],
    );
    check(
        "apps",
        "DaemonSet",
        json!({"spec": {"template": tmpl.clone()}}),
        &[
            (
                "/spec/updateStrategy",
                Some(
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                ),
            ),
            ("/spec/revisionHistoryLimit", Some(json!(10))),
        ],
    );
}

#[test]
fn batch_defaults() {
    let tmpl = json!({"metadata": {"labels": {"app": "j"}}, "spec": {"containers": [{"name": "a", "image": "perl"}]}});
    check(
        "batch",
        "Job",
        json!({"metadata": {"name": "pi"}, "spec": {"template": tmpl.clone()}}),
        &[
            ("/spec/completions", Some(json!(1))),
            ("/spec/parallelism", Some(json!(1))),
            ("/spec/backoffLimit", Some(json!(6))),
            ("/spec/completionMode", Some(json!("NonIndexed"))),
            ("/spec/suspend", Some(json!(false))),
            ("/spec/manualSelector", Some(json!(false))),
            (
                "/spec/podReplacementPolicy",
                Some(json!("TerminatingOrFailed")),
            ),
            ("/spec/template/spec/restartPolicy", None),
            ("/spec/template/spec/dnsPolicy", Some(json!("ClusterFirst"))),
            ("/metadata/labels", Some(json!({"app": "j"}))),
        ],
    );
    check(
        "batch",
        "Job",
        json!({"spec": {"parallelism": 3, "backoffLimitPerIndex": 1, "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}}),
        &[
            ("/spec/completions", None),
            ("/spec/backoffLimit", Some(json!(i32::MAX))),
            ("/spec/podReplacementPolicy", Some(json!("Failed"))),
            (
                "/spec/podFailurePolicy/rules/0/onPodConditions/0/status",
                Some(json!("True")),
            ),
        ],
    );
    check(
        "batch",
        "CronJob",
        json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": tmpl}}}}),
        &[
            ("/spec/concurrencyPolicy", Some(json!("Allow"))),
            ("/spec/suspend", Some(json!(false))),
            ("/spec/successfulJobsHistoryLimit", Some(json!(3))),
            ("/spec/failedJobsHistoryLimit", Some(json!(1))),
            (
                "/spec/jobTemplate/metadata/creationTimestamp",
                Some(Value::Null),
            ),
            ("/spec/jobTemplate/spec/backoffLimit", None),
            (
                "/spec/jobTemplate/spec/template/spec/schedulerName",
                Some(json!("default-scheduler")),
            ),
        ],
    );
    let mut job = json!({"metadata": {"name": "pi"}, "spec": {"template": {"metadata": {"labels": {"app": "j"}}}}});
    generate_job_selector(&mut job, "uid-1");
    assert_eq!(
        job.pointer("/spec/selector"),
        Some(&json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1"}}))
    );
    assert_eq!(
        job.pointer("/spec/template/metadata/labels/job-name"),
        Some(&json!("pi"))
    );
    assert_eq!(
        job.pointer(
            "/spec/template/metadata/labels/batch.kubernetes.io/controller-uid"
                .replace("batch.kubernetes.io/", "batch.kubernetes.io~1")
                .as_str()
        ),
        Some(&json!("uid-1"))
    );
}

#[test]
fn core_defaults() {
    check(
        "",
        "Service",
        json!({"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}),
        &[
            ("/spec/type", Some(json!("ClusterIP"))),
            ("/spec/sessionAffinity", Some(json!("None"))),
            ("/spec/ports/0/protocol", Some(json!("TCP"))),
            ("/spec/ports/0/targetPort", Some(json!(80))),
            ("/spec/ports/1/targetPort", Some(json!("dns"))),
            ("/spec/internalTrafficPolicy", Some(json!("Cluster"))),
            ("/spec/externalTrafficPolicy", None),
            ("/spec/ipFamilyPolicy", Some(json!("SingleStack"))),
            ("/spec/ipFamilies", Some(json!(["IPv4"]))),
            ("/spec/clusterIP", None),
            ("/status", Some(json!({"loadBalancer": {}}))),
        ],
    );
    check(
        "",
        "Service",
        json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}),
        &[
            ("/spec/externalTrafficPolicy", Some(json!("Cluster"))),
            ("/spec/allocateLoadBalancerNodePorts", Some(json!(true))),
            (
                "/spec/sessionAffinityConfig/clientIP/timeoutSeconds",
                Some(json!(10800)),
            ),
        ],
    );
    check(
        "",
        "Service",
        json!({"spec": {"type": "ExternalName", "externalName": "x.com"}}),
        &[
            ("/spec/internalTrafficPolicy", None),
            ("/spec/ipFamilies", None),
        ],
    );
    check(
        "",
        "Service",
        json!({"spec": {"clusterIP": "None"}}),
        &[
            ("/spec/clusterIPs", Some(json!(["None"]))),
            ("/spec/ipFamilyPolicy", Some(json!("RequireDualStack"))),
        ],
    );
    check(
        "",
        "Namespace",
        json!({"metadata": {"name": "team"}}),
        &[
            (
                "/metadata/labels/kubernetes.io~1metadata.name",
                Some(json!("team")),
            ),
            ("/spec/finalizers", Some(json!(["kubernetes"]))),
            ("/status/phase", Some(json!("Active"))),
        ],
    );
    check(
        "",
        "PersistentVolumeClaim",
        json!({"spec": {"resources": {"requests": {"storage": "0.5Gi"}}}}),
        &[
            ("/spec/volumeMode", Some(json!("Filesystem"))),
            ("/spec/resources/requests/storage", Some(json!("512Mi"))),
            ("/status/phase", Some(json!("Pending"))),
        ],
    );
    check(
        "",
        "PersistentVolume",
        json!({"spec": {"capacity": {"storage": "1Gi"}}}),
        &[
            ("/spec/persistentVolumeReclaimPolicy", Some(json!("Retain"))),
            ("/spec/volumeMode", Some(json!("Filesystem"))),
            ("/status/phase", Some(json!("Pending"))),
        ],
    );
    check(
        "",
        "Secret",
        json!({"stringData": {"user": "admin"}, "data": {"k": "dg=="}}),
        &[
            ("/type", Some(json!("Opaque"))),
            ("/data/user", Some(json!("YWRtaW4="))),
            ("/data/k", Some(json!("dg=="))),
            ("/stringData", None),
        ],
    );
    check(
        "",
        "Node",
        json!({"status": {"capacity": {"cpu": "4", "memory": "8Gi"}}}),
        &[(
            "/status/allocatable",
            Some(json!({"cpu": "4", "memory": "8Gi"})),
        )],
    );
    check(
        "",
        "Endpoints",
        json!({"subsets": [{"ports": [{"port": 80}]}]}),
        &[("/subsets/0/ports/0/protocol", Some(json!("TCP")))],
    );
    check(
        "",
        "LimitRange",
        json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}}),
        &[
            ("/spec/limits/0/default", Some(json!({"cpu": "2"}))),
            (
                "/spec/limits/0/defaultRequest",
                Some(json!({"cpu": "2", "memory": "64Mi"})),
            ),
        ],
    );
    check(
        "",
        "ResourceQuota",
        json!({"spec": {"hard": {"cpu": "1000m", "pods": 10}}}),
        &[
            ("/spec/hard/cpu", Some(json!("1"))),
            ("/spec/hard/pods", Some(json!("10"))),
        ],
    );
}

#[test]
fn other_defaults() {
    check(
        "discovery.k8s.io",
        "EndpointSlice",
        json!({"ports": [{"port": 80}]}),
        &[
            ("/ports/0/name", Some(json!(""))),
            ("/ports/0/protocol", Some(json!("TCP"))),
        ],
    );
    check(
        "scheduling.k8s.io",
        "PriorityClass",
        json!({"value": 10}),
        &[("/preemptionPolicy", Some(json!("PreemptLowerPriority")))],
    );
    check(
        "coordination.k8s.io",
        "Lease",
        json!({"spec": {}}),
        &[("/spec", Some(json!({})))],
    );
}
