//! Drives `run_console` (the real client loop) from a test: send input, wait for
//! output with a deadline, collect everything, see how it ended.

use std::time::Duration;

use cvm_console::console_client::{ConsoleCommand, ConsoleEnd, ConsoleEvent, Reconnect, run_console};
use cvm_console::net::ConnectOptions;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A console session driven by a test.
#[derive(Debug)]
pub struct Driver {
    /// Commands to the loop.
    pub tx: mpsc::Sender<ConsoleCommand>,
    events: mpsc::Receiver<ConsoleEvent>,
    /// All output so far.
    pub output: Vec<u8>,
    /// Reconnections seen.
    pub reconnects: u32,
    /// Attestations seen.
    pub attestations: u32,
    task: JoinHandle<ConsoleEnd>,
}

impl Driver {
    /// Start a console session against `addr`.
    pub fn start(addr: String, opts: ConnectOptions, reconnect: Reconnect) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let (etx, events) = mpsc::channel(1024);
        let task = tokio::spawn(async move { run_console(&addr, &opts, rx, etx, reconnect).await });
        Self { tx, events, output: Vec::new(), reconnects: 0, attestations: 0, task }
    }

    /// Type bytes.
    pub async fn type_str(&self, s: &str) {
        self.tx.send(ConsoleCommand::Input(s.as_bytes().to_vec())).await.unwrap();
    }

    fn absorb(&mut self, ev: ConsoleEvent) {
        match ev {
            ConsoleEvent::Output(b) => self.output.extend_from_slice(&b),
            ConsoleEvent::Reconnecting { .. } => self.reconnects += 1,
            ConsoleEvent::Attested(_) => self.attestations += 1,
            ConsoleEvent::OutputGap { bytes } => panic!("output gap of {bytes} bytes"),
        }
    }

    /// Wait until the output contains `needle` (from byte `from`), or panic after `secs`.
    pub async fn wait_for(&mut self, needle: &str, secs: u64) -> usize {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(pos) = find(&self.output, needle.as_bytes()) {
                return pos;
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => self.absorb(ev),
                Ok(None) => {
                    panic!("console ended before {needle:?}; output: {}", String::from_utf8_lossy(&self.output))
                }
                Err(_) => panic!("timed out waiting for {needle:?}; output: {}", String::from_utf8_lossy(&self.output)),
            }
        }
    }

    /// Wait until at least `len` bytes of output arrived, or panic after `secs`.
    pub async fn wait_for_len(&mut self, len: usize, secs: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while self.output.len() < len {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => self.absorb(ev),
                Ok(None) => panic!("console ended at {} of {len} bytes", self.output.len()),
                Err(_) => panic!("timed out at {} of {len} bytes", self.output.len()),
            }
        }
    }

    /// Wait for the loop to end, collecting the rest of the output.
    pub async fn finish(mut self, secs: u64) -> (ConsoleEnd, Vec<u8>, u32) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => self.absorb(ev),
                Ok(None) => break,
                Err(_) => panic!("console did not end; output tail: {}", tail(&self.output)),
            }
        }
        let end = self.task.await.unwrap();
        (end, self.output, self.reconnects)
    }
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn tail(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[b.len().saturating_sub(400)..]).into_owned()
}
