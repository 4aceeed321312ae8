//! dingo: an OpenID Connect provider whose upstream identity source is DingTalk (钉钉).
//!
//! Module map and dependency rules: docs/architecture.md.

pub mod admin;
pub mod backchannel;
pub mod calendar;
pub mod changes;
pub mod client_jwks;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dburl;
pub mod demo;
pub mod dingtalk;
pub mod housekeeping;
pub mod html;
pub(crate) mod http;
/// The operator endpoints' paths, for the command line.
pub use http::ops::{HEALTHZ, READYZ};
pub mod identity;
pub mod jobs;
pub mod keyring;
pub mod membership;
pub mod oidc;
pub mod sim;
pub mod startup;
mod state;
pub mod store;
pub mod tasks;
pub mod telemetry;
