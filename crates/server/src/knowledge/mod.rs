//! The knowledge repository: laws, treaties, profiles, search.

pub mod api;
pub mod pages;
pub mod service;

pub use service::*;
