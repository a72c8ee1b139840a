//! The client's error type, and the exit status each kind of failure gives
//! (docs/DESIGN.md "Exit status"): what the user must fix (a file, a flag: 2) is kept
//! apart from what stopped a verdict from being reached (a network, a guest, a
//! time-out, this machine: 3).

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
    /// Connecting to the guest or attesting it did not reach a verdict.
    #[error(transparent)]
    Connect(Box<crate::net::ConnectError>),
    /// The console session could not go on.
    #[error("{0}")]
    Session(String),
    /// This machine could not run the command (an async runtime, a window, a socket).
    #[error("{what}: {reason}")]
    Local { what: &'static str, reason: String },
}

impl From<crate::net::ConnectError> for ClientError {
    fn from(e: crate::net::ConnectError) -> Self {
        match e {
            crate::net::ConnectError::Client(inner) => inner,
            other => Self::Connect(Box::new(other)),
        }
    }
}

impl From<crate::console_client::ConsoleEnd> for ClientError {
    fn from(end: crate::console_client::ConsoleEnd) -> Self {
        use crate::console_client::ConsoleEnd;
        match end {
            ConsoleEnd::Connect(e) => e.into(),
            other => Self::Session(other.to_string()),
        }
    }
}

impl ClientError {
    /// Exit status for the CLI.
    pub fn exit_code(&self) -> u8 {
        use crate::net::ConnectError;
        match self {
            Self::File { .. }
            | Self::BadInput { .. }
            | Self::Unsafe { .. }
            | Self::BadArgument { .. }
            | Self::Policy { .. }
            | Self::Root { .. }
            | Self::NoConfigDir(_) => exit::BAD_INPUT,
            Self::Connect(e) => match e.as_ref() {
                ConnectError::Refused { .. } | ConnectError::IdentityChanged { .. } => exit::NOT_TRUSTED,
                ConnectError::Client(inner) => inner.exit_code(),
                _ => exit::NO_VERDICT,
            },
            Self::Session(_) | Self::Local { .. } => exit::NO_VERDICT,
        }
    }
}

/// Read a whole file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::File { path: path.to_path_buf(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ConnectError;

    #[test]
    fn each_kind_of_failure_has_its_exit_status() {
        let unreachable = ClientError::from(ConnectError::Connect {
            address: "10.0.0.1:7443".into(),
            reason: "connection refused".into(),
        });
        assert_eq!(unreachable.exit_code(), exit::NO_VERDICT);
        let timeout =
            ClientError::from(ConnectError::Timeout { address: "g:1".into(), what: "TLS handshake", secs: 20 });
        assert_eq!(timeout.exit_code(), exit::NO_VERDICT);
        let changed = ClientError::from(ConnectError::IdentityChanged { warning: "w".into() });
        assert_eq!(changed.exit_code(), exit::NOT_TRUSTED);
        let file = ClientError::from(ConnectError::Client(ClientError::File { path: "p".into(), reason: "r".into() }));
        assert!(matches!(file, ClientError::File { .. }), "a wrapped client error is unwrapped");
        assert_eq!(file.exit_code(), exit::BAD_INPUT);
        assert_eq!(ClientError::Local { what: "runtime", reason: "r".into() }.exit_code(), exit::NO_VERDICT);
    }
}
