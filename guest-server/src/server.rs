//! The listener: admission, TLS accept, ALPN channel choice, client authorization per
//! channel, attestation, then the channel itself.
//!
//! ```text
//! TCP accept ─► handshake slot (admission::Startups: evicts the longest-idle, never refuses)
//!            ─► first byte (FIRST_BYTE_TIMEOUT) ─► TLS 1.3, client key checked (TLS_HANDSHAKE_TIMEOUT)
//!            ─► authorized key: a permit of max_connections | none: the unauthenticated Quota
//!            ─► ALPN ─► may this client use the channel? ─► attest ─► Proceed
//!                           │ no: Abort{reason}, close             ├─ console: SessionManager
//!                                                                  ├─ display: RFB or VNC proxy
//!                                                                  └─ verify: done
//! ```
//!
//! Every connection is its own task with a deadline for each phase; a bad peer ends its
//! own connection only. Peers without an authorized key can hold handshake slots only,
//! and those go to newcomers first (see [`crate::admission`]).

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use cvmc_protocol::handshake::alpn;
use cvmc_protocol::text::escape_bytes;

use crate::admission::{Quota, QuotaTicket, StartupTicket, Startups};
use crate::attest::{AttestError, attest, refuse as refuse_channel};
use crate::authorized::{AuthorizedClients, ClientAuth, spki_fingerprint};
use crate::console::{ConsoleConfig, ConsoleError, SessionManager};
use crate::display::DisplayError;
use crate::display::service::DisplayService;
use crate::evidence::EvidenceProvider;
use crate::identity::GuestIdentity;

/// Time a peer has to send its first byte after the TCP connection is accepted.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the kernel keeps a connection that has sent nothing before handing it to
/// `accept` anyway (TCP_DEFER_ACCEPT; see [`crate::sys::set_tcp_defer_accept`]).
pub const DEFER_ACCEPT_SECS: i32 = 5;
/// Time a peer has, from the accept, to finish the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections of each kind the server holds (see [`crate::admission`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections with an authorized client key.
    pub max_connections: usize,
    /// Connections in the TLS handshake.
    pub max_startups: usize,
    /// Connections in the TLS handshake from one address.
    pub max_startups_per_source: usize,
    /// Connections without an authorized key (allow_unauthenticated_console).
    pub max_unauthenticated: usize,
    /// The same, from one address.
    pub max_unauthenticated_per_source: usize,
}

/// Everything a running server needs; `builder::ServerBuilder` makes it.
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
    /// Connection limits.
    pub limits: Limits,
    /// The display channel (None: not served).
    pub display: Option<DisplayService>,
    /// The boot stage, told to clients with the evidence.
    pub stage: cvmc_protocol::GuestStage,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsSetupError),
}

/// Why one connection ended before or during its channel (logged, never fatal to
/// the server).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    #[error("sent nothing within {} s of connecting", FIRST_BYTE_TIMEOUT.as_secs())]
    Silent,
    #[error("closed before sending anything")]
    ClosedEarly,
    #[error("TLS handshake not finished within {} s of connecting", TLS_HANDSHAKE_TIMEOUT.as_secs())]
    HandshakeTimeout,
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] std::io::Error),
    #[error("no ALPN channel named")]
    NoChannel,
    #[error("busy: {max} connections with authorized keys are open already")]
    Busy { max: usize },
    #[error("refused {channel} for client ({client}): {reason}")]
    Refused { channel: String, client: String, reason: String },
    #[error(transparent)]
    Attest(#[from] AttestError),
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Display(#[from] DisplayError),
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
    /// Connections evicted from the handshake table to make room for newer ones.
    pub evicted: AtomicU64,
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
    authenticated: Arc<Semaphore>,
    max_connections: usize,
    unauthenticated: Arc<Quota>,
    stage: cvmc_protocol::GuestStage,
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    startups: Arc<Startups>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Server({:?})", self.listener.local_addr().ok())
    }
}

/// What a connection holds once its TLS handshake is done.
enum Admission {
    Authenticated { _permit: OwnedSemaphorePermit },
    Unauthenticated { _quota: QuotaTicket },
}

impl Server {
    /// Bind the listener and prepare TLS (a fresh in-memory key).
    pub async fn bind(parts: ServerParts) -> Result<Self, ServerError> {
        let limits = fit_to_descriptors(parts.limits, raise_descriptor_limit());
        let listener =
            listen(&parts.listen).await.map_err(|source| ServerError::Bind { addr: parts.listen.clone(), source })?;
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
            authenticated: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            max_connections: limits.max_connections.max(1),
            unauthenticated: Quota::new(limits.max_unauthenticated, limits.max_unauthenticated_per_source),
            stage: parts.stage,
        });
        let startups = Startups::new(limits.max_startups, limits.max_startups_per_source);
        Ok(Self { listener, shared, startups })
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
                    Ok((tcp, peer)) => self.start(tcp, peer),
                    Err(e) if is_out_of_descriptors(&e) => {
                        // Free a handshake slot's descriptor rather than wait with a
                        // legitimate client in the backlog.
                        if let Some(victim) = self.startups.evict_one() {
                            victim.abort();
                            self.shared.channels.evicted.fetch_add(1, Ordering::Relaxed);
                        }
                        tracing::warn!(error = %e, "accept: out of file descriptors; evicted the longest-idle handshake");
                        tokio::task::yield_now().await;
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

    fn start(&self, tcp: TcpStream, peer: SocketAddr) {
        let admitted = self.startups.admit(source_of(&peer));
        if let Some(victim) = admitted.evicted {
            victim.abort();
            self.shared.channels.evicted.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "handshake table full: evicted the longest-idle connection");
        }
        let ticket = admitted.ticket;
        // Usually the ClientHello is here already: then the slot counts as in the
        // handshake from the start, behind every idle one in the eviction order.
        if has_data(&tcp) {
            ticket.handshaking();
        }
        let shared = Arc::clone(&self.shared);
        let (registered_tx, registered_rx) = tokio::sync::oneshot::channel::<StartupTicket>();
        let task = tokio::spawn(async move {
            // The ticket arrives once the task is registered for eviction.
            let Ok(ticket) = registered_rx.await else { return };
            if let Err(reason) = handle(&shared, tcp, peer, ticket).await {
                tracing::info!(%peer, %reason, "connection closed");
            }
        });
        ticket.set_task(task.abort_handle());
        let _ = registered_tx.send(ticket);
    }
}

async fn handle(
    shared: &Shared,
    tcp: TcpStream,
    peer: SocketAddr,
    ticket: StartupTicket,
) -> Result<(), ConnectionError> {
    let accepted = Instant::now();
    let _ = tcp.set_nodelay(true);
    // A real wait for a byte: `readable()` may fire for a socket that sent nothing.
    let peeked = tokio::time::timeout(FIRST_BYTE_TIMEOUT, tcp.peek(&mut [0u8; 1]))
        .await
        .map_err(|_| ConnectionError::Silent)?
        .map_err(ConnectionError::Handshake)?;
    if peeked == 0 {
        return Err(ConnectionError::ClosedEarly);
    }
    ticket.handshaking();
    let mut tls = tokio::time::timeout_at(accepted + TLS_HANDSHAKE_TIMEOUT, shared.acceptor.accept(tcp))
        .await
        .map_err(|_| ConnectionError::HandshakeTimeout)?
        .map_err(ConnectionError::Handshake)?;
    let (channel, client_key) = {
        let conn = tls.get_ref().1;
        let channel = conn.alpn_protocol().map(<[u8]>::to_vec).ok_or(ConnectionError::NoChannel)?;
        let key = conn.peer_certificates().and_then(|c| c.first()).and_then(|c| spki_fingerprint(c));
        (channel, key)
    };
    let key = client_key.filter(|fp| shared.authorized.allows(fp));
    let who = key.clone().unwrap_or_else(|| "no authorized key".into());
    let channel_name = escape_bytes(&channel);
    // The handshake is done: trade its slot for one of the right kind.
    let admission = match &key {
        Some(_) => match Arc::clone(&shared.authenticated).try_acquire_owned() {
            Ok(permit) => Ok(Admission::Authenticated { _permit: permit }),
            Err(_) => Err(format!("the guest is busy: {} authenticated connections are open", shared.max_connections)),
        },
        None => shared
            .unauthenticated
            .take(source_of(&peer))
            .map(|quota| Admission::Unauthenticated { _quota: quota })
            .map_err(|full| full.to_string()),
    };
    drop(ticket);
    let refusal = match (&admission, channel.as_slice()) {
        (Err(busy), _) => Some(busy.clone()),
        (_, c) if c == alpn::CONSOLE => (key.is_none() && !shared.allow_unauthenticated_console)
            .then(|| "this client key may not open the console".to_owned()),
        // The screen and keyboard always need an authorized key, even where the
        // console may be opened without one (recovery: the login prompt gates that).
        (_, c) if c == alpn::DISPLAY && shared.display.is_none() => {
            Some("this guest serves no screen (--display none)".to_owned())
        }
        (_, c) if c == alpn::DISPLAY => key.is_none().then(|| {
            "the screen needs a client key listed in the guest's authorized_clients, even where the console does not"
                .to_owned()
        }),
        (_, c) if c == alpn::VERIFY => None,
        _ => Some("unknown channel".to_owned()),
    };
    if let Some(reason) = refusal {
        // Tell the client why (it is waiting for Evidence), then end: nothing attested.
        if let Err(e) = refuse_channel(&mut tls, &reason).await {
            tracing::debug!(%peer, error = %e, "could not tell the client why its channel was refused");
        }
        return Err(ConnectionError::Refused { channel: channel_name, client: who, reason });
    }
    attest(&mut tls, &shared.provider, &shared.identity, shared.stage).await?;
    tracing::info!(%peer, client = %who, channel = %channel_name, "attested; channel starts");
    if channel == alpn::CONSOLE {
        shared.channels.console.fetch_add(1, Ordering::Relaxed);
        let auth = match key {
            Some(fingerprint) => ClientAuth::Key(fingerprint),
            None => ClientAuth::Unauthenticated { source: source_of(&peer) },
        };
        shared.console.serve_console(tls, &peer.to_string(), auth).await?;
    } else if channel == alpn::DISPLAY
        && let Some(display) = &shared.display
    {
        shared.channels.display.fetch_add(1, Ordering::Relaxed);
        display.serve_display(Counted { inner: tls, written: Arc::clone(&shared.channels.display_bytes) }).await?;
    }
    drop(admission);
    Ok(())
}

/// Connections the kernel may hold for us: the accept queue, and the connections
/// that have sent nothing yet under TCP_DEFER_ACCEPT (capped by net.core.somaxconn).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Bind `listen` (the first of its addresses that binds) with [`LISTEN_BACKLOG`]
/// and TCP_DEFER_ACCEPT.
async fn listen(listen: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(listen).await? {
        let bound = (|| {
            let socket =
                if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(LISTEN_BACKLOG)
        })();
        match bound {
            Ok(listener) => {
                if let Err(e) = crate::sys::set_tcp_defer_accept(&listener, DEFER_ACCEPT_SECS) {
                    tracing::warn!(error = %e, "TCP_DEFER_ACCEPT not available: silent connections take handshake slots");
                }
                return Ok(listener);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")))
}

/// Whether bytes from the peer wait to be read (a non-blocking peek).
fn has_data(tcp: &TcpStream) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
    matches!(socket2::SockRef::from(tcp).peek(&mut byte), Ok(n) if n > 0)
}

fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == nix::errno::Errno::EMFILE as i32 || code == nix::errno::Errno::ENFILE as i32)
}

/// Raise the soft limit of open files to the hard limit (a service's default soft
/// limit of 1024 is less than the handshake table holds); returns the soft limit now.
fn raise_descriptor_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return Some(hard);
    }
    Some(soft)
}

/// Descriptors kept for everything but handshakes: listener, logs, PTYs (two per
/// session), frame sources, in-guest VNC connections.
const DESCRIPTOR_RESERVE: usize = 256;

/// Shrink the handshake table to what the descriptor limit can hold next to the
/// authenticated connections, so the table, not the kernel, decides who is dropped.
fn fit_to_descriptors(mut limits: Limits, descriptors: Option<u64>) -> Limits {
    let Some(available) = descriptors.and_then(|d| usize::try_from(d).ok()) else { return limits };
    let others = limits.max_connections + limits.max_unauthenticated + DESCRIPTOR_RESERVE;
    let room = available.saturating_sub(others).max(16);
    if limits.max_startups > room {
        tracing::warn!(
            configured = limits.max_startups,
            room,
            descriptors = available,
            "max_startups lowered to fit the open-file limit (raise LimitNOFILE)"
        );
        limits.max_startups = room;
        limits.max_startups_per_source = limits.max_startups_per_source.min(room);
    }
    limits
}

/// The address a client is counted under: IPv4-mapped IPv6 as IPv4.
pub fn source_of(peer: &SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_table_fits_the_descriptor_limit() {
        let limits = Limits {
            max_connections: 512,
            max_startups: 4096,
            max_startups_per_source: 2048,
            max_unauthenticated: 16,
            max_unauthenticated_per_source: 3,
        };
        let fitted = fit_to_descriptors(limits, Some(1024));
        assert_eq!(fitted.max_startups, 1024 - 512 - 16 - 256);
        assert_eq!(fitted.max_startups_per_source, fitted.max_startups);
        assert_eq!(fit_to_descriptors(limits, Some(1 << 20)), limits);
        assert_eq!(fit_to_descriptors(limits, None), limits);
    }

    #[test]
    fn mapped_addresses_count_as_ipv4() {
        let v4: SocketAddr = "10.1.2.3:5".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:5".parse().unwrap();
        assert_eq!(source_of(&v4), source_of(&mapped));
    }
}
