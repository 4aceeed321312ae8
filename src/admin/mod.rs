//! Commands for the people who run dingo (`dingo audit`, …): they work on the database while
//! servers run, and print for a terminal.

pub mod audit;
pub mod people;
mod time;

pub use time::{format_utc, parse_time};
