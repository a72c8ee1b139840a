//! `cvm-console bridge HOST:PORT --policy P --listen 127.0.0.1:PORT`: verified RFB
//! on a loopback port, for any VNC viewer.
//!
//! Every local connection gets its own attested display channel (a fresh report
//! bound to that TLS session); the viewer's bytes are passed through untouched.
//! Only loopback addresses may be listened on: the plain RFB on the local side must
//! never leave this machine.

use cvmc_protocol::text::{escape, escape_lines};
use std::net::SocketAddr;

use tokio::net::TcpListener;

use cvmc_protocol::handshake::alpn;

use crate::net::{ConnectOptions, connect};

/// Why the bridge cannot run.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(
        "--listen {0}: only a loopback address (127.0.0.0/8 or ::1) may be used; plain RFB must not leave this machine"
    )]
    NotLoopback(SocketAddr),
    #[error("--listen {addr}: {reason}")]
    Listen { addr: String, reason: String },
}

/// Parse and check the listen address.
pub fn loopback_addr(listen: &str) -> Result<SocketAddr, BridgeError> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| BridgeError::Listen { addr: listen.into(), reason: format!("not an address: {e}") })?;
    if !addr.ip().is_loopback() {
        return Err(BridgeError::NotLoopback(addr));
    }
    Ok(addr)
}

/// Bind the local listener.
pub async fn bind(listen: &str) -> Result<TcpListener, BridgeError> {
    let addr = loopback_addr(listen)?;
    TcpListener::bind(addr).await.map_err(|e| BridgeError::Listen { addr: listen.into(), reason: e.to_string() })
}

/// Serve viewers from `listener` until the process ends; each gets an attested channel.
pub async fn run(listener: TcpListener, guest: String, opts: ConnectOptions) {
    loop {
        let (mut viewer, peer) = match listener.accept().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let (guest, opts) = (guest.clone(), opts.clone());
        tokio::spawn(async move {
            let _ = viewer.set_nodelay(true);
            match connect(&guest, alpn::DISPLAY, &opts).await {
                Ok(mut attested) => {
                    eprintln!(
                        "bridge: viewer {peer} connected to {guest} (attested: {})",
                        attested.guest.identity_fingerprint
                    );
                    let result = tokio::io::copy_bidirectional(&mut viewer, &mut attested.stream).await;
                    let how = match result {
                        Ok((up, down)) => format!("{up} bytes up, {down} bytes down"),
                        Err(e) => e.to_string(),
                    };
                    eprintln!("bridge: viewer {peer} disconnected ({})", escape(&how));
                }
                Err(e) => eprintln!("bridge: viewer {peer} refused: {}", escape_lines(&e.to_string())),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_listen_addresses() {
        assert!(loopback_addr("127.0.0.1:5900").is_ok());
        assert!(loopback_addr("127.1.2.3:5900").is_ok());
        assert!(loopback_addr("[::1]:5900").is_ok());
        assert!(matches!(loopback_addr("0.0.0.0:5900"), Err(BridgeError::NotLoopback(_))));
        assert!(matches!(loopback_addr("192.168.1.5:5900"), Err(BridgeError::NotLoopback(_))));
        assert!(loopback_addr("localhost:5900").is_err());
    }
}
