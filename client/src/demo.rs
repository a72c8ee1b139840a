//! `cvm-console demo`: a local SIMULATED guest, to try the product without hardware.
//!
//! It creates (or reuses) a simulated chain with `sim-init` in the user's config
//! directory, authorizes this client's key, starts an embedded guest server on
//! loopback (simulated evidence, a PTY running the user's shell, a test-pattern
//! screen), then opens the GUI on it — which attests it through the same code as a real
//! guest and shows the check list — or, with `--terminal`, verifies it and opens the
//! console in this terminal. Everything it shows is marked SIMULATED - NOT CONFIDENTIAL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cvm_consoled::builder::ServerBuilder;
use cvm_consoled::config::{CommandLine, ServerConfig};
use cvm_consoled::local::LocalGuest;
use cvm_consoled::siminit;
use cvmc_protocol::snp::product::Product;

use crate::clientkey::{ClientKey, config_dir};
use crate::error::ClientError;
use crate::net::ConnectOptions;
use crate::outcome::Outcome;
use crate::policy_file::load_policy;

/// Which TEE the demo guest simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DemoTee {
    /// AMD SEV-SNP (Milan), the default.
    #[default]
    Snp,
    /// Intel TDX.
    Tdx,
}

/// Where the demo's simulated chain lives (one directory per TEE).
pub fn demo_dir(tee: DemoTee) -> Result<PathBuf, ClientError> {
    Ok(config_dir()?.join(match tee {
        DemoTee::Snp => "demo-sim",
        DemoTee::Tdx => "demo-sim-tdx",
    }))
}

/// Make the SEV-SNP chain if needed and make sure `key` is authorized in it.
pub fn prepare(dir: &Path, key: &ClientKey) -> Result<(), ClientError> {
    prepare_tee(dir, key, DemoTee::Snp)
}

/// Make the chain of `tee` if needed and make sure `key` is authorized in it.
pub fn prepare_tee(dir: &Path, key: &ClientKey, tee: DemoTee) -> Result<(), ClientError> {
    let bad = |e: cvm_consoled::sim::SimError| ClientError::BadInput { path: dir.to_path_buf(), reason: e.to_string() };
    let (root, sim_tee) = match tee {
        DemoTee::Snp => (siminit::files::ARK, siminit::SimTee::Snp(Product::Milan)),
        DemoTee::Tdx => (siminit::files::TDX_ROOT, siminit::SimTee::Tdx),
    };
    if !dir.join(root).exists() {
        siminit::sim_init(dir, sim_tee, &[key.fingerprint()]).map_err(bad)?;
    }
    let authorized = dir.join(siminit::files::AUTHORIZED);
    let text = std::fs::read_to_string(&authorized).unwrap_or_default();
    if !text.to_ascii_lowercase().contains(&key.fingerprint().to_ascii_lowercase()) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&authorized)
            .map_err(|e| ClientError::File { path: authorized.clone(), reason: e.to_string() })?;
        writeln!(f, "{} (demo)", key.fingerprint())
            .map_err(|e| ClientError::File { path: authorized.clone(), reason: e.to_string() })?;
    }
    Ok(())
}

/// The embedded guest, started: its address and the options that trust it.
pub struct DemoGuest {
    /// The running guest server.
    pub guest: LocalGuest,
    /// Its loopback HOST:PORT.
    pub address: String,
    /// The demo chain's policy and this client's key.
    pub opts: ConnectOptions,
    /// Where the simulated chain lives.
    pub dir: PathBuf,
}

impl std::fmt::Debug for DemoGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DemoGuest({})", self.address)
    }
}

/// Start the embedded simulated guest on loopback: the user's shell on a PTY and a test-pattern screen.
pub async fn start_guest(tee: DemoTee) -> Result<DemoGuest, ClientError> {
    let dir = demo_dir(tee)?;
    let key = Arc::new(ClientKey::load_or_create(&config_dir()?)?);
    prepare_tee(&dir, &key, tee)?;
    let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into());
    let term = std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".into());
    let mut config = ServerConfig::simulated("127.0.0.1:0", dir.clone());
    config.console_command = Some(CommandLine::Argv(vec![shell]));
    config.console_term = term;
    config.authorized_clients = Some(dir.join(siminit::files::AUTHORIZED));
    config.linger_secs = 5;
    config.display = "pattern".into();
    // The demo guest gets a new identity every run: nothing to pin, nothing to keep.
    config.ephemeral_identity = true;
    let guest = LocalGuest::start(ServerBuilder::new(config))
        .await
        .map_err(|e| ClientError::BadInput { path: dir.clone(), reason: e.to_string() })?;
    let address = guest.addr.to_string();
    let opts = ConnectOptions {
        policy: Arc::new(load_policy(&dir.join(siminit::files::POLICY))?),
        client_key: Some(key),
        // The demo guest has a new identity every run: nothing to pin.
        known_guests: None,
        pin_new: false,
        pcs: None,
        kds: None,
    };
    Ok(DemoGuest { guest, address, opts, dir })
}

#[cfg(feature = "gui")]
/// `cvm-console demo`: start the embedded guest and open the GUI on it (blocks until the
/// window closes). Needs a multi-threaded runtime: the guest runs on its workers while
/// this thread runs the window.
pub fn run_demo_gui(
    rt: &tokio::runtime::Runtime,
    tee: DemoTee,
    out: &mut dyn std::io::Write,
) -> Result<u8, ClientError> {
    let demo = rt.block_on(start_guest(tee))?;
    let _ = writeln!(
        out,
        "cvm-console demo: a SIMULATED guest on {} (chain in {}); opening the window",
        demo.address,
        demo.dir.display()
    );
    let name = format!("demo guest {} (SIMULATED)", demo.address);
    let result = crate::gui::run(crate::gui::Start::Connect { name, address: demo.address, opts: demo.opts });
    rt.block_on(demo.guest.stop());
    result.map(|()| crate::error::exit::OK)
}

/// `cvm-console demo --terminal`: start the embedded guest, show its verification,
/// open its console here. Returns the exit status for the process.
pub async fn run_demo(tee: DemoTee, out: &mut dyn std::io::Write) -> Result<u8, crate::failure::CommandError> {
    let DemoGuest { guest, address, opts, dir } = start_guest(tee).await?;
    let _ = writeln!(out, "cvm-console demo: a SIMULATED guest on {address} (chain in {})\n", dir.display());
    let outcome: Outcome = crate::live::verify_live(&address, &opts).await?;
    let _ = write!(out, "{}", cvmc_protocol::text::escape_lines(&outcome.to_text()));
    if !outcome.trusted() {
        return Ok(crate::error::exit::NOT_TRUSTED);
    }
    let _ = writeln!(out, "\nOpening its console: your shell, SIMULATED - NOT CONFIDENTIAL. Enter ~ . to leave.\n");
    let _ = out.flush();
    let status = crate::term::run_terminal(&address, &opts).await.map_err(crate::failure::CommandError::from)?;
    guest.stop().await;
    Ok(u8::try_from(status.clamp(0, 255)).unwrap_or(1))
}
