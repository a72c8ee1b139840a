//! One console session as connections and its driver task see it: the output ring,
//! the PTY input side, who is attached, and the exit status.
//!
//! Lock order: the manager's registry, then `state`. `input` (async) is never taken
//! with `state` held across an await.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cvmc_protocol::console::SessionToken;
use tokio::sync::{Notify, futures::Notified, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::ConsoleError;
use super::state::SessionState;
pub(super) use super::state::{DETACHED, Next};
use crate::authorized::ClientAuth;

/// What a connection asks the PTY to do, in the order the client sent it.
#[derive(Debug)]
pub(super) enum InputItem {
    Data(Vec<u8>),
    Resize { cols: u16, rows: u16 },
}

/// The PTY's input side. Held across PTY writes, so one connection's write finishes
/// before another's starts; the count itself lives in the state.
#[derive(Debug)]
struct Input {
    pty: super::pty::PtyWriter,
}

/// A live or finished console session.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) token: SessionToken,
    /// The client that opened it: only the same key may re-attach.
    pub(super) auth: ClientAuth,
    /// How long it lingers detached once its process has exited.
    exited_linger: Duration,
    state: Mutex<SessionState>,
    /// Bumped on every change a waiter may care about: output, acks, exit, owner, removal.
    changed: watch::Sender<()>,
    /// Generation of the attached connection, or [`DETACHED`]. Written only with `state` locked.
    owner: watch::Sender<u64>,
    /// When a detached session expires; `None` while attached.
    linger: watch::Sender<Option<Instant>>,
    hangup: Notify,
    input: tokio::sync::Mutex<Input>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The first bytes of a token, enough to tell sessions apart in logs and errors.
pub(super) fn token_hint(token: &SessionToken) -> String {
    format!("{}…", hex::encode(&token.0[..4]))
}

impl Session {
    pub(super) fn new(
        token: SessionToken,
        auth: ClientAuth,
        pty: super::pty::PtyWriter,
        cfg: &super::ConsoleConfig,
    ) -> Self {
        let (scrollback, max_unacked, exited_linger) = (cfg.scrollback, cfg.max_unacked, cfg.exited_linger);
        Self {
            token,
            auth,
            exited_linger,
            state: Mutex::new(SessionState::new(token_hint(&token), scrollback, max_unacked)),
            changed: watch::Sender::new(()),
            owner: watch::Sender::new(DETACHED),
            linger: watch::Sender::new(None),
            hangup: Notify::new(),
            input: tokio::sync::Mutex::new(Input { pty }),
            driver: Mutex::new(None),
        }
    }

    fn is_owner(&self, generation: u64) -> bool {
        lock(&self.state).is_owner(generation)
    }

    /// Attach connection `generation`, which holds `output_received` bytes; the previous
    /// connection, if any, is kicked. Returns where output replay starts.
    /// Call with the registry locked.
    pub(super) fn claim(&self, generation: u64, output_received: u64) -> Result<u64, ConsoleError> {
        let start = lock(&self.state).claim(generation, output_received)?;
        self.owner.send_replace(generation);
        self.linger.send_replace(None);
        self.changed.send_replace(());
        Ok(start)
    }

    /// Connection `generation` ended; if it was attached, the session starts to linger.
    pub(super) fn release(&self, generation: u64, linger: Duration) {
        let mut st = lock(&self.state);
        if st.release(generation) {
            self.owner.send_replace(DETACHED);
            self.linger.send_replace(Some(Instant::now() + linger));
            self.changed.send_replace(());
        }
    }

    /// The session left the registry: kick its connection and end its driver.
    /// Call with the registry locked (or after taking the session out of it).
    pub(super) fn mark_removed(&self) {
        lock(&self.state).remove();
        self.owner.send_replace(DETACHED);
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

    /// The client of connection `generation` holds `received` output bytes; it was sent `sent`.
    pub(super) fn ack(&self, generation: u64, received: u64, sent: u64) -> Result<(), ConsoleError> {
        if lock(&self.state).ack(generation, received, sent)? {
            self.changed.send_replace(());
        }
        Ok(())
    }

    /// What connection `generation`, which has sent output up to `sent`, does next.
    pub(super) fn next_output(&self, generation: u64, sent: u64, exit_sent: bool, max: usize) -> Next {
        lock(&self.state).next_output(generation, sent, exit_sent, max)
    }

    /// Input bytes the console has consumed. Waits for a replaced connection's write in
    /// flight, so the answer is exact.
    pub(super) async fn input_received(&self) -> u64 {
        let _in_flight = self.input.lock().await;
        lock(&self.state).input().received()
    }

    /// Write client input to the PTY (or resize it) for connection `generation`.
    /// Returns the input byte count afterwards, or `None` if the connection was replaced.
    /// Cancel-safe at write granularity: the count always matches what reached the PTY.
    pub(super) async fn apply_input(&self, generation: u64, item: InputItem) -> Option<u64> {
        let mut input = self.input.lock().await;
        if !self.is_owner(generation) {
            return None;
        }
        match item {
            InputItem::Data(bytes) => {
                let mut rest = bytes.as_slice();
                while !rest.is_empty() && !lock(&self.state).input().is_broken() {
                    let written = input.pty.write(rest).await;
                    match self.count_written(&written) {
                        Some(n) => rest = &rest[n..],
                        None => break,
                    }
                }
            }
            InputItem::Resize { cols, rows } => self.resize(&input, cols, rows),
        }
        Some(lock(&self.state).input().received())
    }

    /// Account one PTY write in the input count; `None`: the PTY refused it and the
    /// console's input is broken from here on (later input is dropped uncounted).
    fn count_written(&self, written: &std::io::Result<usize>) -> Option<usize> {
        if let Err(err) = written {
            tracing::debug!(session = %token_hint(&self.token), %err, "console input refused");
        }
        lock(&self.state).input_mut().wrote(written)
    }

    /// Set the terminal's size; a failure is logged, not fatal.
    fn resize(&self, input: &Input, cols: u16, rows: u16) {
        if let Err(err) = input.pty.resize(rows, cols) {
            tracing::debug!(session = %token_hint(&self.token), %err, cols, rows, "resize failed");
        }
    }

    /// Write input at once when nothing stands in the way: connection `generation` owns
    /// the session, no other write to the PTY is under way, and the PTY takes bytes
    /// without waiting. Returns how many bytes of `bytes` were written (possibly 0: queue
    /// the rest, in order) and the input count afterwards; `None` when it could not try
    /// (queue all of it). Never waits.
    pub(super) fn try_input_now(&self, generation: u64, bytes: &[u8]) -> Option<(usize, u64)> {
        let input = self.input.try_lock().ok()?;
        if !self.is_owner(generation) {
            return None;
        }
        let mut done = 0;
        while done < bytes.len() && !lock(&self.state).input().is_broken() {
            // None: the PTY is full, the rest waits in the queue.
            let Some(written) = input.pty.try_write(&bytes[done..]).transpose() else { break };
            match self.count_written(&written) {
                Some(n) => done += n,
                None => break,
            }
        }
        let state = lock(&self.state);
        if state.input().is_broken() {
            done = bytes.len(); // the console is gone: input is dropped, as apply_input does
        }
        Some((done, state.input().received()))
    }

    /// Resize the terminal at once when nothing stands in the way (as
    /// [`Session::try_input_now`]); `false`: queue it.
    pub(super) fn try_resize_now(&self, generation: u64, cols: u16, rows: u16) -> bool {
        let Ok(input) = self.input.try_lock() else { return false };
        if !self.is_owner(generation) {
            return false;
        }
        self.resize(&input, cols, rows);
        true
    }

    pub(super) fn subscribe_owner(&self) -> watch::Receiver<u64> {
        self.owner.subscribe()
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
        let st = &mut lock(&self.state);
        st.set_exit(status);
        if st.owner() == DETACHED {
            let soon = Instant::now() + self.exited_linger;
            self.linger.send_if_modified(|deadline| match deadline {
                Some(d) if *d > soon => {
                    *d = soon;
                    true
                }
                _ => false,
            });
        }
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
