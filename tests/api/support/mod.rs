pub mod app;
pub mod forms;
pub mod process;
pub mod receiver;
pub mod rp;

pub use app::{TestApp, TestAppOptions};
pub use rp::Rp;
