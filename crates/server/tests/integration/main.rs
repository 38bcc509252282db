//! The integration suite: one test binary (each extra file under `tests/`
//! would be another slow link). Every test boots real nodes on 127.0.0.1:0
//! and talks to them over HTTP; `on_both_backends!` runs each on SQLite and,
//! when ENTRAIDE_TEST_DATABASE_URL is set, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod accounts;
mod api;
mod audit;
mod clocks;
mod evidence;
mod federation;
mod knowledge;
mod requests;
mod security_edge;
mod security_federation;
mod security_peering;
mod security_tokens;
mod transactions;
mod validation;
mod web;
