//! The runtime side of the agent (kubelet's kuberuntime): reading a pod's
//! runtime state, deciding the next actions, building CRI configurations
//! and running them.
pub mod actions;
pub mod config;
pub mod env;
pub mod lifecycle;
pub mod manager;
pub mod state;
pub mod termination;
