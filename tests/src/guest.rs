//! A real guest server on loopback for end-to-end tests: the simulated provider,
//! a PTY console running `bash --norc`, real TLS; and a client with its own key,
//! policy and known_guests in a temporary directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cvm_console::clientkey::ClientKey;
use cvm_console::known_guests::KnownGuests;
use cvm_console::net::ConnectOptions;
use cvm_console::policy_file::{LoadedPolicy, load_policy};
use cvm_consoled::builder::ServerBuilder;
use cvm_consoled::config::{CommandLine, ServerConfig};
use cvm_consoled::console::SessionManager;
use cvm_consoled::display::source::DisplaySpec;
use cvm_consoled::identity::GuestIdentity;
use cvm_consoled::local::LocalGuest;
use cvm_consoled::server::ChannelCounts;
use cvmc_protocol::snp::product::Product;

/// One sim-init directory per test binary (RSA-4096 key generation takes seconds).
pub fn sim_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        cvm_consoled::siminit::sim_init(dir.path(), cvm_consoled::siminit::SimTee::Snp(Product::Milan), &[]).unwrap();
        dir
    })
    .path()
}

/// One TDX sim-init directory per test binary.
pub fn sim_dir_tdx() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        cvm_consoled::siminit::sim_init(dir.path(), cvm_consoled::siminit::SimTee::Tdx, &[]).unwrap();
        dir
    })
    .path()
}

/// How to start a test guest.
#[derive(Debug, Clone)]
pub struct GuestOptions {
    /// Console command.
    pub argv: Vec<String>,
    /// Serve the console without client keys.
    pub allow_unauthenticated_console: bool,
    /// Detached sessions survive this long.
    pub linger: Duration,
    /// Identity (None: a fresh ephemeral one).
    pub identity: Option<Arc<GuestIdentity>>,
    /// The display channel.
    pub display: DisplaySpec,
    /// Simulate Intel TDX ([`sim_dir_tdx`]) instead of SEV-SNP ([`sim_dir`]).
    pub tdx: bool,
    /// The boot stage the guest says it is.
    pub stage: cvmc_protocol::GuestStage,
}

impl Default for GuestOptions {
    fn default() -> Self {
        Self {
            argv: vec!["bash".into(), "--norc".into(), "--noprofile".into()],
            allow_unauthenticated_console: false,
            linger: Duration::from_secs(30),
            identity: None,
            display: DisplaySpec::None,
            tdx: false,
            stage: cvmc_protocol::GuestStage::System,
        }
    }
}

/// A running guest server.
#[derive(Debug)]
pub struct TestGuest {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its console sessions.
    pub sessions: SessionManager,
    /// Channels it started after a Proceed, and the bytes its display channels sent.
    pub channels: Arc<ChannelCounts>,
    /// authorized_clients file.
    pub authorized_path: PathBuf,
    guest: LocalGuest,
    _dir: tempfile::TempDir,
}

impl TestGuest {
    /// Start a guest on a free loopback port that authorizes `authorize` (key fingerprints).
    pub async fn start(opts: GuestOptions, authorize: &[String]) -> Self {
        Self::start_on("127.0.0.1:0".into(), opts, authorize).await
    }

    /// Start a guest on a given address (e.g. where a previous one listened).
    pub async fn start_at(addr: SocketAddr, opts: GuestOptions, authorize: &[String]) -> Self {
        Self::start_on(addr.to_string(), opts, authorize).await
    }

    /// Start a guest whose evidence comes from `provider`.
    pub async fn start_with_provider(
        opts: GuestOptions,
        authorize: &[String],
        provider: Arc<dyn cvm_consoled::evidence::EvidenceProvider>,
    ) -> Self {
        Self::start_inner("127.0.0.1:0".into(), opts, authorize, Some(provider)).await
    }

    async fn start_on(listen: String, opts: GuestOptions, authorize: &[String]) -> Self {
        Self::start_inner(listen, opts, authorize, None).await
    }

    async fn start_inner(
        listen: String,
        opts: GuestOptions,
        authorize: &[String],
        provider: Option<Arc<dyn cvm_consoled::evidence::EvidenceProvider>>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let authorized_path = dir.path().join("authorized_clients");
        std::fs::write(&authorized_path, authorize.iter().map(|f| format!("{f}\n")).collect::<String>()).unwrap();
        // A guest with its own provider does not wait for the sim-init chain to be made.
        let mut config = match provider {
            Some(_) => ServerConfig::new(listen, cvm_consoled::config::EvidenceKind::Simulated),
            None => ServerConfig::simulated(listen, if opts.tdx { sim_dir_tdx() } else { sim_dir() }),
        };
        config.console_command = Some(CommandLine::Argv(opts.argv));
        // TERM=dumb: readline then sends no bracketed-paste escapes around the output.
        config.console_term = "dumb".into();
        config.authorized_clients = Some(authorized_path.clone());
        config.allow_unauthenticated_console = opts.allow_unauthenticated_console;
        config.linger_secs = opts.linger.as_secs();
        config.display = opts.display.to_string();
        config.stage = opts.stage;
        config.ephemeral_identity |= opts.stage == cvmc_protocol::GuestStage::Initramfs;
        let mut builder = ServerBuilder::new(config);
        if let Some(identity) = opts.identity {
            builder = builder.with_identity(identity);
        }
        if let Some(provider) = provider {
            builder = builder.with_provider(provider);
        }
        let guest = LocalGuest::start(builder).await.unwrap();
        Self {
            addr: guest.addr,
            sessions: guest.sessions.clone(),
            channels: Arc::clone(&guest.channels),
            authorized_path,
            guest,
            _dir: dir,
        }
    }

    /// Stop accepting and hang up sessions.
    pub async fn stop(self) {
        self.guest.stop().await;
    }
}

/// A client: its own key, the sim policy, and its own known_guests.
#[derive(Debug)]
pub struct TestClient {
    /// Connection options.
    pub opts: ConnectOptions,
    /// The client key's fingerprint.
    pub fingerprint: String,
    /// known_guests path.
    pub known_guests: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestClient {
    /// A new client with a fresh key and the policy of [`sim_dir`].
    pub fn new() -> Self {
        Self::with_policy(Arc::new(load_policy(&sim_dir().join("policy.toml")).unwrap()))
    }

    /// A new client with a fresh key and the policy of [`sim_dir_tdx`].
    pub fn tdx() -> Self {
        Self::with_policy(Arc::new(load_policy(&sim_dir_tdx().join("policy.toml")).unwrap()))
    }

    /// A new client with a fresh key and this policy.
    pub fn with_policy(policy: Arc<LoadedPolicy>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(ClientKey::load_or_create(dir.path()).unwrap());
        let known_guests = dir.path().join("known_guests");
        let opts = ConnectOptions {
            policy,
            client_key: Some(Arc::clone(&key)),
            known_guests: Some(KnownGuests::new(known_guests.clone())),
            pin_new: true,
            pcs: None,
            kds: None,
        };
        Self { opts, fingerprint: key.fingerprint(), known_guests, _dir: dir }
    }
}

impl Default for TestClient {
    fn default() -> Self {
        Self::new()
    }
}
