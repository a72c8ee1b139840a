//! `cvm-console console`: the verified console in this terminal, like ssh.
//!
//! Raw mode for the whole session, restored on every exit path (a guard's Drop
//! runs on return, error and unwinding panic). Window size changes are sent as
//! they happen (SIGWINCH on Unix, polling elsewhere). `Enter ~ .` disconnects,
//! as in ssh.

use std::io::{Read, Write};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::console_client::{ConsoleCommand, ConsoleEnd, ConsoleEvent, Reconnect, run_console};
use crate::net::ConnectOptions;

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

    // Stdin is read on a plain thread: blocking reads are the portable way to get
    // raw bytes (escape sequences included) in raw mode.
    let stdin_tx = cmd_tx.clone();
    std::thread::spawn(move || {
        let mut scanner = EscapeScanner { at_line_start: true, tilde: false };
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (bytes, escape) = scanner.scan(&buf[..n]);
            if !bytes.is_empty() && stdin_tx.blocking_send(ConsoleCommand::Input(bytes)).is_err() {
                break;
            }
            if escape {
                let _ = stdin_tx.blocking_send(ConsoleCommand::Close);
                break;
            }
        }
    });
    let resize_tx = cmd_tx.clone();
    let resizer = tokio::spawn(watch_resize(resize_tx));
    drop(cmd_tx);

    let printer = tokio::spawn(async move {
        let mut out = std::io::stdout();
        while let Some(ev) = ev_rx.recv().await {
            match ev {
                ConsoleEvent::Output(bytes) => {
                    let _ = out.write_all(&bytes);
                    let _ = out.flush();
                }
                ConsoleEvent::Reconnecting { attempt, reason, .. } => {
                    let _ = write!(
                        out,
                        "\r\n[cvm-console: connection lost ({reason}); re-attesting, attempt {attempt}]\r\n"
                    );
                    let _ = out.flush();
                }
                ConsoleEvent::OutputGap { bytes } => {
                    let _ = write!(out, "\r\n[cvm-console: {bytes} bytes of output were lost while disconnected]\r\n");
                }
                ConsoleEvent::Attested(_) => {}
            }
        }
    });
    let end = run_console(address, opts, cmd_rx, ev_tx, Reconnect::default()).await;
    resizer.abort();
    let _ = printer.await;
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
