//! The guest in a real VM: `tests/vm/run` boots Debian's kernel under QEMU (TCG) with
//! an initramfs that starts cvm-consoled (SIMULATED evidence, the vkms framebuffer,
//! uinput, `/bin/login`), forwards the guest's port to 127.0.0.1, and runs these
//! tests one by one against it. They drive the real client code: attested console
//! sessions (`run_console`) and the attested display channel read by vnc-rs.
//!
//! Ignored in the ordinary suite: they need the VM. The script passes
//! `CVMC_VM_ADDR`, `CVMC_VM_SIM_DIR` (the sim-init chain whose policy.toml trusts
//! it), `CVMC_VM_OUT` (where screenshots go), `CVMC_VM_PASSWORD` (the image's TEST
//! root password) and `CVMC_VM_SECRET_CONSOLE` / `CVMC_VM_SECRET_SCREEN` (fresh
//! random strings typed into the guest, which the script later looks for in
//! everything the host side recorded). The client key comes from
//! `$XDG_CONFIG_HOME/cvm-console`, which sim-init authorized.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cvm_console::clientkey::{ClientKey, config_dir};
use cvm_console::console_client::{ConsoleCommand, Reconnect};
use cvm_console::known_guests::KnownGuests;
use cvm_console::net::{ConnectOptions, connect};
use cvm_console::policy_file::load_policy;
use cvmc_protocol::handshake::alpn;
use cvmc_protocol::snp::roots::Anchor;
use cvmc_tests::console_driver::{Driver, find};
use cvmc_tests::vnc_view::Viewer;
use sha2::{Digest, Sha256};
use vnc::VncEncoding;

const IGNORED: &str = "needs the QEMU guest: run tests/vm/run";

struct Vm {
    addr: String,
    opts: ConnectOptions,
    out: PathBuf,
    password: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {IGNORED}"))
}

fn vm(test: &str) -> Vm {
    let sim = PathBuf::from(env("CVMC_VM_SIM_DIR"));
    let out = PathBuf::from(env("CVMC_VM_OUT"));
    let key = Arc::new(ClientKey::load_or_create(&config_dir().unwrap()).unwrap());
    let opts = ConnectOptions {
        policy: Arc::new(load_policy(&sim.join("policy.toml")).unwrap()),
        client_key: Some(key),
        known_guests: Some(KnownGuests::new(out.join(format!("known_guests.{test}")))),
        pin_new: true,
        pcs: None,
        kds: None,
    };
    Vm { addr: env("CVMC_VM_ADDR"), opts, out, password: env("CVMC_VM_PASSWORD") }
}

/// A logged-in shell on the guest's console channel.
struct Shell {
    d: Driver,
    n: u32,
}

impl Shell {
    /// Attest, log in as root with the image's TEST password, wait for the prompt.
    async fn login(vm: &Vm) -> Self {
        let mut d = Driver::start(vm.addr.clone(), vm.opts.clone(), Reconnect::default());
        // Wide enough that no command line we type wraps.
        d.tx.send(ConsoleCommand::Resize { cols: 400, rows: 50 }).await.unwrap();
        d.wait_for("login: ", 120).await;
        assert!(d.attestations >= 1, "the console opened without an attestation");
        d.type_str("root\n").await;
        d.wait_for("Password: ", 60).await;
        d.type_str(&format!("{}\n", vm.password)).await;
        let mut shell = Self { d, n: 0 };
        // A fresh marker round trip proves a shell reads and runs what we type.
        let (_, status) = shell.run("cd /root", 60).await;
        assert_eq!(status, 0);
        shell
    }

    /// Run `cmd` in the shell; its output (after the echoed command line) and exit status.
    async fn run(&mut self, cmd: &str, secs: u64) -> (String, i32) {
        self.n += 1;
        let start = self.d.output.len();
        // The typed line holds `==%s==@@` and the number apart, so `==N==@@` can only
        // come from printf running after `cmd`.
        self.d.type_str(&format!("{cmd}; printf '==%s==@@%s@@\\n' {} $?\n", self.n)).await;
        let needle = format!("=={}==@@", self.n);
        let pos = self.d.wait_for(&needle, secs).await;
        let from = pos + needle.len();
        loop {
            if let Some(end) = find(&self.d.output[from..], b"@@") {
                let status = String::from_utf8_lossy(&self.d.output[from..from + end]).trim().parse().unwrap_or(-1);
                // Skip the prompt and the echo of the line we typed.
                let echo = format!("' {} $?", self.n);
                let out = &self.d.output[start..pos];
                let body = find(out, echo.as_bytes())
                    .and_then(|i| find(&out[i..], b"\n").map(|j| i + j + 1))
                    .map_or(out, |at| &out[at..]);
                return (String::from_utf8_lossy(body).into_owned(), status);
            }
            let len = self.d.output.len() + 1;
            self.d.wait_for_len(len, secs).await;
        }
    }

    /// The text on virtual terminal 1 (the vkms screen): /dev/vcs1, rows joined.
    async fn vt1(&mut self) -> String {
        let (out, status) = self.run("cat /dev/vcs1; echo", 60).await;
        assert_eq!(status, 0, "cat /dev/vcs1: {out}");
        out
    }

    /// Poll VT 1 until it contains `needle`; the VT text when it does.
    async fn wait_vt1(&mut self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.vt1().await;
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "VT 1 never showed {needle:?}; it shows:\n{}", squeeze(&text));
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// VT text with runs of blanks folded, for messages.
fn squeeze(text: &str) -> String {
    text.split("  ").filter(|s| !s.trim().is_empty()).map(str::trim).collect::<Vec<_>>().join(" | ")
}

/// The doctor's JSON object from a console transcript.
fn doctor_json(out: &str) -> serde_json::Value {
    let line = out.lines().map(str::trim).find(|l| l.starts_with("{\"")).unwrap_or_else(|| panic!("no JSON in {out}"));
    serde_json::from_str(line).unwrap()
}

fn finding_ids(doc: &serde_json::Value) -> Vec<String> {
    doc["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
}

/// Keysyms for ASCII text; `\n` is Return.
fn keysyms(text: &str) -> Vec<u32> {
    text.chars()
        .map(|c| match c {
            '\n' => 0xff0d,
            ' '..='~' => u32::from(c),
            _ => panic!("no keysym for {c:?}"),
        })
        .collect()
}

fn lit(v: &Viewer) -> usize {
    v.pixels.iter().filter(|&&p| p != 0).count()
}

fn save_png(v: &Viewer, path: &Path) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, u32::from(v.size.0), u32::from(v.size.1));
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let data: Vec<u8> = v
        .pixels
        .iter()
        .flat_map(|p| {
            let [b, g, r, _] = p.to_le_bytes();
            [r, g, b]
        })
        .collect();
    enc.write_header().unwrap().write_image_data(&data).unwrap();
}

/// Refresh the viewer for a moment and return how many pixels differ from `before`.
async fn changed_since(v: &mut Viewer, before: &[u32], min: usize, secs: u64) -> usize {
    let mut changed = 0;
    v.wait_until_or(
        secs,
        |v| {
            changed = v.pixels.iter().zip(before).filter(|(a, b)| a != b).count();
            changed >= min
        },
        || format!("fewer than {min} pixels changed"),
    )
    .await;
    changed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU guest: run tests/vm/run"]
async fn console_login_to_a_shell() {
    let vm = vm("console");
    let t = Instant::now();
    // The channel is attested before the login prompt is shown, SIMULATED evidence.
    let attested = connect(&vm.addr, alpn::CONSOLE, &vm.opts).await.unwrap();
    assert!(
        matches!(attested.guest.verified.anchor(), Anchor::PolicyRoot { .. }),
        "the simulated chain must end at the policy's test root"
    );
    drop(attested);
    let mut sh = Shell::login(&vm).await;
    let login_secs = t.elapsed().as_secs_f64();
    let (out, status) = sh.run("echo shell-$((6*7))-ok; id -u; tty", 60).await;
    assert_eq!(status, 0);
    assert!(out.contains("shell-42-ok") && out.contains("\n0\r") && out.contains("/dev/pts/"), "{out}");
    // Started from the initramfs: nothing but RAM filesystems is mounted.
    let (mounts, _) = sh.run("cat /proc/mounts", 60).await;
    for line in mounts.lines().filter(|l| !l.trim().is_empty()) {
        let fstype = line.split_whitespace().nth(2).unwrap_or_else(|| panic!("odd /proc/mounts line {line:?}"));
        assert!(
            ["rootfs", "proc", "sysfs", "devtmpfs", "devpts", "tmpfs"].contains(&fstype),
            "a filesystem other than the initramfs is mounted: {line}"
        );
    }
    // A secret typed on the console: echoed back to us only, inside TLS.
    let secret = env("CVMC_VM_SECRET_CONSOLE");
    let (out, _) = sh.run(&format!("echo typed:{secret}"), 60).await;
    assert!(out.contains(&format!("typed:{secret}\r\n")), "{out}");
    // For the record (and for debugging a failed run): the guest's own logs and uptime.
    for (cmd, file) in [("dmesg", "guest-dmesg.txt"), ("cat /run/cvm-consoled.log", "guest-cvm-consoled.log")] {
        let (out, _) = sh.run(cmd, 60).await;
        std::fs::write(vm.out.join(file), out).unwrap();
    }
    let (uptime, _) = sh.run("cut -d' ' -f1 /proc/uptime", 60).await;
    let uptime = uptime.trim().to_owned();
    sh.d.type_str("exit\n").await;
    println!(
        "vm_e2e: attested (SIMULATED root) console, login as root in {login_secs:.1} s, shell runs, only RAM filesystems; guest uptime {uptime} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU guest: run tests/vm/run"]
async fn screen_shows_the_vt_and_rfb_keys_reach_it() {
    let vm = vm("screen");
    let mut sh = Shell::login(&vm).await;
    let vt = sh.wait_vt1("login:", 60).await;
    assert!(vt.contains("cvmc-vm login:"), "VT 1 shows no getty: {}", squeeze(&vt));

    let attested = connect(&vm.addr, alpn::DISPLAY, &vm.opts).await.unwrap();
    let mut viewer = Viewer::connect(attested.stream, VncEncoding::Zrle).await;
    viewer.wait_until_or(60, |v| lit(v) > 200, || "the screen stays blank".into()).await;
    assert_eq!(viewer.size, (1024, 768), "vkms's default mode");
    // A steady cursor: the picture is then exactly what /dev/fb0 holds, and stays so.
    let (out, status) = sh.run("echo 0 > /sys/class/graphics/fbcon/cursor_blink", 60).await;
    assert_eq!(status, 0, "{out}");
    let before = viewer.pixels.clone();
    save_png(&viewer, &vm.out.join("screen-before.png"));
    let (devices, _) = sh.run("cat /proc/bus/input/devices", 60).await;
    assert!(devices.contains("cvm-console keyboard"), "no uinput keyboard in the guest: {devices}");

    // Log in on tty1 by typing over RFB: keysyms -> uinput -> the VT's keyboard.
    viewer.type_keysyms(keysyms("root\n")).await;
    sh.wait_vt1("Password:", 60).await;
    viewer.type_keysyms(keysyms(&format!("{}\n", vm.password))).await;
    sh.wait_vt1("~ #", 60).await;
    // Shifted characters ($ ( * )) exercise the synthesized Shift; only the shell on
    // tty1 can turn $((7*6)) into 42.
    let secret = env("CVMC_VM_SECRET_SCREEN");
    viewer.type_keysyms(keysyms(&format!("echo {secret} vt-$((7*6))-typed\n"))).await;
    let vt = sh.wait_vt1(&format!("{secret} vt-42-typed"), 60).await;
    assert!(!vt.contains(&vm.password), "the password was echoed on the VT");
    let (fg, _) = sh.run("cat /sys/class/tty/tty0/active", 60).await;
    assert!(fg.lines().any(|l| l.trim() == "tty1"), "VT 1 is not in the foreground: {fg}");

    // And the picture changed accordingly: the viewer ends up with exactly the
    // pixels of the guest's /dev/fb0 (XRGB8888: bytes B, G, R, 0), compared by hash.
    let changed = changed_since(&mut viewer, &before, 1000, 60).await;
    let (out, status) = sh.run(&format!("head -c {} /dev/fb0 | sha256sum", 1024 * 768 * 4), 60).await;
    assert_eq!(status, 0, "{out}");
    let guest_hash = out
        .split_whitespace()
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no hash in {out}"))
        .to_owned();
    let got = std::cell::RefCell::new(String::new());
    viewer
        .wait_until_or(
            60,
            |v| {
                let bytes: Vec<u8> = v.pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
                *got.borrow_mut() = hex::encode(Sha256::digest(&bytes));
                *got.borrow() == guest_hash
            },
            || format!("the viewer's frame hashes to {} but /dev/fb0 to {guest_hash}", got.borrow()),
        )
        .await;
    let ours = got.into_inner();
    save_png(&viewer, &vm.out.join("screen-after.png"));
    sh.d.type_str("exit\n").await;
    println!(
        "vm_e2e: VT 1 on vkms {}x{} over RFB; login + `echo ... $((7*6))` typed over RFB ran on tty1 (read back from /dev/vcs1); {changed}+ pixels changed; frame == /dev/fb0 (sha256 {})",
        viewer.size.0,
        viewer.size.1,
        &ours[..12]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU guest: run tests/vm/run"]
async fn doctor_passes_the_clean_guest() {
    let vm = vm("doctor-clean");
    let mut sh = Shell::login(&vm).await;
    let (out, status) = sh.run("cvm-consoled doctor --json", 120).await;
    let doc = doctor_json(&out);
    let ids = finding_ids(&doc);
    // TCG is no SEV-SNP guest: that finding is expected and the only one allowed.
    assert_eq!(ids, ["not-confidential"], "{doc}");
    assert_eq!(status, 1, "a High finding (not-confidential) exits 1");
    let (human, _) = sh.run("cvm-consoled doctor", 120).await;
    std::fs::write(vm.out.join("doctor-clean.txt"), &human).unwrap();
    sh.d.type_str("exit\n").await;
    println!("vm_e2e: doctor finds nothing but not-confidential (expected under TCG)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU guest: run tests/vm/run"]
async fn doctor_flags_the_leaky_guest() {
    let vm = vm("doctor-leaky");
    let mut sh = Shell::login(&vm).await;
    // The leak is real: a getty runs on the serial port.
    let (ps, _) = sh.run("ps -o pid,args | grep '[g]etty'", 60).await;
    assert!(ps.contains("ttyS0"), "no getty on ttyS0: {ps}");
    let (out, status) = sh.run("cvm-consoled doctor --json", 120).await;
    let doc = doctor_json(&out);
    assert_eq!(status, 1);
    assert_eq!(doc["ok"], false);
    let findings = doc["findings"].as_array().unwrap();
    let has =
        |id: &str, what: &str| findings.iter().any(|f| f["id"] == id && f["title"].as_str().unwrap().contains(what));
    assert!(has("serial-getty", "a login prompt on ttyS0 "), "the serial getty is not flagged: {doc}");
    assert!(has("kernel-console", "console=ttyS0"), "console=ttyS0 is not flagged: {doc}");
    let (human, _) = sh.run("cvm-consoled doctor", 120).await;
    std::fs::write(vm.out.join("doctor-leaky.txt"), &human).unwrap();
    sh.d.type_str("exit\n").await;
    println!("vm_e2e: doctor flags {:?}", finding_ids(&doc));
}
