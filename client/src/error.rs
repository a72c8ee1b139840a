//! The client's error type for what the user must fix or this machine cannot do: a
//! file, a flag, a policy, a key, a window. It sits below everything else of the
//! client; connection and session failures join it in `failure.rs`, which gives
//! each its exit status (docs/DESIGN.md "Exit status").

use std::path::PathBuf;

/// Exit statuses of `verify`, `console`, `bridge` and `verify-report`.
pub mod exit {
    /// Trusted, or the command succeeded.
    pub const OK: u8 = 0;
    /// The guest or report is NOT trusted (a check failed, or the identity changed).
    pub const NOT_TRUSTED: u8 = 1;
    /// Unusable input: a missing or malformed file, a bad policy, a bad flag.
    pub const BAD_INPUT: u8 = 2;
    /// No verdict reached: the guest could not be reached or spoke no valid
    /// protocol, a time-out, or this machine could not run the command.
    pub const NO_VERDICT: u8 = 3;
}

/// Errors of the client library and CLI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A file could not be read or written.
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// A file has the wrong content.
    #[error("{}: {reason}", path.display())]
    BadInput { path: PathBuf, reason: String },
    /// A file holding a private key is readable by others, or belongs to someone else.
    #[error("{}: {reason}", path.display())]
    Unsafe { path: PathBuf, reason: String },
    /// A command-line value is invalid.
    #[error("{flag}: {reason}")]
    BadArgument { flag: &'static str, reason: String },
    /// The trust policy cannot be used.
    #[error("{}: {source}", path.display())]
    Policy { path: PathBuf, source: cvmc_protocol::PolicyError },
    /// A policy root cannot be used.
    #[error("{}: {source}", path.display())]
    Root { path: PathBuf, source: cvmc_protocol::VerifyError },
    /// There is no safe place for the client's key and pins.
    #[error("no configuration directory: {0}")]
    NoConfigDir(String),
    /// This machine could not run the command (an async runtime, a window, a socket).
    #[error("{what}: {reason}")]
    Local { what: &'static str, reason: String },
}

impl ClientError {
    /// Exit status for the CLI: unusable input (2), or this machine could not run the
    /// command (3: no verdict reached).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Local { .. } => exit::NO_VERDICT,
            _ => exit::BAD_INPUT,
        }
    }
}

/// Read a whole file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::File { path: path.to_path_buf(), reason: e.to_string() })
}
