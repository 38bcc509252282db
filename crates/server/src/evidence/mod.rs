//! Evidence and its chain of custody.

pub mod api;
pub mod blob_s3;
pub mod pages;
pub mod service;

pub use service::*;
