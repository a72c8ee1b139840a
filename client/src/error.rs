//! The client's error type: one variant per kind of failure a person must act on.

use std::path::PathBuf;

/// Errors of the client library and CLI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A file could not be read.
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// A file has the wrong content.
    #[error("{path}: {reason}")]
    BadInput { path: PathBuf, reason: String },
    /// A command-line value is invalid.
    #[error("{flag}: {reason}")]
    BadArgument { flag: &'static str, reason: String },
    /// The trust policy cannot be used.
    #[error("{path}: {source}")]
    Policy { path: PathBuf, source: cvmc_protocol::PolicyError },
    /// A policy root cannot be used.
    #[error("{path}: {source}")]
    Root { path: PathBuf, source: cvmc_protocol::VerifyError },
}

impl ClientError {
    /// Exit status for the CLI: 2 for unusable input (1 is "not trusted").
    pub fn exit_code(&self) -> u8 {
        crate::cli::EXIT_BAD_INPUT
    }
}

/// Read a whole file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::File { path: path.to_path_buf(), reason: e.to_string() })
}
