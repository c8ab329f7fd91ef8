//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's
//! semantics, so several schedulers or controller managers (ours or
//! upstream's) can stand by for one another:
//!
//! - a candidate takes the Lease when it does not exist, has no holder, or
//!   has not changed for `leaseDurationSeconds` as measured on the
//!   candidate's own clock (never by comparing another machine's
//!   `renewTime` with ours);
//! - the leader renews every retry period and gives up leadership when it
//!   could not renew for the renew deadline;
//! - every write is a compare-and-swap on the Lease's resourceVersion, so
//!   two candidates never both win;
//! - on shutdown the leader releases the Lease (empty holder, 1 s
//!   duration) so a standby takes over at once.
//!
//! [`LeaderElector::run`] runs the component while this process leads,
//! stops it when leadership is lost and competes again.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::PostParams;
use kube::Api;
use tokio::sync::watch;
use tokio::time::Instant;

/// Settings, named after kube-scheduler's `--leader-elect-*` flags.
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    /// Lease namespace (`kube-system`).
    pub namespace: String,
    /// Lease name (`kube-scheduler`, `kube-controller-manager`).
    pub name: String,
    /// This candidate's identity, written as `holderIdentity`.
    pub identity: String,
    /// How long a Lease that does not change stays taken.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew.
    pub retry_period: Duration,
    /// The component recorded as the events' source.
    pub component: String,
}

impl LeaderElectionConfig {
    /// Upstream's defaults: 15 s lease, 10 s renew deadline, 2 s retry.
    pub fn new(name: &str, identity: String, component: &str) -> Self {
        LeaderElectionConfig {
            namespace: "kube-system".into(),
            name: name.into(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            component: component.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderElectionError {
    #[error("leaseDuration ({lease:?}) must be greater than renewDeadline ({renew:?})")]
    LeaseNotLongerThanRenew { lease: Duration, renew: Duration },
    #[error("renewDeadline ({renew:?}) must be greater than retryPeriod ({retry:?})")]
    RenewNotLongerThanRetry { renew: Duration, retry: Duration },
    #[error("the led component stopped: {0}")]
    Component(String),
}

/// This machine's host name (`localhost` if it cannot be read).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The host name plus a random suffix, as client-go's `hostname_uuid`.
pub fn default_identity() -> String {
    format!("{}_{:032x}", hostname(), rand::random::<u128>())
}

/// A shutdown signal handed to the led component.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

pub struct LeaderElector {
    client: kube::Client,
    config: LeaderElectionConfig,
    /// The Lease spec as last read and when it was first seen that way.
    observed: Option<(LeaseSpec, Instant)>,
}

/// The outcome of one acquire-or-renew attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// This candidate holds the Lease (acquired or renewed).
    Held,
    /// Someone else holds it.
    HeldByOther,
    /// The API could not be reached or the write lost a race.
    Failed,
}

fn micro_now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

impl LeaderElector {
    pub fn new(
        client: kube::Client,
        config: LeaderElectionConfig,
    ) -> Result<Self, LeaderElectionError> {
        if config.lease_duration <= config.renew_deadline {
            return Err(LeaderElectionError::LeaseNotLongerThanRenew {
                lease: config.lease_duration,
                renew: config.renew_deadline,
            });
        }
        if config.renew_deadline <= config.retry_period {
            return Err(LeaderElectionError::RenewNotLongerThanRetry {
                renew: config.renew_deadline,
                retry: config.retry_period,
            });
        }
        Ok(LeaderElector {
            client,
            config,
            observed: None,
        })
    }

    fn api(&self) -> Api<Lease> {
        Api::namespaced(self.client.clone(), &self.config.namespace)
    }

    /// One attempt to take or renew the Lease.
    pub async fn try_acquire_or_renew(&mut self) -> Attempt {
        let api = self.api();
        let id = self.config.identity.clone();
        let duration = self.config.lease_duration.as_secs().max(1) as i32;
        let lease = match api.get_opt(&self.config.name).await {
            Ok(lease) => lease,
            Err(err) => {
                tracing::debug!(%err, "cannot read the leader Lease");
                return Attempt::Failed;
            }
        };
        let Some(mut lease) = lease else {
            let now = micro_now();
            let fresh = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(id),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match api.create(&PostParams::default(), &fresh).await {
                Ok(created) => {
                    self.observe(&created);
                    Attempt::Held
                }
                Err(kube::Error::Api(s)) if s.code == 409 => Attempt::HeldByOther,
                Err(err) => {
                    tracing::debug!(%err, "cannot create the leader Lease");
                    Attempt::Failed
                }
            };
        };
        self.observe(&lease);
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().unwrap_or("");
        let ours = holder == id;
        if !holder.is_empty() && !ours && !self.observed_expired() {
            return Attempt::HeldByOther;
        }
        let now = micro_now();
        let transitions = spec.lease_transitions.unwrap_or(0);
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(id),
            lease_duration_seconds: Some(duration),
            acquire_time: if ours {
                spec.acquire_time.clone()
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(if ours { transitions } else { transitions + 1 }),
            ..spec
        });
        match api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                self.observe(&updated);
                Attempt::Held
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Attempt::HeldByOther,
            Err(err) => {
                tracing::debug!(%err, "cannot update the leader Lease");
                Attempt::Failed
            }
        }
    }

    fn observe(&mut self, lease: &Lease) {
        let spec = lease.spec.clone().unwrap_or_default();
        match &self.observed {
            Some((seen, _)) if *seen == spec => {}
            _ => self.observed = Some((spec, Instant::now())),
        }
    }

    /// Whether the observed Lease has not changed for its duration.
    fn observed_expired(&self) -> bool {
        match &self.observed {
            Some((spec, since)) => {
                let secs = spec.lease_duration_seconds.unwrap_or(0).max(0) as u64;
                since.elapsed() >= Duration::from_secs(secs)
            }
            None => true,
        }
    }

    /// Gives the Lease up if this candidate holds it.
    pub async fn release(&mut self) {
        let api = self.api();
        let Ok(Some(mut lease)) = api.get_opt(&self.config.name).await else {
            return;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        let now = micro_now();
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..spec
        });
        if let Err(err) = api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            tracing::debug!(%err, "cannot release the leader Lease");
        }
    }

    /// Waits until this candidate holds the Lease.
    async fn acquire(&mut self) {
        tracing::info!(lease = %self.config.name, identity = %self.config.identity, "attempting to acquire leader lease");
        loop {
            if self.try_acquire_or_renew().await == Attempt::Held {
                return;
            }
            // client-go's JitterUntil with factor 1.2.
            let jitter = self
                .config
                .retry_period
                .mul_f64(rand::random::<f64>() * 1.2);
            tokio::time::sleep(self.config.retry_period + jitter).await;
        }
    }

    /// Renews until a renewal has failed for the renew deadline.
    async fn renew_until_lost(&mut self) {
        let mut last_renewed = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let attempt =
                tokio::time::timeout(self.config.renew_deadline, self.try_acquire_or_renew())
                    .await
                    .unwrap_or(Attempt::Failed);
            match attempt {
                Attempt::Held => last_renewed = Instant::now(),
                Attempt::HeldByOther => return,
                Attempt::Failed if last_renewed.elapsed() >= self.config.renew_deadline => return,
                Attempt::Failed => {}
            }
        }
    }

    async fn record_event(&self, message: String) {
        let now = jiff::Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{:x}", self.config.name, now.as_nanosecond())),
                namespace: Some(self.config.namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("coordination.k8s.io/v1".into()),
                kind: Some("Lease".into()),
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..Default::default()
            },
            reason: Some("LeaderElection".into()),
            message: Some(message),
            type_: Some("Normal".into()),
            source: Some(EventSource {
                component: Some(self.config.component.clone()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            reporting_component: Some(self.config.component.clone()),
            reporting_instance: Some(self.config.identity.clone()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.config.namespace);
        if let Err(err) = api.create(&PostParams::default(), &event).await {
            tracing::debug!(%err, "cannot record the leader election event");
        }
    }

    /// Runs `lead` whenever this candidate holds the Lease, until
    /// `shutdown` resolves (then releases the Lease). `lead` gets a
    /// [`Stop`] that resolves when leadership is lost or on shutdown; it
    /// must return soon after.
    pub async fn run<F, Fut, E>(
        mut self,
        mut lead: F,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), LeaderElectionError>
    where
        F: FnMut(Stop) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = self.acquire() => {}
            }
            let identity = self.config.identity.clone();
            tracing::info!(lease = %self.config.name, %identity, "became leader");
            self.record_event(format!("{identity} became leader")).await;
            let _ = stop_tx.send(false);
            let mut rx = stop_rx.clone();
            let stop: Stop = Box::pin(async move {
                let _ = rx.wait_for(|stop| *stop).await;
            });
            let component = lead(stop);
            tokio::pin!(component);
            let mut shutting_down = false;
            let outcome = tokio::select! {
                r = &mut component => Some(r),
                _ = self.renew_until_lost() => None,
                _ = &mut shutdown => { shutting_down = true; None }
            };
            let result = match outcome {
                Some(r) => r,
                None => {
                    let _ = stop_tx.send(true);
                    component.await
                }
            };
            if shutting_down {
                self.release().await;
                return result.map_err(|e| LeaderElectionError::Component(e.to_string()));
            }
            if let Err(e) = result {
                self.release().await;
                return Err(LeaderElectionError::Component(e.to_string()));
            }
            tracing::warn!(lease = %self.config.name, %identity, "leader election lost; standing by");
        }
    }
}
