//! Wiring of the batch controllers (Job, CronJob, TTL-after-finished)
//! into the manager: each is constructed on the shared informers before
//! they start and run once they have synced.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::cronjob::CronJobController;
use crate::events::Recorder;
use crate::informer::InformerFactory;
use crate::job::{JobController, OrphanPods};
use crate::manager::ControllerSet;
use crate::ttl_after_finished::TtlAfterFinishedController;
use crate::{run_workers, Reconciler};

/// Starts one controller's workers.
pub type Starter = Box<dyn FnOnce() -> JoinHandle<()> + Send>;

fn starter<R: Reconciler>(
    r: Arc<R>,
    queue: crate::workqueue::WorkQueue<crate::ObjectKey>,
    workers: usize,
) -> Starter {
    Box::new(move || tokio::spawn(run_workers(r, queue, workers)))
}

/// Registers the enabled batch controllers' informer handlers; the
/// returned starters run their workers (call them after the informers
/// synced).
pub fn prepare(
    client: &kube::Client,
    factory: &InformerFactory,
    enabled: &ControllerSet,
) -> Vec<Starter> {
    let mut out = Vec::new();
    if enabled.is_enabled(JobController::NAME) {
        let rec = Recorder::new(client.clone(), "job-controller");
        let c = JobController::new(client.clone(), factory, rec);
        let orphans = OrphanPods::new(client.clone(), factory);
        out.push(starter(orphans, c.orphan_queue(), 1));
        let q = c.queue();
        out.push(starter(c, q, 5));
    }
    if enabled.is_enabled(CronJobController::NAME) {
        let rec = Recorder::new(client.clone(), "cronjob-controller");
        let c = CronJobController::new(client.clone(), factory, rec);
        let q = c.queue();
        out.push(starter(c, q, 5));
    }
    if enabled.is_enabled(TtlAfterFinishedController::NAME) {
        let c = TtlAfterFinishedController::new(client.clone(), factory);
        let q = c.queue();
        out.push(starter(c, q, 5));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::manager::ControllerSet;

    #[test]
    fn batch_controllers_go_by_upstream_names() {
        for name in ["job", "cronjob", "ttl-after-finished"] {
            let one = ControllerSet::parse(&[name]).expect("known");
            assert!(one.is_enabled(name));
            let all_but = ControllerSet::parse(&["*", &format!("-{name}")]).expect("known");
            assert!(!all_but.is_enabled(name) && all_but.is_enabled("replicaset"));
        }
    }
}
