//! The command line of `cvm-consoled` (docs/DESIGN.md "Command line"), in the library
//! so that the man page and shell completions are generated from these very
//! definitions (`cvmc-dist`). The doc comments here are the `--help` text, written for
//! a terminal rather than for rustdoc (`pattern[:WxH]` is no link).
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::EvidenceKind;
use cvmc_protocol::snp::product::Product;

/// `cvm-consoled [FLAGS] [COMMAND]`.
#[derive(Parser, Debug)]
#[command(name = "cvm-consoled", version, about = "cvm-console in-guest server: attested console and screen")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration file (TOML); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:7443 without a config file).
    #[arg(long)]
    pub listen: Option<String>,
    /// Evidence provider.
    #[arg(long, value_enum)]
    pub evidence: Option<EvidenceKind>,
    /// Directory of a `sim-init` chain, for `--evidence simulated`.
    #[arg(long)]
    pub simulated_dir: Option<PathBuf>,
    /// The vTPM for `--evidence azure-vtpm` (default /dev/tpmrm0).
    #[arg(long)]
    pub tpm_device: Option<PathBuf>,
    /// Azure TDX: the quoting service for TD reports (default Azure's IMDS,
    /// http://169.254.169.254/acc/tdquote).
    #[arg(long)]
    pub imds_url: Option<String>,
    /// Screen source: fbdev:/dev/fbN, vnc:ADDR, pattern[:WxH] (a test screen, 1024x768 by default) or none.
    #[arg(long)]
    pub display: Option<String>,
    /// Console command and arguments (default: /bin/login as root, else your shell).
    #[arg(long)]
    pub console_command: Option<String>,
    /// Serve the console without client authentication (recovery: the login prompt is the gate).
    #[arg(long)]
    pub allow_unauthenticated_console: bool,
    /// File of authorized client key fingerprints.
    #[arg(long)]
    pub authorized_clients: Option<PathBuf>,
    /// Guest identity key file (created 0600 if missing). Default: identity.pem in the
    /// unit's state directory ($STATE_DIRECTORY) under systemd, else ephemeral.
    #[arg(long)]
    pub identity_key: Option<PathBuf>,
    /// A new guest identity every start, whatever is configured (an initramfs or a
    /// stateless image, whose disk the host can read).
    #[arg(long)]
    pub ephemeral_identity: bool,
    /// Serve the screen without injecting keys or pointer events.
    #[arg(long)]
    pub view_only: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
        /// Product whose names and TCB layout the test chain imitates (SEV-SNP).
        #[arg(long, value_enum, default_value_t = ProductArg::Milan)]
        product: ProductArg,
        /// Which TEE the test chain imitates: AMD SEV-SNP or Intel TDX.
        #[arg(long, value_enum, default_value_t = TeeArg::Snp)]
        tee: TeeArg,
        /// Client key fingerprint (SHA256:…) to authorize; the local client key is authorized too.
        #[arg(long)]
        authorize: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TeeArg {
    /// AMD SEV-SNP.
    Snp,
    /// Intel TDX.
    Tdx,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProductArg {
    /// EPYC 7003.
    Milan,
    /// EPYC 9004.
    Genoa,
    /// EPYC 9005.
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
