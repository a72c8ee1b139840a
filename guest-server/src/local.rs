//! A guest server running inside another program: what `cvm-console demo` embeds
//! (SIMULATED evidence) and what tests start. It is assembled by the same
//! [`ServerBuilder`] as `cvm-consoled`, from a [`crate::config::ServerConfig`]; only
//! where it runs differs (a task of the caller's runtime, stopped on drop).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::builder::{BuildError, ServerBuilder};
use crate::console::SessionManager;
use crate::server::ChannelCounts;

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
    /// Build the server and run it on the current tokio runtime.
    pub async fn start(builder: ServerBuilder) -> Result<Self, BuildError> {
        let server = builder.bind().await?;
        let addr = server.local_addr().map_err(|source| {
            BuildError::Server(crate::server::ServerError::Bind { addr: "the bound listener".into(), source })
        })?;
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
