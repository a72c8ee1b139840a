//! The listener: TLS accept, ALPN channel choice, client authorization per
//! channel, attestation, then the channel itself.
//!
//! ```text
//! TCP accept ─► TLS 1.3 (client key checked) ─► ALPN ─► authorized for channel? ─► attest ─► Proceed
//!                                                          │                                   │
//!                                                          └─ no: close                        ├─ console: SessionManager
//!                                                                                              ├─ display: RFB or VNC proxy
//!                                                                                              └─ verify: done
//! ```
//!
//! Every connection is its own task with a deadline for each phase; a bad peer
//! ends its own connection only. The number of connections is bounded.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use cvmc_protocol::handshake::alpn;

use crate::attest::{attest, refuse as refuse_channel};
use crate::authorized::{AuthorizedClients, spki_fingerprint};
use crate::console::{ConsoleConfig, SessionManager};
use crate::display_channel::DisplayService;
use crate::evidence::EvidenceProvider;
use crate::identity::GuestIdentity;

/// Time a peer has to finish the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a running server needs.
#[derive(Debug)]
pub struct ServerParts {
    /// Address to bind.
    pub listen: String,
    /// Evidence provider.
    pub provider: Arc<dyn EvidenceProvider>,
    /// Guest identity.
    pub identity: Arc<GuestIdentity>,
    /// Authorized client keys.
    pub authorized: AuthorizedClients,
    /// Serve the console to unauthenticated clients (recovery).
    pub allow_unauthenticated_console: bool,
    /// Console sessions.
    pub console: ConsoleConfig,
    /// Most connections at once.
    pub max_connections: usize,
    /// The display channel (None: not served).
    pub display: Option<DisplayService>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsSetupError),
}

/// Channels started after a Proceed, and the bytes the display channels sent: what
/// the attack tests require to stay zero for every refused connection.
#[derive(Debug, Default)]
pub struct ChannelCounts {
    /// Console channels started (an Attach may then open a login).
    pub console: AtomicU64,
    /// Display channels started.
    pub display: AtomicU64,
    /// Bytes written on display channels (RFB; its first 12 are the version string).
    pub display_bytes: Arc<AtomicU64>,
}

struct Shared {
    acceptor: TlsAcceptor,
    channels: Arc<ChannelCounts>,
    provider: Arc<dyn EvidenceProvider>,
    identity: Arc<GuestIdentity>,
    authorized: AuthorizedClients,
    allow_unauthenticated_console: bool,
    console: SessionManager,
    display: Option<DisplayService>,
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Server({:?})", self.listener.local_addr().ok())
    }
}

impl Server {
    /// Bind the listener and prepare TLS (a fresh in-memory key).
    pub async fn bind(parts: ServerParts) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(&parts.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: parts.listen.clone(), source })?;
        let tls = crate::tls::server_config(parts.authorized.clone(), !parts.allow_unauthenticated_console)?;
        let shared = Arc::new(Shared {
            acceptor: TlsAcceptor::from(tls),
            channels: Arc::default(),
            provider: parts.provider,
            identity: parts.identity,
            authorized: parts.authorized,
            allow_unauthenticated_console: parts.allow_unauthenticated_console,
            console: SessionManager::new(parts.console),
            display: parts.display,
        });
        Ok(Self { listener, shared, permits: Arc::new(Semaphore::new(parts.max_connections.max(1))) })
    }

    /// The bound address (port 0 resolved).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The console sessions (for tests and shutdown).
    pub fn sessions(&self) -> SessionManager {
        self.shared.console.clone()
    }

    /// The channel counters (for tests and monitoring).
    pub fn channel_counts(&self) -> Arc<ChannelCounts> {
        Arc::clone(&self.shared.channels)
    }

    /// Accept connections until `shutdown` completes; then hang up every session.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                            tracing::warn!(%peer, "connection limit reached; closing");
                            continue;
                        };
                        let shared = Arc::clone(&self.shared);
                        tokio::spawn(async move {
                            if let Err(reason) = handle(&shared, tcp, peer).await {
                                tracing::info!(%peer, %reason, "connection closed");
                            }
                            drop(permit);
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        tracing::info!("shutting down: hanging up console sessions");
        self.shared.console.shutdown().await;
    }
}

async fn handle(shared: &Shared, tcp: TcpStream, peer: SocketAddr) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let mut tls = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, shared.acceptor.accept(tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_owned())?
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let (channel, client_key) = {
        let conn = tls.get_ref().1;
        let channel = conn.alpn_protocol().map(<[u8]>::to_vec).ok_or("no ALPN channel named")?;
        let key = conn.peer_certificates().and_then(|c| c.first()).and_then(|c| spki_fingerprint(c));
        (channel, key)
    };
    let authorized = client_key.as_deref().is_some_and(|fp| shared.authorized.allows(fp));
    let who = client_key.clone().unwrap_or_else(|| "no client key".into());
    let refusal = match channel.as_slice() {
        c if c == alpn::CONSOLE => (!(authorized || shared.allow_unauthenticated_console))
            .then_some("this client key may not open the console"),
        // The screen and keyboard always need an authorized key, even where the
        // console may be opened without one (recovery: the login prompt gates that).
        c if c == alpn::DISPLAY && shared.display.is_none() => Some("this guest serves no screen (--display none)"),
        c if c == alpn::DISPLAY => (!authorized).then_some(
            "the screen needs a client key listed in the guest's authorized_clients, \
             even where the console does not",
        ),
        c if c == alpn::VERIFY => None,
        _ => Some("unknown channel"),
    };
    if let Some(reason) = refusal {
        // Tell the client why (it is waiting for Evidence), then end: nothing attested.
        let told = refuse_channel(&mut tls, reason).await;
        if let Err(e) = told {
            tracing::debug!(%peer, error = %e, "could not tell the client why its channel was refused");
        }
        return Err(format!("refused {} for client ({who}): {reason}", String::from_utf8_lossy(&channel)));
    }
    attest(&mut tls, &shared.provider, &shared.identity).await.map_err(|e| e.to_string())?;
    tracing::info!(%peer, client = %who, channel = %String::from_utf8_lossy(&channel), "attested; channel starts");
    if channel == alpn::CONSOLE {
        shared.channels.console.fetch_add(1, Ordering::Relaxed);
        shared.console.serve(tls, &peer.to_string()).await.map_err(|e| e.to_string())?;
    } else if channel == alpn::DISPLAY
        && let Some(display) = &shared.display
    {
        shared.channels.display.fetch_add(1, Ordering::Relaxed);
        display.serve(Counted { inner: tls, written: Arc::clone(&shared.channels.display_bytes) }).await?;
    }
    Ok(())
}

/// A stream that counts the bytes written through it.
struct Counted<S> {
    inner: S,
    written: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            self.written.fetch_add(u64::try_from(*n).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
