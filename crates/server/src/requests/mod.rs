//! Cooperation requests: drafting, approval, sending, deadlines, documents.

pub mod calendar;
pub mod exchange;
pub mod pages;
pub mod pdf;
pub mod reminders;
pub mod service;
pub mod statistics;

pub use service::*;
