//! Re-exports.
pub use deleghe_adapters as adapters;
pub use deleghe_domain as domain;
