//! A guest server running inside another program on loopback: what
//! `cvm-console demo` embeds (SIMULATED evidence) and what tests start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::authorized::AuthorizedClients;
use crate::console::{ConsoleConfig, SessionManager};
use crate::display::source::DisplaySpec;
use crate::display_channel::{DisplayOptions, DisplayService};
use crate::evidence::simulated::SimulatedProvider;
use crate::identity::GuestIdentity;
use crate::server::{ChannelCounts, Server, ServerParts};

/// How to start an embedded simulated guest.
#[derive(Debug, Clone)]
pub struct LocalGuestOptions {
    /// Address to bind, e.g. `127.0.0.1:0`.
    pub listen: String,
    /// A `sim-init` directory.
    pub sim_dir: PathBuf,
    /// The console command.
    pub argv: Vec<String>,
    /// TERM for the console.
    pub term: String,
    /// authorized_clients file.
    pub authorized_clients: Option<PathBuf>,
    /// Serve the console without client keys.
    pub allow_unauthenticated_console: bool,
    /// Detached sessions survive this long.
    pub linger: Duration,
    /// Identity (None: ephemeral).
    pub identity: Option<Arc<GuestIdentity>>,
    /// What the display channel serves.
    pub display: DisplaySpec,
    /// Never inject input.
    pub view_only: bool,
}

/// A running embedded guest; stopped when dropped or by [`LocalGuest::stop`].
#[derive(Debug)]
pub struct LocalGuest {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its console sessions.
    pub sessions: SessionManager,
    /// Channels started and display bytes sent.
    pub channels: Arc<ChannelCounts>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LocalGuest {
    /// Start it on the current tokio runtime, with the simulated provider of `sim_dir`.
    pub async fn start(opts: LocalGuestOptions) -> Result<Self, String> {
        let provider = SimulatedProvider::load(&opts.sim_dir).map_err(|e| e.to_string())?;
        Self::start_with_provider(opts, Arc::new(provider)).await
    }

    /// Start it with any evidence provider (tests use ones that misbehave on purpose).
    pub async fn start_with_provider(
        opts: LocalGuestOptions,
        provider: Arc<dyn crate::evidence::EvidenceProvider>,
    ) -> Result<Self, String> {
        let parts = ServerParts {
            listen: opts.listen,
            provider,
            identity: opts.identity.unwrap_or_else(|| Arc::new(GuestIdentity::ephemeral())),
            authorized: AuthorizedClients::new(opts.authorized_clients),
            allow_unauthenticated_console: opts.allow_unauthenticated_console,
            console: ConsoleConfig {
                argv: opts.argv,
                term: opts.term,
                linger: opts.linger,
                ..ConsoleConfig::default()
            },
            max_connections: 512,
            display: DisplayService::from_spec(
                &opts.display,
                DisplayOptions { view_only: opts.view_only, force_host_visible: false },
            )?,
        };
        let server = Server::bind(parts).await.map_err(|e| e.to_string())?;
        let addr = server.local_addr().map_err(|e| e.to_string())?;
        let sessions = server.sessions();
        let channels = server.channel_counts();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Ok(Self { addr, sessions, channels, stop: Some(stop), task: Some(task) })
    }

    /// Stop accepting and hang up every session.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for LocalGuest {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
