//! TigerVNC's Xvnc with an xterm in it, on loopback: a real in-guest VNC server
//! for `--display vnc:` tests. The xterm runs `cat` into a file, so what is typed
//! through RFB can be read back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped.
#[derive(Debug)]
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Xvnc plus an xterm whose typed input lands in `typed`.
#[derive(Debug)]
pub struct XvncWithXterm {
    /// Where Xvnc serves RFB.
    pub addr: SocketAddr,
    /// The file the xterm's `cat` writes to.
    pub typed: PathBuf,
    _xterm: Killed,
    _xvnc: Killed,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl XvncWithXterm {
    /// Start them (800x600, depth 24) and wait until Xvnc accepts connections.
    pub fn start() -> Self {
        // Tests run in parallel and the display number is ours to pick: one that another
        // X server holds makes Xvnc exit at once, so try another until one starts.
        let (port, display, xvnc) = (0..20)
            .find_map(|attempt| {
                let port = free_port();
                let display = format!(":{}", 40 + (usize::from(port) + attempt * 7) % 400);
                let mut xvnc = Killed(
                    Command::new("Xvnc")
                        .args([display.as_str(), "-SecurityTypes", "None", "-localhost", "-rfbport", &port.to_string()])
                        .args(["-geometry", "800x600", "-depth", "24"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .expect("Xvnc is installed (scripts/test installs tigervnc-standalone-server)"),
                );
                let deadline = Instant::now() + Duration::from_secs(20);
                while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                    if xvnc.0.try_wait().ok().flatten().is_some() {
                        return None; // display taken (or port): next attempt
                    }
                    assert!(Instant::now() < deadline, "Xvnc did not start");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Some((port, display, xvnc))
            })
            .expect("Xvnc did not start on any of 20 displays");
        let dir = tempfile::tempdir().unwrap();
        let typed = dir.path().join("typed");
        let xterm = Killed(
            Command::new("xterm")
                .env("DISPLAY", &display)
                .args(["-geometry", "80x24+0+0", "-e", "sh", "-c"])
                .arg(format!("cat > '{}'", typed.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("xterm is installed"),
        );
        Self { addr: SocketAddr::from(([127, 0, 0, 1], port)), typed, _xterm: xterm, _xvnc: xvnc, _dir: dir }
    }

    /// A test guest serving this Xvnc behind `--display vnc:`, authorizing `client`.
    pub async fn guest_for(&self, client: &crate::guest::TestClient) -> crate::guest::TestGuest {
        use cvm_consoled::display::source::{DisplaySpec, VncTarget};
        let display = DisplaySpec::Vnc { target: VncTarget::Tcp(self.addr) };
        let opts = crate::guest::GuestOptions { display, ..crate::guest::GuestOptions::default() };
        crate::guest::TestGuest::start(opts, std::slice::from_ref(&client.fingerprint)).await
    }

    /// Wait until the typed file contains `text`, or panic after `secs`.
    pub async fn wait_typed(&self, text: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = std::fs::read_to_string(&self.typed).unwrap_or_default();
            if got.contains(text) {
                return;
            }
            assert!(Instant::now() < deadline, "keys never reached the xterm (file: {got:?})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
