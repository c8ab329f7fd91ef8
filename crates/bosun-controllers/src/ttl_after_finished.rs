//! The TTL-after-finished controller (upstream
//! pkg/controller/ttlafterfinished): deletes a finished Job
//! `spec.ttlSecondsAfterFinished` seconds after its Complete or Failed
//! condition, with background propagation so the garbage collector takes
//! its pods.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::{Api, ResourceExt};

use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

pub struct TtlAfterFinishedController {
    client: kube::Client,
    jobs: Arc<Store<Job>>,
    queue: WorkQueue<ObjectKey>,
}

/// When the Job finished: the transition time of its true Complete or
/// Failed condition.
pub fn finish_time(job: &Job) -> Option<jiff::Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Whether the Job has a TTL, is finished and is not being deleted.
pub fn needs_cleanup(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|s| s.ttl_seconds_after_finished)
        .is_some()
        && job.metadata.deletion_timestamp.is_none()
        && finish_time(job).is_some()
}

/// How long until the Job expires (zero when it already has), or `None`
/// when it has no TTL or is not finished.
pub fn time_left(job: &Job, now: jiff::Timestamp) -> Option<Duration> {
    if !needs_cleanup(job) {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let expire_at = finish_time(job)?
        .checked_add(jiff::SignedDuration::from_secs(i64::from(ttl)))
        .ok()?;
    let left = expire_at.duration_since(now);
    Some(if left.is_positive() {
        left.unsigned_abs()
    } else {
        Duration::ZERO
    })
}

impl TtlAfterFinishedController {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        let informer = factory.informer::<Job>();
        let this = Arc::new(TtlAfterFinishedController {
            client,
            jobs: informer.store(),
            queue: WorkQueue::new(),
        });
        let queue = this.queue.clone();
        informer.on_change(move |change| {
            if let Change::Added(j) | Change::Updated { new: j, .. } = change {
                if needs_cleanup(j) {
                    queue.add(ObjectKey::of(j.as_ref()));
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
impl Reconciler for TtlAfterFinishedController {
    const NAME: &'static str = "ttl-after-finished";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(job) = self.jobs.get(key) else {
            return Ok(());
        };
        let now = crate::clock::now();
        match time_left(&job, now) {
            None => return Ok(()),
            Some(left) if !left.is_zero() => {
                self.queue.add_after(key.clone(), left);
                return Ok(());
            }
            Some(_) => {}
        }
        // The informer's copy may be stale (the TTL changed, or the Job
        // was replaced): check a fresh one before deleting.
        let api: Api<Job> = Api::namespaced(self.client.clone(), &key.namespace);
        let fresh = match api.get_opt(&key.name).await? {
            Some(j) => j,
            None => return Ok(()),
        };
        match time_left(&fresh, now) {
            None => return Ok(()),
            Some(left) if !left.is_zero() => {
                self.queue.add_after(key.clone(), left);
                return Ok(());
            }
            Some(_) => {}
        }
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions {
                uid: fresh.uid(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        tracing::debug!(job = %key, "deleting finished job whose TTL expired");
        match api.delete(&key.name, &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn job(ttl: Option<i32>, finished: Option<(&str, i64)>) -> Job {
        Job {
            spec: Some(JobSpec {
                ttl_seconds_after_finished: ttl,
                ..Default::default()
            }),
            status: Some(JobStatus {
                conditions: finished.map(|(t, at)| {
                    vec![JobCondition {
                        type_: t.into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(
                            jiff::Timestamp::from_second(at).expect("ts"),
                        )),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn expiry_as_upstream() {
        let now = jiff::Timestamp::from_second(1_000).expect("ts");
        assert_eq!(time_left(&job(None, Some(("Complete", 900))), now), None);
        assert_eq!(time_left(&job(Some(10), None), now), None);
        // Interim conditions do not count as finished.
        assert_eq!(
            time_left(&job(Some(10), Some(("SuccessCriteriaMet", 900))), now),
            None
        );
        assert_eq!(
            time_left(&job(Some(0), Some(("Complete", 1_000))), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            time_left(&job(Some(100), Some(("Failed", 950))), now),
            Some(Duration::from_secs(50))
        );
        assert_eq!(
            time_left(&job(Some(10), Some(("Failed", 950))), now),
            Some(Duration::ZERO)
        );
        let mut deleting = job(Some(0), Some(("Complete", 900)));
        deleting.metadata.deletion_timestamp = Some(Time(now));
        assert_eq!(time_left(&deleting, now), None);
    }
}
