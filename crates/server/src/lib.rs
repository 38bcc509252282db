//! The Entraide node: HTTP API, web interface and the operations behind
//! them, on top of the pure domain (`entraide-domain`) and the storage
//! traits (`entraide-store`).

pub mod api;
pub mod attachments;
pub mod auth;
pub mod blob_s3;
pub mod calendar;
pub mod caller;
pub mod config;
pub mod directory;
pub mod document;
pub mod error;
pub mod evidence;
pub mod evidence_api;
pub mod federated;
pub mod http;
pub mod i18n;
pub mod knowledge;
pub mod knowledge_web;
pub mod messaging;
pub mod metrics;
pub mod ops;
pub mod peers;
pub mod reminders;
pub mod requests;
pub mod routes;
pub mod server;
pub mod state;
pub mod statistics;
pub mod ui;
pub mod ui_evidence;
pub mod ui_requests;

pub use server::{open_store, open_store_with, Node, RunningNode, StartError};
