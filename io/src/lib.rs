//! The IO that both `cvm-consoled` and `cvm-console` do the same way, on top of the
//! sans-IO protocol crate (which does none) and below both programs (which share no
//! code otherwise: the client must build without the server).
//!
//! ```text
//! protocol::frame (bytes) ─► frames::read_frame / write_frame (tokio streams)
//! rustls               ─► tls::HandshakeSignatures (what both verifiers check), tls::provider
//! std::fs              ─► files::write_private (0600, whole or not at all)
//! ```

#![forbid(unsafe_code)]

pub mod files;
pub mod frames;
pub mod tls;
