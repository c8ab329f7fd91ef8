//! Bosun's Kubernetes API server.
//!
//! Serves the Kubernetes REST API for every kind in
//! [`bosun_api::registry`] from one generic request path: requests are
//! parsed into a resource and verb ([`request`]), bodies decoded and
//! negotiated ([`negotiate`]), writes run through the generic storage
//! strategy ([`rest`]) against a [`bosun_store::Store`], and reads and
//! watches are answered from the in-memory [`cache`]. This is the only crate
//! that knows about the store and about HTTP status codes.

mod admission;
mod auth;
mod bootstrap;
pub mod cache;
mod discovery;
pub mod error;
pub mod handler;
mod kubelet;
pub mod metrics;
mod negotiate;
mod objects;
pub mod pki;
mod recent;
pub mod request;
pub mod rest;
mod server;
mod serviceaccount;

pub use server::{ApiServer, ServerConfig, ServerError};
