//! Registry
