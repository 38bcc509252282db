//! Shared page plumbing: the page shell, forms and CSRF, error pages, assets.

pub mod ui;
