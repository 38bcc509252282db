//! The knowledge repository: laws, treaties, profiles, search.

pub mod service;
pub mod web;

pub use service::*;
