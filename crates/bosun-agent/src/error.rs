//! The agent's errors.

use std::path::PathBuf;

use crate::cri::CriError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("container runtime not ready: {0}")]
    RuntimeNotReady(String),
    #[error("cannot import image {}: {message}", .file.display())]
    ImageImport { file: PathBuf, message: String },
    #[error(transparent)]
    Cri(#[from] CriError),
    #[error("API request ({what}) failed: {source}")]
    Api {
        what: &'static str,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot build {what}: {source}")]
    Build {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl AgentError {
    pub fn api(what: &'static str, source: kube::Error) -> Self {
        AgentError::Api {
            what,
            source: Box::new(source),
        }
    }
}
