//! `cvm-consoled`: the in-guest server. See DESIGN.md "Command line".

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use cvm_consoled::authorized::{AuthorizedClients, local_client_fingerprint};
use cvm_consoled::config::{DEFAULT_PORT, EvidenceKind, ServerConfig};
use cvm_consoled::console::ConsoleConfig;
use cvm_consoled::display::source::DisplaySpec;
use cvm_consoled::display_channel::{DisplayOptions, DisplayService};
use cvm_consoled::evidence::EvidenceProvider;
use cvm_consoled::identity::GuestIdentity;
use cvm_consoled::server::{Server, ServerParts};
use cvmc_protocol::snp::product::Product;

#[derive(Parser, Debug)]
#[command(name = "cvm-consoled", version, about = "cvm-console in-guest server: attested console and screen")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (TOML); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:7443 without a config file).
    #[arg(long)]
    listen: Option<String>,
    /// Evidence provider.
    #[arg(long, value_enum)]
    evidence: Option<EvidenceKind>,
    /// Directory of a `sim-init` chain, for `--evidence simulated`.
    #[arg(long)]
    simulated_dir: Option<PathBuf>,
    /// Frame source: fbdev:/dev/fbN, vnc:ADDR, pattern[:WxH] (a test screen, 1024x768 by default) or none.
    #[arg(long)]
    display: Option<String>,
    /// Console command and arguments (default: /bin/login as root, else your shell).
    #[arg(long)]
    console_command: Option<String>,
    /// Serve the console without client authentication (recovery: the login prompt is the gate).
    #[arg(long)]
    allow_unauthenticated_console: bool,
    /// File of authorized client key fingerprints.
    #[arg(long)]
    authorized_clients: Option<PathBuf>,
    /// Guest identity key file (created 0600 if missing); ephemeral when unset.
    #[arg(long)]
    identity_key: Option<PathBuf>,
    /// Serve the screen without injecting keys or pointer events.
    #[arg(long)]
    view_only: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Audit this guest for host-visible consoles, displays and host-supplied credentials.
    Doctor {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Audit the tree under this directory instead of / (for images and tests).
        #[arg(long, default_value = "/")]
        root: PathBuf,
    },
    /// Make a SIMULATED test chain in DIR, with server.toml and a client policy.toml trusting it.
    SimInit {
        /// Directory to create.
        dir: PathBuf,
        /// Product whose names and TCB layout the test chain imitates.
        #[arg(long, value_enum, default_value_t = ProductArg::Milan)]
        product: ProductArg,
        /// Client key fingerprint (SHA256:…) to authorize; the local client key is authorized too.
        #[arg(long)]
        authorize: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProductArg {
    Milan,
    Genoa,
    Turin,
}

impl From<ProductArg> for Product {
    fn from(p: ProductArg) -> Self {
        match p {
            ProductArg::Milan => Product::Milan,
            ProductArg::Genoa => Product::Genoa,
            ProductArg::Turin => Product::Turin,
        }
    }
}

fn load_config(cli: &Cli) -> Result<ServerConfig, String> {
    let mut config = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut c = ServerConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            c.resolve_paths(path);
            c
        }
        None => ServerConfig::new(
            format!("127.0.0.1:{DEFAULT_PORT}"),
            cli.evidence.ok_or("--evidence or --config is required")?,
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
    if let Some(v) = &cli.display {
        config.display.clone_from(v);
    }
    if let Some(v) = &cli.console_command {
        config.console_command = Some(v.clone());
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
    if cli.view_only {
        config.view_only = true;
    }
    Ok(config)
}

fn provider(config: &ServerConfig) -> Result<Arc<dyn EvidenceProvider>, String> {
    use cvm_consoled::evidence::{sevguest::SevGuestProvider, simulated::SimulatedProvider, tsm::TsmProvider};
    Ok(match config.evidence {
        EvidenceKind::Simulated => {
            let dir = config.simulated_dir.as_deref().ok_or("--evidence simulated needs --simulated-dir")?;
            tracing::warn!("SIMULATED evidence: NOT CONFIDENTIAL (test chain in {})", dir.display());
            Arc::new(SimulatedProvider::load(dir).map_err(|e| e.to_string())?)
        }
        EvidenceKind::SevSnp => {
            Arc::new(SevGuestProvider::new(config.vmpl, config.certs_dir.clone()).map_err(|e| e.to_string())?)
        }
        EvidenceKind::Tsm => Arc::new(TsmProvider::system(Some(config.vmpl)).map_err(|e| e.to_string())?),
    })
}

/// `/bin/login` as root (it asks for the password), else the user's shell.
fn default_console_argv() -> Vec<String> {
    if nix::unistd::Uid::effective().is_root() && Path::new("/bin/login").exists() {
        vec!["/bin/login".into()]
    } else {
        vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into())]
    }
}

async fn serve(cli: Cli) -> Result<(), String> {
    let config = load_config(&cli)?;
    let spec: DisplaySpec = config.display.parse()?;
    let display = DisplayService::from_spec(
        &spec,
        DisplayOptions { view_only: config.view_only, force_host_visible: config.allow_host_visible_framebuffer },
    )?;
    tracing::info!(display = %config.display, view_only = config.view_only, "display channel");
    let identity = match &config.identity_key {
        Some(path) => GuestIdentity::load_or_create(path)?,
        None => GuestIdentity::ephemeral(),
    };
    tracing::info!(identity = %identity.fingerprint(), "guest identity");
    let argv = match &config.console_command {
        Some(cmd) => cmd.split_whitespace().map(String::from).collect(),
        None => default_console_argv(),
    };
    if argv.is_empty() {
        return Err("console command is empty".into());
    }
    let authorized = AuthorizedClients::new(config.authorized_clients.clone());
    if config.allow_unauthenticated_console {
        tracing::warn!("the console is served WITHOUT client authentication: the login prompt is the only gate");
    } else if authorized.load().map(|s| s.is_empty()).unwrap_or(true) {
        tracing::warn!(path = ?authorized.path(), "no authorized client keys: every console connection will be refused");
    }
    let console = ConsoleConfig {
        argv,
        linger: std::time::Duration::from_secs(config.linger_secs),
        max_sessions: config.max_sessions,
        ..ConsoleConfig::default()
    };
    let parts = ServerParts {
        listen: config.listen.clone(),
        provider: provider(&config)?,
        identity: Arc::new(identity),
        authorized,
        allow_unauthenticated_console: config.allow_unauthenticated_console,
        console,
        max_connections: config.max_connections,
        display,
    };
    let server = Server::bind(parts).await.map_err(|e| e.to_string())?;
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

fn sim_init(dir: &Path, product: Product, mut authorize: Vec<String>) -> Result<(), String> {
    authorize.extend(local_client_fingerprint());
    cvm_consoled::siminit::sim_init(dir, product, &authorize).map_err(|e| e.to_string())?;
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
        Some(Command::SimInit { dir, product, authorize }) => sim_init(&dir, product.into(), authorize),
        Some(Command::Doctor { json, root }) => {
            let findings = cvm_consoled::doctor::audit(&root);
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
            Ok(rt) => rt.block_on(serve(cli)),
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
