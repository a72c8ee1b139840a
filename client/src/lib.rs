//! cvm-console: the desktop client and command line.
//!
//! ```text
//! policy.toml ─► policy_file ─┐
//! report / evidence ──────────┼─► cvmc_protocol::verify_* ─► Outcome ─► --json | check list | GUI
//! certificates ───────────────┘
//! ```

#![forbid(unsafe_code)]

pub mod backoff;
pub mod bridge;
pub mod cli;
pub mod clientkey;
pub mod console_client;
#[cfg(all(unix, feature = "demo"))]
pub mod demo;
pub mod error;
pub mod failure;
#[cfg(feature = "gui")]
pub mod gui;
pub mod http;
pub mod kds;
pub mod known_guests;
pub mod live;
pub mod measure;
pub mod net;
pub mod outcome;
pub mod pcs;
pub mod policy_file;
pub mod report_view;
#[cfg(feature = "gui")]
pub mod rfb_viewer;
pub mod saved_guests;
pub mod stdio;
pub mod term;
#[cfg(feature = "gui")]
pub mod terminal;
pub mod verify_report;

pub use error::ClientError;
