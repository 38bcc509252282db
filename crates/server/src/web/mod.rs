//! Shared page plumbing: the page shell, forms and CSRF, error pages, assets.

pub mod assets;
pub mod errors;
pub mod forms;
pub mod page;
