//! Shared HTTP plumbing: who is calling, the guard, problem+json, health.

pub mod caller;
pub mod health;
pub mod middleware;
pub mod problem;

pub use middleware::*;
