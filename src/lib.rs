#![doc = include_str!("../README.md")]

/// The pure rules (`deleghe-domain`).
pub use deleghe_domain as domain;

/// Stores, service and runner (`deleghe-adapters`).
pub use deleghe_adapters as adapters;
