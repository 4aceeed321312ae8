pub mod app;
pub mod database;
pub mod forms;
pub mod process;
pub mod receiver;
pub mod rp;
pub mod tcp_proxy;

pub use app::{TestApp, TestAppOptions};
pub use rp::Rp;
