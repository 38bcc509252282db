//! Cooperation requests: drafting, approval, sending, deadlines, documents.

pub mod api;
pub mod api_calendar;
pub mod api_clocks;
pub mod api_exchange;
pub mod api_statistics;
pub mod calendar;
pub mod clocks;
pub mod document;
pub mod enforcing;
pub mod exchange;
pub mod pages;
pub mod pages_clocks;
pub mod pages_enforcing;
pub mod pages_form;
pub mod pages_statistics;
pub mod pdf;
pub mod preservation;
pub mod reminders;
pub mod service;
pub mod statistics;
pub mod updates;

pub use document::*;
pub use preservation::*;
pub use service::*;

#[cfg(test)]
mod service_tests;
