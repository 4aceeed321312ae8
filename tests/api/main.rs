//! Integration tests: every test starts its own dingo on port 0 with its own SQLite file and key
//! directory, its own DingTalk simulator over real HTTP, and a clock it controls. Relying
//! parties are played by the `openidconnect` crate and by a plain HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod admin;
mod audit;
mod authorize;
mod caching;
mod changes;
mod cli;
mod client_auth;
mod client_credentials;
mod consent;
mod cors;
mod csrf;
mod demo;
mod device;
mod discovery;
mod events;
mod events_stream;
mod in_app;
mod jobs;
mod keys;
mod limits;
mod login;
mod logout;
mod native;
mod ops;
mod par;
mod permissions;
mod policy;
mod postgres;
mod properties;
mod refresh;
mod resilience;
mod response_modes;
mod revocation;
mod sessions;
mod token;
mod token_exchange;
mod userinfo;
