pub mod app;
pub mod rp;

pub use app::{TestApp, TestAppOptions};
pub use rp::Rp;
