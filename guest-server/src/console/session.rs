//! One console session as connections and its driver task share it: the protocol's
//! sans-IO [`SessionState`] behind a mutex, the PTY's writing side, and the wake-ups.
//! Every bookkeeping decision is the state's; this file only locks, writes through the
//! PTY when the state says so, and wakes whoever waits.
//!
//! Lock order: the manager's registry, then `state`. Nothing awaits with `state` held:
//! PTY writes under it are non-blocking.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cvmc_protocol::console::server::{InputProgress, InputWork, SessionState, Transmit};
use cvmc_protocol::console::{ConsoleMsg, SessionToken, token_hint};
use tokio::sync::{Notify, futures::Notified, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{ConsoleConfig, ConsoleError};
use crate::authorized::ClientAuth;

/// A live or finished console session.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) token: SessionToken,
    /// The client that opened it: only the same key may re-attach.
    pub(super) auth: ClientAuth,
    /// How long it lingers detached once its process has exited.
    exited_linger: Duration,
    state: Mutex<SessionState>,
    /// Bumped on every change a waiter may care about: output, acks, exit, owner,
    /// removal, input that needs an Ack.
    changed: watch::Sender<()>,
    /// When a detached session expires; `None` while attached.
    linger: watch::Sender<Option<Instant>>,
    hangup: Notify,
    pty: super::pty::PtyWriter,
    driver: Mutex<Option<JoinHandle<()>>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Session {
    pub(super) fn new(token: SessionToken, auth: ClientAuth, pty: super::pty::PtyWriter, cfg: &ConsoleConfig) -> Self {
        Self {
            token,
            auth,
            exited_linger: cfg.exited_linger,
            state: Mutex::new(SessionState::new(token, cfg.scrollback, cfg.max_unacked)),
            changed: watch::Sender::new(()),
            linger: watch::Sender::new(None),
            hangup: Notify::new(),
            pty,
            driver: Mutex::new(None),
        }
    }

    pub(super) fn hint(&self) -> String {
        token_hint(&self.token)
    }

    /// Attach connection `generation`, which holds `output_received` bytes; the previous
    /// connection, if any, is kicked. Returns where output replay starts.
    /// Call with the registry locked.
    pub(super) fn claim(&self, generation: u64, output_received: u64) -> Result<u64, ConsoleError> {
        let start = lock(&self.state).claim(generation, output_received)?;
        self.linger.send_replace(None);
        self.changed.send_replace(());
        Ok(start)
    }

    /// Connection `generation` ended; if it was attached, the session starts to linger.
    pub(super) fn release(&self, generation: u64, linger: Duration) {
        if lock(&self.state).release(generation) {
            self.linger.send_replace(Some(Instant::now() + linger));
            self.changed.send_replace(());
        }
    }

    /// The session left the registry: kick its connection and end its driver.
    pub(super) fn mark_removed(&self) {
        lock(&self.state).remove();
        self.changed.send_replace(());
        self.hangup.notify_one();
    }

    /// Whether a detached session's linger has run out; marks it removed if so.
    /// Call with the registry locked.
    pub(super) fn try_expire(&self) -> bool {
        let mut st = lock(&self.state);
        let was_removed = st.is_removed();
        let deadline = *self.linger.borrow();
        let expired = st.try_expire(deadline.is_some_and(|d| d <= Instant::now()));
        if expired && !was_removed {
            self.changed.send_replace(());
        }
        expired
    }

    /// A message from connection `generation`; an Ack may free room for the PTY reader.
    pub(super) fn receive(&self, generation: u64, msg: ConsoleMsg) -> Result<(), ConsoleError> {
        let ack = matches!(msg, ConsoleMsg::Ack { .. });
        lock(&self.state).receive(generation, msg)?;
        if ack {
            self.changed.send_replace(());
        }
        Ok(())
    }

    /// Write connection `generation`'s queued input to the PTY, non-blocking, as far
    /// as it goes. `blocked`: the PTY is full, wait for [`Session::writable`].
    pub(super) fn write_input(&self, generation: u64) -> InputProgress {
        let progress = lock(&self.state).write_input(generation, Instant::now().into_std(), |work| match work {
            InputWork::Data(bytes) => self.pty.try_write(bytes),
            InputWork::Resize { cols, rows } => {
                if let Err(err) = self.pty.resize(rows, cols) {
                    tracing::debug!(session = %self.hint(), %err, cols, rows, "resize failed");
                }
                Ok(Some(0))
            }
        });
        if progress.wake_output {
            self.changed.send_replace(());
        }
        progress
    }

    /// Resolves once connection `generation` is no longer the attached one (another
    /// attached, or the session was removed), even while it is blocked writing.
    pub(super) async fn kicked(&self, generation: u64) {
        let mut changes = self.changed.subscribe();
        loop {
            if !lock(&self.state).is_owner(generation) {
                return;
            }
            if changes.changed().await.is_err() {
                std::future::pending::<()>().await; // the sender lives in this session
            }
        }
    }

    /// Resolves once the PTY takes input again.
    pub(super) async fn writable(&self) -> std::io::Result<()> {
        self.pty.writable().await
    }

    /// What connection `generation` sends next.
    pub(super) fn poll_transmit(&self, generation: u64) -> Result<Transmit, ConsoleError> {
        Ok(lock(&self.state).poll_transmit(generation, Instant::now().into_std())?)
    }

    pub(super) fn subscribe_changes(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    pub(super) fn subscribe_linger(&self) -> watch::Receiver<Option<Instant>> {
        self.linger.subscribe()
    }

    /// Bytes the driver may read from the PTY now (0: wait for acks).
    pub(super) fn output_room(&self) -> usize {
        lock(&self.state).output_room()
    }

    pub(super) fn push_output(&self, bytes: &[u8]) {
        lock(&self.state).push_output(bytes);
        self.changed.send_replace(());
    }

    /// The process ended and its output is fully read. A detached session now lingers
    /// only `exited_linger` more: its slot is freed soon even if nobody comes back.
    pub(super) fn set_exit(&self, status: i32) {
        let mut st = lock(&self.state);
        st.set_exit(status);
        if st.owner() == cvmc_protocol::console::server::DETACHED {
            let soon = Instant::now() + self.exited_linger;
            self.linger.send_if_modified(|deadline| match deadline {
                Some(d) if *d > soon => {
                    *d = soon;
                    true
                }
                _ => false,
            });
        }
        drop(st);
        self.changed.send_replace(());
    }

    /// Whether the console process has exited (and its output is all read).
    pub(super) fn has_exited(&self) -> bool {
        lock(&self.state).exit().is_some()
    }

    pub(super) fn hangup_requested(&self) -> Notified<'_> {
        self.hangup.notified()
    }

    pub(super) fn held(&self) -> usize {
        lock(&self.state).held()
    }

    pub(super) fn set_driver(&self, task: JoinHandle<()>) {
        *lock(&self.driver) = Some(task);
    }

    pub(super) fn take_driver(&self) -> Option<JoinHandle<()>> {
        lock(&self.driver).take()
    }
}
