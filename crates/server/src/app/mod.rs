//! The runtime: state, errors, configuration, credentials, translations.
//! Nothing here knows HTTP or HTML.

pub mod audit;
pub mod blob_s3;
pub mod config;
pub mod credentials;
pub mod csv;
pub mod custody;
pub mod error;
pub mod i18n;
pub mod inbound;
pub mod knowledge_index;
pub mod metrics;
pub mod principal;
pub mod state;
pub mod transfers;
