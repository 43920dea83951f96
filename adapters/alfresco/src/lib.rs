//! placeholder
#[cfg(feature = "sim")]
pub mod sim;
