//! The node agent (kubelet analogue).
pub mod cni;
pub mod containerd;
pub mod cri;
pub mod error;
pub mod images;
pub mod oci;

pub use error::AgentError;
