//! The PTY master, read through the runtime with read interest only and written
//! directly.
//!
//! pty-process registers the master for both read and write readiness. A terminal
//! signals "writable" every time the line discipline takes typed input off the master,
//! so with write interest registered, every keystroke written to the PTY woke the
//! runtime a second time for nothing (one extra sleep and wake-up per keystroke on the
//! server, next to sshd's `select`, which asks for write readiness only while it has
//! something to write). Here the reader's registration has read interest only; input
//! is written with a plain non-blocking `write`, and only when the PTY's input buffer
//! is full (the console does not read its input) does a writer register, wait until it
//! can write, and go again.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::io::Errno;
use tokio::net::unix::pipe;

/// The reading side: an [`tokio::io::AsyncRead`] with read interest only.
pub(super) type PtyReader = pipe::Receiver;

/// The writing side of the master, and its window size.
#[derive(Debug)]
pub(super) struct PtyWriter {
    fd: OwnedFd,
}

/// Take over pty-process's master: its registration (read and write interest) ends
/// here; the reader and the writer hold their own descriptors of the same master.
/// Must run inside the runtime.
pub(super) fn split(pty: pty_process::Pty) -> io::Result<(PtyReader, PtyWriter)> {
    let read_fd = pty.as_fd().try_clone_to_owned()?;
    let write_fd = pty.as_fd().try_clone_to_owned()?;
    drop(pty);
    // pty-process made the master non-blocking, as the receiver requires.
    let reader = pipe::Receiver::from_owned_fd_unchecked(read_fd)?;
    Ok((reader, PtyWriter { fd: write_fd }))
}

impl PtyWriter {
    /// Resolves once the PTY's input buffer has room again (after `try_write` said it
    /// would block). A registration for this one wait: write interest only while blocked.
    pub(super) async fn writable(&self) -> io::Result<()> {
        let waiter = pipe::Sender::from_owned_fd_unchecked(self.fd.try_clone()?)?;
        waiter.writable().await
    }

    /// Write some of `buf` if the PTY takes it without waiting; `Ok(None)` if it would
    /// have to wait.
    pub(super) fn try_write(&self, buf: &[u8]) -> io::Result<Option<usize>> {
        loop {
            match rustix::io::write(&self.fd, buf) {
                Ok(n) => return Ok(Some(n)),
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Set the terminal's size (TIOCSWINSZ); the kernel sends SIGWINCH.
    pub(super) fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        let size = rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        rustix::termios::tcsetwinsize(&self.fd, size).map_err(io::Error::from)
    }
}
