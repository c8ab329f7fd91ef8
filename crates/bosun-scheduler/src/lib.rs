//! The Bosun scheduler: upstream's scheduling framework (queue sort,
//! pre-filter, filter, post-filter, pre-score, score, reserve, permit,
//! bind), its default plugins, an incrementally updated cache with assumed
//! pods, and a priority queue with backoff and event-driven requeueing.
//!
//! Layers, inner to outer: [`resources`]/[`matching`] (pure rules) →
//! [`node_info`]/[`cache`] (cluster view) → [`framework`]/[`plugins`]
//! (decisions) → [`schedule_one`] (one attempt) → [`run`] (watches, queue,
//! binding through the API via a [`cluster::Cluster`]).

pub mod cache;
pub mod cluster;
pub mod config;
pub mod framework;
pub mod matching;
pub mod node_info;
pub mod plugins;
pub mod queue;
pub mod resources;
pub mod run;
pub mod schedule_one;

#[cfg(test)]
mod testing;

pub use config::{KubeSchedulerConfiguration, DEFAULT_SCHEDULER_NAME};
pub use run::{run, SchedulerError};
