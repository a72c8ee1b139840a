//! Server memory with one and with ten display sessions at 1920x1080: our server and
//! Xvnc showing the same screen, each session a vnc-rs client (ZRLE, as the desktop
//! client asks) that takes [`FULL_UPDATES`] full-screen updates and stays connected
//! while the server's `VmRSS` and `VmHWM` are read.
//!
//! Ours runs in a process of its own — this benchmark executable started again with
//! [`CHILD_VAR`] set: a [`ScreenHub`] over the Xvnc screen's frame (a copy per capture,
//! as the fbdev source makes) and `serve_rfb` per TCP connection on a two-thread
//! runtime, as in `cvm-consoled` but without TLS and the console. A fresh process
//! per session count, so each `VmHWM` is its own.

use std::io::{BufRead as _, Write as _};
use std::process::{Child, Command, Stdio};

use super::*;

/// Set (to a raw frame file) in the child that serves.
pub(crate) const CHILD_VAR: &str = "CVMC_BENCH_RSS_CHILD";
/// Full-screen updates each session takes before the reading.
const FULL_UPDATES: usize = 3;
/// Session counts measured.
pub(crate) const SESSIONS: [usize; 2] = [1, 10];

/// Memory of one server process, KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mem {
    pub rss: u64,
    pub hwm: u64,
}

impl Mem {
    fn of(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap()
        };
        Self { rss: field("VmRSS:"), hwm: field("VmHWM:") }
    }
}

/// One measurement: the server before any session, and with `sessions` of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RssRow {
    pub sessions: usize,
    pub xvnc_idle: Mem,
    pub xvnc: Mem,
    pub ours_idle: Mem,
    pub ours: Mem,
}

/// Connect `n` clients to `port`, take their updates, and read `pid`'s memory while
/// they are connected.
async fn with_sessions(port: u16, pid: u32, n: usize) -> Mem {
    let mut sessions = Vec::new();
    for _ in 0..n {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        sessions.push(Session::connect(stream, VncEncoding::Zrle).await);
    }
    memory_with(sessions, pid).await
}

/// Take the first update and [`FULL_UPDATES`] full-screen ones on every session, read
/// `pid`'s memory while they are all connected, then close them.
async fn memory_with(mut sessions: Vec<Session>, pid: u32) -> Mem {
    for s in &mut sessions {
        s.next().await;
    }
    for _ in 0..FULL_UPDATES {
        for s in &mut sessions {
            s.request(false).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mem = Mem::of(pid);
    for s in sessions {
        s.close().await;
    }
    mem
}

/// Our server in a child process, serving `frame_file`; returns it and its port.
fn start_ours(frame_file: &std::path::Path) -> (Child, u16) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_VAR, frame_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    (child, line.trim().parse().unwrap())
}

/// Both servers with 1 and with 10 sessions; `frame` is what `screen` (an Xvnc at
/// 1920x1080) shows.
pub(crate) async fn measure(screen: &Screen, frame: &ScreenImage) -> Vec<RssRow> {
    let dir = std::env::temp_dir().join(format!("bench-display-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("frame.raw");
    let bytes: Vec<u8> = [frame.width.to_le_bytes(), frame.height.to_le_bytes()]
        .concat()
        .into_iter()
        .chain(frame.pixels.iter().flat_map(|p| p.to_le_bytes()))
        .collect();
    std::fs::write(&file, bytes).unwrap();
    let mut rows = Vec::new();
    for n in SESSIONS {
        eprintln!("bench-display: memory with {n} session(s) at {}x{}", frame.width, frame.height);
        let xvnc_idle = Mem::of(screen.pid);
        let xvnc = with_sessions(screen.port, screen.pid, n).await;
        let (mut child, port) = start_ours(&file);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ours_idle = Mem::of(child.id());
        let ours = with_sessions(port, child.id(), n).await;
        child.kill().unwrap();
        child.wait().unwrap();
        rows.push(RssRow { sessions: n, xvnc_idle, xvnc, ours_idle, ours });
    }
    std::fs::remove_dir_all(&dir).unwrap();
    rows
}

/// A still screen, copied on every capture as a real source copies its framebuffer.
struct Still(ScreenImage);

impl ScreenSource for Still {
    fn name(&self) -> String {
        "still".into()
    }
    fn capture(&mut self) -> Result<ScreenImage, SourceError> {
        Ok(self.0.clone())
    }
}

/// The child: serve the frame in `file` on a loopback port (printed on stdout) until
/// killed.
pub(crate) fn serve_child(file: &str) {
    let bytes = std::fs::read(file).unwrap();
    let (width, height) = (u16::from_le_bytes([bytes[0], bytes[1]]), u16::from_le_bytes([bytes[2], bytes[3]]));
    let pixels = bytes[4..].chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let frame = ScreenImage { width, height, pixels };
    drop(bytes);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let cfg = DisplayConfig::default();
        let hub = ScreenHub::new(Box::new(Still(frame)), cfg.max_fps);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (hub, cfg) = (hub.clone(), cfg.clone());
            tokio::spawn(async move {
                let _ = serve_rfb(stream, hub, None, &cfg).await;
            });
        }
    });
}

/// The real `cvm-consoled` (the binary in `CVMC_BENCH_SERVER`): memory with 1 and 10
/// attested display sessions (TLS, simulated attestation, the real client's `connect`)
/// on its `pattern:1920x1080` screen. The pattern animates, so this is not Xvnc's still
/// screen: an absolute figure for the whole server process next to the comparison above.
pub(crate) async fn measure_real_server(server: &std::path::Path) -> Vec<(usize, Mem, Mem)> {
    use cvm_console::clientkey::ClientKey;
    use cvm_console::net::{ConnectOptions, connect};
    use cvmc_protocol::handshake::alpn;

    let dir = std::env::temp_dir().join(format!("bench-display-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(dir.join("client")).unwrap();
    let key = std::sync::Arc::new(ClientKey::load_or_create(&dir.join("client")).unwrap());
    let sim = dir.join("sim");
    let made = Command::new(server).arg("sim-init").arg(&sim).stdout(Stdio::null()).status().unwrap();
    assert!(made.success(), "cvm-consoled sim-init failed");
    let mut authorized =
        std::fs::OpenOptions::new().create(true).append(true).open(sim.join("authorized_clients")).unwrap();
    writeln!(authorized, "{}", key.fingerprint()).unwrap();
    let policy = std::sync::Arc::new(cvm_console::policy_file::load_policy(&sim.join("policy.toml")).unwrap());
    let opts =
        ConnectOptions { policy, client_key: Some(key), known_guests: None, pin_new: false, pcs: None, kds: None };

    let mut rows = Vec::new();
    for n in SESSIONS {
        eprintln!("bench-display: memory of cvm-consoled with {n} attested session(s) at 1920x1080");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let mut child = Command::new(server)
            .arg("--config")
            .arg(sim.join("server.toml"))
            .args(["--listen", &address, "--display", "pattern:1920x1080", "--console-command", "true"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&address).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "cvm-consoled did not listen on {address}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let idle = Mem::of(child.id());
        let mut sessions = Vec::new();
        for _ in 0..n {
            let attested = connect(&address, alpn::DISPLAY, &opts).await.unwrap();
            sessions.push(Session::connect(attested.stream, VncEncoding::Zrle).await);
        }
        let with = memory_with(sessions, child.id()).await;
        child.kill().unwrap();
        child.wait().unwrap();
        rows.push((n, idle, with));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    rows
}
