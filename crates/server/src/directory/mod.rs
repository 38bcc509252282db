//! The directory: this node and its peers, from their signed documents.

pub mod api;
pub mod pages;
pub mod service;
