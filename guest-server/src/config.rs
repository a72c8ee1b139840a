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
    /// Frame source: `fbdev:/dev/fbN`, `vnc:ADDR`, `pattern` or `none`.
    #[serde(default = "default_display")]
    pub display: String,
    /// Console command; default `/bin/login` as root, else the user's shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_command: Option<String>,
    /// Serve the console without client authentication (recovery: the login
    /// prompt is the gate).
    #[serde(default)]
    pub allow_unauthenticated_console: bool,
}

fn default_display() -> String {
    "none".into()
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
