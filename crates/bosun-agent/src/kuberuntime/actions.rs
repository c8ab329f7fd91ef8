//! What to do next for one pod (kubelet's computePodActions), as a pure
//! function of the pod's spec and what the runtime runs.

use k8s_openapi::api::core::v1::{Container, Pod};

use super::state::{ContainerRecord, ContainerState, PodRuntimeStatus};
pub use crate::prober::is_sidecar;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn of(pod: &Pod) -> Self {
        match pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
            Some("Never") => RestartPolicy::Never,
            Some("OnFailure") => RestartPolicy::OnFailure,
            _ => RestartPolicy::Always,
        }
    }

    /// Whether a container that exited with `code` runs again.
    pub fn restarts(self, code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => code != 0,
            RestartPolicy::Never => false,
        }
    }
}

/// A container to (re)start: where it is in the spec and its restart count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub init: bool,
    pub index: usize,
    pub name: String,
    pub attempt: u32,
    pub restart_count: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodActions {
    /// Stop everything of the pod first (its sandbox is gone or dead).
    pub kill_pod: bool,
    /// Create a new sandbox with this attempt number.
    pub create_sandbox: Option<u32>,
    /// Containers to start, in order (an init container alone).
    pub start: Vec<Start>,
    /// Running containers no longer in the spec.
    pub kill: Vec<String>,
}

pub fn init_containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[])
}

pub fn containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[])
}

/// Where the init containers stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitProgress {
    /// All completed (or there are none).
    Done,
    /// Init container `index` must run (first run or restart).
    Next(usize),
    /// One is running or waiting for its back-off.
    Running,
    /// Init container `index` failed and the pod never restarts it.
    Failed(usize),
}

/// Whether a running container passed its startup probe (or has none).
pub type Started<'a> = &'a dyn Fn(&ContainerRecord) -> bool;

/// Where the init containers stand. A restartable init container (native
/// sidecar) counts once it runs and its startup probe passed; once any
/// regular container exists, initialization is over (kubelet's rule).
pub fn init_progress(pod: &Pod, status: &PodRuntimeStatus, started: Started<'_>) -> InitProgress {
    let policy = RestartPolicy::of(pod);
    if containers(pod)
        .iter()
        .any(|c| status.latest(&c.name).is_some())
    {
        return InitProgress::Done;
    }
    for (i, c) in init_containers(pod).iter().enumerate() {
        if is_sidecar(c) {
            match status.latest(&c.name) {
                None => return InitProgress::Next(i),
                Some(r) if r.state == ContainerState::Running && started(r) => continue,
                Some(r) if r.state == ContainerState::Exited => return InitProgress::Next(i),
                Some(_) => return InitProgress::Running,
            }
        }
        match status.latest(&c.name) {
            None => return InitProgress::Next(i),
            Some(r) if r.state == ContainerState::Exited && r.exit_code == 0 => continue,
            Some(r) if r.state == ContainerState::Exited => {
                // Init containers restart on failure unless the pod's
                // policy is Never.
                return if policy == RestartPolicy::Never {
                    InitProgress::Failed(i)
                } else {
                    InitProgress::Next(i)
                };
            }
            Some(_) => return InitProgress::Running,
        }
    }
    InitProgress::Done
}

fn start_for(status: &PodRuntimeStatus, init: bool, index: usize, name: &str) -> Start {
    let (attempt, restart_count) = match status.latest(name) {
        Some(r) => (r.attempt + 1, r.restart_count + 1),
        None => (0, 0),
    };
    Start {
        init,
        index,
        name: name.to_string(),
        attempt,
        restart_count,
    }
}

/// Whether every regular container ran to an end it is not restarted
/// from (a Job-like pod is done; its sidecars are not restarted).
pub fn regular_containers_done(pod: &Pod, status: &PodRuntimeStatus) -> bool {
    let policy = RestartPolicy::of(pod);
    !containers(pod).is_empty()
        && containers(pod).iter().all(|c| {
            status
                .latest(&c.name)
                .is_some_and(|r| r.state == ContainerState::Exited && !policy.restarts(r.exit_code))
        })
}

/// Decides the next steps. `in_backoff(name)` says whether a restart of
/// container `name` must still wait; `started` whether a running
/// container passed its startup probe.
pub fn compute_pod_actions(
    pod: &Pod,
    status: &PodRuntimeStatus,
    in_backoff: &dyn Fn(&str) -> bool,
    started: Started<'_>,
) -> PodActions {
    let policy = RestartPolicy::of(pod);
    let mut actions = PodActions::default();
    if status.ready_sandbox().is_none() {
        // A pod that never restarts and whose containers all ran to the
        // end keeps its dead sandbox: there is nothing left to run.
        let all_ran = containers(pod).iter().all(|c| {
            status
                .latest(&c.name)
                .is_some_and(|r| r.state == ContainerState::Exited)
        });
        if !status.sandboxes.is_empty() && policy == RestartPolicy::Never && all_ran {
            return actions;
        }
        if !status.sandboxes.is_empty()
            && policy == RestartPolicy::Never
            && matches!(init_progress(pod, status, started), InitProgress::Failed(_))
        {
            return actions;
        }
        actions.kill_pod = !status.sandboxes.is_empty();
        actions.create_sandbox = Some(status.sandboxes.first().map(|s| s.attempt + 1).unwrap_or(0));
        // Everything starts afresh in the new sandbox.
        let fresh = PodRuntimeStatus::default();
        match init_containers(pod).first() {
            Some(c) => actions.start.push(start_for(&fresh, true, 0, &c.name)),
            None => {
                for (i, c) in containers(pod).iter().enumerate() {
                    actions.start.push(start_for(&fresh, false, i, &c.name));
                }
            }
        }
        return actions;
    }
    let known: Vec<&str> = init_containers(pod)
        .iter()
        .chain(containers(pod))
        .map(|c| c.name.as_str())
        .collect();
    for r in status.running() {
        if !known.contains(&r.name.as_str()) {
            actions.kill.push(r.id.clone());
        }
    }
    match init_progress(pod, status, started) {
        InitProgress::Done => {
            // Sidecars restart whatever the pod's policy, until the pod's
            // regular containers are done.
            if !regular_containers_done(pod, status) {
                for (i, c) in init_containers(pod).iter().enumerate() {
                    if !is_sidecar(c) {
                        continue;
                    }
                    match status.latest(&c.name) {
                        Some(r) if r.state == ContainerState::Exited && !in_backoff(&c.name) => {
                            actions.start.push(start_for(status, true, i, &c.name));
                        }
                        None => actions.start.push(start_for(status, true, i, &c.name)),
                        _ => {}
                    }
                }
            }
        }
        InitProgress::Next(i) => {
            let name = &init_containers(pod)[i].name;
            let restarting = status.latest(name).is_some();
            if !(restarting && in_backoff(name)) {
                actions.start.push(start_for(status, true, i, name));
            }
            return actions;
        }
        InitProgress::Running | InitProgress::Failed(_) => return actions,
    }
    for (i, c) in containers(pod).iter().enumerate() {
        match status.latest(&c.name) {
            None => actions.start.push(start_for(status, false, i, &c.name)),
            Some(r) if r.state == ContainerState::Exited => {
                if policy.restarts(r.exit_code) && !in_backoff(&c.name) {
                    actions.start.push(start_for(status, false, i, &c.name));
                }
            }
            Some(_) => {}
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::super::state::{ContainerRecord, SandboxRecord};
    use super::*;
    use serde_json::json;

    fn pod(policy: &str, inits: &[&str], containers: &[&str]) -> Pod {
        let c = |n: &&str| json!({"name": n, "image": "busybox"});
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d", "uid": "u1"},
            "spec": {
                "restartPolicy": policy,
                "initContainers": inits.iter().map(c).collect::<Vec<_>>(),
                "containers": containers.iter().map(c).collect::<Vec<_>>(),
            }
        }))
        .unwrap()
    }

    fn sandbox(ready: bool, attempt: u32) -> SandboxRecord {
        SandboxRecord {
            id: format!("sb{attempt}"),
            attempt,
            ready,
            created_at: i64::from(attempt),
            ip: Some("10.244.0.2".into()),
        }
    }

    fn rec(name: &str, attempt: u32, state: ContainerState, exit: i32) -> ContainerRecord {
        ContainerRecord {
            id: format!("{name}-{attempt}"),
            sandbox_id: "sb0".into(),
            name: name.into(),
            attempt,
            state,
            created_at: 1,
            started_at: 1,
            finished_at: 0,
            exit_code: exit,
            reason: String::new(),
            message: String::new(),
            image: "busybox".into(),
            image_ref: "sha256:1".into(),
            restart_count: attempt as i32,
        }
    }

    fn names(a: &PodActions) -> Vec<(bool, String, u32)> {
        a.start
            .iter()
            .map(|s| (s.init, s.name.clone(), s.attempt))
            .collect()
    }

    #[test]
    fn new_pod_gets_a_sandbox_and_its_first_init_container() {
        let p = pod("Always", &["i1", "i2"], &["a"]);
        let a = compute_pod_actions(&p, &PodRuntimeStatus::default(), &|_| false, &|_| true);
        assert_eq!(a.create_sandbox, Some(0));
        assert!(!a.kill_pod);
        assert_eq!(names(&a), [(true, "i1".into(), 0)]);

        let p = pod("Always", &[], &["a", "b"]);
        let a = compute_pod_actions(&p, &PodRuntimeStatus::default(), &|_| false, &|_| true);
        assert_eq!(names(&a), [(false, "a".into(), 0), (false, "b".into(), 0)]);
    }

    #[test]
    fn init_containers_run_in_order() {
        let p = pod("Always", &["i1", "i2"], &["a"]);
        let mut st = PodRuntimeStatus {
            sandboxes: vec![sandbox(true, 0)],
            containers: vec![rec("i1", 0, ContainerState::Running, 0)],
        };
        assert_eq!(
            compute_pod_actions(&p, &st, &|_| false, &|_| true),
            PodActions::default()
        );
        st.containers[0].state = ContainerState::Exited;
        assert_eq!(
            names(&compute_pod_actions(&p, &st, &|_| false, &|_| true)),
            [(true, "i2".into(), 0)]
        );
        st.containers
            .insert(0, rec("i2", 0, ContainerState::Exited, 0));
        assert_eq!(
            names(&compute_pod_actions(&p, &st, &|_| false, &|_| true)),
            [(false, "a".into(), 0)]
        );
    }

    #[test]
    fn failed_init_container_restarts_unless_never() {
        let st = PodRuntimeStatus {
            sandboxes: vec![sandbox(true, 0)],
            containers: vec![rec("i1", 0, ContainerState::Exited, 1)],
        };
        let p = pod("OnFailure", &["i1"], &["a"]);
        assert_eq!(
            names(&compute_pod_actions(&p, &st, &|_| false, &|_| true)),
            [(true, "i1".into(), 1)]
        );
        assert!(compute_pod_actions(&p, &st, &|_| true, &|_| true)
            .start
            .is_empty());
        let p = pod("Never", &["i1"], &["a"]);
        assert_eq!(init_progress(&p, &st, &|_| true), InitProgress::Failed(0));
        assert!(compute_pod_actions(&p, &st, &|_| false, &|_| true)
            .start
            .is_empty());
    }

    #[test]
    fn restart_policy_decides_restarts() {
        let st = |code| PodRuntimeStatus {
            sandboxes: vec![sandbox(true, 0)],
            containers: vec![rec("a", 2, ContainerState::Exited, code)],
        };
        let a = compute_pod_actions(&pod("Always", &[], &["a"]), &st(0), &|_| false, &|_| true);
        assert_eq!(a.start[0].attempt, 3);
        assert_eq!(a.start[0].restart_count, 3);
        assert!(
            compute_pod_actions(&pod("Always", &[], &["a"]), &st(0), &|_| true, &|_| true)
                .start
                .is_empty()
        );
        assert!(
            compute_pod_actions(&pod("OnFailure", &[], &["a"]), &st(0), &|_| false, &|_| {
                true
            })
            .start
            .is_empty()
        );
        assert_eq!(
            compute_pod_actions(&pod("OnFailure", &[], &["a"]), &st(1), &|_| false, &|_| {
                true
            })
            .start
            .len(),
            1
        );
        assert!(
            compute_pod_actions(&pod("Never", &[], &["a"]), &st(1), &|_| false, &|_| true)
                .start
                .is_empty()
        );
    }

    #[test]
    fn dead_sandbox_is_replaced_unless_the_pod_is_done() {
        let st = PodRuntimeStatus {
            sandboxes: vec![sandbox(false, 1)],
            containers: vec![rec("a", 0, ContainerState::Exited, 0)],
        };
        let a = compute_pod_actions(&pod("Always", &[], &["a"]), &st, &|_| false, &|_| true);
        assert!(a.kill_pod);
        assert_eq!(a.create_sandbox, Some(2));
        assert_eq!(names(&a), [(false, "a".into(), 0)]);
        assert_eq!(
            compute_pod_actions(&pod("Never", &[], &["a"]), &st, &|_| false, &|_| true),
            PodActions::default()
        );
    }

    #[test]
    fn unknown_running_containers_are_killed() {
        let st = PodRuntimeStatus {
            sandboxes: vec![sandbox(true, 0)],
            containers: vec![
                rec("gone", 0, ContainerState::Running, 0),
                rec("a", 0, ContainerState::Running, 0),
            ],
        };
        let a = compute_pod_actions(&pod("Always", &[], &["a"]), &st, &|_| false, &|_| true);
        assert_eq!(a.kill, ["gone-0"]);
        assert!(a.start.is_empty());
    }
}
