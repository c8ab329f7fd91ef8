//! The node agent (kubelet analogue): joins a machine to a Bosun (or any
//! Kubernetes) cluster and runs the pods bound to it through containerd's
//! CRI.
//!
//! Layout, after kubelet: `agent.rs` (main loop), `pod_workers.rs` (one
//! task per pod), `pleg.rs` (relisting lifecycle events), `kuberuntime/`
//! (pod spec → CRI, actions, runtime state), `status/` (API pod status and
//! its writer), `node/` (registration, Lease, conditions), `cri/` (the CRI
//! traits, containerd client, fake), `prober/` (startup, liveness and
//! readiness probes), `events.rs` (pod events), `containerd.rs` (own containerd),
//! `cni.rs` (pod network config), `images.rs` + `oci.rs` (built-in images,
//! import), `server/` (the HTTPS server for logs, exec, attach and
//! port-forward), `volume/` (pod volumes: set-up, mounts, tear-down).
pub mod agent;
pub mod backoff;
pub mod cm;
pub mod cni;
pub mod config;
pub mod containerd;
pub mod cri;
pub mod error;
pub mod events;
pub mod images;
pub mod kuberuntime;
pub mod node;
pub mod oci;
pub mod pleg;
pub mod pod_workers;
pub mod prober;
pub mod server;
pub mod stats;
pub mod status;
pub mod volume;

pub use config::AgentConfig;
pub use error::AgentError;
