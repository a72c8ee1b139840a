//! `cvm-console console`: the verified console in this terminal, like ssh.
//!
//! Raw mode for the whole session, restored on every exit path (a guard's Drop
//! runs on return, error and unwinding panic). Window size changes are sent as
//! they happen (SIGWINCH on Unix, polling elsewhere). `Enter ~ .` disconnects,
//! as in ssh. Stdin and stdout are read and written on the session's runtime
//! (see [`crate::stdio`]).

use std::time::Duration;

use tokio::sync::mpsc;

use crate::console_client::{ConsoleCommand, ConsoleEnd, ConsoleEvent, Reconnect, run_console};
use crate::net::ConnectOptions;
use crate::stdio::LocalStdio;

/// Puts the terminal in raw mode; restores it when dropped.
#[derive(Debug)]
pub struct RawModeGuard {
    active: bool,
}

impl RawModeGuard {
    /// Enter raw mode if stdin is a terminal.
    pub fn enter() -> Self {
        let active =
            std::io::IsTerminal::is_terminal(&std::io::stdin()) && crossterm::terminal::enable_raw_mode().is_ok();
        Self { active }
    }
}

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        if self.active {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// Watches for `Enter ~ .` in typed input.
#[derive(Debug, Default)]
struct EscapeScanner {
    at_line_start: bool,
    tilde: bool,
}

impl EscapeScanner {
    /// Returns the bytes to forward, and whether the escape was typed.
    fn scan(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.tilde {
                self.tilde = false;
                if b == b'.' {
                    return (out, true);
                }
                out.push(b'~');
            }
            if self.at_line_start && b == b'~' {
                self.tilde = true;
                self.at_line_start = false;
                continue;
            }
            self.at_line_start = b == b'\r' || b == b'\n';
            out.push(b);
        }
        (out, false)
    }
}

fn terminal_size() -> Option<(u16, u16)> {
    crossterm::terminal::size().ok().filter(|&(c, r)| c > 0 && r > 0)
}

/// Run the console on this terminal. Returns the process exit status to use.
pub async fn run_terminal(address: &str, opts: &ConnectOptions) -> Result<i32, ConsoleEnd> {
    let (cmd_tx, cmd_rx) = mpsc::channel::<ConsoleCommand>(64);
    let (ev_tx, mut ev_rx) = mpsc::channel::<ConsoleEvent>(256);
    if let Some((cols, rows)) = terminal_size() {
        let _ = cmd_tx.send(ConsoleCommand::Resize { cols, rows }).await;
    }
    let guard = RawModeGuard::enter();
    let mut stdio = LocalStdio::open();
    tracing::debug!(input = stdio.input_kind(), "console: local terminal");

    let mut scanner = EscapeScanner { at_line_start: true, tilde: false };
    let reader = stdio.read_input(cmd_tx.clone(), move |read| {
        let (bytes, escape) = scanner.scan(read);
        let mut commands = Vec::with_capacity(2);
        if !bytes.is_empty() {
            commands.push(ConsoleCommand::Input(bytes));
        }
        if escape {
            commands.push(ConsoleCommand::Close);
        }
        commands
    });
    let resize_tx = cmd_tx.clone();
    let resizer = tokio::spawn(watch_resize(resize_tx));
    drop(cmd_tx);

    let printer = tokio::spawn(async move {
        while let Some(ev) = ev_rx.recv().await {
            let text = match ev {
                ConsoleEvent::Output(bytes) => bytes,
                ConsoleEvent::Reconnecting { attempt, reason, .. } => {
                    let reason = cvmc_protocol::text::escape(&reason);
                    format!("\r\n[cvm-console: connection lost ({reason}); re-attesting, attempt {attempt}]\r\n")
                        .into_bytes()
                }
                ConsoleEvent::OutputGap { bytes } => {
                    format!("\r\n[cvm-console: {bytes} bytes of output were lost while disconnected]\r\n").into_bytes()
                }
                ConsoleEvent::Attested(_) => continue,
            };
            // A closed stdout ends nothing here: the session ends from the guest or
            // from typed input, and the guest keeps the output for a re-attach.
            let _ = stdio.write_all(&text).await;
        }
        stdio
    });
    let end = run_console(address, opts, cmd_rx, ev_tx, Reconnect::default()).await;
    resizer.abort();
    if let Some(reader) = reader {
        reader.abort();
        let _ = reader.await;
    }
    // The printer ends when run_console drops its event sender; dropping the local
    // stdio then puts stdin and stdout back in their original (blocking) mode, before
    // raw mode ends and before anything else is printed.
    drop(printer.await);
    drop(guard);
    match end {
        ConsoleEnd::Exited(status) => Ok(status),
        ConsoleEnd::Closed => {
            eprintln!("\r\n[cvm-console: disconnected; the session lingers on the guest]");
            Ok(0)
        }
        other => Err(other),
    }
}

async fn watch_resize(tx: mpsc::Sender<ConsoleCommand>) {
    let mut last = terminal_size();
    #[cfg(unix)]
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
    loop {
        #[cfg(unix)]
        match winch.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => tokio::time::sleep(Duration::from_millis(250)).await,
        }
        #[cfg(not(unix))]
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = terminal_size();
        if now != last
            && let Some((cols, rows)) = now
        {
            last = now;
            if tx.send(ConsoleCommand::Resize { cols, rows }).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_only_at_line_start() {
        let mut s = EscapeScanner { at_line_start: true, tilde: false };
        assert_eq!(s.scan(b"a~.b"), (b"a~.b".to_vec(), false));
        assert_eq!(s.scan(b"\r~x"), (b"\r~x".to_vec(), false));
        let (fwd, esc) = s.scan(b"\r~.");
        assert!(esc);
        assert_eq!(fwd, b"\r");
        let mut s = EscapeScanner { at_line_start: true, tilde: false };
        assert!(s.scan(b"~.").1);
    }
}
