//! cvm-consoled: the in-guest server of cvm-console.
//!
//! ```text
//! TcpListener ─► tls (rustls, TLS 1.3, authorized client keys)
//!             ─► attest (Hello ─► evidence provider ─► Evidence ─► Proceed)
//!             ─► console (PTY sessions that survive a dropped connection)
//! ```
//!
//! `sim` and `siminit` make the SIMULATED test chain for development and tests.

pub mod admission;
pub mod attest;
pub mod authorized;
pub mod builder;
pub mod cli;
pub mod config;
pub mod console;
pub mod display;
pub mod doctor;
pub mod evidence;
pub mod identity;
pub mod local;
pub mod server;
pub mod sim;
pub mod sim_tdx;
pub mod siminit;
pub mod sys;
pub mod tls;
