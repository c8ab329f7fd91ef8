//! The simulator's error type.

use crate::config::ConfigError;

/// Why the simulator could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot register node {node}: {source}")]
    Register {
        node: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot build the {what} object: {source}")]
    Build {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("the pod watch ended unexpectedly")]
    WatchEnded,
}
