//! Operating dingo: metrics in the Prometheus text format and the log output.

pub mod logging;
mod metrics;
pub mod registry;

pub use metrics::Metrics;
