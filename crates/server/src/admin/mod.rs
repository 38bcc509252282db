//! Running the node: the organisation, its users and roles, the audit log.

pub mod api;
pub mod pages;
pub mod pages_resets;
pub mod resets;
pub mod service;
