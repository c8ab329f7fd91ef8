//! API server
