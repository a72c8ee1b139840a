//! cvm-consoled: the in-guest server of cvm-console.
//!
//! This crate will hold the tokio + rustls server, evidence providers, console and
//! display channels. The simulated attestation chain lives in [`sim`].

pub mod config;
pub mod sim;
pub mod siminit;
