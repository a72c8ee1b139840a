//! `cvm-console verify HOST:PORT`: attest a live guest on the verify channel.

use cvmc_protocol::handshake::alpn;
use cvmc_protocol::snp::report::Report;

use crate::net::{ConnectError, ConnectOptions, connect};
use crate::outcome::Outcome;

/// Attest the guest; a failed check is an `Outcome`, a failed connection an error.
pub async fn verify_live(address: &str, opts: &ConnectOptions) -> Result<Outcome, ConnectError> {
    match connect(address, alpn::VERIFY, opts).await {
        Ok(mut attested) => {
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut attested.stream).await;
            Ok(Outcome {
                report: Report::parse(&attested.report).ok(),
                identity: Some(attested.guest.identity_fingerprint.clone()),
                pin: attested.pin,
                result: Ok(attested.guest.verified),
            })
        }
        Err(ConnectError::Refused { error, report }) => {
            Ok(Outcome { result: Err(error), report: Report::parse(&report).ok(), identity: None, pin: None })
        }
        Err(e) => Err(e),
    }
}
