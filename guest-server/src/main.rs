//! `cvm-consoled`: the in-guest server. See docs/DESIGN.md "Command line".

use std::path::Path;
use std::process::ExitCode;

use clap::Parser as _;

use cvm_consoled::authorized::local_client_fingerprint;
use cvm_consoled::builder::ServerBuilder;
use cvm_consoled::cli::{Cli, Command, TeeArg};
use cvm_consoled::config::{CommandLine, ConfigError, DEFAULT_PORT, ServerConfig};

/// The configuration: the file (or the defaults), then the flags over it, then the
/// state directory systemd gives the unit as the identity's home when none is set.
fn load_config(cli: &Cli) -> Result<ServerConfig, ConfigError> {
    let mut config = match &cli.config {
        Some(path) => ServerConfig::load(path)?,
        None => ServerConfig::new(
            format!("127.0.0.1:{DEFAULT_PORT}"),
            cli.evidence.ok_or(ConfigError::Missing("--evidence or --config is required"))?,
        ),
    };
    if let Some(v) = &cli.listen {
        config.listen.clone_from(v);
    }
    if let Some(v) = cli.evidence {
        config.evidence = v;
    }
    if let Some(v) = &cli.simulated_dir {
        config.simulated_dir = Some(v.clone());
    }
    if let Some(v) = &cli.tpm_device {
        config.tpm_device = Some(v.clone());
    }
    if let Some(v) = &cli.imds_url {
        config.imds_url = Some(v.clone());
    }
    if let Some(v) = &cli.display {
        config.display.clone_from(v);
    }
    if let Some(v) = &cli.console_command {
        config.console_command = Some(CommandLine::Line(v.clone()));
    }
    if cli.allow_unauthenticated_console {
        config.allow_unauthenticated_console = true;
    }
    if let Some(v) = &cli.authorized_clients {
        config.authorized_clients = Some(v.clone());
    }
    if let Some(v) = &cli.identity_key {
        config.identity_key = Some(v.clone());
    }
    if cli.ephemeral_identity {
        config.ephemeral_identity = true;
    }
    if cli.view_only {
        config.view_only = true;
    }
    if config.identity_key.is_none()
        && let Some(state) = std::env::var_os("STATE_DIRECTORY")
    {
        // systemd's StateDirectory= (a colon-separated list when several are named).
        let first = std::env::split_paths(&state).next().unwrap_or_default();
        config.identity_key = Some(first.join("identity.pem"));
    }
    config.validate()?;
    Ok(config)
}

async fn run_server(cli: Cli) -> Result<(), String> {
    let config = load_config(&cli).map_err(|e| e.to_string())?;
    let server = ServerBuilder::new(config).bind().await.map_err(|e| e.to_string())?;
    tracing::info!(addr = %server.local_addr().map_err(|e| e.to_string())?, "listening");
    server.run(shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn sim_init(dir: &Path, tee: cvm_consoled::siminit::SimTee, mut authorize: Vec<String>) -> Result<(), String> {
    authorize.extend(local_client_fingerprint());
    cvm_consoled::siminit::sim_init(dir, tee, &authorize).map_err(|e| e.to_string())?;
    println!("SIMULATED chain written to {} (TEST KEYS, NOT CONFIDENTIAL)", dir.display());
    println!("  server config: {}", dir.join(cvm_consoled::siminit::files::SERVER).display());
    println!("  client policy: {}", dir.join(cvm_consoled::siminit::files::POLICY).display());
    println!("  authorized client keys: {}", authorize.len());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Some(Command::SimInit { dir, product, tee, authorize }) => {
            let tee = match tee {
                TeeArg::Snp => cvm_consoled::siminit::SimTee::Snp(product.into()),
                TeeArg::Tdx => cvm_consoled::siminit::SimTee::Tdx,
            };
            sim_init(&dir, tee, authorize)
        }
        Some(Command::Doctor { json, root }) => {
            let mut findings = cvm_consoled::doctor::audit(&root);
            // Only the running system can be asked for its own report.
            if root == std::path::Path::new("/") {
                findings.extend(cvm_consoled::doctor::self_evidence_findings());
                findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(b.id)));
            }
            let high = findings.iter().any(|f| f.severity == cvm_consoled::doctor::Severity::High);
            if json {
                let ok = !high;
                println!("{}", serde_json::json!({ "ok": ok, "findings": findings }));
            } else {
                print!("{}", cvm_consoled::doctor::render(&findings));
            }
            return if high { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
        None => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(run_server(cli)),
            Err(e) => Err(format!("tokio runtime: {e}")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cvm-consoled: error: {e}");
            ExitCode::FAILURE
        }
    }
}
