//! A user's own account: signing in and out, second factor, password,
//! getting back in (reset links, a required new password), API tokens,
//! language and calendar address.

pub mod api;
pub mod pages;
pub mod pages_recovery;
pub mod pages_tokens;
pub mod recovery;
pub mod service;
pub mod tokens;
