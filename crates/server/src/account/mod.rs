//! A user's own account: signing in and out, second factor, password,
//! API tokens, language and calendar address.

pub mod api;
pub mod pages;
pub mod service;
