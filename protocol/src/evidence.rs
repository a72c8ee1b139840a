//! Evidence as the guest sends it: which TEE, the raw report, the certificates it
//! has, and the guest identity key with its signature over this session.
//!
//! Wire enums are open newtypes (like rustls): unknown values decode and round-trip,
//! and the verifier decides what to refuse.

/// Which trusted execution environment produced the report, and so how to parse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tee(pub u16);

impl Tee {
    /// AMD SEV-SNP attestation report (1184 bytes) signed by a VCEK or VLEK.
    pub const SEV_SNP: Self = Self(1);
    /// Intel TDX quote (DCAP quote format 4 or 5) with a PCK certificate chain.
    pub const TDX: Self = Self(2);
    /// An HCL report from Azure's paravisor holding an SEV-SNP report, whose
    /// REPORT_DATA is the hash of the runtime claims (with the session binding as
    /// their user-data).
    pub const AZURE_SNP: Self = Self(3);
    /// An HCL report from Azure's paravisor holding a TD report, followed by the
    /// TDX quote Azure's quoting service made of it (see
    /// [`crate::azure::hcl::split_quote`]); the quote's REPORTDATA is the hash of the
    /// runtime claims.
    pub const AZURE_TDX: Self = Self(4);
    /// A byte-exact SEV-SNP report signed by a locally made TEST chain. For
    /// development and tests only; verified by the very same code path, and
    /// accepted only when the policy names that test root.
    pub const SIMULATED_SNP: Self = Self(0xff01);
    /// A byte-exact TDX quote from a locally made TEST chain (root, PCK CA, TCB
    /// signing key, quoting enclave); as [`Tee::SIMULATED_SNP`], accepted only when
    /// the policy names that test root.
    pub const SIMULATED_TDX: Self = Self(0xff02);
    /// An HCL report made by a TEST paravisor stand-in around an SEV-SNP report of
    /// the simulated chain; as [`Tee::SIMULATED_SNP`], accepted only when the policy
    /// names that test root.
    pub const SIMULATED_AZURE_SNP: Self = Self(0xff03);
    /// The same for TDX: a TEST paravisor's HCL report and a quote of the simulated
    /// TDX chain.
    pub const SIMULATED_AZURE_TDX: Self = Self(0xff04);

    /// Short name for logs and JSON.
    pub fn name(self) -> String {
        match self {
            Self::SEV_SNP => "sev-snp".into(),
            Self::TDX => "tdx".into(),
            Self::SIMULATED_SNP => "simulated".into(),
            Self::SIMULATED_TDX => "simulated-tdx".into(),
            Self::AZURE_SNP => "azure-sev-snp".into(),
            Self::SIMULATED_AZURE_SNP => "simulated-azure-sev-snp".into(),
            Self::AZURE_TDX => "azure-tdx".into(),
            Self::SIMULATED_AZURE_TDX => "simulated-azure-tdx".into(),
            Self(other) => format!("unknown({other:#06x})"),
        }
    }
}

/// What a certificate in the evidence claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertKind(pub u8);

impl CertKind {
    /// Versioned Chip Endorsement Key certificate.
    pub const VCEK: Self = Self(1);
    /// Versioned Loaded Endorsement Key certificate (issued to a cloud provider).
    pub const VLEK: Self = Self(2);
    /// AMD SEV Key (signs VCEKs).
    pub const ASK: Self = Self(3);
    /// AMD SEV VLEK Key (signs VLEKs).
    pub const ASVK: Self = Self(4);
    /// AMD Root Key. Informational only: the verifier never trusts a root the
    /// guest sends.
    pub const ARK: Self = Self(5);

    /// Short name for errors.
    pub fn name(self) -> String {
        match self {
            Self::VCEK => "VCEK".into(),
            Self::VLEK => "VLEK".into(),
            Self::ASK => "ASK".into(),
            Self::ASVK => "ASVK".into(),
            Self::ARK => "ARK".into(),
            Self(other) => format!("unknown({other})"),
        }
    }
}

/// One DER certificate from the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertEntry {
    /// What the guest says it is.
    pub kind: CertKind,
    /// DER bytes.
    pub der: Vec<u8>,
}

/// Which stage of the guest's boot serves this connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestStage {
    /// The running system (the real root): a persistent identity, pinned like an SSH
    /// host key.
    #[default]
    System,
    /// Early boot (the initramfs, e.g. for the LUKS passphrase): on a /boot the host
    /// can read, so its identity is new every boot and is not pinned; what vouches for
    /// it is the launch measurement alone.
    Initramfs,
}

impl GuestStage {
    /// As the wire carries it.
    pub fn code(self) -> u8 {
        match self {
            Self::System => 0,
            Self::Initramfs => 1,
        }
    }

    /// From the wire.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::System),
            1 => Some(Self::Initramfs),
            _ => None,
        }
    }

    /// `system` or `initramfs`, as `--json` and the config name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Initramfs => "initramfs",
        }
    }

    /// What a person reads.
    pub fn shown(self) -> &'static str {
        match self {
            Self::System => "running system",
            Self::Initramfs => "early boot (initramfs)",
        }
    }
}

/// The guest's evidence for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Report format.
    pub tee: Tee,
    /// Raw report bytes.
    pub report: Vec<u8>,
    /// Certificates the guest has (may be empty: the client then uses its cache).
    pub certs: Vec<CertEntry>,
    /// Ed25519 public key of the guest identity (32 bytes).
    pub identity_key: Vec<u8>,
    /// Ed25519 signature over `ekm || nonce` (64 bytes).
    pub identity_sig: Vec<u8>,
    /// TDX only: DCAP collateral as JSON ([`crate::tdx::Collateral`]), or empty. Public
    /// data, trusted only through Intel's (or the test root's) signatures.
    pub collateral: Vec<u8>,
    /// The boot stage serving the connection. It comes over the channel the evidence
    /// binds, so only the attested guest can say it.
    pub stage: GuestStage,
}

impl Evidence {
    /// The first certificate of a kind, if the guest sent one.
    pub fn cert(&self, kind: CertKind) -> Option<&[u8]> {
        self.certs.iter().find(|c| c.kind == kind).map(|c| c.der.as_slice())
    }

    /// The SEV-SNP report in this evidence: the report itself, or the one inside an
    /// Azure HCL report. None for other TEEs or an HCL report that does not parse.
    pub fn snp_report(&self) -> Option<&[u8]> {
        match self.tee {
            Tee::SEV_SNP | Tee::SIMULATED_SNP => Some(&self.report),
            Tee::AZURE_SNP | Tee::SIMULATED_AZURE_SNP => crate::azure::hcl::HclReport::parse(&self.report)
                .ok()
                .filter(|h| h.report_type == crate::azure::hcl::HwReportType::Snp)
                .map(|h| h.hw_report),
            _ => None,
        }
    }

    /// The TDX quote in this evidence: the report itself, or the one after an Azure
    /// HCL report. None for other TEEs or Azure evidence without a quote.
    pub fn tdx_quote(&self) -> Option<&[u8]> {
        match self.tee {
            Tee::TDX | Tee::SIMULATED_TDX => Some(&self.report),
            Tee::AZURE_TDX | Tee::SIMULATED_AZURE_TDX => {
                crate::azure::hcl::split_quote(&self.report).ok().map(|(_, q)| q).filter(|q| !q.is_empty())
            }
            _ => None,
        }
    }
}
