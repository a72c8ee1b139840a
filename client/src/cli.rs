//! The command line (docs/DESIGN.md "Command line"): parsing and running each command,
//! writing to any `Write` so tests drive the very code the binary runs.

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};

use crate::ClientError;
use crate::error::exit;
use crate::failure::CommandError;
use crate::verify_report::{VerifyReportArgs, verify_report};

/// Exit status: trusted, or the command succeeded.
pub const EXIT_OK: u8 = exit::OK;
/// Exit status: the guest or report is NOT trusted.
pub const EXIT_NOT_TRUSTED: u8 = exit::NOT_TRUSTED;
/// Exit status: unusable input (a missing file, a bad policy, a bad flag).
pub const EXIT_BAD_INPUT: u8 = exit::BAD_INPUT;
/// Exit status: no verdict reached (the guest unreachable, a time-out, a protocol error).
pub const EXIT_NO_VERDICT: u8 = exit::NO_VERDICT;

#[derive(Parser, Debug)]
#[command(name = "cvm-console", version, about = "Verify a confidential VM, then use its console and screen")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Attest a live guest against a trust policy; exit 0 only if trusted.
    Verify {
        /// The guest, HOST:PORT.
        address: String,
        /// The trust policy (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Connect without the client key (for guests that allow unauthenticated consoles).
        #[arg(long)]
        no_client_key: bool,
        /// Do not pin the guest's identity in known_guests when it is seen for the first time.
        #[arg(long)]
        no_pin: bool,
        /// Refuse evidence anchored in any root but the hardware vendor's (a simulated guest).
        #[arg(long)]
        require_hardware: bool,
        /// TDX: where to fetch collateral when the guest sends none (default Intel's PCS;
        /// a PCCS URL works the same).
        #[arg(long)]
        pcs_url: Option<String>,
        /// SEV-SNP: where to fetch the VCEK, the ASK/ASVK chain and the CRL that the
        /// guest does not send (default AMD's KDS, kdsintf.amd.com).
        #[arg(long)]
        kds_url: Option<String>,
        /// Use only cached collateral (TDX) and certificates and CRLs (SEV-SNP); fetch nothing.
        #[arg(long)]
        offline: bool,
    },
    /// Open the verified console of a guest in this terminal (Enter ~ . disconnects).
    Console {
        /// The guest, HOST:PORT.
        address: String,
        /// The trust policy (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// Connect without the client key (for guests that allow unauthenticated consoles).
        #[arg(long)]
        no_client_key: bool,
        /// Refuse evidence anchored in any root but the hardware vendor's (a simulated guest).
        #[arg(long)]
        require_hardware: bool,
        /// TDX: where to fetch collateral when the guest sends none (default Intel's PCS;
        /// a PCCS URL works the same).
        #[arg(long)]
        pcs_url: Option<String>,
        /// SEV-SNP: where to fetch the VCEK, the ASK/ASVK chain and the CRL that the
        /// guest does not send (default AMD's KDS, kdsintf.amd.com).
        #[arg(long)]
        kds_url: Option<String>,
        /// Use only cached collateral (TDX) and certificates and CRLs (SEV-SNP); fetch nothing.
        #[arg(long)]
        offline: bool,
    },
    /// Serve the guest's verified screen as plain RFB on a loopback port, for any VNC viewer.
    Bridge {
        /// The guest, HOST:PORT.
        address: String,
        /// The trust policy (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// Local address, loopback only (e.g. 127.0.0.1:5901).
        #[arg(long)]
        listen: String,
        /// Connect without the client key.
        #[arg(long)]
        no_client_key: bool,
        /// Refuse evidence anchored in any root but the hardware vendor's (a simulated guest).
        #[arg(long)]
        require_hardware: bool,
        /// TDX: where to fetch collateral when the guest sends none (default Intel's PCS;
        /// a PCCS URL works the same).
        #[arg(long)]
        pcs_url: Option<String>,
        /// SEV-SNP: where to fetch the VCEK, the ASK/ASVK chain and the CRL that the
        /// guest does not send (default AMD's KDS, kdsintf.amd.com).
        #[arg(long)]
        kds_url: Option<String>,
        /// Use only cached collateral (TDX) and certificates and CRLs (SEV-SNP); fetch nothing.
        #[arg(long)]
        offline: bool,
    },
    /// Print this client's key fingerprint, for the guest's authorized_clients.
    Id,
    /// Start a local SIMULATED guest (test chain in your config directory) and open the GUI on it.
    Demo {
        /// Verify it and open its console in this terminal instead of the GUI.
        #[arg(long)]
        terminal: bool,
        /// Which TEE the simulated guest imitates.
        #[arg(long, value_enum, default_value_t = TeeArg::Snp)]
        tee: TeeArg,
    },
    /// Compute the SEV-SNP launch MEASUREMENT a guest will report (as sev-snp-measure
    /// does, with its flag names): prints the 96-hex digest alone.
    Measure {
        /// Guest mode; only snp.
        #[arg(long, default_value = "snp", value_parser = ["snp"])]
        mode: String,
        /// The firmware image (OVMF.fd; an OvmfPkg/AmdSev build for --kernel).
        #[arg(long, value_name = "PATH")]
        ovmf: PathBuf,
        /// Measured direct boot: the kernel QEMU loads with -kernel.
        #[arg(long, value_name = "PATH")]
        kernel: Option<PathBuf>,
        /// The initrd (-initrd), with --kernel.
        #[arg(long, value_name = "PATH")]
        initrd: Option<PathBuf>,
        /// The kernel command line (-append), with --kernel.
        #[arg(long, value_name = "CMDLINE")]
        append: Option<String>,
        /// Number of vCPUs.
        #[arg(long, value_name = "N")]
        vcpus: u32,
        #[command(flatten)]
        vcpu: VcpuFlags,
        /// The VMM: QEMU (the only one measured here; ec2 and gce are sev-snp-measure's).
        #[arg(long, value_name = "VMMTYPE", default_value = "QEMU")]
        vmm_type: String,
        /// SEV_FEATURES of the vCPUs, hex (default 0x1: SNPActive).
        #[arg(long, value_name = "VALUE", default_value = "0x1", value_parser = parse_int::<u64>)]
        guest_features: u64,
        /// A precomputed digest of the OVMF pages (96 hex), instead of hashing --ovmf's.
        #[arg(long, value_name = "HASH")]
        snp_ovmf_hash: Option<String>,
        /// How to print the digest.
        #[arg(long, value_enum, default_value_t = OutputFormat::Hex)]
        output_format: OutputFormat,
        /// Also write a trust policy pinning the measurement to FILE (never overwritten).
        #[arg(long, value_name = "FILE")]
        policy_out: Option<PathBuf>,
        /// Print one JSON object: the digest, every input, what it covers.
        #[arg(long)]
        json: bool,
    },
    /// Check a stored SEV-SNP report, Intel TDX quote or Azure HCL report offline
    /// against a trust policy; exit 0 only if trusted.
    VerifyReport {
        /// The report or quote, raw bytes or their hex text (told apart by the header).
        /// An Azure HCL report holding a TD report may carry its quote after it.
        #[arg(long)]
        report: PathBuf,
        /// Azure TDX: the quote Azure's quoting service made of the HCL report's TD
        /// report (IMDS /acc/tdquote), raw or hex, when it is not appended to --report.
        #[arg(long)]
        quote: Option<PathBuf>,
        /// SEV-SNP: the VCEK (or VLEK) certificate, DER or PEM. Without it the VCEK is
        /// fetched from AMD's KDS (or read from the cache); a VLEK must be given.
        #[arg(long)]
        vcek: Option<PathBuf>,
        /// SEV-SNP: AMD's CRL for the product (DER), for the revocation check. Without it
        /// the CRL is fetched along with a VCEK, or when --kds-url is given or the
        /// policy says revocation = "require".
        #[arg(long)]
        crl: Option<PathBuf>,
        /// TDX: the DCAP collateral (TCB info, QE identity, CRLs) as one JSON file; without
        /// it, the collateral is fetched (or read from the cache).
        #[arg(long)]
        collateral: Option<PathBuf>,
        /// TDX: where to fetch collateral when the guest sends none (default Intel's PCS;
        /// a PCCS URL works the same).
        #[arg(long)]
        pcs_url: Option<String>,
        /// SEV-SNP: where to fetch the VCEK, the ASK/ASVK chain and the CRL that the
        /// guest does not send (default AMD's KDS, kdsintf.amd.com).
        #[arg(long)]
        kds_url: Option<String>,
        /// Use only cached collateral (TDX) and certificates and CRLs (SEV-SNP); fetch nothing.
        #[arg(long)]
        offline: bool,
        /// The ASK (or ASVK for a VLEK), DER or PEM; AMD's built-in one when omitted.
        #[arg(long)]
        ask: Option<PathBuf>,
        /// The trust policy (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// Expected REPORT_DATA, 128 hex characters. Without it the report is not
        /// trusted (it may be replayed), unless --no-binding accepts that.
        #[arg(long)]
        report_data: Option<String>,
        /// Accept a report whose REPORT_DATA is not checked (no --report-data).
        #[arg(long, conflicts_with = "report_data")]
        no_binding: bool,
        /// Refuse a report anchored in any root but the hardware vendor's.
        #[arg(long)]
        require_hardware: bool,
        /// Verify as of this unix time instead of now (certificate validity; for TDX also
        /// the collateral's and CRLs' freshness): for stored reports and quotes.
        #[arg(long)]
        at: Option<u64>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// The vCPU model as `sev-snp-measure` names it, or its signature.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = true)]
pub struct VcpuFlags {
    /// vCPU type, as QEMU's -cpu names it: EPYC, EPYC-v1..v4, EPYC-IBPB,
    /// EPYC-Rome[-v1..v3], EPYC-Milan[-v1,-v2], EPYC-Genoa[-v1], EPYC-Turin[-v1,-v2].
    #[arg(long, value_name = "CPUTYPE", conflicts_with_all = ["vcpu_sig", "vcpu_family"])]
    vcpu_type: Option<String>,
    /// vCPU CPUID signature (decimal or 0x hex), instead of --vcpu-type.
    #[arg(long, value_name = "VALUE", value_parser = parse_int::<i32>, conflicts_with = "vcpu_family")]
    vcpu_sig: Option<i32>,
    /// vCPU family (with --vcpu-model and --vcpu-stepping), instead of --vcpu-type.
    #[arg(long, value_name = "FAMILY", value_parser = parse_int::<i32>, requires_all = ["vcpu_model", "vcpu_stepping"])]
    vcpu_family: Option<i32>,
    /// vCPU model.
    #[arg(long, value_name = "MODEL", value_parser = parse_int::<i32>, requires = "vcpu_family")]
    vcpu_model: Option<i32>,
    /// vCPU stepping.
    #[arg(long, value_name = "STEPPING", value_parser = parse_int::<i32>, requires = "vcpu_family")]
    vcpu_stepping: Option<i32>,
}

/// An integer in decimal or with a 0x prefix, as `sev-snp-measure` takes them.
fn parse_int<T: TryFrom<i64>>(s: &str) -> Result<T, String> {
    let t = s.trim();
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => t.parse::<i64>(),
    }
    .map_err(|e| format!("{t}: {e}"))?;
    T::try_from(v).map_err(|_| format!("{t}: out of range"))
}

/// Output format of `measure`'s digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// 96 hex characters.
    Hex,
    /// Base64 of the 48 bytes.
    Base64,
}

/// A TEE to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TeeArg {
    /// AMD SEV-SNP.
    Snp,
    /// Intel TDX.
    Tdx,
}

#[cfg(all(unix, feature = "demo"))]
impl From<TeeArg> for crate::demo::DemoTee {
    fn from(t: TeeArg) -> Self {
        match t {
            TeeArg::Snp => Self::Snp,
            TeeArg::Tdx => Self::Tdx,
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ClientError> {
    tokio::runtime::Runtime::new().map_err(|e| ClientError::Local { what: "async runtime", reason: e.to_string() })
}

/// How a live connection is made: which key, whether to pin, what to require, where
/// TDX collateral comes from.
#[derive(Debug, Clone)]
struct LiveFlags {
    no_client_key: bool,
    pin_new: bool,
    require_hardware: bool,
    pcs_url: Option<String>,
    kds_url: Option<String>,
    offline: bool,
}

/// Policy, client key and known_guests for a live connection.
fn connect_options(policy: &std::path::Path, flags: LiveFlags) -> Result<crate::net::ConnectOptions, ClientError> {
    let mut loaded = crate::policy_file::load_policy(policy)?;
    loaded.policy.require_hardware |= flags.require_hardware;
    let dir = crate::clientkey::config_dir()?;
    let client_key = if flags.no_client_key {
        None
    } else {
        Some(std::sync::Arc::new(crate::clientkey::ClientKey::load_or_create(&dir)?))
    };
    Ok(crate::net::ConnectOptions {
        policy: std::sync::Arc::new(loaded),
        client_key,
        known_guests: Some(crate::known_guests::KnownGuests::new(dir.join("known_guests"))),
        pin_new: flags.pin_new,
        pcs: Some(std::sync::Arc::new(crate::pcs::PcsSource::new(flags.pcs_url.as_deref(), flags.offline))),
        kds: Some(std::sync::Arc::new(crate::kds::KdsSource::new(flags.kds_url.as_deref(), flags.offline))),
    })
}

/// Write output; a closed pipe (`| head`) is not an error worth a panic. Every line
/// goes through [`cvmc_protocol::text::escape_lines`] last: whatever a guest or a
/// file managed to put into a message reaches the terminal as visible escapes.
fn emit(out: &mut dyn Write, text: &str) {
    let text = cvmc_protocol::text::escape_lines(text);
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Run a parsed command line; the result is the exit status. Results go to `out`,
/// warnings a person must see beside them to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, CommandError> {
    match cli.command {
        Some(Command::VerifyReport {
            report,
            quote,
            vcek,
            crl,
            collateral,
            pcs_url,
            kds_url,
            offline,
            ask,
            policy,
            report_data,
            no_binding,
            require_hardware,
            at,
            json,
        }) => {
            let args = VerifyReportArgs {
                report,
                quote,
                vcek,
                crl,
                collateral,
                pcs: crate::pcs::PcsSource::new(pcs_url.as_deref(), offline),
                kds_named: kds_url.is_some(),
                kds: crate::kds::KdsSource::new(kds_url.as_deref(), offline),
                ask,
                policy,
                report_data,
                at: at.unwrap_or_else(now_unix),
                no_binding,
                require_hardware,
            };
            let outcome = verify_report(&args)?;
            if json {
                emit(out, &format!("{}\n", outcome.to_json()));
            } else {
                emit(out, &outcome.to_text());
            }
            Ok(if outcome.trusted() { EXIT_OK } else { EXIT_NOT_TRUSTED })
        }
        Some(Command::Measure {
            mode: _,
            ovmf,
            kernel,
            initrd,
            append,
            vcpus,
            vcpu,
            vmm_type,
            guest_features,
            snp_ovmf_hash,
            output_format,
            policy_out,
            json,
        }) => {
            use crate::measure::{MeasureArgs, Vcpu, measure, sig_of, write_policy};
            let vcpu = match (vcpu.vcpu_type, vcpu.vcpu_sig, vcpu.vcpu_family) {
                (Some(t), _, _) => Vcpu::Type(t),
                (None, Some(sig), _) => Vcpu::Sig(sig),
                (None, None, Some(family)) => {
                    Vcpu::Sig(sig_of(family, vcpu.vcpu_model.unwrap_or(0), vcpu.vcpu_stepping.unwrap_or(0)))
                }
                (None, None, None) => {
                    return Err(ClientError::BadArgument {
                        flag: "--vcpu-type",
                        reason: "give --vcpu-type, --vcpu-sig or --vcpu-family/--vcpu-model/--vcpu-stepping".into(),
                    }
                    .into());
                }
            };
            let args =
                MeasureArgs { ovmf, kernel, initrd, append, vcpus, vcpu, vmm_type, guest_features, snp_ovmf_hash };
            let m = measure(&args)?;
            if let Some(path) = &policy_out {
                write_policy(path, &m)?;
            }
            if json {
                let j =
                    serde_json::to_value(&m).map_err(|e| ClientError::Local { what: "JSON", reason: e.to_string() })?;
                emit(out, &format!("{j}\n"));
            } else {
                let shown = match output_format {
                    OutputFormat::Hex => m.measurement.clone(),
                    OutputFormat::Base64 => {
                        use base64ct::Encoding as _;
                        base64ct::Base64::encode_string(&hex::decode(&m.measurement).unwrap_or_default())
                    }
                };
                emit(out, &format!("{shown}\n"));
                // The digest alone on stdout, for scripts; what it does not prove on stderr.
                for w in &m.warnings {
                    emit(err, &format!("cvm-console: warning: {w}\n"));
                }
            }
            Ok(EXIT_OK)
        }
        Some(Command::Verify {
            address,
            policy,
            json,
            no_client_key,
            no_pin,
            require_hardware,
            pcs_url,
            kds_url,
            offline,
        }) => {
            let flags = LiveFlags { no_client_key, pin_new: !no_pin, require_hardware, pcs_url, kds_url, offline };
            let opts = connect_options(&policy, flags)?;
            let outcome = runtime()?.block_on(crate::live::verify_live(&address, &opts))?;
            if json {
                emit(out, &format!("{}\n", outcome.to_json()));
            } else {
                emit(out, &outcome.to_text());
            }
            Ok(if outcome.trusted() { EXIT_OK } else { EXIT_NOT_TRUSTED })
        }
        Some(Command::Console { address, policy, no_client_key, require_hardware, pcs_url, kds_url, offline }) => {
            let flags = LiveFlags { no_client_key, pin_new: true, require_hardware, pcs_url, kds_url, offline };
            let opts = connect_options(&policy, flags)?;
            // One thread for the whole session: with stdin on the reactor (see
            // `stdio`), a keystroke and its echo cross no thread boundary.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ClientError::Local { what: "async runtime", reason: e.to_string() })?;
            match rt.block_on(crate::term::run_terminal(&address, &opts)) {
                Ok(status) => Ok(u8::try_from(status.clamp(0, 255)).unwrap_or(EXIT_NOT_TRUSTED)),
                Err(crate::console_client::ConsoleEnd::Connect(crate::net::ConnectError::Refused {
                    error, ..
                })) => {
                    emit(out, &format!("NOT TRUSTED: {error} ({})\n", error.name()));
                    Ok(EXIT_NOT_TRUSTED)
                }
                Err(end) => Err(CommandError::from(end)),
            }
        }
        Some(Command::Bridge {
            address,
            policy,
            listen,
            no_client_key,
            require_hardware,
            pcs_url,
            kds_url,
            offline,
        }) => {
            let flags = LiveFlags { no_client_key, pin_new: true, require_hardware, pcs_url, kds_url, offline };
            let opts = connect_options(&policy, flags)?;
            let rt = runtime()?;
            rt.block_on(async {
                let listener = crate::bridge::bind(&listen)
                    .await
                    .map_err(|e| ClientError::BadArgument { flag: "--listen", reason: e.to_string() })?;
                // Fail fast, with the check list, if the guest is not trusted.
                let outcome = crate::live::verify_live(&address, &opts).await?;
                emit(out, &outcome.to_text());
                if !outcome.trusted() {
                    return Ok(EXIT_NOT_TRUSTED);
                }
                let local = listener.local_addr().map(|a| a.to_string()).unwrap_or(listen.clone());
                emit(
                    out,
                    &format!("bridge: verified RFB of {address} on {local} (each viewer connection is attested)\n"),
                );
                crate::bridge::run(listener, address, opts).await;
                Ok(EXIT_OK)
            })
        }
        Some(Command::Id) => {
            let key = crate::clientkey::ClientKey::load_or_create(&crate::clientkey::config_dir()?)?;
            emit(out, &format!("{}  ({})\n", key.fingerprint(), key.path().display()));
            Ok(EXIT_OK)
        }
        #[cfg(not(all(unix, feature = "demo")))]
        Some(Command::Demo { .. }) => Err(ClientError::Local {
            what: "demo",
            reason: "this build has no demo: it runs a guest server in process, which needs Unix PTYs and the \
                     `demo` feature"
                .into(),
        }
        .into()),
        #[cfg(all(unix, feature = "demo"))]
        Some(Command::Demo { terminal: true, tee }) => runtime()?.block_on(crate::demo::run_demo(tee.into(), out)),
        #[cfg(all(unix, feature = "demo", feature = "gui"))]
        Some(Command::Demo { terminal: false, tee }) => Ok(crate::demo::run_demo_gui(&runtime()?, tee.into(), out)?),
        #[cfg(all(unix, feature = "demo", not(feature = "gui")))]
        Some(Command::Demo { terminal: false, .. }) => Err(no_gui().into()),
        #[cfg(feature = "gui")]
        None => {
            let guests = crate::saved_guests::SavedGuests::load(&crate::clientkey::config_dir()?)?;
            crate::gui::run(crate::gui::Start::Guests(guests))?;
            Ok(EXIT_OK)
        }
        #[cfg(not(feature = "gui"))]
        None => Err(no_gui().into()),
    }
}

#[cfg(not(feature = "gui"))]
fn no_gui() -> ClientError {
    ClientError::Local {
        what: "gui",
        reason: "this build has no window (built without the `gui` feature): use verify, console or bridge".into(),
    }
}

/// Parse `args` and run: what `main` does, with the output and error streams given.
/// Returns the exit status.
pub fn main_with_args<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { EXIT_OK };
            let text = e.render().to_string();
            emit(if e.use_stderr() { err } else { out }, &text);
            return code;
        }
    };
    match run(cli, out, err) {
        Ok(code) => code,
        Err(e) => {
            emit(err, &format!("cvm-console: error: {e}\n"));
            e.exit_code()
        }
    }
}
