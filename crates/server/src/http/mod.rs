//! Shared HTTP plumbing: who is calling, the guard, problem+json, health.

pub mod api;
pub mod caller;
pub mod middleware;

pub use middleware::*;
