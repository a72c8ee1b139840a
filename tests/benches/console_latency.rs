//! Benchmark (not a test): the console's latency next to `ssh` to an OpenSSH server on
//! loopback, measured in the same run and interleaved so that machine noise hits both sides
//! alike: every round connects each side (in rotating order), then types into the two open
//! sessions in turn. Reported as ratios ours/ssh.
//!
//! - connect to first console byte: from spawning the client process to the first byte on
//!   its stdout (the shell prompt). For `cvm-console console` this includes TCP, TLS 1.3,
//!   the full attestation (report signing on the guest, verification on the client),
//!   Attach, and the shell starting in a fresh PTY; for ssh the key exchange, user
//!   authentication, the PTY and the same shell.
//! - keystroke echo: in open sessions of both, one byte is written to the client's stdin and
//!   timed until the remote PTY's echo of it arrives on the client's stdout.
//! - bulk output: `cat` of a file (default 200 MB of text lines) in open sessions of both,
//!   timed from typing the command to the end marker printed after it; throughput counts the
//!   bytes that arrived on the client's stdout (the PTY turns each `\n` into `\r\n` on both).
//! - context: ssh connecting with plain X25519 key exchange (as our TLS does) instead of its
//!   default post-quantum sntrup761x25519, and each client's process start.
//!
//! Plus a breakdown of our connect time: `cvm-console verify` (a whole attested connection
//! without a console) and `--version` (process start) as processes, and in process: the TLS
//! handshake alone, one verify connection, signing the simulated report, verifying evidence.
//!
//! And the cost of fetching SEV-SNP certificates (issue 16): a real guest whose host
//! supplies no certificates makes the client fetch the VCEK and ASK from AMD's KDS (or
//! read them from its cache) before it verifies. The simulated guest never needs that,
//! so every round also runs the client's KDS fetch in process for the real Milan report
//! against a loopback KDS serving AMD's real certificates: once with an empty cache
//! (cold: three GETs) and once with the cache that filled (warm: files only). The rows
//! "connect + KDS" add that round's fetch to that round's connect sample, since the
//! fetch is one more step in the same connection, before verification.
//!
//! It needs a running sshd and cvm-consoled, so it is driven by `scripts/bench-console`,
//! which starts both and passes them in `CVMC_BENCH_*` variables (see [`Config::from_env`]).
//! Without them it says so and exits 0.

// Benchmark code: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The byte typed for each keystroke (not in the prompt, and not an escape character).
const KEY: u8 = b'x';
/// Kill the line (Ctrl-U) after this many keystrokes, so it never wraps.
const KILL_EVERY: usize = 32;
/// Longest wait for a connection's first byte.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for an echo.
const ECHO_TIMEOUT: Duration = Duration::from_secs(10);
/// Output counts as finished after this much silence (the prompt; a line kill's redraw).
const PROMPT_QUIET: Duration = Duration::from_millis(100);
const KILL_QUIET: Duration = Duration::from_millis(30);
/// Iterations of each in-process breakdown measurement.
const BREAKDOWN_ITERS: usize = 30;

/// What the driver script passes in.
struct Config {
    ssh_port: u16,
    ssh_key: PathBuf,
    client: PathBuf,
    guest: String,
    sim_dir: PathBuf,
    rounds: usize,
    keys: usize,
    /// The file `cat` prints for the bulk-output test, and how many rounds run it.
    bulk_file: Option<PathBuf>,
    bulk_rounds: usize,
}

impl Config {
    fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str, default: usize| var(name).map_or(default, |v| v.parse().unwrap());
        Some(Self {
            guest: var("CVMC_BENCH_GUEST")?,
            ssh_port: var("CVMC_BENCH_SSH_PORT")?.parse().unwrap(),
            ssh_key: var("CVMC_BENCH_SSH_KEY")?.into(),
            client: var("CVMC_BENCH_CLIENT")?.into(),
            sim_dir: var("CVMC_BENCH_SIM_DIR")?.into(),
            rounds: number("CVMC_BENCH_ROUNDS", 30).max(1),
            keys: number("CVMC_BENCH_KEYS", 200).max(1),
            bulk_file: var("CVMC_BENCH_BULK_FILE").map(PathBuf::from),
            bulk_rounds: number("CVMC_BENCH_BULK_ROUNDS", 5),
        })
    }

    fn policy(&self) -> PathBuf {
        self.sim_dir.join("policy.toml")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// ssh with its defaults (OpenSSH 9.x: post-quantum sntrup761x25519 key exchange).
    Ssh,
    /// ssh with plain X25519 key exchange, like our TLS: context for the connect time only.
    SshX25519,
    Ours,
}

impl Side {
    /// The console client for this side, with the same shell on the far end.
    fn command(self, cfg: &Config) -> Command {
        let mut cmd = match self {
            Self::Ssh | Self::SshX25519 => {
                let mut c = Command::new("ssh");
                c.arg("-tt").args(["-F", "/dev/null", "-p", &cfg.ssh_port.to_string(), "-i"]).arg(&cfg.ssh_key);
                for opt in [
                    "StrictHostKeyChecking=no",
                    "UserKnownHostsFile=/dev/null",
                    "LogLevel=ERROR",
                    "ControlMaster=no",
                    "ControlPath=none",
                    "BatchMode=yes",
                    "IdentitiesOnly=yes",
                ] {
                    c.args(["-o", opt]);
                }
                if self == Self::SshX25519 {
                    c.args(["-o", "KexAlgorithms=curve25519-sha256"]);
                }
                c.args(["127.0.0.1", "bash", "--norc", "--noprofile"]);
                c
            }
            Self::Ours => {
                let mut c = Command::new(&cfg.client);
                c.args(["console", &cfg.guest, "--policy"]).arg(cfg.policy());
                c
            }
        };
        // Both remote shells see the same terminal type (ssh forwards it; the guest sets it).
        cmd.env("TERM", "xterm-256color");
        cmd
    }
}

type Chunks = Receiver<(Instant, Vec<u8>)>;

/// Forward a pipe's reads, each stamped with the time it returned.
fn stamp_reads(mut from: impl Read + Send + 'static) -> Chunks {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    rx
}

/// An open console session driven through the client's stdin and stdout.
struct Session {
    side: Side,
    child: Child,
    stdin: ChildStdin,
    out: Chunks,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Session {
    /// Spawn the client; returns the session and the time to its first stdout byte.
    fn open(side: Side, cfg: &Config) -> (Self, Duration) {
        let mut cmd = side.command(cfg);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {side:?} client: {e}"));
        let out = stamp_reads(child.stdout.take().unwrap());
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err_pipe.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut session = Self { side, child, stdin, out, stderr };
        let first = match session.out.recv_timeout(CONNECT_TIMEOUT) {
            Ok((at, _)) => at - start,
            Err(e) => session.fail(&format!("no console output ({e:?})")),
        };
        session.quiet(PROMPT_QUIET);
        (session, first)
    }

    fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        thread::sleep(Duration::from_millis(100));
        let stderr = String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned();
        panic!("{:?} session: {what}; client stderr: {stderr:?}", self.side);
    }

    fn write(&mut self, bytes: &[u8]) {
        let r = self.stdin.write_all(bytes);
        if let Err(e) = r {
            self.fail(&format!("write to the client: {e}"));
        }
    }

    /// Wait until no output arrived for `silence`.
    fn quiet(&mut self, silence: Duration) {
        loop {
            match self.out.recv_timeout(silence) {
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => self.fail("the client closed its output"),
            }
        }
    }

    /// Type one byte; time until its echo comes back.
    fn keystroke(&mut self) -> Duration {
        while self.out.try_recv().is_ok() {}
        let start = Instant::now();
        self.write(&[KEY]);
        let deadline = start + ECHO_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok((at, chunk)) if chunk.contains(&KEY) => return at - start,
                Ok(_) => {}
                Err(e) => self.fail(&format!("no echo ({e:?})")),
            }
        }
    }

    /// Ctrl-U: erase the typed line, and let the redraw finish.
    fn kill_line(&mut self) {
        self.write(b"\x15");
        self.quiet(KILL_QUIET);
    }

    /// Type `cat FILE` and an end marker; returns the bytes that arrived and the time from
    /// typing the command to the marker. The marker is quoted in the typed command, so the
    /// command's own echo does not contain it.
    fn bulk(&mut self, file: &std::path::Path) -> (u64, Duration) {
        const MARK: &[u8] = b"BULK_DONE_MARK";
        self.quiet(KILL_QUIET);
        let command = format!("\x15cat '{}'; echo BULK_\"DONE\"_MARK\n", file.display());
        let start = Instant::now();
        self.write(command.as_bytes());
        let deadline = start + Duration::from_secs(600);
        let mut bytes = 0u64;
        let mut tail: Vec<u8> = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok((at, chunk)) => {
                    bytes += chunk.len() as u64;
                    // Look for the marker across chunk boundaries: keep the last few bytes.
                    tail.extend_from_slice(&chunk);
                    if tail.windows(MARK.len()).any(|w| w == MARK) {
                        self.quiet(PROMPT_QUIET);
                        return (bytes, at - start);
                    }
                    tail.drain(..tail.len().saturating_sub(MARK.len() - 1));
                }
                Err(e) => self.fail(&format!("bulk output stopped ({e:?}) after {bytes} bytes")),
            }
        }
    }

    /// `exit` the shell and wait for the client to end (stdin stays open until then, so
    /// our client sees the shell's Exit rather than closing the connection itself).
    fn close(mut self) {
        self.write(b"\x15exit\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            if Instant::now() > deadline {
                self.fail("did not exit after `exit`");
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Spawn-to-exit time of a short command; it must succeed.
fn run_timed(mut cmd: Command) -> Duration {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    took
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    n: usize,
    min: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(samples: &[Duration]) -> Self {
        let mut s = samples.to_vec();
        s.sort();
        Self { n: s.len(), min: s[0], p50: percentile(&s, 50), p99: percentile(&s, 99), max: s[s.len() - 1] }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn ratio(ours: Duration, ssh: Duration) -> String {
    format!("{:.2}", ours.as_secs_f64() / ssh.as_secs_f64())
}

/// Samples of one metric, per side.
#[derive(Default)]
struct Samples {
    ssh: Vec<Duration>,
    ssh_x25519: Vec<Duration>,
    ours: Vec<Duration>,
}

impl Samples {
    fn push(&mut self, side: Side, d: Duration) {
        match side {
            Side::Ssh => self.ssh.push(d),
            Side::SshX25519 => self.ssh_x25519.push(d),
            Side::Ours => self.ours.push(d),
        }
    }
}

/// The sides in an order that rotates with `i`, so none always goes first.
fn rotated<const N: usize>(mut sides: [Side; N], i: usize) -> [Side; N] {
    sides.rotate_left(i % N);
    sides
}

/// Timings of our connect's parts, in process (interleaved, like the rest).
#[derive(Default)]
struct Breakdown {
    tls: Vec<Duration>,
    verify_conn: Vec<Duration>,
    sign: Vec<Duration>,
    identity_sig: Vec<Duration>,
    verify_evidence: Vec<Duration>,
    /// The KDS fetches, one pair per round (filled by the rounds, not by `breakdown`).
    kds: Kds,
}

fn breakdown(cfg: &Config) -> Breakdown {
    use cvm_console::net::{ConnectOptions, tls::client_config};
    use cvm_consoled::evidence::EvidenceProvider as _;
    use cvmc_protocol::handshake::alpn;

    let policy = Arc::new(cvm_console::policy_file::load_policy(&cfg.policy()).unwrap());
    let key = Arc::new(
        cvm_console::clientkey::ClientKey::load_or_create(&cvm_console::clientkey::config_dir().unwrap()).unwrap(),
    );
    let opts = ConnectOptions {
        policy: Arc::clone(&policy),
        client_key: Some(Arc::clone(&key)),
        known_guests: None,
        pin_new: false,
        pcs: None,
        kds: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let provider = cvm_consoled::evidence::simulated::SimulatedProvider::load(&cfg.sim_dir).unwrap();
    let identity = cvm_consoled::identity::GuestIdentity::ephemeral();
    let session = cvmc_protocol::SessionBinding { ekm: [7; 32], nonce: [9; 32] };
    let identity_key = identity.public_key();
    let binding = cvmc_protocol::binding::report_data(&session.ekm, &session.nonce, &identity_key);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut b = Breakdown::default();
    for _ in 0..BREAKDOWN_ITERS {
        // The TLS handshake alone (a fresh config each time, as the client makes one per
        // connection); the guest then waits for Hello and sees the connection close.
        let t = Instant::now();
        rt.block_on(async {
            let config = client_config(alpn::VERIFY, Some(&key)).unwrap();
            let tcp = tokio::net::TcpStream::connect(&cfg.guest).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let name = rustls::pki_types::ServerName::try_from("cvm-consoled").unwrap();
            let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.unwrap();
            drop(tls);
        });
        b.tls.push(t.elapsed());

        // One whole attested verify connection.
        let t = Instant::now();
        let outcome = rt.block_on(cvm_console::live::verify_live(&cfg.guest, &opts)).unwrap();
        b.verify_conn.push(t.elapsed());
        assert!(outcome.trusted(), "the simulated guest is not trusted");

        // The guest's work: sign a report (simulated VCEK, ECDSA P-384), sign the session.
        let t = Instant::now();
        let raw = provider.evidence(&binding).unwrap();
        b.sign.push(t.elapsed());
        let t = Instant::now();
        let sig = identity.sign_session(&session.ekm, &session.nonce);
        b.identity_sig.push(t.elapsed());

        // The client's work: the whole verifier (chain, report signature, policy, binding).
        let evidence = cvmc_protocol::Evidence {
            tee: raw.tee,
            report: raw.report,
            certs: raw.certs,
            identity_key: identity_key.to_vec(),
            identity_sig: sig.to_vec(),
            collateral: raw.collateral,
            stage: cvmc_protocol::GuestStage::System,
        };
        let t = Instant::now();
        cvmc_protocol::verify_evidence(&evidence, &session, &policy.policy, &policy.anchors, &Default::default(), now)
            .unwrap();
        b.verify_evidence.push(t.elapsed());
    }
    b
}

fn main() {
    let Some(cfg) = Config::from_env() else {
        eprintln!("console_latency: needs a running sshd and cvm-consoled; run scripts/bench-console");
        return;
    };
    let rounds = cfg.rounds;
    let mut connect = Samples::default();
    let mut echo = Samples::default();
    let mut spawn = Samples::default(); // `ssh -V` and `cvm-console --version`: process start
    let mut verify_proc = Vec::new();
    let mut bulk: Vec<(Side, u64, Duration)> = Vec::new();
    let mut kds = Kds::default();
    let kds_server = cvmc_tests::kds_server::KdsServer::start(
        cvmc_tests::kds_server::Content::real(),
        cvmc_tests::kds_server::Behaviour::Normal,
    );
    let started = Instant::now();

    for round in 0..rounds {
        // Connect: all three sides, rotating which goes first. The X25519 ssh session is
        // context for the connect time only and is closed at once.
        let mut open = Vec::new();
        for side in rotated([Side::Ssh, Side::Ours, Side::SshX25519], round) {
            let (session, first) = Session::open(side, &cfg);
            connect.push(side, first);
            if side == Side::SshX25519 {
                session.close();
            } else {
                open.push(session);
            }
        }
        // Keystrokes: ssh and ours in turn, alternating which goes first.
        for k in 0..cfg.keys {
            let (a, b) = open.split_at_mut(1);
            let pair = if k.is_multiple_of(2) { [&mut a[0], &mut b[0]] } else { [&mut b[0], &mut a[0]] };
            for s in pair {
                let d = s.keystroke();
                echo.push(s.side, d);
            }
            if (k + 1) % KILL_EVERY == 0 {
                open.iter_mut().for_each(Session::kill_line);
            }
        }
        // Bulk output: in the first `bulk_rounds` rounds, alternating which side goes first.
        if let Some(file) = cfg.bulk_file.as_deref().filter(|_| round < cfg.bulk_rounds) {
            let order = if round.is_multiple_of(2) { [0, 1] } else { [1, 0] };
            for i in order {
                let (bytes, took) = open[i].bulk(file);
                bulk.push((open[i].side, bytes, took));
            }
        }
        open.into_iter().for_each(Session::close);
        // Process start of each client, and a whole attested connection without a console.
        for side in rotated([Side::Ssh, Side::Ours], round) {
            let mut c = match side {
                Side::Ours => Command::new(&cfg.client),
                _ => Command::new("ssh"),
            };
            c.arg(if side == Side::Ours { "--version" } else { "-V" });
            spawn.push(side, run_timed(c));
        }
        let mut v = Command::new(&cfg.client);
        v.args(["verify", &cfg.guest, "--policy"]).arg(cfg.policy());
        verify_proc.push(run_timed(v));
        kds.round(&kds_server.url());
        eprintln!(
            "round {}/{rounds}: connect ssh {} ms, ssh-x25519 {} ms, ours {} ms ({:.0} s)",
            round + 1,
            ms(*connect.ssh.last().unwrap()),
            ms(*connect.ssh_x25519.last().unwrap()),
            ms(*connect.ours.last().unwrap()),
            started.elapsed().as_secs_f64()
        );
    }
    let mut b = breakdown(&cfg);
    b.kds = kds;
    print!("{}", report(&cfg, &connect, &echo, &spawn, &verify_proc, &b, &bulk));
    eprintln!("console_latency: done in {:.0} s", started.elapsed().as_secs_f64());
}

/// A table row: ssh (`base`) against ours.
fn row(out: &mut String, name: &str, base: &[Duration], ours: &[Duration]) {
    let (s, o) = (Stats::of(base), Stats::of(ours));
    let _ = writeln!(
        out,
        "| {name} | {} | {} / {} | {} / {} | **{}** | **{}** | {}–{} | {}–{} |",
        s.n,
        ms(s.p50),
        ms(s.p99),
        ms(o.p50),
        ms(o.p99),
        ratio(o.p50, s.p50),
        ratio(o.p99, s.p99),
        ms(s.min),
        ms(s.max),
        ms(o.min),
        ms(o.max),
    );
}

/// Bulk throughput rows: MB/s per side (median and worst run) and the ratio ours/ssh.
fn bulk_rows(out: &mut String, bulk: &[(Side, u64, Duration)]) {
    let rates = |side: Side| -> Vec<f64> {
        let mut r: Vec<f64> = bulk
            .iter()
            .filter(|(s, ..)| *s == side)
            .map(|(_, bytes, took)| *bytes as f64 / 1e6 / took.as_secs_f64())
            .collect();
        r.sort_by(f64::total_cmp);
        r
    };
    let (ssh, ours) = (rates(Side::Ssh), rates(Side::Ours));
    if ssh.is_empty() || ours.is_empty() {
        return;
    }
    let median = |r: &[f64]| r[(r.len() - 1) / 2];
    let mb = bulk.iter().find(|(s, ..)| *s == Side::Ours).map_or(0, |(_, b, _)| *b) as f64 / 1e6;
    let _ = writeln!(
        out,
        "| bulk output, `cat` of {mb:.0} MB on the client's stdout (MB/s; median / slowest) | {} | {:.0} / {:.0} | {:.0} / {:.0} | **{:.2}** | **{:.2}** | {:.0}–{:.0} | {:.0}–{:.0} |",
        ssh.len(),
        median(&ssh),
        ssh[0],
        median(&ours),
        ours[0],
        median(&ours) / median(&ssh),
        ours[0] / ssh[0],
        ssh[0],
        ssh[ssh.len() - 1],
        ours[0],
        ours[ours.len() - 1],
    );
}

fn single(out: &mut String, name: &str, samples: &[Duration]) {
    let s = Stats::of(samples);
    let _ = writeln!(out, "| {name} | {} | {} | {} | {}–{} |", s.n, ms(s.p50), ms(s.p99), ms(s.min), ms(s.max));
}

fn report(
    cfg: &Config,
    connect: &Samples,
    echo: &Samples,
    spawn: &Samples,
    verify_proc: &[Duration],
    b: &Breakdown,
    bulk: &[(Side, u64, Duration)],
) -> String {
    let kds = &b.kds;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### cvm-console vs ssh on loopback ({} rounds, {} keystrokes per session, interleaved)\n",
        cfg.rounds, cfg.keys
    );
    let _ = writeln!(
        out,
        "| metric (ms) | n per side | ssh p50 / p99 | ours p50 / p99 | ratio p50 | ratio p99 | ssh min–max | ours min–max |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    row(&mut out, "connect to first console byte", &connect.ssh, &connect.ours);
    row(&mut out, "keystroke echo", &echo.ssh, &echo.ours);
    bulk_rows(&mut out, bulk);
    let plus = |fetch: &[Duration]| -> Vec<Duration> { connect.ours.iter().zip(fetch).map(|(c, f)| *c + *f).collect() };
    row(&mut out, "connect + VCEK and ASK from a loopback KDS, cold cache", &connect.ssh, &plus(&kds.cold));
    row(&mut out, "connect + VCEK and ASK from the cache, warm", &connect.ssh, &plus(&kds.warm));
    row(&mut out, "context: connect, ssh with X25519 kex (no sntrup761)", &connect.ssh_x25519, &connect.ours);
    row(&mut out, "context: client process start (`-V` / `--version`)", &spawn.ssh, &spawn.ours);
    let _ = writeln!(
        out,
        "\nratio = ours / ssh (below 1.00: we are faster; for throughput, above 1.00 is faster). With {} connect samples, p99 is the largest \
         but one or two.",
        cfg.rounds
    );
    let _ = writeln!(out, "\n### Where our connect time goes\n");
    let _ = writeln!(out, "| part (ms) | n | p50 | p99 | min–max |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    single(&mut out, "`cvm-console verify` process: spawn to exit, no console", verify_proc);
    single(
        &mut out,
        "in process: one attested verify connection (TCP, TLS, Hello, Evidence, verify, Proceed)",
        &b.verify_conn,
    );
    single(&mut out, "in process: TCP connect + TLS 1.3 handshake (mutual auth, ECDSA)", &b.tls);
    single(&mut out, "guest: sign the simulated report (ECDSA P-384)", &b.sign);
    single(&mut out, "guest: identity signature (Ed25519)", &b.identity_sig);
    single(&mut out, "client: verify_evidence (2x RSA-4096 PSS, ECDSA P-384, policy, binding)", &b.verify_evidence);
    single(&mut out, "client: KDS fetch for a real Milan report, cold cache (VCEK, cert_chain, CRL 404)", &kds.cold);
    single(&mut out, "client: the same from the warm cache", &kds.warm);
    let warm = Stats::of(&plus(&kds.warm)).p50.as_secs_f64() / Stats::of(&connect.ours).p50.as_secs_f64();
    let _ = writeln!(out, "\nconnect with a warm KDS cache / connect without KDS, p50: {warm:.3} (goal: at most 1.05)");
    out
}

/// The client's KDS fetch for the real Milan report, cold and warm, one of each per round.
#[derive(Default)]
struct Kds {
    cold: Vec<Duration>,
    warm: Vec<Duration>,
}

impl Kds {
    fn round(&mut self, url: &str) {
        use cvm_console::kds::{Have, KdsSource};
        let v = cvmc_tests::vector(cvmc_tests::verifier_cases::MILAN_V3);
        let cache = tempfile::tempdir().unwrap();
        let source = KdsSource {
            base: url.to_owned(),
            offline: false,
            cache: Some(cache.path().to_path_buf()),
            timeout: Duration::from_secs(5),
        };
        let revocation = cvmc_protocol::policy::Revocation::IfAvailable;
        let now = v.now();
        let t = Instant::now();
        let cold = source.fetch_for(&v.report, Have::default(), revocation, now).unwrap();
        self.cold.push(t.elapsed());
        assert_eq!(cold.vcek.as_deref(), Some(&v.signer[..]), "the loopback KDS served another VCEK");
        let offline = KdsSource { offline: true, ..source };
        let t = Instant::now();
        let warm = offline.fetch_for(&v.report, Have::default(), revocation, now).unwrap();
        self.warm.push(t.elapsed());
        assert_eq!(warm.vcek, cold.vcek, "the warm fetch did not come from the cache");
    }
}
