//! What crosses the wire: tshark captures loopback while a known secret is typed
//! into the console and into the screen (an xterm in Xvnc behind `--display vnc:`)
//! through the real client code. The capture of the attested channel must hold TLS
//! records only, and the secret in no encoding: ASCII, UTF-16 (both byte orders),
//! or as a sequence of RFB key events. A control capture of the bridge's plain
//! RFB side (loopback, by design) shows that the same check finds a leak.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cvm_console::console_client::Reconnect;
use cvm_console::net::connect;
use cvmc_protocol::handshake::alpn;
use cvmc_tests::console_driver::Driver;
use cvmc_tests::guest::TestClient;
use cvmc_tests::vnc_view::Viewer;
use cvmc_tests::xvnc::XvncWithXterm;
use vnc::VncEncoding;

const SECRET: &str = "hunter2-CVM-s3cr3t";

/// A running tshark writing a pcap of one TCP port on loopback.
struct Capture {
    child: Child,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Capture {
    fn start(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("capture.pcapng");
        std::fs::File::create(&file).unwrap();
        // A capture buffer large enough that a loaded machine drops no packet.
        let mut child = Command::new("tshark")
            .args(["-i", "lo", "-B", "64", "-f", &format!("tcp port {port}"), "-w"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tshark is installed (scripts/test installs it)");
        // tshark says "Capturing on 'Loopback: lo'" once the capture runs.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Capturing on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30)).expect("tshark started capturing");
        // dumpcap may say so a moment before its filter sees packets; a capture that
        // misses a connection's first bytes would look like a stream that starts late.
        // (Once seen under load in CI: the control found one direction empty.)
        std::thread::sleep(Duration::from_millis(300));
        Self { child, file, _dir: dir }
    }

    /// Stop (SIGINT, so the file is complete) and return the capture's path.
    fn stop(mut self) -> (PathBuf, tempfile::TempDir) {
        std::thread::sleep(Duration::from_millis(500));
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "tshark did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        (self.file.clone(), self._dir)
    }
}

/// One field of every frame in `file` that matches the display `filter`, a line each.
fn tshark_field(file: &Path, filter: &str, field: &str) -> Vec<String> {
    let out =
        Command::new("tshark").arg("-r").arg(file).args(["-Y", filter, "-T", "fields", "-e", field]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

/// Frames on `port` with TCP payload (to show the capture saw the traffic).
fn payload_frames(file: &Path, port: u16) -> usize {
    tshark_field(file, &format!("tcp.port == {port} && tcp.len > 0"), "frame.number").len()
}

/// Where `stream` (one direction's TCP payload, in order) stops being a sequence of
/// well-formed TLS records, or `None` if it is nothing else (a last record cut short
/// by the end of the capture counts as well-formed). Read as RFC 8446 section 5.1
/// frames them: content type 20..=24, legacy version 3.1..=3.3, a length of at most
/// 2^14 + 256. Checked on the reassembled streams, not per frame: where TCP cuts a
/// record is up to the kernel, and a frame holding only a record's middle is still TLS.
fn first_non_tls_byte(stream: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at < stream.len() {
        let header = stream.get(at..at + 5)?;
        let (kind, major, minor) = (header[0], header[1], header[2]);
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if !(20..=24).contains(&kind) || major != 3 || !(1..=3).contains(&minor) || len > (1 << 14) + 256 {
            return Some(at);
        }
        at += 5 + len;
    }
    None
}

/// The TCP payload of each connection on `port`, one direction of it: reassembled
/// by sequence number (a retransmitted segment counts once; connections never mix),
/// so that a secret split over many small segments is still found and each stream
/// can be read as TLS records. A hole in a stream means the capture missed packets.
fn connection_streams(file: &Path, port: u16, to_port: bool) -> Vec<Vec<u8>> {
    let filter = if to_port { format!("tcp.dstport == {port}") } else { format!("tcp.srcport == {port}") };
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-Y", &format!("{filter} && tcp.len > 0"), "-T", "fields", "-e", "tcp.stream", "-e", "tcp.seq"])
        .args(["-e", "tcp.payload"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut segments: std::collections::BTreeMap<u64, std::collections::BTreeMap<u64, Vec<u8>>> = Default::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut fields = line.split('\t');
        let (Some(stream), Some(seq), Some(payload)) = (fields.next(), fields.next(), fields.next()) else { continue };
        let (Ok(stream), Ok(seq)) = (stream.trim().parse(), seq.trim().parse()) else { continue };
        let bytes = hex::decode(payload.trim().replace(':', "")).unwrap_or_default();
        segments.entry(stream).or_default().entry(seq).or_insert(bytes);
    }
    segments
        .into_iter()
        .map(|(id, by_seq)| {
            let mut data = Vec::new();
            let mut next = by_seq.keys().next().copied().unwrap_or(0);
            for (seq, bytes) in by_seq {
                let end = seq + bytes.len() as u64;
                if end <= next {
                    continue; // all of it seen already (a retransmission)
                }
                assert!(seq <= next, "tcp stream {id}: the capture missed bytes {next}..{seq}");
                data.extend_from_slice(&bytes[usize::try_from(next - seq).unwrap()..]);
                next = end;
            }
            data
        })
        .collect()
}

/// The TCP payload sent to `port` and from it, every connection's stream one after
/// the other (for searching the secret).
fn payload_streams(file: &Path, port: u16) -> [Vec<u8>; 2] {
    [true, false].map(|to_port| connection_streams(file, port, to_port).concat())
}

/// Every encoding of the secret found in the raw capture or either payload stream.
fn leaks_in_capture(file: &Path, port: u16, secret: &str) -> Vec<&'static str> {
    let raw = std::fs::read(file).unwrap();
    let [up, down] = payload_streams(file, port);
    assert!(!up.is_empty() && !down.is_empty(), "the capture holds traffic both ways");
    let mut found = leaks(&raw, secret);
    for stream in [&up, &down] {
        found.extend(leaks(stream, secret));
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// Every encoding of the secret found in `bytes`.
fn leaks(bytes: &[u8], secret: &str) -> Vec<&'static str> {
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let utf16le: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = secret.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut found = Vec::new();
    if find(secret.as_bytes()) {
        found.push("ascii");
    }
    if find(&utf16le) {
        found.push("utf-16le");
    }
    if find(&utf16be) {
        found.push("utf-16be");
    }
    if keysym_sequence(bytes, secret) {
        found.push("keysym sequence");
    }
    found
}

/// The secret's characters as 32-bit big-endian keysyms, in order, each within 16
/// bytes of the previous: how RFB KeyEvents (down/up pairs) carry typing.
fn keysym_sequence(bytes: &[u8], secret: &str) -> bool {
    let keysym = |c: u8| [0, 0, 0, c];
    let chars = secret.as_bytes();
    let positions = |c: u8| bytes.windows(4).enumerate().filter(move |(_, w)| *w == keysym(c)).map(|(i, _)| i);
    positions(chars[0]).any(|start| {
        let mut at = start;
        chars[1..].iter().all(|&c| {
            match bytes[at + 4..(at + 20).min(bytes.len())].windows(4).position(|w| w == keysym(c)) {
                Some(off) => {
                    at += 4 + off;
                    true
                }
                None => false,
            }
        })
    })
}

async fn type_secret(viewer: &Viewer) {
    viewer.type_keysyms(SECRET.bytes().map(u32::from).chain([0xff0d])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attested_channels_carry_tls_records_only_and_no_trace_of_the_secret() {
    let x = XvncWithXterm::start();
    let client = TestClient::new();
    let guest = x.guest_for(&client).await;
    let capture = Capture::start(guest.addr.port());

    // The console: type the secret; it is echoed and printed back.
    let mut console = Driver::start(guest.addr.to_string(), client.opts.clone(), Reconnect::default());
    console.type_str(&format!("echo {SECRET}\r")).await;
    console.wait_for(&format!("\r\n{SECRET}\r\n"), 20).await;
    // The screen: type the secret into the xterm, which shows it.
    let attested = connect(&guest.addr.to_string(), alpn::DISPLAY, &client.opts).await.unwrap();
    let mut viewer = Viewer::connect(attested.stream, VncEncoding::Raw).await;
    viewer.wait_until(30, |v| v.size == (800, 600)).await;
    type_secret(&viewer).await;
    x.wait_typed(SECRET, 20).await;
    viewer.wait_until(5, |_| true).await;
    console.type_str("exit 0\r").await;
    let _ = console.finish(20).await;

    let (file, _keep) = capture.stop();
    let frames = payload_frames(&file, guest.addr.port());
    assert!(frames > 20, "the capture saw the traffic ({frames} frames)");
    for (name, to_port) in [("client to guest", true), ("guest to client", false)] {
        for (i, stream) in connection_streams(&file, guest.addr.port(), to_port).iter().enumerate() {
            let at = first_non_tls_byte(stream);
            assert_eq!(at, None, "{name}, connection {i}: {} bytes, not all TLS records", stream.len());
        }
    }
    assert_eq!(leaks_in_capture(&file, guest.addr.port(), SECRET), Vec::<&str>::new(), "the secret crossed the wire");
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_the_check_finds_the_secret_in_plain_rfb() {
    let x = XvncWithXterm::start();
    let client = TestClient::new();
    let guest = x.guest_for(&client).await;
    // The bridge's local side is plain RFB on loopback, by design: capture that.
    let listener = cvm_console::bridge::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(cvm_console::bridge::run(listener, guest.addr.to_string(), client.opts.clone()));
    let capture = Capture::start(port);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut viewer = Viewer::connect(tcp, VncEncoding::Raw).await;
    viewer.wait_until(30, |v| v.size == (800, 600)).await;
    type_secret(&viewer).await;
    x.wait_typed(SECRET, 20).await;
    let (file, _keep) = capture.stop();
    let [up, down] = payload_streams(&file, port);
    // Both sides open with "RFB 003.008\n": the check sees at once that this is not TLS.
    assert_eq!(
        (first_non_tls_byte(&up), first_non_tls_byte(&down)),
        (Some(0), Some(0)),
        "plain RFB is not TLS ({} bytes up, {} down; first bytes down {:02x?})",
        up.len(),
        down.len(),
        &down[..down.len().min(16)]
    );
    let found = leaks_in_capture(&file, port, SECRET);
    assert!(found.contains(&"keysym sequence"), "the check must find typed keys in plain RFB: {found:?}");
    guest.stop().await;
}

#[test]
fn the_record_check_accepts_records_and_finds_anything_else() {
    let record = |kind: u8, len: usize| {
        [&[kind, 3, 3][..], &u16::try_from(len).unwrap().to_be_bytes(), &vec![0xaa; len]].concat()
    };
    let tls = [record(22, 40), record(23, 16 * 1024), record(21, 2)].concat();
    assert_eq!(first_non_tls_byte(&tls), None);
    assert_eq!(first_non_tls_byte(&tls[..tls.len() - 1]), None, "a record cut by the end of the capture");
    assert_eq!(first_non_tls_byte(b"RFB 003.008\n"), Some(0));
    let spliced = [record(23, 10), b"hunter2".to_vec(), record(23, 10)].concat();
    assert_eq!(first_non_tls_byte(&spliced), Some(15), "plain bytes between records");
    assert_eq!(first_non_tls_byte(&record(23, (1 << 14) + 257)), Some(0), "over-long record");
}

#[test]
fn the_leak_check_finds_each_encoding() {
    assert_eq!(leaks(b"xx hunter2-CVM-s3cr3t yy", SECRET), vec!["ascii"]);
    let utf16: Vec<u8> = SECRET.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(leaks(&utf16, SECRET), vec!["utf-16le"]);
    let rfb: Vec<u8> = SECRET.bytes().flat_map(|c| [4, 1, 0, 0, 0, 0, 0, c, 4, 0, 0, 0, 0, 0, 0, c]).collect();
    assert_eq!(leaks(&rfb, SECRET), vec!["keysym sequence"]);
    assert!(leaks(b"random bytes that hold nothing", SECRET).is_empty());
}
