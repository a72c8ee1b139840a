//! `server.toml`: the cvm-consoled configuration file. Unknown keys are an error;
//! command-line flags override the file. `builder::ServerBuilder` turns it into
//! a running server, the same way for `cvm-consoled`, the demo and the tests.

use std::path::{Path, PathBuf};

use cvmc_protocol::text::escape;
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
    /// Azure confidential VMs: the paravisor's HCL report through the vTPM
    /// (`tpm_device`, default /dev/tpmrm0).
    AzureVtpm,
}

/// The console command: one line split at white space (`"/bin/login -p"`), or the
/// argument vector itself (`["/bin/sh", "-c", "exec login"]`) when an argument holds
/// spaces.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum CommandLine {
    /// Split at white space.
    Line(String),
    /// Taken as it is.
    Argv(Vec<String>),
}

impl CommandLine {
    /// The program and its arguments.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Self::Line(line) => line.split_whitespace().map(str::to_owned).collect(),
            Self::Argv(argv) => argv.clone(),
        }
    }
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
    /// Screen source: `fbdev:/dev/fbN`, `vnc:ADDR`, `pattern[:WxH]` or `none`.
    #[serde(default = "default_display")]
    pub display: String,
    /// Console command; default `/bin/login` as root, else the user's shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_command: Option<CommandLine>,
    /// `TERM` of the console process.
    #[serde(default = "default_term")]
    pub console_term: String,
    /// Variables of the server's own environment that the console process inherits.
    /// It starts with a clean environment otherwise (TERM, PATH, HOME, USER, LOGNAME,
    /// SHELL, LANG): a secret in the service's environment stays out of the console.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_environment: Vec<String>,
    /// Serve the console without client authentication (recovery: the login
    /// prompt is the gate).
    #[serde(default)]
    pub allow_unauthenticated_console: bool,
    /// File of authorized client key fingerprints (on the guest's own disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_clients: Option<PathBuf>,
    /// Guest identity key (Ed25519 PKCS#8 PEM, created 0600 if missing). Unset:
    /// `$STATE_DIRECTORY/identity.pem` under systemd (the unit's StateDirectory), else
    /// ephemeral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<PathBuf>,
    /// A new identity every start even where a state directory exists (a stateless
    /// image or an initramfs, whose disk the host can read).
    #[serde(default)]
    pub ephemeral_identity: bool,
    /// The boot stage this server serves: `system` (default) or `initramfs` (early
    /// boot; clients show it and do not pin its identity, which must be ephemeral).
    #[serde(default, skip_serializing_if = "is_system")]
    pub stage: cvmc_protocol::GuestStage,
    /// sev-snp provider: directory with vcek.pem and ask.pem to send with reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certs_dir: Option<PathBuf>,
    /// VMPL to request reports at (sev-snp, tsm).
    #[serde(default)]
    pub vmpl: u32,
    /// The vTPM for `evidence = "azure-vtpm"`: a character device (default
    /// /dev/tpmrm0) or a unix socket speaking raw TPM commands (swtpm, for tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm_device: Option<PathBuf>,
    /// Azure TDX CVMs: the quoting service the TD report is sent to (default Azure's
    /// IMDS, http://169.254.169.254/acc/tdquote).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imds_url: Option<String>,
    /// TESTS ONLY: the HCL report in the vTPM is made by the tests' paravisor
    /// stand-in around an SEV-SNP report of the simulated chain, so the evidence is
    /// labelled simulated (NOT CONFIDENTIAL). Never set on a real Azure VM.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated_paravisor: bool,
    /// Seconds a detached console session survives.
    #[serde(default = "default_linger")]
    pub linger_secs: u64,
    /// Most console sessions at once.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Most authenticated connections at once (all channels). Peers without an
    /// authorized key never take these.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most connections still in the TLS handshake (sshd's MaxStartups). When full, a
    /// new connection evicts the oldest one that has sent nothing yet, of the source
    /// holding the most.
    #[serde(default = "default_max_startups")]
    pub max_startups: usize,
    /// Most connections in the TLS handshake from one address.
    #[serde(default = "default_max_startups_per_source")]
    pub max_startups_per_source: usize,
    /// With `allow_unauthenticated_console`: most connections (and so console
    /// sessions, which live no longer than their connection) without an authorized key.
    #[serde(default = "default_max_unauthenticated")]
    pub max_unauthenticated: usize,
    /// The same, from one address.
    #[serde(default = "default_max_unauthenticated_per_source")]
    pub max_unauthenticated_per_source: usize,
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

fn default_term() -> String {
    "xterm-256color".into()
}

fn is_system(stage: &cvmc_protocol::GuestStage) -> bool {
    *stage == cvmc_protocol::GuestStage::System
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

fn default_max_startups() -> usize {
    4096
}

fn default_max_startups_per_source() -> usize {
    2048
}

fn default_max_unauthenticated() -> usize {
    16
}

fn default_max_unauthenticated_per_source() -> usize {
    3
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
            console_term: default_term(),
            pass_environment: Vec::new(),
            allow_unauthenticated_console: false,
            authorized_clients: None,
            identity_key: None,
            ephemeral_identity: false,
            stage: cvmc_protocol::GuestStage::System,
            certs_dir: None,
            vmpl: 0,
            tpm_device: None,
            imds_url: None,
            simulated_paravisor: false,
            linger_secs: default_linger(),
            max_sessions: default_max_sessions(),
            max_connections: default_max_connections(),
            max_startups: default_max_startups(),
            max_startups_per_source: default_max_startups_per_source(),
            max_unauthenticated: default_max_unauthenticated(),
            max_unauthenticated_per_source: default_max_unauthenticated_per_source(),
            view_only: false,
            allow_host_visible_framebuffer: false,
        }
    }

    /// A simulated guest on `listen` whose chain is the `sim-init` directory `sim_dir`.
    pub fn simulated(listen: impl Into<String>, sim_dir: impl Into<PathBuf>) -> Self {
        let mut config = Self::new(listen, EvidenceKind::Simulated);
        config.simulated_dir = Some(sim_dir.into());
        config
    }

    /// Parse a config file's text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text)
            .map_err(|e| ConfigError::Parse(e.to_string().lines().next().unwrap_or_default().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    /// Read and parse a config file; relative paths in it are taken from its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::File { path: path.to_path_buf(), reason: e.to_string() })?;
        let mut config = Self::from_toml(&text)
            .map_err(|e| ConfigError::File { path: path.to_path_buf(), reason: e.to_string() })?;
        config.resolve_paths(path);
        Ok(config)
    }

    /// Values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &'static str, reason: String| Err(ConfigError::Invalid { field, reason });
        if let Some(cmd) = &self.console_command
            && cmd.argv().is_empty()
        {
            return invalid("console_command", "is empty".into());
        }
        for (field, value) in [
            ("max_sessions", self.max_sessions),
            ("max_connections", self.max_connections),
            ("max_startups", self.max_startups),
            ("max_startups_per_source", self.max_startups_per_source),
        ] {
            if value == 0 {
                return invalid(field, "must be at least 1".into());
            }
        }
        if let Some(name) = self.pass_environment.iter().find(|n| !valid_env_name(n)) {
            return invalid("pass_environment", format!("\"{}\" is not a variable name", escape(name)));
        }
        if self.console_term.is_empty() || !self.console_term.bytes().all(|b| b.is_ascii_graphic()) {
            return invalid("console_term", "must be a terminal name of printable ASCII".into());
        }
        if self.stage == cvmc_protocol::GuestStage::Initramfs && !self.ephemeral_identity {
            return invalid(
                "stage",
                "\"initramfs\" needs ephemeral_identity = true: an initramfs lies on a /boot the host can read, so \
                 a stored identity key would be the host's too"
                    .into(),
            );
        }
        Ok(())
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

    /// Resolve a path in the config relative to the config file's directory.
    pub fn resolve(config_path: &Path, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { config_path.parent().unwrap_or(Path::new(".")).join(p) }
    }
}

/// A POSIX-style environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// TOML syntax, an unknown key or a wrong type (the message names the key).
    #[error("{0}")]
    Parse(String),
    /// A value that parses but cannot work.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The file could not be read, or its content is not a configuration.
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// A setting the command line or the file must give.
    #[error("{0}")]
    Missing(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_stage_needs_an_ephemeral_identity() {
        let c = ServerConfig::from_toml(
            "listen = \"a\"\nevidence = \"tsm\"\nstage = \"initramfs\"\nephemeral_identity = true",
        )
        .unwrap();
        assert_eq!(c.stage, cvmc_protocol::GuestStage::Initramfs);
        let e = ServerConfig::from_toml("listen = \"a\"\nevidence = \"tsm\"\nstage = \"initramfs\"").unwrap_err();
        assert!(e.to_string().contains("ephemeral_identity"), "{e}");
        assert!(ServerConfig::from_toml("listen = \"a\"\nevidence = \"tsm\"\nstage = \"grub\"").is_err());
        let c = ServerConfig::from_toml("listen = \"a\"\nevidence = \"tsm\"").unwrap();
        assert_eq!(c.stage, cvmc_protocol::GuestStage::System);
    }

    #[test]
    fn azure_vtpm_names_its_tpm_and_a_simulated_paravisor_is_explicit() {
        let c = ServerConfig::from_toml(
            "listen = \"a\"\nevidence = \"azure-vtpm\"\ntpm_device = \"/run/swtpm.sock\"\nsimulated_paravisor = true",
        )
        .unwrap();
        assert_eq!(c.evidence, EvidenceKind::AzureVtpm);
        assert_eq!(c.tpm_device.as_deref(), Some(Path::new("/run/swtpm.sock")));
        assert!(c.simulated_paravisor);
        let c = ServerConfig::from_toml("listen = \"a\"\nevidence = \"azure-vtpm\"").unwrap();
        assert!(c.tpm_device.is_none() && !c.simulated_paravisor);
        assert!(ServerConfig::from_toml("listen = \"a\"\nevidence = \"azure\"").is_err());
    }

    #[test]
    fn the_console_command_is_a_line_or_a_vector() {
        let c =
            ServerConfig::from_toml("listen = \"a\"\nevidence = \"tsm\"\nconsole_command = \"/bin/login -p\"").unwrap();
        assert_eq!(c.console_command.unwrap().argv(), ["/bin/login", "-p"]);
        let c =
            ServerConfig::from_toml("listen = \"a\"\nevidence = \"tsm\"\nconsole_command = [\"sh\", \"-c\", \"a b\"]")
                .unwrap();
        assert_eq!(c.console_command.unwrap().argv(), ["sh", "-c", "a b"]);
    }

    #[test]
    fn values_that_cannot_work_are_refused_by_name() {
        let base = "listen = \"a\"\nevidence = \"tsm\"\n";
        for (line, field) in [
            ("console_command = \"  \"", "console_command"),
            ("max_startups = 0", "max_startups"),
            ("pass_environment = [\"A=B\"]", "pass_environment"),
            ("pass_environment = [\"\\u001b[2J\"]", "pass_environment"),
            ("console_term = \"xterm\\u001b\"", "console_term"),
        ] {
            let e = ServerConfig::from_toml(&format!("{base}{line}")).unwrap_err();
            assert!(matches!(&e, ConfigError::Invalid { field: f, .. } if *f == field), "{line}: {e}");
            assert!(!e.to_string().contains('\u{1b}'), "{e}");
        }
        assert!(ServerConfig::from_toml(&format!("{base}pass_environment = [\"TZ\", \"LC_ALL\"]")).is_ok());
    }
}
