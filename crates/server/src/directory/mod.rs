//! The directory: this node and its peers.

pub mod pages;

pub use pages::*;
