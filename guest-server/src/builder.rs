//! From a [`ServerConfig`] to a bound [`Server`]: the one assembly that `cvm-consoled`,
//! the embedded demo guest and the tests all run, so a test exercises the server a
//! user gets.
//!
//! ```text
//! ServerConfig ─► evidence provider  (or a test's own, with_provider)
//!              ─► guest identity      (file, created 0600; ephemeral; or with_identity)
//!              ─► display service     (--display spec ─► frame source / VNC proxy)
//!              ─► console sessions    (argv, TERM, clean environment, linger, limits)
//!              ─► admission limits    (handshakes, authenticated, unauthenticated)
//!              ─► Server::bind        (listener, TLS with a fresh in-memory key)
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::authorized::AuthorizedClients;
use crate::config::{ConfigError, EvidenceKind, ServerConfig};
use crate::console::ConsoleConfig;
use crate::display::SourceError;
use crate::display::service::{DisplayOptions, DisplayService};
use crate::display::source::{DisplaySpec, DisplaySpecError};
use crate::evidence::{EvidenceError, EvidenceProvider};
use crate::identity::{GuestIdentity, IdentityError};
use crate::server::{Limits, Server, ServerError, ServerParts};

/// Why a server could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration cannot work.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The evidence provider cannot serve.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The identity key cannot be read or created.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// `display` names no source we serve.
    #[error(transparent)]
    DisplaySpec(#[from] DisplaySpecError),
    /// The display's frame source cannot be opened.
    #[error("display: {0}")]
    Display(#[from] SourceError),
    /// Binding the listener or setting up TLS failed.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// Assembles a server from its configuration.
#[derive(Debug)]
pub struct ServerBuilder {
    config: ServerConfig,
    provider: Option<Arc<dyn EvidenceProvider>>,
    identity: Option<Arc<GuestIdentity>>,
}

impl ServerBuilder {
    /// A builder for this configuration.
    pub fn new(config: ServerConfig) -> Self {
        Self { config, provider: None, identity: None }
    }

    /// Use this evidence provider instead of the configured one (tests use providers
    /// that misbehave on purpose).
    #[must_use]
    pub fn with_provider(mut self, provider: Arc<dyn EvidenceProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Use this identity instead of the configured one (tests restart a guest with the
    /// identity it had, without a file).
    #[must_use]
    pub fn with_identity(mut self, identity: Arc<GuestIdentity>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The configuration it builds from.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Assemble every part and bind the listener.
    pub async fn bind(self) -> Result<Server, BuildError> {
        let config = self.config;
        config.validate()?;
        let spec: DisplaySpec = config.display.parse()?;
        let display = DisplayService::from_spec(
            &spec,
            DisplayOptions { view_only: config.view_only, force_host_visible: config.allow_host_visible_framebuffer },
        )?;
        tracing::info!(display = %config.display, view_only = config.view_only, "display channel");
        let identity = match self.identity {
            Some(identity) => identity,
            None => Arc::new(identity(&config)?),
        };
        tracing::info!(identity = %identity.fingerprint(), persistent = identity.is_persistent(), "guest identity");
        let provider = match self.provider {
            Some(provider) => provider,
            None => provider(&config)?,
        };
        let authorized = AuthorizedClients::new(config.authorized_clients.clone());
        if config.allow_unauthenticated_console {
            tracing::warn!("the console is served WITHOUT client authentication: the login prompt is the only gate");
        } else if authorized.load().map(|s| s.is_empty()).unwrap_or(true) {
            tracing::warn!(path = ?authorized.path(), "no authorized client keys: every console connection will be refused");
        }
        let argv = match &config.console_command {
            Some(cmd) => cmd.argv(),
            None => default_console_argv(),
        };
        let console = ConsoleConfig {
            argv,
            term: config.console_term.clone(),
            pass_environment: config.pass_environment.clone(),
            linger: Duration::from_secs(config.linger_secs),
            max_sessions: config.max_sessions,
            ..ConsoleConfig::default()
        };
        let limits = Limits {
            max_connections: config.max_connections,
            max_startups: config.max_startups,
            max_startups_per_source: config.max_startups_per_source,
            max_unauthenticated: config.max_unauthenticated,
            max_unauthenticated_per_source: config.max_unauthenticated_per_source,
        };
        let parts = ServerParts {
            listen: config.listen.clone(),
            provider,
            identity,
            authorized,
            allow_unauthenticated_console: config.allow_unauthenticated_console,
            console,
            limits,
            display,
            stage: config.stage,
        };
        Ok(Server::bind(parts).await?)
    }
}

fn identity(config: &ServerConfig) -> Result<GuestIdentity, IdentityError> {
    match &config.identity_key {
        Some(path) if !config.ephemeral_identity => GuestIdentity::load_or_create(path),
        _ => {
            tracing::warn!(
                "ephemeral guest identity: clients that pinned this guest will see \"identity changed\" after a \
                 restart (set identity_key, or run under systemd with a StateDirectory)"
            );
            Ok(GuestIdentity::ephemeral())
        }
    }
}

fn provider(config: &ServerConfig) -> Result<Arc<dyn EvidenceProvider>, BuildError> {
    use crate::evidence::{sevguest::SevGuestProvider, simulated::SimulatedProvider, tsm::TsmProvider};
    Ok(match config.evidence {
        EvidenceKind::Simulated => {
            let dir = config
                .simulated_dir
                .as_deref()
                .ok_or(ConfigError::Missing("--evidence simulated needs --simulated-dir (or simulated_dir)"))?;
            tracing::warn!("SIMULATED evidence: NOT CONFIDENTIAL (test chain in {})", dir.display());
            Arc::new(SimulatedProvider::load(dir)?)
        }
        EvidenceKind::SevSnp => Arc::new(SevGuestProvider::new(config.vmpl, config.certs_dir.clone())?),
        EvidenceKind::Tsm => Arc::new(TsmProvider::system(Some(config.vmpl))?),
        EvidenceKind::AzureVtpm => {
            let device = config.tpm_device.clone().unwrap_or_else(|| crate::evidence::azure::TPM_DEVICE.into());
            if config.simulated_paravisor {
                tracing::warn!(
                    "SIMULATED paravisor: the HCL report in {} is a TEST stand-in's, NOT CONFIDENTIAL",
                    device.display()
                );
            }
            let provider = crate::evidence::azure::AzureVtpmProvider::new(
                &device,
                config.certs_dir.clone(),
                config.simulated_paravisor,
            )?;
            Arc::new(match &config.imds_url {
                Some(url) => provider.with_imds_url(url.clone()),
                None => provider,
            })
        }
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
