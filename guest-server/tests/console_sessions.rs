//! Console sessions end to end without TLS: the real `SessionManager` serving over
//! `tokio::io::duplex`, real PTYs running bash, and a small test client that speaks the
//! console frames (attach, type, ack output, resend input after a cut).
//!
//! Tests wait for expected output with a deadline instead of sleeping; the expected
//! strings are computed by the shell (`$((6*7))`) so the terminal's echo of the typed
//! command never matches them.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use cvm_consoled::authorized::ClientAuth;
use std::time::Duration;

use cvm_consoled::console::{ConsoleConfig, ConsoleError, SessionManager};
use cvmc_protocol::console::client::{ClientEvent, ConsoleClient};
use cvmc_protocol::console::{ConsoleMsg, SessionError, SessionToken, kind};
use cvmc_protocol::frame::FrameDecoder;
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, ReadHalf, WriteHalf};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Longest wait for any expected event; generous for a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(30);

fn bash_config() -> ConsoleConfig {
    let argv = ["env", "PS1=$ ", "HISTFILE=/dev/null", "INPUTRC=/dev/null", "bash", "--norc", "--noprofile"];
    ConsoleConfig { argv: argv.map(String::from).to_vec(), ..ConsoleConfig::default() }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}

fn tail(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(400)..]).into_owned()
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None) != Err(Errno::ESRCH)
}

/// Poll `check` until it holds or [`WAIT`] passes.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The client key the tests' connections authenticate with.
fn test_key() -> ClientAuth {
    ClientAuth::Key(format!("sha256:{}", "ab".repeat(32)))
}

/// One connection: raw frames both ways, and the server task serving it.
struct Conn {
    rd: ReadHalf<DuplexStream>,
    wr: WriteHalf<DuplexStream>,
    decoder: FrameDecoder,
    server: JoinHandle<Result<(), ConsoleError>>,
}

impl Conn {
    fn open(mgr: &SessionManager) -> Self {
        Self::open_as(mgr, test_key())
    }

    /// A connection of this client.
    fn open_as(mgr: &SessionManager, auth: ClientAuth) -> Self {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mgr = mgr.clone();
        let server = tokio::spawn(async move { mgr.serve_console(server, "test-peer", auth).await });
        let (rd, wr) = tokio::io::split(client);
        Self { rd, wr, decoder: FrameDecoder::new(), server }
    }

    async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.wr.write_all(bytes).await
    }

    async fn send(&mut self, msg: &ConsoleMsg) -> std::io::Result<()> {
        self.send_raw(&msg.encode().unwrap()).await
    }

    /// The next message, `None` once the server closed the connection.
    async fn recv(&mut self) -> Option<ConsoleMsg> {
        let mut buf = vec![0u8; 16 * 1024];
        let read = async {
            loop {
                if let Some(frame) = self.decoder.next_frame().unwrap() {
                    return Some(ConsoleMsg::decode_payload(frame.kind, &frame.payload).unwrap());
                }
                match self.rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.decoder.push(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(WAIT, read).await.expect("no message from the server in time")
    }

    /// Send `bytes` and expect Error, then the end of the connection; returns the
    /// reason sent and the error the server reported.
    async fn refused(mut self, bytes: &[u8]) -> (String, ConsoleError) {
        self.send_raw(bytes).await.unwrap();
        let Some(ConsoleMsg::Error { reason }) = self.recv().await else { panic!("expected Error") };
        assert_eq!(self.recv().await, None, "the server closes after Error");
        (reason, self.server.await.unwrap().unwrap_err())
    }

    async fn attach_refused(self, token: SessionToken) -> String {
        self.refused(&ConsoleMsg::Attach { token, output_received: 0 }.encode().unwrap()).await.0
    }
}

/// A terminal client: the product's own [`ConsoleClient`] (it keeps the output count,
/// the input to resend and the size across connections) over a raw connection, and
/// everything shown, for the tests' checks.
struct Term {
    conn: Conn,
    client: ConsoleClient,
    output: Vec<u8>,
    exit: Option<i32>,
    cursor: usize,
}

impl Term {
    /// A new session, at its first prompt.
    async fn open(mgr: &SessionManager) -> Self {
        Self::open_as(mgr, test_key()).await
    }

    /// A new session of this client, at its first prompt.
    async fn open_as(mgr: &SessionManager, auth: ClientAuth) -> Self {
        Self::open_with(mgr, auth, ConsoleClient::new(1)).await
    }

    /// A new session for `client` (e.g. one that acks output rarely), at its first prompt.
    async fn open_with(mgr: &SessionManager, auth: ClientAuth, client: ConsoleClient) -> Self {
        let mut term = Self::attach_as(mgr, auth, client, Vec::new()).await;
        term.wait_for("$ ").await;
        term
    }

    /// Attach `client` (to a new session if it has none) on a new connection, having
    /// shown `output` so far; it resends what the session did not consume.
    async fn attach(mgr: &SessionManager, client: ConsoleClient, output: Vec<u8>) -> Self {
        Self::attach_as(mgr, test_key(), client, output).await
    }

    /// [`Term::attach`] as this client key.
    async fn attach_as(mgr: &SessionManager, auth: ClientAuth, mut client: ConsoleClient, output: Vec<u8>) -> Self {
        assert_eq!(client.output_received(), output.len() as u64);
        let mut conn = Conn::open_as(mgr, auth);
        conn.send(&client.connect()).await.unwrap();
        let had = client.token();
        let mut term = Self { conn, client, output, exit: None, cursor: 0 };
        while !term.client.is_attached() {
            assert!(term.pump().await, "closed before SessionInfo");
        }
        if let Some(had) = had {
            assert_eq!(term.client.token(), Some(had), "re-attached to the same session");
        }
        term
    }

    /// Type `text` as a front end does: taken only while the client's input window is
    /// open (acknowledgements are read meanwhile).
    async fn type_str(&mut self, text: &str) {
        while !self.client.window_open() {
            assert!(self.pump().await, "closed while the input window was full");
        }
        self.client.type_input(text.as_bytes());
        self.flush().await;
    }

    async fn flush(&mut self) {
        while let Some(msg) = self.client.poll_transmit() {
            // The server may already be closing this connection (bad-input tests).
            if self.conn.send(&msg).await.is_err() {
                return;
            }
        }
    }

    /// Handle one server message; `false` once the connection is closed.
    async fn pump(&mut self) -> bool {
        let Some(msg) = self.conn.recv().await else { return false };
        let event = self.client.handle(msg).unwrap_or_else(|e| panic!("the server broke the protocol: {e}"));
        match event {
            None => {}
            Some(ClientEvent::Output(bytes)) => {
                assert!(self.exit.is_none(), "output after Exit");
                self.output.extend_from_slice(&bytes);
            }
            Some(ClientEvent::Exited(status)) => {
                assert_eq!(self.exit, None, "a second Exit");
                self.exit = Some(status);
            }
            Some(ClientEvent::Gap(bytes)) => panic!("{bytes} output bytes lost"),
            Some(ClientEvent::Refused(reason)) => panic!("refused: {reason}"),
        }
        self.flush().await;
        true
    }

    /// Read until `needle` appears after the previous match; returns the offset after it.
    async fn wait_for(&mut self, needle: &str) -> usize {
        let needle = needle.as_bytes();
        let deadline = Instant::now() + WAIT;
        let mut scanned = self.cursor;
        loop {
            if let Some(at) = find(&self.output[scanned..], needle) {
                self.cursor = scanned + at + needle.len();
                return self.cursor;
            }
            scanned = self.output.len().saturating_sub(needle.len() - 1).max(scanned);
            let more = tokio::time::timeout_at(deadline, self.pump()).await;
            let tail = tail(&self.output);
            let needle = String::from_utf8_lossy(needle);
            assert!(more.is_ok(), "timed out waiting for {needle:?}; output ends {tail:?}");
            assert!(more.unwrap(), "connection closed while waiting for {needle:?}; output ends {tail:?}");
        }
    }

    /// Read until a whole output line equal to `line` appears (the terminal's echo of the
    /// typed command never matches: the expected text is computed by the shell).
    async fn wait_line(&mut self, line: &str) {
        let needle = format!("{line}\r\n");
        loop {
            let end = self.wait_for(&needle).await;
            let start = end - needle.len();
            // Readline may put an escape sequence and `\r` (not `\n`) before the output.
            if start == 0 || matches!(self.output[start - 1], b'\r' | b'\n') {
                return;
            }
        }
    }

    async fn wait_exit(&mut self) -> i32 {
        loop {
            if let Some(status) = self.exit {
                return status;
            }
            assert!(self.pump().await, "closed before Exit; output ends {:?}", tail(&self.output));
        }
    }

    async fn wait_closed(&mut self) {
        while self.pump().await {}
    }

    async fn wait_input_acked(&mut self) {
        while self.client.unacked_input() > 0 {
            assert!(self.pump().await, "closed before the input was acknowledged");
        }
    }

    /// The shell answers: `echo <tag>$((1+1))` prints `<tag>2`.
    async fn check_echo(&mut self, tag: &str) {
        self.type_str(&format!("echo {tag}$((1+1))\r")).await;
        self.wait_line(&format!("{tag}2")).await;
    }

    /// The number the shell expands `expr` to (`$$`, `$!`), via `echo N<expr>Q`.
    async fn echo_number(&mut self, expr: &str) -> i32 {
        self.type_str(&format!("echo N{expr}Q\r")).await;
        loop {
            // Skip echoes of the command (typed ahead, it can be echoed twice).
            let end = self.wait_for("Q\r\n").await - "Q\r\n".len();
            let start = self.output[..end].iter().rposition(|&b| b == b'N').unwrap() + 1;
            if let Ok(number) = std::str::from_utf8(&self.output[start..end]).unwrap().parse() {
                return number;
            }
        }
    }

    /// Cut the connection (both directions, no goodbye); the client keeps its books.
    async fn cut(self) -> (ConsoleClient, Vec<u8>) {
        let Term { conn, client, output, .. } = self;
        let Conn { rd, wr, server, .. } = conn;
        drop((rd, wr));
        let _ = server.await.unwrap(); // a cut may end in an i/o error: either is fine
        (client, output)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_command_output_comes_back() {
    let mgr = SessionManager::new(bash_config());
    let mut term = Term::open(&mgr).await;
    term.type_str("echo ok\r").await;
    term.wait_line("ok").await;
    term.wait_input_acked().await;
    assert_eq!(mgr.session_count(), 1);
    mgr.shutdown().await;
    assert_eq!(mgr.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_reaches_the_terminal() {
    let mgr = SessionManager::new(bash_config());
    let mut term = Term::open(&mgr).await;
    term.type_str("stty size\r").await;
    term.wait_line("24 80").await;
    term.conn.send(&ConsoleMsg::Resize { cols: 100, rows: 40 }).await.unwrap();
    term.type_str("stty size\r").await;
    term.wait_line("40 100").await;
    mgr.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_status_or_negative_signal_is_reported_and_the_session_collected() {
    let mgr = SessionManager::new(bash_config());
    for (command, status) in [("exit 3\r", 3), ("kill -9 $$\r", -9)] {
        let mut term = Term::open(&mgr).await;
        term.type_str(command).await;
        assert_eq!(term.wait_exit().await, status, "{command:?}");
        // Once the client has acked every byte after Exit, the server closes and forgets.
        term.wait_closed().await;
        assert!(term.conn.server.await.unwrap().is_ok());
        assert_eq!(mgr.session_count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_job_holding_the_terminal_does_not_hold_back_exit() {
    let mgr = SessionManager::new(bash_config());
    let mut term = Term::open(&mgr).await;
    term.type_str("sleep 60 &\r").await;
    let job = term.echo_number("$!").await;
    term.type_str("exit 7\r").await;
    let started = Instant::now();
    assert_eq!(term.wait_exit().await, 7);
    assert!(started.elapsed() < Duration::from_secs(10), "Exit waited for the background job");
    term.wait_closed().await;
    assert_eq!(mgr.session_count(), 0);
    assert!(alive(job), "the job itself is left alone");
    kill(Pid::from_raw(job), nix::sys::signal::Signal::SIGKILL).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_mid_burst_resumes_without_loss_or_duplication() {
    // A small unacked window so the detached session must stop reading the PTY.
    let cfg = ConsoleConfig { max_unacked: 256 * 1024, scrollback: 64 * 1024, ..bash_config() };
    let bound = cfg.max_unacked + cfg.scrollback;
    let mgr = SessionManager::new(cfg);
    // Acks every 64 KiB: some received bytes are unacked when the cut comes.
    let mut term = Term::open_with(&mgr, test_key(), ConsoleClient::new(64 * 1024)).await;
    // -echo so that input typed during the burst is not echoed into it.
    term.type_str("stty -echo; echo B$((1))GIN; seq 1 200000; echo END$((1+1)); stty echo\r").await;
    let begin = term.wait_for("B1GIN\r\n").await;
    while term.output.len() < begin + 300_000 {
        assert!(term.pump().await);
    }
    // Half a command goes out on this connection, then the connection is cut...
    term.type_str("echo ma").await;
    let (mut client, output) = term.cut().await;
    // ...and the rest is typed while disconnected: it only exists in the resend buffer.
    client.type_input(b"rk$((2+3))\r");
    // Detached, the session fills its window and stops reading the PTY: seq blocks.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = mgr.held_output_bytes();
    assert!(held <= bound, "held {held} > {bound}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(mgr.held_output_bytes(), held, "the PTY is not read while the client is a window behind");

    let mut term = Term::attach(&mgr, client, output).await;
    term.wait_for("END2").await;
    term.wait_line("mark5").await;
    term.wait_input_acked().await;

    let out = &term.output;
    let start = find(out, b"B1GIN\r\n").unwrap() + "B1GIN\r\n".len();
    let end = find(out, b"END2").unwrap();
    let expected: Vec<u8> = (1..=200_000).flat_map(|i| format!("{i}\r\n").into_bytes()).collect();
    let got = &out[start..end];
    assert_eq!(got.len(), expected.len(), "seq output length");
    let first_difference = got.iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "seq output differs");
    assert_eq!(count(out, b"mark5"), 1, "typed input ran exactly once; output ends {:?}", tail(out));
    assert_eq!(count(out, b"echo mark$((2+3))"), 1, "and was echoed once: nothing doubled");
    mgr.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_attach_replaces_the_older_connection() {
    let mgr = SessionManager::new(bash_config());
    let mut first = Term::open(&mgr).await;
    first.check_echo("a").await;
    first.wait_input_acked().await;
    let mut second = Term::attach(&mgr, first.client.clone(), first.output.clone()).await;
    first.wait_closed().await;
    assert!(first.conn.server.await.unwrap().is_ok());
    second.check_echo("b").await;
    assert_eq!(mgr.session_count(), 1);
    mgr.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_token_is_refused_and_starts_nothing() {
    let mgr = SessionManager::new(bash_config());
    let mut witness = Term::open(&mgr).await;
    let reason = Conn::open(&mgr).attach_refused(SessionToken([7; 32])).await;
    assert!(reason.starts_with("session 07070707") && reason.ends_with("is gone"), "{reason}");
    assert_eq!(mgr.session_count(), 1, "no session was started for the unknown token");
    witness.check_echo("w").await;
    mgr.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_command_that_cannot_start_is_refused() {
    let mgr = SessionManager::new(ConsoleConfig { argv: vec!["/nonexistent/shell".into()], ..bash_config() });
    let reason = Conn::open(&mgr).attach_refused(SessionToken::NEW).await;
    assert!(reason.starts_with("cannot start console command \"/nonexistent/shell\""), "{reason}");
    assert_eq!(mgr.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_sessions_is_enforced() {
    let mgr = SessionManager::new(ConsoleConfig { max_sessions: 2, ..bash_config() });
    let mut a = Term::open(&mgr).await;
    let _b = Term::open(&mgr).await;
    let reason = Conn::open(&mgr).attach_refused(SessionToken::NEW).await;
    assert_eq!(reason, "too many sessions (2)");
    assert_eq!(mgr.session_count(), 2);
    // A finished session frees its slot.
    a.type_str("exit\r").await;
    assert_eq!(a.wait_exit().await, 0);
    a.wait_closed().await;
    assert_eq!(mgr.session_count(), 1);
    let _c = Term::open(&mgr).await;
    mgr.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_that_connection() {
    let mgr = SessionManager::new(bash_config());
    let mut witness = Term::open(&mgr).await;
    let info = ConsoleMsg::SessionInfo { token: SessionToken([1; 32]), input_received: 0, output_start: 0 };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown type", vec![0x77, 0, 0, 0, 3, 1, 2, 3]),
        ("oversized length", vec![kind::DATA, 0, 1, 0, 1]),
        ("garbage", b"\xde\xad\xbe\xef garbage".to_vec()),
        ("resize 0x0", vec![kind::RESIZE, 0, 0, 0, 4, 0, 0, 0, 0]),
        ("short ack", vec![kind::ACK, 0, 0, 0, 2, 0, 0]),
        ("second attach", ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 }.encode().unwrap()),
        ("session info from the client", info.encode().unwrap()),
        ("exit from the client", ConsoleMsg::Exit { status: 0 }.encode().unwrap()),
        ("ack beyond what was sent", ConsoleMsg::Ack { received: 1 << 40 }.encode().unwrap()),
    ];
    let mut last = None;
    for (i, (what, bytes)) in cases.into_iter().enumerate() {
        let mut victim = Term::open(&mgr).await;
        victim.conn.send_raw(&bytes).await.unwrap();
        victim.wait_closed().await;
        let served = victim.conn.server.await.unwrap();
        assert!(served.is_err(), "{what}: the server should report an error");
        // Its session stays (detached, lingering); the witness is unaffected.
        assert_eq!(mgr.session_count(), 2 + i, "{what}");
        witness.check_echo(&format!("w{i}_")).await;
        last = Some((victim.client, victim.output));
    }
    // A session whose connection was closed for bad input can be re-attached.
    let (client, output) = last.unwrap();
    let mut again = Term::attach(&mgr, client, output).await;
    again.check_echo("v").await;
    mgr.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_but_attach_first_is_refused() {
    let mgr = SessionManager::new(bash_config());
    let mut witness = Term::open(&mgr).await;

    let data = ConsoleMsg::Data(b"echo hi\r".to_vec()).encode().unwrap();
    let (reason, err) = Conn::open(&mgr).refused(&data).await;
    assert_eq!(reason, "unexpected console message type 0x10 before attach");
    assert!(matches!(err, ConsoleError::Protocol(SessionError::UnexpectedMessage { kind: 0x10, .. })));
    let (reason, err) = Conn::open(&mgr).refused(b"GET / HTTP/1.1\r\n\r\n").await;
    assert!(reason.starts_with("malformed console frame"), "{reason}");
    assert!(matches!(err, ConsoleError::Malformed(_)));
    assert_eq!(mgr.session_count(), 1);
    witness.check_echo("w").await;
    mgr.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_must_arrive_within_ten_seconds() {
    let mgr = SessionManager::new(bash_config());
    let started = Instant::now();
    let (reason, err) = Conn::open(&mgr).refused(b"").await;
    assert_eq!(reason, "no attach message within 10 s");
    assert!(started.elapsed() >= Duration::from_secs(10));
    assert!(matches!(err, ConsoleError::AttachTimeout { secs: 10 }));
    assert_eq!(mgr.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_cannot_grow_server_memory() {
    let cfg = ConsoleConfig { max_unacked: 64 * 1024, scrollback: 16 * 1024, ..bash_config() };
    let bound = cfg.max_unacked + cfg.scrollback + 16 * 1024;
    let mgr = SessionManager::new(cfg.clone());
    // Attach, start an endless writer, and never read or ack a byte.
    let mut hog = Conn::open(&mgr);
    hog.send(&ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 }).await.unwrap();
    hog.send(&ConsoleMsg::Data(b"yes 0123456789abcdef\r".to_vec())).await.unwrap();
    eventually("the unacked window is full", || mgr.held_output_bytes() >= cfg.max_unacked).await;
    let full = mgr.held_output_bytes();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let held = mgr.held_output_bytes();
        assert!(held <= bound, "held {held} > {bound}");
        assert_eq!(held, full, "the PTY is no longer read");
    }
    // Another session is unaffected.
    let mut other = Term::open(&mgr).await;
    other.check_echo("x").await;
    assert!(mgr.held_output_bytes() <= bound + 4096);
    mgr.shutdown().await;
    assert_eq!(mgr.session_count(), 0);
    assert!(hog.server.await.unwrap().is_ok(), "hung up, not failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_hung_up_after_linger_when_detached_and_on_shutdown() {
    let mgr = SessionManager::new(ConsoleConfig { linger: Duration::from_millis(300), ..bash_config() });
    let mut detached = Term::open(&mgr).await;
    let mut attached = Term::open(&mgr).await;
    let (lingering, kept) = (detached.echo_number("$$").await, attached.echo_number("$$").await);
    assert!(alive(lingering));
    detached.cut().await;
    eventually("the detached session is collected", || mgr.session_count() == 1).await;
    eventually("its shell is gone", || !alive(lingering)).await;
    assert!(alive(kept), "an attached session does not linger out");
    mgr.shutdown().await;
    assert!(!alive(kept));
    attached.wait_closed().await;
    assert_eq!(mgr.session_count(), 0);
    let reason = Conn::open(&mgr).attach_refused(SessionToken::NEW).await;
    assert_eq!(reason, "the console server is shutting down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_sessions_each_echo_their_own_token() {
    let mgr = SessionManager::new(bash_config());
    let clients: Vec<_> = (0..50)
        .map(|i| {
            let mgr = mgr.clone();
            tokio::spawn(async move {
                let mut term = Term::open(&mgr).await;
                term.check_echo(&format!("tok{i}_")).await;
                term.type_str("exit\r").await;
                assert_eq!(term.wait_exit().await, 0);
                term.wait_closed().await;
                assert_eq!(count(&term.output, b"_2\r\n"), 1, "only this session's output");
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(mgr.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_for_a_console_that_is_not_reading_waits_and_arrives_whole() {
    let mgr = SessionManager::new(bash_config());
    let mut term = Term::open(&mgr).await;
    // Raw and silent, then two seconds of not reading: far more than the terminal's
    // buffers hold is typed meanwhile, so writes to the PTY must wait, not fail.
    term.type_str("stty raw -echo; echo RE$((1))ADY; sleep 2; head -c 300000 | cksum; stty sane\r").await;
    term.wait_for("RE1ADY").await;
    let payload: Vec<u8> =
        (0..300_000u32).map(|i| b'a' + u8::try_from(i.wrapping_mul(2_654_435_761) >> 27).unwrap() % 26).collect();
    let typing = std::time::Instant::now();
    for chunk in payload.chunks(8 * 1024) {
        term.type_str(std::str::from_utf8(chunk).unwrap()).await;
    }
    assert!(typing.elapsed() > Duration::from_millis(500), "the PTY took all input while its console slept");
    let mut cksum = std::process::Command::new("cksum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut cksum.stdin.take().unwrap(), &payload).unwrap();
    let expected = String::from_utf8(cksum.wait_with_output().unwrap().stdout).unwrap();
    let expected = expected.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    term.wait_for(&expected).await;
    term.wait_input_acked().await;
    term.check_echo("after").await;
    mgr.shutdown().await;
}

fn unauthenticated(last: u8) -> ClientAuth {
    ClientAuth::Unauthenticated { source: std::net::IpAddr::from([192, 0, 2, last]) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_re_attaches_only_for_the_key_that_opened_it() {
    let mgr = SessionManager::new(bash_config());
    let mut alice = Term::open(&mgr).await;
    alice.check_echo("mine").await;
    let (client, output) = alice.cut().await;
    let token = client.token().unwrap();
    let mallory = ClientAuth::Key(format!("sha256:{}", "cd".repeat(32)));
    let reason = Conn::open_as(&mgr, mallory).attach_refused(token).await;
    assert!(reason.ends_with("belongs to another client key"), "{reason}");
    // Nothing was replayed to the other key, and the owner still re-attaches.
    let mut again = Term::attach(&mgr, client, output).await;
    again.check_echo("back").await;
    mgr.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_a_key_ends_with_its_connection_and_never_re_attaches() {
    let mgr = SessionManager::new(bash_config());
    let mut term = Term::open_as(&mgr, unauthenticated(1)).await;
    let shell = term.echo_number("$$").await;
    let (client, _) = term.cut().await;
    let token = client.token().unwrap();
    let reason = Conn::open_as(&mgr, unauthenticated(1)).attach_refused(token).await;
    assert_eq!(reason, "a session opened without a client key cannot be re-attached");
    // Not even by a key: the token alone is no credential.
    let reason = Conn::open(&mgr).attach_refused(token).await;
    assert!(reason.ends_with("is gone") || reason.ends_with("another client key"), "{reason}");
    eventually("its shell is hung up", || !alive(shell)).await;
    eventually("its slot is free", || mgr.session_count() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exited_session_nobody_attaches_frees_its_slot_after_the_short_linger() {
    let cfg = ConsoleConfig {
        // Output the client never acknowledges: the session cannot finish by itself.
        argv: ["sh", "-c", "echo bye"].map(String::from).to_vec(),
        linger: Duration::from_secs(600),
        exited_linger: Duration::from_millis(300),
        max_sessions: 1,
        ..bash_config()
    };
    let mgr = SessionManager::new(cfg);
    // Attach, read Exit, then vanish without acknowledging the output.
    let mut conn = Conn::open(&mgr);
    conn.send(&ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 }).await.unwrap();
    while !matches!(conn.recv().await, Some(ConsoleMsg::Exit { .. })) {}
    drop(conn);
    assert_eq!(mgr.session_count(), 1);
    eventually("the exited session is collected long before its linger", || mgr.session_count() == 0).await;
    let mut next = Conn::open(&mgr);
    next.send(&ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 }).await.unwrap();
    assert!(matches!(next.recv().await, Some(ConsoleMsg::SessionInfo { .. })), "the slot is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_without_a_key_make_that_address_wait_across_connections() {
    let mgr = SessionManager::new(ConsoleConfig { argv: vec!["/bin/false".into()], ..bash_config() });
    // The first attempt is let in; its command fails, as a login that gave up does.
    let mut conn = Conn::open_as(&mgr, unauthenticated(7));
    conn.send(&ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 }).await.unwrap();
    assert!(matches!(conn.recv().await, Some(ConsoleMsg::SessionInfo { .. })));
    loop {
        match conn.recv().await {
            Some(ConsoleMsg::Exit { status }) => break assert_eq!(status, 1),
            Some(_) => {}
            None => panic!("closed before Exit"),
        }
    }
    drop(conn);
    eventually("the failed session is collected", || mgr.session_count() == 0).await;
    // A new connection from the same address must wait; others, and keys, do not.
    let reason = Conn::open_as(&mgr, unauthenticated(7)).attach_refused(SessionToken::NEW).await;
    assert!(reason.starts_with("failed logins from this address: try again in"), "{reason}");
    for auth in [unauthenticated(8), test_key()] {
        let mut other = Conn::open_as(&mgr, auth);
        other.send(&ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 }).await.unwrap();
        assert!(matches!(other.recv().await, Some(ConsoleMsg::SessionInfo { .. })));
    }
    mgr.shutdown().await;
}
