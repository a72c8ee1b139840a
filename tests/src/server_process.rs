//! The real `cvm-consoled` binary as a separate process, for tests that need its
//! memory, its exit, its environment or a kill -9: exactly what a user runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cvm_consoled::config::ServerConfig;

use crate::guest::{TestClient, sim_dir};

/// The cvm-consoled binary next to this test's build (cargo test --workspace builds it).
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("cvm-consoled");
    assert!(bin.exists(), "{} is missing: run the suite with `cargo test --workspace`", bin.display());
    bin
}

/// The cvm-console binary next to this test's build.
pub fn client_binary() -> PathBuf {
    server_binary().with_file_name("cvm-console")
}

/// A free loopback address (bound and released).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// An authorized_clients file listing `client`'s key.
pub fn authorize(client: &TestClient) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authorized_clients");
    std::fs::write(&path, format!("{}\n", client.fingerprint)).unwrap();
    (dir, path)
}

/// How to start a [`ServerProcess`].
#[derive(Debug, Clone)]
pub struct ServerArgs<'a> {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its authorized_clients file.
    pub authorized: &'a Path,
    /// `--console-command`.
    pub console_command: &'a str,
    /// A config file (None: the sim-init directory's server.toml).
    pub config: Option<PathBuf>,
    /// More flags.
    pub args: &'a [&'a str],
    /// More environment variables.
    pub env: &'a [(&'a str, &'a str)],
}

impl<'a> ServerArgs<'a> {
    /// A bash console on the sim-init configuration.
    pub fn new(addr: SocketAddr, authorized: &'a Path) -> Self {
        Self {
            addr,
            authorized,
            console_command: "env TERM=dumb bash --norc --noprofile",
            config: None,
            args: &[],
            env: &[],
        }
    }
}

/// The sim-init directory's server.toml changed by `edit`, written into `dir` (its
/// paths made absolute, so they still point into the sim-init directory).
pub fn config_with(dir: &Path, edit: impl FnOnce(&mut ServerConfig)) -> PathBuf {
    let mut config = ServerConfig::load(&sim_dir().join("server.toml")).unwrap();
    edit(&mut config);
    let path = dir.join("server.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

/// A running `cvm-consoled` on the simulated chain of [`sim_dir`].
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// The pattern screen and a bash console, for the keys in `authorized`.
    pub fn start(addr: SocketAddr, authorized: &Path) -> Self {
        Self::start_with(&ServerArgs::new(addr, authorized))
    }

    /// As `args` say.
    pub fn start_with(args: &ServerArgs<'_>) -> Self {
        let (addr, authorized, console_command) = (args.addr, args.authorized, args.console_command);
        let config = args.config.clone().unwrap_or_else(|| sim_dir().join("server.toml"));
        let child = Command::new(server_binary())
            .arg("--config")
            .arg(config)
            .args(["--listen", &addr.to_string(), "--display", "pattern", "--console-command", console_command])
            .arg("--authorized-clients")
            .arg(authorized)
            .args(args.args)
            .envs(args.env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "cvm-consoled did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, addr }
    }

    /// Its resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// SIGKILL it and reap it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
