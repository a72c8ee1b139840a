//! `server.toml`: the cvm-consoled configuration file. Unknown keys are an error;
//! command-line flags override the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default port for every channel.
pub const DEFAULT_PORT: u16 = 7443;

/// Which evidence provider serves attestation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// /dev/sev-guest through the sev crate (extended report with certificates).
    SevSnp,
    /// Linux configfs-tsm (/sys/kernel/config/tsm/report).
    Tsm,
    /// A locally made TEST chain: development only, NOT CONFIDENTIAL.
    Simulated,
}

/// The server configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Evidence provider.
    pub evidence: EvidenceKind,
    /// Directory of the simulated chain (`sim-init` output), relative to this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated_dir: Option<PathBuf>,
    /// Frame source: `fbdev:/dev/fbN`, `vnc:ADDR`, `pattern[:WxH]` or `none`.
    #[serde(default = "default_display")]
    pub display: String,
    /// Console command; default `/bin/login` as root, else the user's shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_command: Option<String>,
    /// Serve the console without client authentication (recovery: the login
    /// prompt is the gate).
    #[serde(default)]
    pub allow_unauthenticated_console: bool,
    /// File of authorized client key fingerprints (on the guest's own disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_clients: Option<PathBuf>,
    /// Guest identity key (Ed25519 PKCS#8 PEM, created 0600 if missing);
    /// ephemeral when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<PathBuf>,
    /// sev-snp provider: directory with vcek.pem and ask.pem to send with reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certs_dir: Option<PathBuf>,
    /// VMPL to request reports at (sev-snp, tsm).
    #[serde(default)]
    pub vmpl: u32,
    /// Seconds a detached console session survives.
    #[serde(default = "default_linger")]
    pub linger_secs: u64,
    /// Most console sessions at once.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Most connections at once (all channels).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Serve the screen without ever injecting keys or pointer events.
    #[serde(default)]
    pub view_only: bool,
    /// Serve a framebuffer the host can read (emulated VGA, virtio-gpu, EFI). It
    /// protects nothing; for debugging only.
    #[serde(default)]
    pub allow_host_visible_framebuffer: bool,
}

fn default_display() -> String {
    "none".into()
}

fn default_linger() -> u64 {
    300
}

fn default_max_sessions() -> usize {
    128
}

fn default_max_connections() -> usize {
    512
}

impl ServerConfig {
    /// A config with every default and the given listen address and provider.
    pub fn new(listen: impl Into<String>, evidence: EvidenceKind) -> Self {
        Self {
            listen: listen.into(),
            evidence,
            simulated_dir: None,
            display: default_display(),
            console_command: None,
            allow_unauthenticated_console: false,
            authorized_clients: None,
            identity_key: None,
            certs_dir: None,
            vmpl: 0,
            linger_secs: default_linger(),
            max_sessions: default_max_sessions(),
            max_connections: default_max_connections(),
            view_only: false,
            allow_host_visible_framebuffer: false,
        }
    }

    /// Make relative paths absolute against the config file's directory.
    pub fn resolve_paths(&mut self, config_path: &Path) {
        for p in [&mut self.simulated_dir, &mut self.authorized_clients, &mut self.identity_key, &mut self.certs_dir]
            .into_iter()
            .flatten()
        {
            *p = Self::resolve(config_path, p);
        }
    }
}

impl ServerConfig {
    /// Parse a config file's text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().lines().next().unwrap_or_default().to_owned())
    }

    /// Resolve a path in the config relative to the config file's directory.
    pub fn resolve(config_path: &Path, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { config_path.parent().unwrap_or(Path::new(".")).join(p) }
    }
}
