//! Why a command ended without a verdict, or could not run, and the exit status each
//! gives (docs/DESIGN.md "Exit status"): what the user must fix (a file, a flag: 2) is
//! kept apart from what stopped a verdict from being reached (the network, the guest, a
//! time-out, this machine: 3), and a refusal or a changed identity is "not trusted" (1).

use crate::console_client::ConsoleEnd;
use crate::error::{ClientError, exit};
use crate::net::ConnectError;

/// How a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A file, a flag, a policy, a key, or this machine.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Connecting to the guest or attesting it did not reach a verdict (or it refused).
    #[error(transparent)]
    Connect(Box<ConnectError>),
    /// The console session could not go on.
    #[error("{0}")]
    Session(String),
    /// TDX collateral could not be fetched (or, offline, found in the cache).
    #[error(transparent)]
    Collateral(#[from] crate::pcs::FetchError),
    /// SEV-SNP certificates could not be had from AMD's KDS or the cache.
    #[error(transparent)]
    Kds(#[from] crate::kds::KdsError),
}

impl From<ConnectError> for CommandError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Client(inner) => Self::Client(inner),
            other => Self::Connect(Box::new(other)),
        }
    }
}

impl From<ConsoleEnd> for CommandError {
    fn from(end: ConsoleEnd) -> Self {
        match end {
            ConsoleEnd::Connect(e) => e.into(),
            other => Self::Session(other.to_string()),
        }
    }
}

impl CommandError {
    /// Exit status for the CLI.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Client(e) => e.exit_code(),
            Self::Connect(e) => match e.as_ref() {
                ConnectError::Refused { .. } | ConnectError::IdentityChanged { .. } => exit::NOT_TRUSTED,
                ConnectError::Client(inner) => inner.exit_code(),
                _ => exit::NO_VERDICT,
            },
            Self::Session(_) | Self::Collateral(_) | Self::Kds(_) => exit::NO_VERDICT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_exit_status() {
        let unreachable = CommandError::from(ConnectError::Connect {
            address: "10.0.0.1:7443".into(),
            reason: "connection refused".into(),
        });
        assert_eq!(unreachable.exit_code(), exit::NO_VERDICT);
        let timeout =
            CommandError::from(ConnectError::Timeout { address: "g:1".into(), what: "TLS handshake", secs: 20 });
        assert_eq!(timeout.exit_code(), exit::NO_VERDICT);
        let changed = CommandError::from(ConnectError::IdentityChanged { warning: "w".into() });
        assert_eq!(changed.exit_code(), exit::NOT_TRUSTED);
        let file = CommandError::from(ConnectError::Client(ClientError::File { path: "p".into(), reason: "r".into() }));
        assert!(matches!(file, CommandError::Client(ClientError::File { .. })), "a wrapped client error is unwrapped");
        assert_eq!(file.exit_code(), exit::BAD_INPUT);
        assert_eq!(CommandError::from(ClientError::Local { what: "runtime", reason: "r".into() }).exit_code(), 3);
    }
}
