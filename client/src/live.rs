//! `cvm-console verify HOST:PORT`: attest a live guest on the verify channel.

use cvmc_protocol::handshake::alpn;

use crate::net::{ConnectError, ConnectOptions, connect};
use crate::outcome::Outcome;

/// Attest the guest; a failed check is an `Outcome`, a failed connection an error.
pub async fn verify_live(address: &str, opts: &ConnectOptions) -> Result<Outcome, ConnectError> {
    match connect(address, alpn::VERIFY, opts).await {
        Ok(mut attested) => {
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut attested.stream).await;
            let mut outcome = Outcome::for_bytes(Ok(attested.guest.verified), &attested.report);
            outcome.identity = Some(attested.guest.identity_fingerprint.clone());
            outcome.pin = attested.pin;
            outcome.stage = Some(attested.guest.stage);
            Ok(outcome)
        }
        Err(ConnectError::Refused { error, report }) => Ok(Outcome::for_bytes(Err(error), &report)),
        Err(e) => Err(e),
    }
}
