//! The SEV-SNP attestation report, parsed from its 1184 raw bytes.
//!
//! Layout: AMD SEV-SNP ABI specification (pub. 56860), Table "ATTESTATION_REPORT
//! Structure", versions 2, 3 and 5. Every field has a named offset below; the
//! parser checks that every reserved byte is zero and that the signature's unused
//! bytes are zero, so that a report has exactly one encoding. `encode_body` writes
//! the signed part back byte for byte (tested against real reports), which is what
//! the simulated signer uses.
//!
//! Why not `sev::firmware::guest::AttestationReport`: sev 8 refuses a v2 report
//! whose CHIP_ID is masked (zero), does not check reserved bytes, and reports
//! failures as `io::Error`; the verifier needs typed errors for each check.

use crate::snp::product::Product;
use crate::snp::tcb::RawTcb;

/// An SEV-SNP report that is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Not 1184 bytes.
    #[error("report size: {len} bytes, expected {expected}")]
    Size {
        /// The bytes given.
        len: usize,
        /// The size required, [`REPORT_LEN`] (1184).
        expected: usize,
    },
    /// VERSION not one we know the layout of.
    #[error("report version: {version} is not supported (supported: {supported:?})")]
    UnknownVersion {
        /// The report's VERSION.
        version: u32,
        /// The versions this parser knows, [`SUPPORTED_VERSIONS`].
        supported: Vec<u32>,
    },
    /// A reserved byte is set.
    #[error("reserved bytes: byte {offset:#05x} is {value:#04x}, must be zero")]
    ReservedNonZero {
        /// Offset of the first non-zero reserved byte; for undefined KEY_INFO bits,
        /// the offset of KEY_INFO.
        offset: usize,
        /// The byte at `offset`.
        value: u8,
    },
    /// KEY_INFO.SIGNING_KEY is not VCEK, VLEK or none.
    #[error("signing key: KEY_INFO.SIGNING_KEY is {value}, expected 0 (VCEK) or 1 (VLEK)")]
    UnknownSigningKey {
        /// The report's KEY_INFO.SIGNING_KEY (bits 4:2).
        value: u32,
    },
    /// SIGNATURE_ALGO is not ECDSA P-384 with SHA-384.
    #[error("signature algorithm: {algo}, expected 1 (ECDSA P-384 with SHA-384)")]
    SignatureAlgorithm {
        /// The report's SIGNATURE_ALGO.
        algo: u32,
    },
    /// CPUID family/model of no known SNP product.
    #[error("product: CPUID family {family:#04x} model {model:#04x} is no known SEV-SNP product")]
    UnknownCpuid {
        /// The report's CPUID_FAM_ID.
        family: u8,
        /// The report's CPUID_MOD_ID.
        model: u8,
    },
}

/// Size of every SNP report version we accept.
pub const REPORT_LEN: usize = 0x4A0;
/// The signature covers bytes `0..SIGNED_LEN`.
pub const SIGNED_LEN: usize = 0x2A0;
/// Versions accepted: 2 (SNP ABI 1.55), 3 (adds CPUID), 5 (adds mitigation vectors).
pub const SUPPORTED_VERSIONS: [u32; 3] = [2, 3, 5];
/// SIGNATURE_ALGO value for ECDSA P-384 with SHA-384, the only one defined.
pub const SIG_ALGO_ECDSA_P384_SHA384: u32 = 1;
/// Bytes of each of r and s in the signature field (little-endian, zero-padded).
pub const SIG_COMPONENT_LEN: usize = 72;
/// Bytes of a P-384 scalar.
pub const P384_SCALAR_LEN: usize = 48;

/// Field offsets (ABI spec, ATTESTATION_REPORT).
pub mod offset {
    /// Offset of VERSION (4 bytes).
    pub const VERSION: usize = 0x00;
    /// Offset of GUEST_SVN (4 bytes).
    pub const GUEST_SVN: usize = 0x04;
    /// Offset of POLICY, the guest policy (8 bytes).
    pub const POLICY: usize = 0x08;
    /// Offset of FAMILY_ID (16 bytes).
    pub const FAMILY_ID: usize = 0x10;
    /// Offset of IMAGE_ID (16 bytes).
    pub const IMAGE_ID: usize = 0x20;
    /// Offset of VMPL (4 bytes).
    pub const VMPL: usize = 0x30;
    /// Offset of SIGNATURE_ALGO (4 bytes).
    pub const SIGNATURE_ALGO: usize = 0x34;
    /// Offset of CURRENT_TCB (8 bytes).
    pub const CURRENT_TCB: usize = 0x38;
    /// Offset of PLATFORM_INFO (8 bytes).
    pub const PLATFORM_INFO: usize = 0x40;
    /// Offset of KEY_INFO (4 bytes): AUTHOR_KEY_EN (bit 0), MASK_CHIP_KEY (bit 1),
    /// SIGNING_KEY (bits 4:2).
    pub const KEY_INFO: usize = 0x48;
    /// Offset of reserved bytes 0x4C..0x50 (4 bytes).
    pub const RESERVED_4C: usize = 0x4C;
    /// Offset of REPORT_DATA (64 bytes).
    pub const REPORT_DATA: usize = 0x50;
    /// Offset of MEASUREMENT (48 bytes).
    pub const MEASUREMENT: usize = 0x90;
    /// Offset of HOST_DATA (32 bytes).
    pub const HOST_DATA: usize = 0xC0;
    /// Offset of ID_KEY_DIGEST (48 bytes).
    pub const ID_KEY_DIGEST: usize = 0xE0;
    /// Offset of AUTHOR_KEY_DIGEST (48 bytes).
    pub const AUTHOR_KEY_DIGEST: usize = 0x110;
    /// Offset of REPORT_ID (32 bytes).
    pub const REPORT_ID: usize = 0x140;
    /// Offset of REPORT_ID_MA (32 bytes).
    pub const REPORT_ID_MA: usize = 0x160;
    /// Offset of REPORTED_TCB (8 bytes).
    pub const REPORTED_TCB: usize = 0x180;
    /// Offset of CPUID_FAM_ID (1 byte; version 3+, reserved in version 2).
    pub const CPUID_FAM_ID: usize = 0x188;
    /// Offset of CPUID_MOD_ID (1 byte; version 3+, reserved in version 2).
    pub const CPUID_MOD_ID: usize = 0x189;
    /// Offset of CPUID_STEP (1 byte; version 3+, reserved in version 2).
    pub const CPUID_STEP: usize = 0x18A;
    /// Offset of reserved bytes 0x18B..0x1A0 (21 bytes; from 0x188 in version 2).
    pub const RESERVED_18B: usize = 0x18B;
    /// Offset of CHIP_ID (64 bytes).
    pub const CHIP_ID: usize = 0x1A0;
    /// Offset of COMMITTED_TCB (8 bytes).
    pub const COMMITTED_TCB: usize = 0x1E0;
    /// Offset of CURRENT_BUILD (1 byte).
    pub const CURRENT_BUILD: usize = 0x1E8;
    /// Offset of CURRENT_MINOR (1 byte).
    pub const CURRENT_MINOR: usize = 0x1E9;
    /// Offset of CURRENT_MAJOR (1 byte).
    pub const CURRENT_MAJOR: usize = 0x1EA;
    /// Offset of one reserved byte, after CURRENT_MAJOR.
    pub const RESERVED_1EB: usize = 0x1EB;
    /// Offset of COMMITTED_BUILD (1 byte).
    pub const COMMITTED_BUILD: usize = 0x1EC;
    /// Offset of COMMITTED_MINOR (1 byte).
    pub const COMMITTED_MINOR: usize = 0x1ED;
    /// Offset of COMMITTED_MAJOR (1 byte).
    pub const COMMITTED_MAJOR: usize = 0x1EE;
    /// Offset of one reserved byte, after COMMITTED_MAJOR.
    pub const RESERVED_1EF: usize = 0x1EF;
    /// Offset of LAUNCH_TCB (8 bytes).
    pub const LAUNCH_TCB: usize = 0x1F0;
    /// Offset of LAUNCH_MIT_VECTOR (8 bytes; version 5+, reserved before).
    pub const LAUNCH_MIT_VECTOR: usize = 0x1F8;
    /// Offset of CURRENT_MIT_VECTOR (8 bytes; version 5+, reserved before).
    pub const CURRENT_MIT_VECTOR: usize = 0x200;
    /// Offset of reserved bytes 0x208..0x2A0 (152 bytes; from 0x1F8 before version 5).
    pub const RESERVED_208: usize = 0x208;
    /// Offset of SIGNATURE (512 bytes: r, s, each 72 bytes, then 368 reserved).
    pub const SIGNATURE: usize = 0x2A0;
}

const KEY_INFO_AUTHOR_KEY_EN: u32 = 1 << 0;
const KEY_INFO_MASK_CHIP_KEY: u32 = 1 << 1;
const KEY_INFO_SIGNING_KEY_SHIFT: u32 = 2;
const KEY_INFO_SIGNING_KEY_MASK: u32 = 0b111;
const KEY_INFO_DEFINED_BITS: u32 = 0b1_1111;

/// Which key signed the report (KEY_INFO.SIGNING_KEY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKey {
    /// Versioned Chip Endorsement Key.
    Vcek,
    /// Versioned Loaded Endorsement Key.
    Vlek,
    /// 7: no key; the report is unsigned.
    None,
}

/// KEY_INFO.SIGNING_KEY of raw report bytes, without parsing the rest (to choose
/// certificates before verification); `None` when too short or not a known value.
pub fn signing_key_of(raw: &[u8]) -> Option<SigningKey> {
    let bytes = raw.get(offset::KEY_INFO..offset::KEY_INFO + 4)?;
    let key_info = u32::from_le_bytes(bytes.try_into().ok()?);
    match (key_info >> KEY_INFO_SIGNING_KEY_SHIFT) & KEY_INFO_SIGNING_KEY_MASK {
        0 => Some(SigningKey::Vcek),
        1 => Some(SigningKey::Vlek),
        7 => Some(SigningKey::None),
        _ => None,
    }
}

/// The ECDSA P-384 signature as stored in the report: r and s little-endian.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReportSignature {
    /// r, little-endian, zero-padded to 72 bytes.
    pub r: [u8; SIG_COMPONENT_LEN],
    /// s, little-endian, zero-padded to 72 bytes.
    pub s: [u8; SIG_COMPONENT_LEN],
}

impl std::fmt::Debug for ReportSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReportSignature(r={}…)", hex::encode(&self.r[..8]))
    }
}

impl ReportSignature {
    /// The fixed-size big-endian `r || s` that ECDSA verifiers take.
    pub fn to_be_fixed(&self) -> [u8; 2 * P384_SCALAR_LEN] {
        let mut out = [0u8; 2 * P384_SCALAR_LEN];
        for i in 0..P384_SCALAR_LEN {
            out[P384_SCALAR_LEN - 1 - i] = self.r[i];
            out[2 * P384_SCALAR_LEN - 1 - i] = self.s[i];
        }
        out
    }

    /// From big-endian `r || s` (what an ECDSA signer produces).
    pub fn from_be_fixed(rs: &[u8; 2 * P384_SCALAR_LEN]) -> Self {
        let mut r = [0u8; SIG_COMPONENT_LEN];
        let mut s = [0u8; SIG_COMPONENT_LEN];
        for i in 0..P384_SCALAR_LEN {
            r[i] = rs[P384_SCALAR_LEN - 1 - i];
            s[i] = rs[2 * P384_SCALAR_LEN - 1 - i];
        }
        Self { r, s }
    }
}

/// A parsed SEV-SNP attestation report. Fields mirror the ABI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// VERSION: the report format, one of [`SUPPORTED_VERSIONS`].
    pub version: u32,
    /// GUEST_SVN: the guest's security version number.
    pub guest_svn: u32,
    /// POLICY: the guest policy the guest was launched with (see
    /// [`crate::snp::verify::policy_bits`]).
    pub policy: u64,
    /// FAMILY_ID: the family ID given at launch.
    pub family_id: [u8; 16],
    /// IMAGE_ID: the image ID given at launch.
    pub image_id: [u8; 16],
    /// VMPL: the VM privilege level the report was requested at.
    pub vmpl: u32,
    /// SIGNATURE_ALGO: always [`SIG_ALGO_ECDSA_P384_SHA384`] once parsed.
    pub signature_algo: u32,
    /// CURRENT_TCB: the TCB of the firmware now running.
    pub current_tcb: RawTcb,
    /// PLATFORM_INFO: flags describing the platform (bit 0 SMT_EN, bit 1 TSME_EN, …).
    pub platform_info: u64,
    /// KEY_INFO.AUTHOR_KEY_EN (bit 0): AUTHOR_KEY_DIGEST holds the digest of an author key.
    pub author_key_en: bool,
    /// KEY_INFO.MASK_CHIP_KEY (bit 1): a copy of the host's SNP_CONFIG MASK_CHIP_KEY,
    /// under which the firmware does not sign with the VCEK (the chip's key is withheld).
    /// Not the same as MASK_CHIP_ID, which shows only as an all-zero CHIP_ID.
    pub mask_chip_key: bool,
    /// KEY_INFO.SIGNING_KEY (bits 4:2): which key signed the report.
    pub signing_key: SigningKey,
    /// REPORT_DATA: 64 bytes the guest supplied; here, the session binding ([`crate::binding`]).
    pub report_data: [u8; 64],
    /// MEASUREMENT: the launch digest of the guest's initial state (SHA-384).
    pub measurement: [u8; 48],
    /// HOST_DATA: 32 bytes the host supplied at launch.
    pub host_data: [u8; 32],
    /// ID_KEY_DIGEST: SHA-384 digest of the ID key that signed the ID block.
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST: SHA-384 digest of the author key (meaningful when `author_key_en`).
    pub author_key_digest: [u8; 48],
    /// REPORT_ID: the report ID of this guest.
    pub report_id: [u8; 32],
    /// REPORT_ID_MA: the report ID of this guest's migration agent.
    pub report_id_ma: [u8; 32],
    /// REPORTED_TCB: the TCB the signing key was derived for; the VCEK or VLEK's SPLs must equal it.
    pub reported_tcb: RawTcb,
    /// (family, model, stepping); `None` in version 2 reports.
    pub cpuid: Option<(u8, u8, u8)>,
    /// CHIP_ID: the chip's unique ID (8 bytes, zero-padded, on Turin); zero when masked.
    pub chip_id: [u8; 64],
    /// COMMITTED_TCB: the TCB of the committed firmware.
    pub committed_tcb: RawTcb,
    /// (major, minor, build) of the running firmware.
    pub current_version: (u8, u8, u8),
    /// (major, minor, build) of the committed firmware.
    pub committed_version: (u8, u8, u8),
    /// LAUNCH_TCB: CURRENT_TCB when the guest was launched or imported.
    pub launch_tcb: RawTcb,
    /// (launch, current) mitigation vectors; `None` before version 5.
    pub mit_vectors: Option<(u64, u64)>,
    /// SIGNATURE: over bytes `0..SIGNED_LEN`, by the key `signing_key` names.
    pub signature: ReportSignature,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(arr(b, at))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(arr(b, at))
}

fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

/// The reserved ranges (half-open) of a report of `version`, signature area included.
fn reserved_ranges(version: u32) -> Vec<(usize, usize)> {
    use offset::*;
    let mut r = vec![
        (RESERVED_4C, REPORT_DATA),
        (RESERVED_1EB, RESERVED_1EB + 1),
        (RESERVED_1EF, RESERVED_1EF + 1),
        // r and s are 48-byte scalars in 72-byte fields; then 368 unused bytes.
        (SIGNATURE + P384_SCALAR_LEN, SIGNATURE + SIG_COMPONENT_LEN),
        (SIGNATURE + SIG_COMPONENT_LEN + P384_SCALAR_LEN, SIGNATURE + 2 * SIG_COMPONENT_LEN),
        (SIGNATURE + 2 * SIG_COMPONENT_LEN, REPORT_LEN),
    ];
    r.push(if version >= 3 { (RESERVED_18B, CHIP_ID) } else { (CPUID_FAM_ID, CHIP_ID) });
    r.push(if version >= 5 { (RESERVED_208, SIGNATURE) } else { (LAUNCH_MIT_VECTOR, SIGNATURE) });
    r
}

impl Report {
    /// Parse and check the format: size, version, reserved bytes, defined flag bits.
    pub fn parse(b: &[u8]) -> Result<Self, ReportError> {
        use offset::*;
        if b.len() != REPORT_LEN {
            return Err(ReportError::Size { len: b.len(), expected: REPORT_LEN });
        }
        let version = u32_at(b, VERSION);
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(ReportError::UnknownVersion { version, supported: SUPPORTED_VERSIONS.to_vec() });
        }
        for (start, end) in reserved_ranges(version) {
            if let Some(i) = b[start..end].iter().position(|&x| x != 0) {
                return Err(ReportError::ReservedNonZero { offset: start + i, value: b[start + i] });
            }
        }
        let key_info = u32_at(b, KEY_INFO);
        if key_info & !KEY_INFO_DEFINED_BITS != 0 {
            return Err(ReportError::ReservedNonZero { offset: KEY_INFO, value: b[KEY_INFO] });
        }
        let signing_key = match (key_info >> KEY_INFO_SIGNING_KEY_SHIFT) & KEY_INFO_SIGNING_KEY_MASK {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            other => return Err(ReportError::UnknownSigningKey { value: other }),
        };
        let signature_algo = u32_at(b, SIGNATURE_ALGO);
        if signature_algo != SIG_ALGO_ECDSA_P384_SHA384 {
            return Err(ReportError::SignatureAlgorithm { algo: signature_algo });
        }
        Ok(Self {
            version,
            guest_svn: u32_at(b, GUEST_SVN),
            policy: u64_at(b, POLICY),
            family_id: arr(b, FAMILY_ID),
            image_id: arr(b, IMAGE_ID),
            vmpl: u32_at(b, VMPL),
            signature_algo,
            current_tcb: RawTcb(arr(b, CURRENT_TCB)),
            platform_info: u64_at(b, PLATFORM_INFO),
            author_key_en: key_info & KEY_INFO_AUTHOR_KEY_EN != 0,
            mask_chip_key: key_info & KEY_INFO_MASK_CHIP_KEY != 0,
            signing_key,
            report_data: arr(b, REPORT_DATA),
            measurement: arr(b, MEASUREMENT),
            host_data: arr(b, HOST_DATA),
            id_key_digest: arr(b, ID_KEY_DIGEST),
            author_key_digest: arr(b, AUTHOR_KEY_DIGEST),
            report_id: arr(b, REPORT_ID),
            report_id_ma: arr(b, REPORT_ID_MA),
            reported_tcb: RawTcb(arr(b, REPORTED_TCB)),
            cpuid: (version >= 3).then(|| (b[CPUID_FAM_ID], b[CPUID_MOD_ID], b[CPUID_STEP])),
            chip_id: arr(b, CHIP_ID),
            committed_tcb: RawTcb(arr(b, COMMITTED_TCB)),
            current_version: (b[CURRENT_MAJOR], b[CURRENT_MINOR], b[CURRENT_BUILD]),
            committed_version: (b[COMMITTED_MAJOR], b[COMMITTED_MINOR], b[COMMITTED_BUILD]),
            launch_tcb: RawTcb(arr(b, LAUNCH_TCB)),
            mit_vectors: (version >= 5).then(|| (u64_at(b, LAUNCH_MIT_VECTOR), u64_at(b, CURRENT_MIT_VECTOR))),
            signature: ReportSignature { r: arr(b, SIGNATURE), s: arr(b, SIGNATURE + SIG_COMPONENT_LEN) },
        })
    }

    /// The product this report's CPUID names (version 3+ only).
    pub fn cpuid_product(&self) -> Option<Result<Product, ReportError>> {
        self.cpuid.map(|(family, model, _)| {
            Product::from_cpuid(family, model).ok_or(ReportError::UnknownCpuid { family, model })
        })
    }

    /// The signed bytes `0..SIGNED_LEN`, encoded from the fields.
    pub fn encode_body(&self) -> [u8; SIGNED_LEN] {
        use offset::*;
        let mut b = [0u8; SIGNED_LEN];
        let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
        put(VERSION, &self.version.to_le_bytes());
        put(GUEST_SVN, &self.guest_svn.to_le_bytes());
        put(POLICY, &self.policy.to_le_bytes());
        put(FAMILY_ID, &self.family_id);
        put(IMAGE_ID, &self.image_id);
        put(VMPL, &self.vmpl.to_le_bytes());
        put(SIGNATURE_ALGO, &self.signature_algo.to_le_bytes());
        put(CURRENT_TCB, &self.current_tcb.0);
        put(PLATFORM_INFO, &self.platform_info.to_le_bytes());
        let signing = match self.signing_key {
            SigningKey::Vcek => 0,
            SigningKey::Vlek => 1,
            SigningKey::None => 7,
        };
        let key_info = u32::from(self.author_key_en)
            | (u32::from(self.mask_chip_key) << 1)
            | (signing << KEY_INFO_SIGNING_KEY_SHIFT);
        put(KEY_INFO, &key_info.to_le_bytes());
        put(REPORT_DATA, &self.report_data);
        put(MEASUREMENT, &self.measurement);
        put(HOST_DATA, &self.host_data);
        put(ID_KEY_DIGEST, &self.id_key_digest);
        put(AUTHOR_KEY_DIGEST, &self.author_key_digest);
        put(REPORT_ID, &self.report_id);
        put(REPORT_ID_MA, &self.report_id_ma);
        put(REPORTED_TCB, &self.reported_tcb.0);
        if let Some((f, m, s)) = self.cpuid {
            put(CPUID_FAM_ID, &[f, m, s]);
        }
        put(CHIP_ID, &self.chip_id);
        put(COMMITTED_TCB, &self.committed_tcb.0);
        let (maj, min, build) = self.current_version;
        put(CURRENT_BUILD, &[build, min, maj]);
        let (maj, min, build) = self.committed_version;
        put(COMMITTED_BUILD, &[build, min, maj]);
        put(LAUNCH_TCB, &self.launch_tcb.0);
        if let Some((launch, current)) = self.mit_vectors {
            put(LAUNCH_MIT_VECTOR, &launch.to_le_bytes());
            put(CURRENT_MIT_VECTOR, &current.to_le_bytes());
        }
        b
    }

    /// The whole 1184-byte report: body plus signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(REPORT_LEN);
        out.extend_from_slice(&self.encode_body());
        out.extend_from_slice(&self.signature.r);
        out.extend_from_slice(&self.signature.s);
        out.resize(REPORT_LEN, 0);
        out
    }
}
