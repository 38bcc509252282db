//! The runtime: state, errors, configuration, credentials, translations.
//! Nothing here knows HTTP or HTML.

pub mod audit;
pub mod blob_s3;
pub mod body_reads;
pub mod config;
pub mod credentials;
pub mod csv;
pub mod custody;
pub mod edge;
pub mod error;
pub mod i18n;
pub mod inbound;
pub mod knowledge_index;
pub mod mail;
pub mod mailer;
pub mod metrics;
pub mod principal;
pub mod refusals;
pub mod state;
pub mod transfers;
