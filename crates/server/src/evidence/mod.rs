//! Evidence and its chain of custody.

pub mod api;
pub mod api_exchange;
pub mod exchange;
pub mod limits;
pub mod package;
pub mod pages;
pub mod service;

pub use package::*;
pub use service::*;
