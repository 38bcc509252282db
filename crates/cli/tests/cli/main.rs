//! The `entraide` binary, run as a user would: one test binary for the
//! command line (the server's behaviour over HTTP is tested in
//! `crates/server/tests/integration`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod commands;
mod evidence;
mod knowledge;
mod peer;
