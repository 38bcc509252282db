//! The Entraide node: HTTP API, web interface and the operations behind
//! them, on top of the pure domain (`entraide-domain`) and the storage
//! traits (`entraide-store`).

pub mod app;
pub mod directory;
pub mod evidence;
pub mod federation;
pub mod http;
pub mod knowledge;
pub mod node;
pub mod requests;
pub mod routes;
pub mod web;

// Transitional aliases while the features move into their folders.
pub use app::{config, credentials as auth, error, i18n, metrics, ops, state};
pub use evidence::{api as evidence_api, blob_s3, pages as ui_evidence};
pub use federation::{attachments, messaging, peers};
pub use http::{api, caller};
pub use knowledge::web as knowledge_web;
pub use node as server;
pub use requests::{
    calendar, exchange as federated, pages as ui_requests, pdf as document, reminders,
    statistics,
};
pub use web::ui;

pub use node::{open_store, open_store_with, Node, RunningNode, StartError};
