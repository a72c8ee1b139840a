//! The per-session task: starts the console process in a PTY, reads its output into
//! the ring (pausing while the client is `max_unacked` behind, so the process blocks
//! in write), reaps it, and ends the session on linger expiry or hang-up.

use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::process::ExitStatus;
use std::sync::{Arc, Weak};
use std::time::Duration;

use cvmc_protocol::console::SessionToken;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use pty_process::Size;
use tokio::io::AsyncReadExt as _;
use tokio::process::Child;
use tokio::sync::watch;
use tokio::time::Instant;

use super::session::Session;
use super::{ConsoleConfig, ConsoleError, Inner};
use crate::authorized::ClientAuth;

/// Terminal size until the client sends Resize.
const INITIAL_SIZE: (u16, u16) = (24, 80);
/// Largest single read from the PTY.
const READ_CHUNK: usize = 16 * 1024;
/// A piece of PTY output this large suggests more is on its way.
const BURST_PIECE: usize = 1024;
/// Time between SIGHUP and SIGKILL when hanging up.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// After the console process exited, how long the PTY may stay silent (while we could
/// read) before it counts as drained. A background job that keeps the terminal open
/// (`sleep 1000 &` then `exit`) would otherwise hold Exit back forever.
const EXIT_DRAIN: Duration = Duration::from_secs(2);

/// Start `cfg.argv` in a new PTY as a session leader with the PTY as its controlling
/// terminal, and the driver task that owns the process.
pub(super) fn spawn_session(
    cfg: &ConsoleConfig,
    token: SessionToken,
    auth: ClientAuth,
    registry: Weak<Inner>,
) -> Result<Arc<Session>, ConsoleError> {
    let (program, args) = cfg.argv.split_first().ok_or(ConsoleError::EmptyCommand)?;
    let (pty, pts) = pty_process::open().map_err(ConsoleError::Pty)?;
    pty.resize(Size::new(INITIAL_SIZE.0, INITIAL_SIZE.1)).map_err(ConsoleError::Pty)?;
    let child = pty_process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(console_environment(cfg, |name| std::env::var_os(name)))
        .kill_on_drop(true)
        .spawn(pts)
        .map_err(|source| ConsoleError::Spawn { program: program.clone(), source })?;
    tracing::info!(session = %cvmc_protocol::console::token_hint(&token), pid = ?child.id(), program, "console session started");
    let (reader, writer) = super::pty::split(pty).map_err(ConsoleError::PtyIo)?;
    let session = Arc::new(Session::new(token, auth, writer, cfg));
    let task = tokio::spawn(drive(Arc::clone(&session), reader, child, registry));
    session.set_driver(task);
    Ok(session)
}

async fn drive(session: Arc<Session>, mut reader: super::pty::PtyReader, mut child: Child, registry: Weak<Inner>) {
    let mut changes = session.subscribe_changes();
    let mut linger = session.subscribe_linger();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut pty_open = true;
    let mut status = None;
    let mut reported = false;
    // Set once the process exited while the PTY was still open.
    let mut drain_deadline: Option<Instant> = None;
    loop {
        if !reported
            && !pty_open
            && let Some(status) = status
        {
            session.set_exit(status);
            reported = true;
        }
        tokio::select! {
            read = read_output(&session, &mut reader, &mut buf, &mut changes), if pty_open => match read {
                Ok(0) => pty_open = false,
                Ok(_) => {
                    if drain_deadline.is_some() {
                        drain_deadline = Some(Instant::now() + EXIT_DRAIN);
                    }
                }
                // Linux reports EIO on the master once every slave fd is closed.
                Err(err) if err.raw_os_error() == Some(Errno::EIO as i32) => pty_open = false,
                Err(err) => {
                    tracing::warn!(session = %session.hint(), %err, "console pty read failed");
                    pty_open = false;
                }
            },
            waited = child.wait(), if status.is_none() => {
                let code = exit_status(&session, waited);
                status = Some(code);
                // Before Exit can reach the client, so the next attempt already waits.
                record_login(&registry, &session, code != 0);
                drain_deadline = Some(Instant::now() + EXIT_DRAIN);
            }
            () = tokio::time::sleep_until(drain_deadline.unwrap_or_else(Instant::now)),
                if pty_open && drain_deadline.is_some() =>
            {
                if session.output_room() == 0 {
                    // Quiet because we wait for the client's acks, not because the PTY is.
                    drain_deadline = Some(Instant::now() + EXIT_DRAIN);
                } else {
                    tracing::info!(
                        session = %session.hint(),
                        "console process exited; another process keeps its terminal open: not waiting for it"
                    );
                    pty_open = false;
                }
            }
            () = linger_expired(&mut linger) => {
                if expire(&registry, &session) {
                    tracing::info!(session = %session.hint(), "detached console session expired");
                    break;
                }
            }
            () = session.hangup_requested() => break,
        }
    }
    hang_up(&session, &mut child).await;
    if status.is_none() {
        // Hung up before its process ended: the peer left in the middle of a login.
        record_login(&registry, &session, true);
    }
}

/// An unauthenticated session's login ended: `failed` feeds the address's back-off.
fn record_login(registry: &Weak<Inner>, session: &Session, failed: bool) {
    if let ClientAuth::Unauthenticated { source } = session.auth
        && let Some(inner) = registry.upgrade()
    {
        inner.record_login(source, failed);
    }
}

/// The search path a console starts with, unless `pass_environment` names PATH.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The console process's whole environment: TERM, PATH, the server user's HOME, USER,
/// LOGNAME and SHELL, LANG (C.UTF-8 unless this process has one), then the variables
/// `pass_environment` names, taken from this process (`lookup`) where set. Nothing
/// else of the server's environment (a unit's secrets, sockets, tokens) is passed on.
pub(super) fn console_environment(
    cfg: &ConsoleConfig,
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    use std::ffi::OsString;
    let mut env: Vec<(OsString, OsString)> =
        vec![("TERM".into(), cfg.term.clone().into()), ("PATH".into(), DEFAULT_PATH.into())];
    if let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::effective()) {
        env.push(("HOME".into(), user.dir.into_os_string()));
        env.push(("USER".into(), user.name.clone().into()));
        env.push(("LOGNAME".into(), user.name.into()));
        env.push(("SHELL".into(), user.shell.into_os_string()));
    }
    env.push(("LANG".into(), lookup("LANG").unwrap_or_else(|| "C.UTF-8".into())));
    for name in &cfg.pass_environment {
        if let Some(value) = lookup(name) {
            env.retain(|(k, _)| k != name.as_str());
            env.push((name.into(), value));
        }
    }
    env
}

/// Read what the ring has room for and append it. Cancel-safe: a completed read is
/// pushed before the next await.
async fn read_output(
    session: &Session,
    reader: &mut super::pty::PtyReader,
    buf: &mut [u8],
    changes: &mut watch::Receiver<()>,
) -> io::Result<usize> {
    let room = loop {
        changes.borrow_and_update();
        let room = session.output_room();
        if room > 0 {
            break room;
        }
        if changes.changed().await.is_err() {
            std::future::pending::<()>().await; // the sender lives in `session`
        }
    };
    let limit = room.min(buf.len());
    let mut n = reader.read(&mut buf[..limit]).await?;
    // In a burst, take what else is ready before waking the connection: the terminal
    // hands output over in pieces of at most 4 KiB, and each push wakes the pump (a
    // `cat` of 200 MB: half the socket writes). A small piece (an echo) is sent at once
    // without another read.
    let mut piece = n;
    while piece >= BURST_PIECE && n < limit {
        // Nothing ready, or an error the next read reports: 0.
        piece = reader.try_read(&mut buf[n..limit]).unwrap_or_default();
        n += piece;
    }
    session.push_output(&buf[..n]);
    Ok(n)
}

/// Resolves once the linger deadline (if any) has passed.
async fn linger_expired(linger: &mut watch::Receiver<Option<Instant>>) {
    loop {
        let deadline = *linger.borrow_and_update();
        let changed = match deadline {
            None => linger.changed().await,
            Some(deadline) => tokio::select! {
                () = tokio::time::sleep_until(deadline) => return,
                changed = linger.changed() => changed,
            },
        };
        if changed.is_err() {
            std::future::pending::<()>().await; // the sender lives in the session
        }
    }
}

fn expire(registry: &Weak<Inner>, session: &Arc<Session>) -> bool {
    match registry.upgrade() {
        Some(inner) => inner.expire(session),
        None => true, // the manager is gone: nobody can re-attach
    }
}

fn exit_status(session: &Session, waited: io::Result<ExitStatus>) -> i32 {
    let status = match waited {
        Ok(status) => status.code().or_else(|| status.signal().map(|sig| -sig)).unwrap_or(-1),
        Err(err) => {
            tracing::warn!(session = %session.hint(), %err, "waiting for the console process failed");
            -1
        }
    };
    tracing::info!(session = %session.hint(), status, "console process exited");
    status
}

/// SIGHUP the process group, SIGKILL it after [`KILL_GRACE`]. Only while the child is
/// not yet reaped: after that its pid may name another process.
async fn hang_up(session: &Session, child: &mut Child) {
    let Some(group) = child.id().and_then(|pid| i32::try_from(pid).ok()).map(Pid::from_raw) else {
        return;
    };
    tracing::info!(session = %session.hint(), pid = group.as_raw(), "hanging up console session");
    if let Err(err) = killpg(group, Signal::SIGHUP) {
        tracing::debug!(%err, "SIGHUP to the console process group");
    }
    if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
        if let Err(err) = killpg(group, Signal::SIGKILL) {
            tracing::debug!(%err, "SIGKILL to the console process group");
        }
        if let Err(err) = child.kill().await {
            tracing::warn!(%err, "killing the console process failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_environment_is_clean_but_for_what_is_named() {
        let cfg = ConsoleConfig {
            term: "vt220".into(),
            pass_environment: vec!["TZ".into(), "PATH".into()],
            ..ConsoleConfig::default()
        };
        let server_env = |name: &str| match name {
            "TZ" => Some("Europe/Berlin".into()),
            "PATH" => Some("/opt/bin".into()),
            "AWS_SECRET_ACCESS_KEY" | "NOTIFY_SOCKET" => Some("secret".into()),
            _ => None,
        };
        let env = console_environment(&cfg, server_env);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_string_lossy().into_owned());
        assert_eq!(get("TERM").as_deref(), Some("vt220"));
        assert_eq!(get("TZ").as_deref(), Some("Europe/Berlin"));
        assert_eq!(get("PATH").as_deref(), Some("/opt/bin"), "a named variable replaces the default");
        assert_eq!(get("LANG").as_deref(), Some("C.UTF-8"));
        assert!(get("HOME").is_some());
        assert!(get("AWS_SECRET_ACCESS_KEY").is_none() && get("NOTIFY_SOCKET").is_none());
        assert_eq!(env.iter().filter(|(n, _)| n == "PATH").count(), 1);
    }
}
