//! The Entraide node: HTTP API, web interface and the operations behind
//! them, on top of the pure domain (`entraide-domain`) and the storage
//! traits (`entraide-store`).

pub mod account;
pub mod admin;
pub mod app;
pub mod case_page;
pub mod cases;
pub mod dashboard;
pub mod directory;
pub mod evidence;
pub mod federation;
pub mod http;
pub mod inbound;
pub mod knowledge;
pub mod node;
pub mod openapi;
pub mod requests;
pub mod routes;
pub mod web;

#[cfg(test)]
mod layering;

/// Transitional: the old `ops` module's operations at their new homes,
/// for the callers not moved yet (federation, requests, evidence, http,
/// testkit).
pub mod ops {
    pub use crate::account::service::{change_password, create_token, revoke_token};
    pub use crate::admin::service::{
        create_user, initialise_node, set_disabled, set_roles, NewNode,
    };
    pub use crate::app::audit::{Actor, AuditEntryExt};
    pub use crate::app::credentials::{hash_password, verify_password};
    pub use crate::cases::service::create_case;
}

pub use node::{open_store, open_store_with, Node, RunningNode, StartError};
