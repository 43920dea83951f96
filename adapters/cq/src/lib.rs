//! placeholder during development
mod html;
mod profile;
pub use profile::Profile;
#[cfg(feature = "sim")]
pub mod sim;
