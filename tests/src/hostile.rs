//! Hostile peers for tests: sockets that connect and stay silent, send one byte, or
//! dawdle through a TLS record, each reopened as soon as the server closes it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How an attacking socket behaves once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Sends nothing.
    Idle,
    /// Sends one byte (so the kernel hands it to the server at once), then nothing.
    OneByte,
    /// Sends a TLS record header, then a byte every 200 ms.
    Slow,
}

/// Raise this process's open-file limit to its hard limit, which must be at least
/// `needed` (an attack holds more sockets than the usual soft limit of 1024).
pub fn raise_fd_limit(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    }
    assert!(hard >= needed, "this test holds {needed} sockets; the open-file hard limit is {hard}");
}

/// The attackers: each task keeps one socket of its kind open from its source
/// address, and opens a new one whenever the server closes it.
#[derive(Debug)]
pub struct Attack {
    stop: Arc<AtomicBool>,
    /// Sockets connected now.
    pub open: Arc<AtomicUsize>,
    /// Sockets the server closed and the attack reopened.
    pub reconnects: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn hostile_connect(addr: SocketAddr, source: IpAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

impl Attack {
    /// Start the attack: `sockets` of each kind, spread over `sources`.
    pub fn start(addr: SocketAddr, sockets: &[(Hostile, usize)], sources: &[IpAddr]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let reconnects = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let kinds = sockets.iter().flat_map(|&(kind, n)| std::iter::repeat_n(kind, n));
        for (i, kind) in kinds.enumerate() {
            let (stop, open, reconnects) = (Arc::clone(&stop), Arc::clone(&open), Arc::clone(&reconnects));
            let source = sources[i % sources.len()];
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = hostile_connect(addr, source).await else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    open.fetch_add(1, Ordering::Relaxed);
                    let mut b = [0u8; 1];
                    match kind {
                        Hostile::Idle | Hostile::OneByte => {
                            if kind == Hostile::OneByte {
                                let _ = s.write_all(&[0x16]).await;
                            }
                            while !stop.load(Ordering::Relaxed) {
                                if tokio::time::timeout(Duration::from_millis(500), s.read(&mut b)).await.is_ok() {
                                    break; // closed by the server
                                }
                            }
                        }
                        Hostile::Slow => {
                            // A handshake record of 512 bytes, delivered a byte at a time.
                            let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await;
                            while !stop.load(Ordering::Relaxed) && s.write_all(&[0x01]).await.is_ok() {
                                let read = tokio::time::timeout(Duration::from_millis(200), s.read(&mut b)).await;
                                if let Ok(Ok(0) | Err(_)) = read {
                                    break;
                                }
                            }
                        }
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                    reconnects.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Self { stop, open, reconnects, tasks }
    }

    /// Wait until this many sockets are connected at once.
    pub async fn wait_open(&self, at_least: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.open.load(Ordering::Relaxed) < at_least {
            assert!(Instant::now() < deadline, "only {} attack sockets connected", self.open.load(Ordering::Relaxed));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stop, close every socket; returns how many were reopened in all.
    pub async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        self.reconnects.load(Ordering::Relaxed)
    }
}
