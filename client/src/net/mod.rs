//! Connecting to a guest: TCP, TLS, then the attestation handshake; nothing of a
//! channel is read or written before the client's own verdict.
//!
//! ```text
//! connect(address, channel) ─► TLS 1.3 ─► Hello{nonce} ─► Evidence ─► verify_evidence
//!     ─► known_guests pin ─► Proceed ─► Attested { stream, guest }
//!                     (any failure) ─► Abort{reason}, close, ConnectError naming the check
//! ```
//! [`connect_with`] also reports each [`Stage`] as it starts, so a person watching (the
//! GUI's check list) sees what is being waited for; [`connect`] reports nothing.

pub mod tls;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use cvmc_io::frames::{FrameError, read_frame};
use cvmc_protocol::binding::{EKM_LEN, EXPORTER_LABEL};
use cvmc_protocol::frame::MAX_FRAME_PAYLOAD;
use cvmc_protocol::handshake::{HandshakeMsg, Hello, NONCE_LEN, PROTOCOL_VERSION, kind};
use cvmc_protocol::{AttestedGuest, Check, SessionBinding, VerifyError, verify_evidence};

use crate::clientkey::ClientKey;
use crate::known_guests::{KnownGuests, Pin, alias_note, changed_identity_warning};
use crate::policy_file::LoadedPolicy;

/// Time for TCP connect, the TLS handshake, and the evidence to arrive, each.
pub const PHASE_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a connection is, reported as each step starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Opening TCP to the address.
    Tcp,
    /// TCP is up; the TLS 1.3 handshake (and client authorization) is running.
    Tls,
    /// Hello sent; the guest is asking its secure processor for a fresh report.
    Evidence,
    /// Evidence received (this many bytes); the verifier runs.
    Checking {
        /// Size of the Evidence message.
        bytes: usize,
    },
    /// The guest's TDX quote came without collateral: fetching it from Intel's PCS (or
    /// the PCCS named), or reading the cache.
    Collateral,
    /// The guest's SEV-SNP report came without its VCEK (or the policy requires a CRL):
    /// fetching from AMD's KDS (or the mirror named), or reading the cache.
    Certificates,
    /// Every verifier check passed: (check, what it established), in order.
    Checked(Vec<(Check, String)>),
    /// The verified identity is not the one pinned in known_guests: refused.
    IdentityChanged(IdentityChange),
    /// Verdict reached and pinned; telling the guest to proceed.
    Proceeding,
}

impl Stage {
    /// How long this step may take before the connection gives up (None: not a wait).
    pub fn limit(&self) -> Option<Duration> {
        matches!(self, Self::Tcp | Self::Tls | Self::Evidence).then_some(PHASE_TIMEOUT)
    }
}

/// A changed guest identity, with what a person needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityChange {
    /// The guest's address, as pinned.
    pub address: String,
    /// The identity the guest presented now (verified by its report).
    pub seen: String,
    /// The identity pinned for the address.
    pub pinned: String,
    /// The known_guests file.
    pub file: std::path::PathBuf,
    /// The pin's line in it.
    pub line: usize,
}

/// Receives [`Stage`]s while a connection runs.
pub type Progress<'a> = &'a (dyn Fn(Stage) + Send + Sync);

/// What a connection needs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The trust policy and its anchors.
    pub policy: Arc<LoadedPolicy>,
    /// The client key for mutual TLS (None: connect unauthenticated).
    pub client_key: Option<Arc<ClientKey>>,
    /// Where identities are pinned (None: no pinning).
    pub known_guests: Option<KnownGuests>,
    /// Pin an identity seen for the first time (false with `--no-pin`: check only).
    pub pin_new: bool,
    /// Where TDX collateral comes from when a guest sends none (None: only the guest's).
    pub pcs: Option<Arc<crate::pcs::PcsSource>>,
    /// Where SEV-SNP certificates come from when a guest sends none (None: only the
    /// guest's). Never asked for a simulated guest's: AMD does not know its chain.
    pub kds: Option<Arc<crate::kds::KdsSource>>,
}

/// An attested connection, ready for its channel.
#[derive(Debug)]
pub struct Attested {
    /// The TLS stream; the channel's bytes start now.
    pub stream: TlsStream<TcpStream>,
    /// What was verified.
    pub guest: AttestedGuest,
    /// The report bytes as received (for display and --json).
    pub report: Vec<u8>,
    /// What known_guests said of the guest's identity (None: no pinning).
    pub pin: Option<PinNote>,
}

/// What pinning did with the guest's identity, for the check list and `--json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PinNote {
    /// `"known"` (matches the pin), `"pinned"` (first seen, pinned now), `"new"`
    /// (first seen, not pinned: `--no-pin`) or `"ephemeral"` (an early-boot stage,
    /// whose identity is new every boot: neither compared nor pinned).
    pub status: &'static str,
    /// Other addresses that pin the same identity, as `ADDRESS (FILE:LINE)`.
    pub also_pinned_as: Vec<String>,
    /// A line for people, if there is something to say.
    #[serde(skip)]
    pub note: Option<String>,
}

impl PinNote {
    fn from_pin(pin: &Pin, file: &std::path::Path) -> Self {
        let (status, also) = match pin {
            Pin::Known => ("known", &[][..]),
            Pin::New { pinned: true, also_pinned_as } => ("pinned", also_pinned_as.as_slice()),
            Pin::New { pinned: false, also_pinned_as } | Pin::Changed { also_pinned_as, .. } => {
                ("new", also_pinned_as.as_slice())
            }
        };
        Self {
            status,
            also_pinned_as: also.iter().map(|e| format!("{} ({}:{})", e.address, file.display(), e.line)).collect(),
            note: alias_note(also, file),
        }
    }
}

/// Why a connection did not become attested.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("{address}: {what} timed out after {secs} s")]
    Timeout { address: String, what: &'static str, secs: u64 },
    #[error("{address}: cannot connect: {reason}")]
    Connect { address: String, reason: String },
    #[error(
        "{address}: the guest does not authorize this client key ({fingerprint}); add it to the guest's authorized_clients"
    )]
    Unauthorized { address: String, fingerprint: String },
    #[error("{address}: TLS: {reason}")]
    Tls { address: String, reason: String },
    #[error("{address}: protocol: {reason}")]
    Protocol { address: String, reason: String },
    #[error("NOT TRUSTED: {error}")]
    Refused {
        /// The failed check.
        error: VerifyError,
        /// The report as received, if any (so a refusal can show its fields).
        report: Vec<u8>,
    },
    #[error("{warning}")]
    IdentityChanged { warning: String },
    /// The guest will not serve this channel (it answered Hello with Abort, before any
    /// evidence): e.g. no screen configured, or this key may not see it.
    #[error("{address}: the guest refused the {channel} channel: {reason}")]
    ChannelRefused { address: String, channel: String, reason: String },
    /// The guest's TDX quote came without collateral and none could be had.
    #[error("{address}: {source}")]
    Collateral { address: String, source: crate::pcs::FetchError },
    /// The guest's SEV-SNP report came without its VCEK (or a required CRL could not
    /// be had), and AMD's KDS or the cache could not supply it.
    #[error("{address}: {source}")]
    Kds { address: String, source: crate::kds::KdsError },
    #[error("{0}")]
    Client(#[from] crate::error::ClientError),
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

async fn with_timeout<T, E>(
    address: &str,
    what: &'static str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ConnectError>
where
    E: std::fmt::Display,
{
    match tokio::time::timeout(PHASE_TIMEOUT, fut).await {
        Err(_) => Err(ConnectError::Timeout { address: address.into(), what, secs: PHASE_TIMEOUT.as_secs() }),
        Ok(Err(e)) => Err(ConnectError::Protocol { address: address.into(), reason: format!("{what}: {e}") }),
        Ok(Ok(v)) => Ok(v),
    }
}

/// A TLS failure in words a person can act on.
fn tls_error(address: &str, e: &std::io::Error, key: Option<&ClientKey>) -> ConnectError {
    let text = e.to_string();
    if text.contains("AccessDenied") || text.contains("CertificateRequired") || text.contains("BadCertificate") {
        return ConnectError::Unauthorized {
            address: address.into(),
            fingerprint: key.map_or_else(|| "no client key".into(), ClientKey::fingerprint),
        };
    }
    ConnectError::Tls { address: address.into(), reason: text }
}

/// Connect to `address` for `channel` (an ALPN name) and attest the guest.
pub async fn connect(address: &str, channel: &'static [u8], opts: &ConnectOptions) -> Result<Attested, ConnectError> {
    connect_with(address, channel, opts, &|_| {}).await
}

/// [`connect`], reporting each [`Stage`] to `progress` as it starts.
pub async fn connect_with(
    address: &str,
    channel: &'static [u8],
    opts: &ConnectOptions,
    progress: Progress<'_>,
) -> Result<Attested, ConnectError> {
    progress(Stage::Tcp);
    let tcp = match tokio::time::timeout(PHASE_TIMEOUT, TcpStream::connect(address)).await {
        Err(_) => {
            return Err(ConnectError::Timeout {
                address: address.into(),
                what: "TCP connect",
                secs: PHASE_TIMEOUT.as_secs(),
            });
        }
        Ok(Err(e)) => return Err(ConnectError::Connect { address: address.into(), reason: e.to_string() }),
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    progress(Stage::Tls);
    let config = tls::client_config(channel, opts.client_key.as_deref())?;
    let name = ServerName::try_from("cvm-consoled")
        .map_err(|e| ConnectError::Tls { address: address.into(), reason: e.to_string() })?;
    let mut stream = match tokio::time::timeout(PHASE_TIMEOUT, TlsConnector::from(config).connect(name, tcp)).await {
        Err(_) => {
            return Err(ConnectError::Timeout {
                address: address.into(),
                what: "TLS handshake",
                secs: PHASE_TIMEOUT.as_secs(),
            });
        }
        Ok(Err(e)) => return Err(tls_error(address, &e, opts.client_key.as_deref())),
        Ok(Ok(s)) => s,
    };
    if stream.get_ref().1.alpn_protocol() != Some(channel) {
        return Err(ConnectError::Protocol {
            address: address.into(),
            reason: format!("the guest does not serve {}", String::from_utf8_lossy(channel)),
        });
    }

    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let hello = HandshakeMsg::Hello(Hello { version: PROTOCOL_VERSION, nonce })
        .encode()
        .map_err(|e| ConnectError::Protocol { address: address.into(), reason: e.to_string() })?;
    stream.write_all(&hello).await.map_err(|e| tls_error(address, &e, opts.client_key.as_deref()))?;
    stream.flush().await.map_err(|e| tls_error(address, &e, opts.client_key.as_deref()))?;
    progress(Stage::Evidence);
    let (k, payload) = match tokio::time::timeout(
        PHASE_TIMEOUT,
        read_frame(&mut stream, "Evidence or Abort", &[kind::EVIDENCE, kind::ABORT], MAX_FRAME_PAYLOAD),
    )
    .await
    {
        Err(_) => {
            return Err(ConnectError::Timeout {
                address: address.into(),
                what: "evidence",
                secs: PHASE_TIMEOUT.as_secs(),
            });
        }
        Ok(Err(FrameError::Io(e))) => return Err(tls_error(address, &e, opts.client_key.as_deref())),
        Ok(Err(e)) => return Err(ConnectError::Protocol { address: address.into(), reason: e.to_string() }),
        Ok(Ok(f)) => f,
    };
    progress(Stage::Checking { bytes: payload.len() });
    let evidence = match HandshakeMsg::decode_payload(k, &payload) {
        Ok(HandshakeMsg::Evidence(ev)) => ev,
        Ok(HandshakeMsg::Abort { reason }) => {
            let channel = String::from_utf8_lossy(channel).rsplit('/').next().unwrap_or_default().to_owned();
            // The reason is the peer's text: shown escaped, never as terminal controls.
            let reason = cvmc_protocol::text::escape(&reason).into_owned();
            return Err(ConnectError::ChannelRefused { address: address.into(), channel, reason });
        }
        Ok(_) => return Err(ConnectError::Protocol { address: address.into(), reason: "expected Evidence".into() }),
        Err(e) => return Err(ConnectError::Protocol { address: address.into(), reason: format!("Evidence: {e}") }),
    };
    let ekm: [u8; EKM_LEN] = stream
        .get_ref()
        .1
        .export_keying_material([0u8; EKM_LEN], EXPORTER_LABEL, Some(&nonce))
        .map_err(|e| ConnectError::Tls { address: address.into(), reason: e.to_string() })?;
    let session = SessionBinding { ekm, nonce };
    let policy = &opts.policy;
    let collateral = match (&opts.pcs, tdx_needs_collateral(&evidence)) {
        (Some(pcs), Some((fmspc, ca))) => {
            progress(Stage::Collateral);
            let pcs = Arc::clone(pcs);
            let fetched = tokio::task::spawn_blocking(move || pcs.collateral(&fmspc, ca, now_unix())).await;
            match fetched {
                Ok(Ok(c)) => Some(c),
                Ok(Err(source)) => {
                    abort(&mut stream, "collateral: none could be had for this quote").await;
                    return Err(ConnectError::Collateral { address: address.into(), source });
                }
                Err(e) => return Err(ConnectError::Protocol { address: address.into(), reason: e.to_string() }),
            }
        }
        _ => None,
    };
    let fetched = match (&opts.kds, snp_needs_kds(&evidence, &policy.policy)) {
        (Some(kds), Some(have)) => {
            progress(Stage::Certificates);
            let kds = Arc::clone(kds);
            let report = evidence.snp_report().unwrap_or_default().to_vec();
            let revocation = policy.policy.revocation;
            let fetched =
                tokio::task::spawn_blocking(move || kds.fetch_for(&report, have, revocation, now_unix())).await;
            match fetched {
                Ok(Ok(f)) => Some(f),
                Ok(Err(source)) => {
                    abort(&mut stream, "certificates: none could be had for this report").await;
                    return Err(ConnectError::Kds { address: address.into(), source });
                }
                Err(e) => return Err(ConnectError::Protocol { address: address.into(), reason: e.to_string() }),
            }
        }
        _ => None,
    };
    let signing_key = cvmc_protocol::snp::report::signing_key_of(evidence.snp_report().unwrap_or_default())
        .unwrap_or(cvmc_protocol::snp::report::SigningKey::Vcek);
    let supplied = cvmc_protocol::Supplied {
        tdx_collateral: collateral.as_ref(),
        snp: fetched.as_ref().map(|f| f.available(signing_key)).unwrap_or_default(),
    };
    let verdict = verify_evidence(&evidence, &session, &policy.policy, &policy.anchors, &supplied, now_unix());
    let guest = match verdict {
        Ok(guest) => {
            progress(Stage::Checked(guest.verified.passed().iter().map(|p| (p.check, p.detail.clone())).collect()));
            guest
        }
        Err(error) => {
            abort(&mut stream, &error.to_string()).await;
            return Err(ConnectError::Refused { error, report: evidence.report });
        }
    };
    let mut pin = None;
    if guest.stage == cvmc_protocol::GuestStage::Initramfs {
        // Its key is made fresh each boot on a /boot the host can read: a pin would
        // only ever say "changed", and would vouch for nothing the measurement does not.
        pin = Some(PinNote {
            status: "ephemeral",
            also_pinned_as: Vec::new(),
            note: Some(
                "early boot (initramfs): its identity is new every boot and is not pinned; what vouches for it is the \
                 measurement your policy pins (measured direct boot covering the kernel and this initramfs)"
                    .into(),
            ),
        });
    } else if let Some(known) = &opts.known_guests {
        let fingerprint = &guest.identity_fingerprint;
        let seen = if opts.pin_new {
            known.check_and_pin(address, fingerprint)?
        } else {
            known.check(address, fingerprint)?
        };
        if let Pin::Changed { pinned, line, also_pinned_as } = seen {
            progress(Stage::IdentityChanged(IdentityChange {
                address: address.to_owned(),
                seen: fingerprint.clone(),
                pinned: pinned.clone(),
                file: known.path().to_path_buf(),
                line,
            }));
            abort(&mut stream, "identity: the guest identity differs from the pinned one").await;
            let mut warning = changed_identity_warning(address, fingerprint, &pinned, known.path(), line);
            if let Some(note) = alias_note(&also_pinned_as, known.path()) {
                warning.push_str(&format!("\nNote: {note}."));
            }
            return Err(ConnectError::IdentityChanged { warning });
        }
        pin = Some(PinNote::from_pin(&seen, known.path()));
    }
    progress(Stage::Proceeding);
    let proceed = HandshakeMsg::Proceed
        .encode()
        .map_err(|e| ConnectError::Protocol { address: address.into(), reason: e.to_string() })?;
    with_timeout(address, "Proceed", async {
        stream.write_all(&proceed).await?;
        stream.flush().await
    })
    .await?;
    Ok(Attested { stream, guest, report: evidence.report, pin })
}

/// Tell the guest why, then close. Best effort: the guest may already be gone.
async fn abort(stream: &mut TlsStream<TcpStream>, reason: &str) {
    if let Ok(bytes) = (HandshakeMsg::Abort { reason: reason.to_owned() }).encode() {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.flush().await;
    }
    let _ = stream.shutdown().await;
}

/// What a hardware SEV-SNP guest's evidence lacks that KDS can supply: `None` when
/// nothing is to be fetched (a simulated guest, a TDX guest, or a report that brings
/// its signer and a policy that does not require a CRL).
fn snp_needs_kds(evidence: &cvmc_protocol::Evidence, policy: &cvmc_protocol::Policy) -> Option<crate::kds::Have> {
    use cvmc_protocol::evidence::{CertKind, Tee};
    use cvmc_protocol::policy::Revocation;
    use cvmc_protocol::snp::report::{SigningKey, signing_key_of};
    // Simulated guests (their TEST chains come with the evidence) never ask KDS.
    if evidence.tee != Tee::SEV_SNP && evidence.tee != Tee::AZURE_SNP {
        return None;
    }
    let (signer, intermediate) = match signing_key_of(evidence.snp_report()?)? {
        SigningKey::Vlek => (CertKind::VLEK, CertKind::ASVK),
        _ => (CertKind::VCEK, CertKind::ASK),
    };
    let have = crate::kds::Have {
        signer: evidence.cert(signer).is_some(),
        intermediate: evidence.cert(intermediate).is_some(),
    };
    (!have.signer || policy.revocation == Revocation::Require)
        .then_some(crate::kds::Have { intermediate: have.intermediate || have.signer, ..have })
}

/// For TDX evidence (bare, or the quote after an Azure HCL report) that carries no
/// collateral, or collateral past its nextUpdate: the platform to fetch it for.
fn tdx_needs_collateral(evidence: &cvmc_protocol::Evidence) -> Option<([u8; 6], &'static str)> {
    let quote = evidence.tdx_quote()?;
    if !evidence.collateral.is_empty() {
        let current = cvmc_protocol::tdx::Collateral::from_json(&evidence.collateral)
            .and_then(|c| c.valid_until())
            .is_ok_and(|until| until >= now_unix());
        // The guest's own collateral, if current, is used (it is checked like any).
        if current {
            return None;
        }
    }
    cvmc_protocol::tdx::quote_platform(quote).ok()
}
