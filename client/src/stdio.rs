//! The local terminal's stdin and stdout for `cvm-console console`, read and written on
//! the session's runtime.
//!
//! On Unix, when stdin is a terminal or a pipe, stdin and stdout are switched to
//! non-blocking mode and driven by the runtime's reactor, as ssh does: a keystroke wakes
//! the thread that encrypts and sends it, instead of a blocking reader thread handing it
//! over (one cross-thread wake-up less per keystroke). [`LocalStdio`] puts the original
//! mode back when it drops. A terminal's stdin and stdout are usually one open file
//! description, so once stdin is non-blocking stdout is too; such a stdout is then
//! written through the reactor as well: a blocking `write_all` would fail with
//! `WouldBlock` whenever the terminal is slower than the guest and lose output. A stdout
//! of its own (a pipe, a file) keeps its blocking writes.
//! Anything else (a regular file, /dev/null, a platform without the reactor path) falls
//! back to a blocking reader thread and blocking writes.

use std::io::{Read, Write};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// The local side of a console session: where typed bytes come from, where output goes.
#[derive(Debug)]
pub struct LocalStdio {
    input: Option<Input>,
    output: Output,
    #[cfg(unix)]
    _restore: Vec<reactor::RestoreFlags>,
}

#[derive(Debug)]
enum Input {
    #[cfg(unix)]
    Reactor(tokio::net::unix::pipe::Receiver),
    Thread,
}

#[derive(Debug)]
enum Output {
    #[cfg(unix)]
    Reactor(tokio::net::unix::pipe::Sender),
    Blocking,
}

impl LocalStdio {
    /// Take over this process's stdin and stdout. Must run inside the runtime.
    pub fn open() -> Self {
        #[cfg(unix)]
        if let Some(stdio) = reactor::open() {
            return stdio;
        }
        Self {
            input: Some(Input::Thread),
            output: Output::Blocking,
            #[cfg(unix)]
            _restore: Vec::new(),
        }
    }

    /// `"reactor"` when stdin is read through the runtime, `"thread"` otherwise.
    pub fn input_kind(&self) -> &'static str {
        match self.input {
            #[cfg(unix)]
            Some(Input::Reactor(_)) => "reactor",
            _ => "thread",
        }
    }

    /// Start reading stdin: every read goes through `on_read`, which returns the bytes to
    /// send and whether to stop (the escape was typed); reads end at end of file or an
    /// error. Returns the reader task when it runs on the runtime (abort it before the
    /// modes are restored); a blocking thread is left to end with the process.
    pub fn read_input<F, T>(&mut self, tx: mpsc::Sender<T>, mut on_read: F) -> Option<tokio::task::JoinHandle<()>>
    where
        F: FnMut(&[u8]) -> Vec<T> + Send + 'static,
        T: Send + 'static,
    {
        match self.input.take()? {
            #[cfg(unix)]
            Input::Reactor(mut rx) => Some(tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let n = match rx.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    };
                    for item in on_read(&buf[..n]) {
                        if tx.send(item).await.is_err() {
                            return;
                        }
                    }
                }
            })),
            Input::Thread => {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut stdin = std::io::stdin().lock();
                    loop {
                        let n = match stdin.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(_) => break,
                        };
                        for item in on_read(&buf[..n]) {
                            if tx.blocking_send(item).is_err() {
                                return;
                            }
                        }
                    }
                });
                None
            }
        }
    }

    /// Write all of `bytes` to stdout and flush.
    pub async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.output {
            #[cfg(unix)]
            Output::Reactor(tx) => tx.write_all(bytes).await,
            Output::Blocking => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
        }
    }
}

#[cfg(unix)]
mod reactor {
    use std::os::fd::{AsFd, OwnedFd};

    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use tokio::net::unix::pipe;

    use super::{Input, LocalStdio, Output};

    /// Puts a file description's status flags back as they were.
    #[derive(Debug)]
    pub(super) struct RestoreFlags {
        fd: OwnedFd,
        flags: OFlag,
    }

    impl Drop for RestoreFlags {
        fn drop(&mut self) {
            let _ = fcntl(&self.fd, FcntlArg::F_SETFL(self.flags));
        }
    }

    /// Switch `fd`'s file description to non-blocking; the guard switches it back.
    fn non_blocking(fd: &OwnedFd) -> Option<RestoreFlags> {
        let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL).ok()?);
        let restore = RestoreFlags { fd: fd.try_clone().ok()?, flags };
        fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).ok()?;
        Some(restore)
    }

    /// Stdin (and stdout when it can) on the reactor; `None` when stdin cannot be
    /// (the reactor refuses regular files and /dev/null).
    pub(super) fn open() -> Option<LocalStdio> {
        let stdin = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
        let stdout = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
        // Registration does not depend on the mode, so register first and change the
        // mode only for what the reactor took.
        let rx = pipe::Receiver::from_owned_fd_unchecked(stdin.try_clone().ok()?).ok()?;
        let restore = vec![non_blocking(&stdin)?];
        // Stdout goes through the reactor only when it is non-blocking now: when it is
        // stdin's own description (a terminal), whose original flags stdin's guard puts
        // back. Any other stdout (a pipe, a file) keeps blocking writes, which move bulk
        // output about a tenth faster than waiting for readiness (measured on a pipe).
        let stdout_non_blocking = fcntl(&stdout, FcntlArg::F_GETFL)
            .map(|f| OFlag::from_bits_truncate(f).contains(OFlag::O_NONBLOCK))
            .unwrap_or(true);
        let output = if stdout_non_blocking {
            Output::Reactor(pipe::Sender::from_owned_fd_unchecked(stdout).ok()?)
        } else {
            Output::Blocking
        };
        Some(LocalStdio { input: Some(Input::Reactor(rx)), output, _restore: restore })
    }
}
