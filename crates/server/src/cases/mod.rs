//! Cases: the unit of need-to-know to which requests and evidence belong.

pub mod api;
pub mod pages;
pub mod service;
