//! The simulator over real HTTP: each test starts its own simulator on 127.0.0.1:0 with its own
//! clock, and talks to it with reqwest.

mod api_family;
mod controls;
mod faults;
mod in_app;
mod legacy_login;
mod oapi_family;
mod open_auth;
mod support;
mod web_login;
