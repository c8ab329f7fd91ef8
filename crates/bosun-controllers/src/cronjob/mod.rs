//! The CronJob controller (upstream pkg/controller/cronjob, ControllerV2):
//! creates a Job per scheduled time (full cron syntax and `timeZone`, see
//! [`schedule`]), honours concurrencyPolicy, startingDeadlineSeconds,
//! suspend and the history limits, keeps `status.active`,
//! `lastScheduleTime` and `lastSuccessfulTime`, and sleeps until the next
//! scheduled time instead of polling.
//!
//! [`plan`] holds the decisions as pure functions; this module does the
//! API calls.

pub mod plan;
pub mod schedule;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{DeleteParams, PostParams, PropagationPolicy};
use kube::{Api, ResourceExt};

use self::plan::{Event, Next};
use crate::events::Recorder;
use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

pub struct CronJobController {
    client: kube::Client,
    cronjobs: Arc<Store<CronJob>>,
    jobs: Arc<Store<Job>>,
    queue: WorkQueue<ObjectKey>,
    recorder: Recorder,
}

impl CronJobController {
    pub fn new(client: kube::Client, factory: &InformerFactory, recorder: Recorder) -> Arc<Self> {
        let cj_informer = factory.informer::<CronJob>();
        let job_informer = factory.informer::<Job>();
        let this = Arc::new(CronJobController {
            client,
            cronjobs: cj_informer.store(),
            jobs: job_informer.store(),
            queue: WorkQueue::new(),
            recorder,
        });
        let queue = this.queue.clone();
        cj_informer.on_change(move |change| match change {
            Change::Added(c) | Change::Updated { new: c, .. } => {
                queue.add(ObjectKey::of(c.as_ref()))
            }
            Change::Deleted(_) => {}
        });
        let weak = Arc::downgrade(&this);
        job_informer.on_change(move |change| {
            let Some(c) = weak.upgrade() else { return };
            match change {
                Change::Added(j) | Change::Deleted(j) => c.enqueue_owner(j),
                Change::Updated { old, new } => {
                    c.enqueue_owner(new);
                    if old.metadata.owner_references != new.metadata.owner_references {
                        c.enqueue_owner(old);
                    }
                }
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    fn enqueue_owner(&self, job: &Job) {
        if let Some(cj) = self.owner_of(job) {
            self.queue.add(ObjectKey::of(cj.as_ref()));
        }
    }

    fn owner_of(&self, job: &Job) -> Option<Arc<CronJob>> {
        crate::controller_ref::resolve(&self.cronjobs, job)
    }

    fn record(&self, cj: &CronJob, events: Vec<Event>) {
        for e in events {
            if e.warning {
                self.recorder.warning(cj, e.reason, e.message);
            } else {
                self.recorder.normal(cj, e.reason, e.message);
            }
        }
    }

    /// Deletes a Job with background propagation; `Ok(true)` when it is
    /// gone.
    async fn delete_job(&self, ns: &str, name: &str) -> Result<bool, kube::Error> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match api.delete(name, &dp).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(true),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Reconciler for CronJobController {
    const NAME: &'static str = "cronjob";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(shared) = self.cronjobs.get(key) else {
            return Ok(());
        };
        let uid = shared.uid().unwrap_or_default();
        let jobs: Vec<Arc<Job>> = self.jobs.controlled_by(&uid);
        let mut cj = (*shared).clone();
        let mut events = Vec::new();
        let api: Api<CronJob> = Api::namespaced(self.client.clone(), &key.namespace);
        let job_api: Api<Job> = Api::namespaced(self.client.clone(), &key.namespace);

        // History limits first.
        let mut update = false;
        for job in plan::jobs_to_clean(&cj, &jobs) {
            match self.delete_job(&key.namespace, &job.name_any()).await {
                Ok(_) => {
                    plan::job_deleted(&mut cj, &job, &mut events);
                    update = true;
                }
                Err(e) => events.push(Event {
                    warning: true,
                    reason: "FailedDelete",
                    message: format!("Deleted job: {e}"),
                }),
            }
        }

        // A Job we do not list as active may be one created just before a
        // restart whose status write we have not seen: read the CronJob
        // fresh before calling it unexpected.
        let unexpected = jobs.iter().any(|j| {
            plan::finished_type(j).is_none()
                && !plan::in_active_list(&cj, &j.uid().unwrap_or_default())
        });
        if unexpected {
            if let Some(fresh) = api.get_opt(&key.name).await? {
                if fresh.uid() == cj.uid() {
                    cj.status = fresh.status.clone();
                    cj.metadata.resource_version = fresh.metadata.resource_version.clone();
                }
            }
        }
        // Active Jobs the informer lacks: ask the API before dropping them.
        let mut missing = HashSet::new();
        for r in plan::unseen_active(&cj, &jobs) {
            let name = r.name.clone().unwrap_or_default();
            match job_api.get_opt(&name).await? {
                None => {
                    missing.insert(r.uid.clone().unwrap_or_default());
                }
                Some(j) if j.uid() != r.uid => {
                    missing.insert(r.uid.clone().unwrap_or_default());
                }
                Some(_) => {}
            }
        }
        if plan::reconcile_jobs(&mut cj, &jobs, &missing, &mut events) {
            update = true;
        }

        let now = crate::clock::now();
        let mut result = Ok(());
        let mut requeue = None;
        match plan::decide(&cj, now, &mut events) {
            Next::Idle => {}
            Next::Wait(d) => requeue = Some(d),
            Next::Start {
                job,
                scheduled,
                replace,
                requeue: after,
            } => {
                let mut replaced_all = true;
                for r in &replace {
                    let name = r.name.clone().unwrap_or_default();
                    match self.delete_job(&key.namespace, &name).await {
                        Ok(_) => {
                            plan::replaced(&mut cj, r, &mut events);
                            update = true;
                        }
                        Err(e) => {
                            events.push(Event {
                                warning: true,
                                reason: "FailedDelete",
                                message: format!("Deleted job: {e}"),
                            });
                            replaced_all = false;
                            result = Err(SyncError::Other(format!(
                                "could not replace job {}/{name}",
                                key.namespace
                            )));
                        }
                    }
                }
                if replaced_all {
                    match job_api.create(&PostParams::default(), &job).await {
                        Ok(created) => {
                            events.push(Event {
                                warning: false,
                                reason: "SuccessfulCreate",
                                message: format!("Created job {}", created.name_any()),
                            });
                            plan::job_started(&mut cj, &created, scheduled);
                            update = true;
                            requeue = after;
                        }
                        Err(kube::Error::Api(s)) if s.code == 409 => {
                            // Created before (a restart between the create
                            // and the status write): adopt it into the
                            // status if it is ours.
                            let existing = job_api.get_opt(&job.name_any()).await?;
                            if let Some(existing) = existing {
                                let ours = crate::informer::controller_uid(&existing)
                                    == Some(uid.as_str());
                                if ours {
                                    if plan::finished_type(&existing).is_none() {
                                        plan::job_started(&mut cj, &existing, scheduled);
                                    } else {
                                        cj.status.get_or_insert_default().last_schedule_time = Some(
                                            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                                                scheduled,
                                            ),
                                        );
                                    }
                                    update = true;
                                    requeue = after;
                                }
                            }
                        }
                        Err(e) => {
                            events.push(Event {
                                warning: true,
                                reason: "FailedCreate",
                                message: format!("Error creating job: {e}"),
                            });
                            result = Err(e.into());
                        }
                    }
                }
            }
        }
        self.record(&cj, events);
        if update && cj.status != shared.status {
            match api
                .replace_status(&key.name, &PostParams::default(), &cj)
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(d) = requeue {
            self.queue.add_after(key.clone(), d);
        }
        result
    }
}

#[cfg(test)]
mod tests;
