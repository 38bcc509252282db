//! Shared HTTP plumbing: who is calling, the guard, problem+json, health.

pub mod caller;
pub mod extract;
pub mod health;
pub mod listener;
pub mod middleware;
pub mod problem;

pub use extract::{ApiPath, ApiQuery};
pub use middleware::*;
