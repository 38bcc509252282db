//! The runtime: state, errors, configuration, credentials, translations.
//! Nothing here knows HTTP or HTML.

pub mod config;
pub mod credentials;
pub mod error;
pub mod i18n;
pub mod metrics;
pub mod ops;
pub mod principal;
pub mod state;
