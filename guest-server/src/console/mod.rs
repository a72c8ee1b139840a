//! The console channel (docs/DESIGN.md "Wire protocol v1", console): login sessions in PTYs
//! that outlive a dropped connection and re-attach without losing or repeating a byte.
//!
//! ```text
//!             ┌──────────── session (one driver task) ─────────────┐
//! client ◄──► │ serve (one task per connection)                    │
//!   frames    │   input ─► PTY master ─► console process (login)   │
//!             │   output ◄─ ring ◄─ driver reads the PTY           │
//!             └────────────────────────────────────────────────────┘
//! ```
//!
//! Promises, each tested in `tests/console_sessions.rs`:
//! - output has absolute offsets; a re-attaching client says what it holds and gets
//!   exactly the rest (or the oldest byte still held); input counts the same way;
//! - memory is bounded: the ring holds at most `max(max_unacked, scrollback)` bytes
//!   per session, and the PTY is not read while the client is `max_unacked` behind;
//! - a detached session lives `linger`, then is hung up (SIGHUP, SIGKILL after 2 s);
//!   one whose process has exited lives only `exited_linger` detached;
//! - a session belongs to the client key that opened it: only that key re-attaches.
//!   A session opened without a key lives as long as its connection, and failed
//!   logins there make the next one from that address wait (`backoff`);
//! - a misbehaving connection is closed alone; its session and all others go on.
//!
//! Modules: `backoff` (failed logins per address), `ring` (pure output buffer), `state` (a session's sans-IO state: ring,
//! owner, exit, input count; public for the fuzz target), `session` (that state shared,
//! with the PTY and wake-ups), `driver` (process and PTY reader task), `serve` (the
//! wire protocol of one connection).

pub mod backoff;
mod connection;
mod driver;
mod pty;
mod session;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cvmc_protocol::console::{SessionError, SessionToken, token_hint};
use cvmc_protocol::error::CodecError;
use rand_core::{OsRng, RngCore as _};

use crate::authorized::ClientAuth;

use self::connection::End;
use self::session::{Session, lock};

/// What the console runs and how sessions are kept.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Command to run in the PTY; `argv[0]` is the program.
    pub argv: Vec<String>,
    /// `TERM` for the console process.
    pub term: String,
    /// Variables of this process's environment the console inherits (it starts clean
    /// otherwise: see `driver::console_environment`).
    pub pass_environment: Vec<String>,
    /// How long a detached session survives.
    pub linger: Duration,
    /// How long a detached session whose process has exited survives (its client may
    /// still re-attach for the last output and the exit status).
    pub exited_linger: Duration,
    /// Most sessions alive at once (attached, detached or finished but not yet collected).
    pub max_sessions: usize,
    /// Output bytes kept for replay after the client acknowledged them.
    pub scrollback: usize,
    /// Output bytes the client may lag behind before the PTY is no longer read
    /// (backpressure: the console process blocks in write).
    pub max_unacked: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            argv: vec!["/bin/sh".to_owned()],
            term: "xterm-256color".to_owned(),
            pass_environment: Vec::new(),
            linger: Duration::from_secs(300),
            exited_linger: Duration::from_secs(10),
            max_sessions: 128,
            scrollback: 256 * 1024,
            max_unacked: 1024 * 1024,
        }
    }
}

/// Why a console connection ended or was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Reading or writing the connection failed.
    #[error("console connection: {0}")]
    Io(#[source] std::io::Error),
    /// The client sent no Attach in time.
    #[error("no attach message within {secs} s")]
    AttachTimeout { secs: u64 },
    /// The client left before attaching.
    #[error("connection closed before attach")]
    ClosedBeforeAttach,
    /// A frame or message that does not decode.
    #[error("malformed console frame: {0}")]
    Malformed(#[source] CodecError),
    /// The connection ended in the middle of a frame.
    #[error("connection closed inside a frame ({buffered} bytes buffered)")]
    TruncatedFrame { buffered: usize },
    /// The peer broke the console protocol (the rule and its values).
    #[error(transparent)]
    Protocol(#[from] SessionError),
    /// Re-attach to a session another client key opened.
    #[error("session {token} belongs to another client key")]
    NotYourSession { token: String },
    /// Re-attach without a client key: such a session ends with its connection.
    #[error("a session opened without a client key cannot be re-attached")]
    UnauthenticatedReattach,
    /// Failed logins from this address: the next session must wait.
    #[error("failed logins from this address: try again in {secs} s")]
    LoginBackoff { secs: u64 },
    /// No room for a new session.
    #[error("too many sessions ({max})")]
    TooManySessions { max: usize },
    /// [`SessionManager::shutdown`] was called.
    #[error("the console server is shutting down")]
    ShuttingDown,
    /// [`ConsoleConfig::argv`] is empty.
    #[error("console command is empty")]
    EmptyCommand,
    /// Allocating or sizing the PTY failed.
    #[error("pty: {0}")]
    Pty(#[source] pty_process::Error),
    /// Taking the PTY master over for reading and writing failed.
    #[error("pty: {0}")]
    PtyIo(#[source] std::io::Error),
    /// The console process could not be started.
    #[error("cannot start console command {program:?}: {source}")]
    Spawn { program: String, source: pty_process::Error },
    /// The OS random source failed while making a session token.
    #[error("session token: os random source: {0}")]
    Random(#[source] rand_core::Error),
    /// One of our own messages did not encode.
    #[error("encode console message: {0}")]
    Encode(#[source] CodecError),
}

/// The console sessions of one server. Cheap to clone; clones share the sessions.
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager").field("sessions", &self.session_count()).finish_non_exhaustive()
    }
}

impl SessionManager {
    /// A manager with no sessions yet.
    pub fn new(cfg: ConsoleConfig) -> Self {
        let registry = Registry { map: HashMap::new(), reserved: 0, closed: false };
        let inner = Inner {
            cfg,
            registry: Mutex::new(registry),
            backoff: Mutex::default(),
            next_generation: AtomicU64::new(1),
            opened: AtomicU64::new(0),
        };
        Self { inner: Arc::new(inner) }
    }

    /// Serve one console channel on an already attested, already authorized stream.
    /// Returns when the connection ends, cleanly or not. Failures are already logged
    /// here (`tracing::warn!` with `peer`); the error is returned for the caller's records.
    /// `auth` says whose the connection is: only that key re-attaches the sessions it
    /// opens, and a session without a key ends with its connection.
    pub async fn serve_console<S>(&self, stream: S, peer: &str, auth: ClientAuth) -> Result<(), ConsoleError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        match connection::serve_connection(&self.inner, stream, &auth).await {
            Ok(End::ClientClosed) => tracing::debug!(peer, "console connection closed; session detached"),
            Ok(End::Replaced) => tracing::info!(peer, "console connection replaced by a newer attach"),
            Ok(End::Finished) => tracing::debug!(peer, "console session finished"),
            Err(err) => {
                tracing::warn!(peer, reason = %err, "console connection closed");
                return Err(err);
            }
        }
        Ok(())
    }

    /// Sessions opened since the manager was made (each started a console process).
    pub fn sessions_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// Sessions alive (attached, detached, or finished but not yet collected).
    pub fn session_count(&self) -> usize {
        lock(&self.inner.registry).map.len()
    }

    /// Output bytes held in memory across all sessions (for monitoring and tests).
    pub fn held_output_bytes(&self) -> usize {
        lock(&self.inner.registry).map.values().map(|s| s.held()).sum()
    }

    /// Hang up every session (SIGHUP to the process group, SIGKILL after 2 s), close
    /// their connections and refuse new attaches.
    pub async fn shutdown(&self) {
        let sessions: Vec<Arc<Session>> = {
            let mut registry = lock(&self.inner.registry);
            registry.closed = true;
            registry.map.drain().map(|(_, session)| session).collect()
        };
        for session in &sessions {
            session.mark_removed();
        }
        for session in sessions {
            if let Some(task) = session.take_driver()
                && let Err(err) = task.await
            {
                tracing::warn!(%err, "console session task failed");
            }
        }
    }
}

struct Inner {
    cfg: ConsoleConfig,
    registry: Mutex<Registry>,
    /// Failed logins of unauthenticated sessions, per address.
    backoff: Mutex<backoff::LoginBackoff>,
    next_generation: AtomicU64,
    /// Sessions opened so far.
    opened: AtomicU64,
}

struct Registry {
    map: HashMap<SessionToken, Arc<Session>>,
    /// New sessions being spawned, counted against `max_sessions`.
    reserved: usize,
    closed: bool,
}

impl Inner {
    /// Attach a new connection of `auth`: to a new session for [`SessionToken::NEW`],
    /// else to an existing one of the same key. Returns the session and the
    /// connection's generation.
    fn attach(
        self: &Arc<Self>,
        token: SessionToken,
        output_received: u64,
        auth: &ClientAuth,
    ) -> Result<(Arc<Session>, u64), ConsoleError> {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        if token.is_new() {
            let session = self.open(auth)?;
            let registry = lock(&self.registry);
            session.claim(generation, 0)?;
            drop(registry);
            return Ok((session, generation));
        }
        if matches!(auth, ClientAuth::Unauthenticated { .. }) {
            return Err(ConsoleError::UnauthenticatedReattach);
        }
        let registry = lock(&self.registry);
        if registry.closed {
            return Err(ConsoleError::ShuttingDown);
        }
        let session =
            registry.map.get(&token).ok_or_else(|| SessionError::SessionGone { token: token_hint(&token) })?;
        if session.auth != *auth {
            return Err(ConsoleError::NotYourSession { token: token_hint(&token) });
        }
        session.claim(generation, output_received)?;
        Ok((Arc::clone(session), generation))
    }

    /// Spawn a new session for `auth` and register it, within `max_sessions` and, for
    /// a connection without a key, after any back-off its address owes.
    fn open(self: &Arc<Self>, auth: &ClientAuth) -> Result<Arc<Session>, ConsoleError> {
        if let ClientAuth::Unauthenticated { source } = auth
            && let Err(wait) = lock(&self.backoff).check(*source, tokio::time::Instant::now())
        {
            return Err(ConsoleError::LoginBackoff { secs: wait.as_secs().max(1) });
        }
        let token = {
            let mut registry = lock(&self.registry);
            if registry.closed {
                return Err(ConsoleError::ShuttingDown);
            }
            if registry.map.len() + registry.reserved >= self.cfg.max_sessions {
                return Err(ConsoleError::TooManySessions { max: self.cfg.max_sessions });
            }
            let token = loop {
                let mut bytes = [0u8; 32];
                OsRng.try_fill_bytes(&mut bytes).map_err(ConsoleError::Random)?;
                let token = SessionToken(bytes);
                if !token.is_new() && !registry.map.contains_key(&token) {
                    break token;
                }
            };
            registry.reserved += 1;
            token
        };
        // Spawning forks: do it without the registry locked.
        let spawned = driver::spawn_session(&self.cfg, token, auth.clone(), Arc::downgrade(self));
        let mut registry = lock(&self.registry);
        registry.reserved -= 1;
        let session = spawned?;
        if registry.closed {
            session.mark_removed();
            return Err(ConsoleError::ShuttingDown);
        }
        registry.map.insert(token, Arc::clone(&session));
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(session)
    }

    /// How long `session` lingers once its connection is gone: not at all without a
    /// client key, `exited_linger` once its process has exited, else `linger`.
    fn linger_for(&self, session: &Session) -> Duration {
        match session.auth {
            ClientAuth::Unauthenticated { .. } => Duration::ZERO,
            ClientAuth::Key(_) if session.has_exited() => self.cfg.exited_linger.min(self.cfg.linger),
            ClientAuth::Key(_) => self.cfg.linger,
        }
    }

    /// An unauthenticated session from `source` ended; `failed`: see [`backoff`].
    fn record_login(&self, source: IpAddr, failed: bool) {
        lock(&self.backoff).record(source, failed, tokio::time::Instant::now());
        if failed {
            tracing::info!(%source, "console session without a client key ended without a login: backing off");
        }
    }

    /// Take a finished session out of the registry and end its driver.
    fn remove(&self, session: &Arc<Session>) {
        let mut registry = lock(&self.registry);
        if registry.map.get(&session.token).is_some_and(|s| Arc::ptr_eq(s, session)) {
            registry.map.remove(&session.token);
        }
        session.mark_removed();
    }

    /// Remove a detached session whose linger ran out; `false` if it was re-attached.
    fn expire(&self, session: &Arc<Session>) -> bool {
        let mut registry = lock(&self.registry);
        if !session.try_expire() {
            return false;
        }
        if registry.map.get(&session.token).is_some_and(|s| Arc::ptr_eq(s, session)) {
            registry.map.remove(&session.token);
        }
        true
    }
}
