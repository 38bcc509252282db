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
mod openapi_shape;
pub mod requests;
pub mod routes;
pub mod web;

#[cfg(test)]
mod layering;

pub use node::{open_store, open_store_with, Node, RunningNode, StartError};
