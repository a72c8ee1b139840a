//! A TCP proxy on loopback that forwards bytes untouched and can cut every
//! connection through it on demand: the "host drops the connection" fault.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy.
#[derive(Debug)]
pub struct CutProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    cut: watch::Sender<u64>,
    /// Bytes forwarded server -> client, all connections.
    pub downstream: Arc<AtomicU64>,
    /// For each new connection in turn: cut it after this many bytes server -> client.
    cut_after: Arc<Mutex<VecDeque<u64>>>,
}

impl CutProxy {
    /// Forward to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cut_rx) = watch::channel(0u64);
        let downstream = Arc::new(AtomicU64::new(0));
        let down = Arc::clone(&downstream);
        let cut_after: Arc<Mutex<VecDeque<u64>>> = Arc::default();
        let thresholds = Arc::clone(&cut_after);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else { continue };
                let mut cut_rx = cut_rx.clone();
                let generation = *cut_rx.borrow();
                let down = Arc::clone(&down);
                let limit = thresholds.lock().unwrap().pop_front().unwrap_or(u64::MAX);
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let downward = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        let mut forwarded = 0u64;
                        while let Ok(n) = sr.read(&mut buf).await {
                            // Forward up to the cut point, possibly in the middle of a
                            // TLS record, then drop the connection.
                            let n = n.min(usize::try_from(limit - forwarded).unwrap_or(usize::MAX));
                            if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            forwarded += n as u64;
                            down.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    };
                    let cut = async {
                        while cut_rx.changed().await.is_ok() {
                            if *cut_rx.borrow() != generation {
                                break;
                            }
                        }
                    };
                    // Whichever ends first ends both directions: a cut drops the sockets.
                    tokio::select! {
                        () = up => {}
                        () = downward => {}
                        () = cut => {}
                    }
                });
            }
        });
        Self { addr, cut, downstream, cut_after }
    }

    /// Cut the next connections after these many bytes each, server -> client.
    pub fn cut_connections_after(&self, bytes: &[u64]) {
        self.cut_after.lock().unwrap().extend(bytes);
    }

    /// Cut every connection open now (new ones are accepted again).
    pub fn cut_all(&self) {
        self.cut.send_modify(|g| *g += 1);
    }
}
