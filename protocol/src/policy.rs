//! The user's trust policy for one guest (docs/DESIGN.md "Trust policy file"): a TOML
//! file; unknown keys are an error, hex fields must have exactly their length.
//!
//! ```toml
//! measurements = ["<96 hex chars>"]
//! vmpl = 0
//! allow_debug = false
//! allow_migration_agent = false
//! min_tcb = { bootloader = 0, tee = 0, snp = 0, microcode = 0, fmc = 0 }
//! min_guest_svn = 0
//! host_data = "<64 hex chars>"
//! trusted_roots = ["sim/ark.pem"]
//! revocation = "if-available"  # or "require", "skip"
//! allow_provisional_firmware = false
//! min_committed_tcb = { snp = 0x18 }
//! platform_info = { smt_en = false }   # true requires, false forbids
//!
//! [tdx]                       # only for Intel TDX guests; a TDX quote needs it
//! mrtd = ["<96 hex chars>"]
//! rtmr2 = ["<96 hex chars>"]
//! accepted_tcb_status = ["UpToDate"]
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::PolicyError;

/// Fixed-length bytes written as hex in the policy file.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hex<const N: usize>(pub [u8; N]);

impl<const N: usize> std::fmt::Debug for Hex<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl<const N: usize> std::fmt::Display for Hex<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl<const N: usize> std::str::FromStr for Hex<N> {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() != 2 * N {
            return Err(format!("expected {} hex characters ({N} bytes), got {}", 2 * N, s.len()));
        }
        if let Some((i, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
            return Err(format!("invalid hex character {c:?} at position {i}"));
        }
        let mut out = [0u8; N];
        hex::decode_to_slice(s, &mut out).map_err(|e| e.to_string())?;
        Ok(Self(out))
    }
}

impl<'de, const N: usize> Deserialize<'de> for Hex<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl<const N: usize> Serialize for Hex<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

/// Minimum TCB components; each defaults to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MinTcb {
    /// Minimum bootloader SPL.
    pub bootloader: u8,
    /// Minimum PSP OS (TEE) SPL.
    pub tee: u8,
    /// Minimum SNP firmware SPL.
    pub snp: u8,
    /// Minimum microcode SPL.
    pub microcode: u8,
    /// Turin onwards; ignored for products without an FMC SPL.
    pub fmc: u8,
}

/// Minimum firmware ABI the guest policy may require (POLICY ABI_MAJOR/ABI_MINOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MinAbi {
    /// Major version, compared with POLICY ABI_MAJOR.
    pub major: u8,
    /// Minor version: POLICY (ABI_MAJOR, ABI_MINOR) must be at least (major, minor).
    pub minor: u8,
}

fn default_true() -> bool {
    true
}

/// What to do about AMD's certificate revocation list (`revocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Revocation {
    /// A current CRL signed by the product's ARK is required; without one the report
    /// is refused.
    Require,
    /// Check the CRL when one is available (from the cache or AMD's KDS); say so when
    /// none is, or when it is past its nextUpdate. A CRL that lists the chain refuses
    /// either way.
    #[default]
    IfAvailable,
    /// Do not check revocation (shown as a warning).
    Skip,
}

impl Revocation {
    /// The policy file's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Require => "require",
            Self::IfAvailable => "if-available",
            Self::Skip => "skip",
        }
    }
}

/// Requirements on the report's PLATFORM_INFO flags: `true` requires the flag, `false`
/// forbids it, absent accepts either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformInfoPolicy {
    /// SMT_EN (bit 0): SMT is enabled on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smt_en: Option<bool>,
    /// TSME_EN (bit 1): transparent SME is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsme_en: Option<bool>,
    /// ECC_EN (bit 2): the platform uses ECC memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecc_en: Option<bool>,
    /// RAPL_DIS (bit 3): RAPL is disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rapl_dis: Option<bool>,
    /// CIPHERTEXT_HIDING_EN (bit 4): ciphertext hiding is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ciphertext_hiding_en: Option<bool>,
    /// ALIAS_CHECK_COMPLETE (bit 5, report version 3 onwards): the firmware checked
    /// that no memory aliases since the last reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_check_complete: Option<bool>,
}

/// A trust policy. Field docs are the file's documentation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Allowed launch digests (MEASUREMENT). Empty means "nothing pinned yet": the
    /// verifier refuses, and the GUI may offer to pin what it sees.
    #[serde(default)]
    pub measurements: Vec<Hex<48>>,
    /// Required VMPL of the report.
    #[serde(default)]
    pub vmpl: u32,
    /// Accept a guest whose policy allows debugging. Its memory is then readable by
    /// the host: for development only.
    #[serde(default)]
    pub allow_debug: bool,
    /// Accept a guest whose policy allows a migration agent.
    #[serde(default)]
    pub allow_migration_agent: bool,
    /// Accept a guest whose policy allows SMT (default true; false for the
    /// side-channel-cautious).
    #[serde(default = "default_true")]
    pub allow_smt: bool,
    /// Require the guest policy's SINGLE_SOCKET bit.
    #[serde(default)]
    pub require_single_socket: bool,
    /// Minimum ABI version in the guest policy.
    #[serde(default)]
    pub min_abi: MinAbi,
    /// Minimum REPORTED_TCB components (CURRENT_TCB is at least REPORTED_TCB, which
    /// the verifier checks too).
    #[serde(default)]
    pub min_tcb: MinTcb,
    /// Minimum LAUNCH_TCB components: the firmware the guest was launched under.
    #[serde(default)]
    pub min_launch_tcb: MinTcb,
    /// Minimum COMMITTED_TCB components: the firmware a host reboot cannot roll back.
    #[serde(default)]
    pub min_committed_tcb: MinTcb,
    /// Accept provisional firmware: running (CURRENT) firmware newer than the committed
    /// one, which the host can still roll back. Default false: COMMITTED must equal
    /// CURRENT in TCB, build and API version.
    #[serde(default)]
    pub allow_provisional_firmware: bool,
    /// Minimum build of the running (and committed) firmware (CURRENT_BUILD).
    #[serde(default)]
    pub min_build: u8,
    /// Minimum API version of the running (and committed) firmware
    /// (CURRENT_MAJOR.CURRENT_MINOR), unlike `min_abi`, which is what the VMM asked for.
    #[serde(default)]
    pub min_version: MinAbi,
    /// Accept a guest whose policy allows CXL memory or devices (POLICY bit 21).
    #[serde(default)]
    pub allow_cxl: bool,
    /// Require the guest policy's MEM_AES_256_XTS (bit 22).
    #[serde(default)]
    pub require_mem_aes_256_xts: bool,
    /// Require the guest policy's RAPL_DIS (bit 23).
    #[serde(default)]
    pub require_rapl_dis: bool,
    /// Require the guest policy's CIPHERTEXT_HIDING (bit 24).
    #[serde(default)]
    pub require_ciphertext_hiding: bool,
    /// Require the guest policy's PAGE_SWAP_DISABLE (bit 25).
    #[serde(default)]
    pub require_page_swap_disable: bool,
    /// What PLATFORM_INFO must or must not show.
    #[serde(default)]
    pub platform_info: PlatformInfoPolicy,
    /// Bits that must be set in CURRENT_MIT_VECTOR (report version 5 onwards); a
    /// report without mitigation vectors is refused when this is not zero.
    #[serde(default)]
    pub required_mitigations: u64,
    /// AMD certificate revocation: `"require"`, `"if-available"` (default) or `"skip"`.
    #[serde(default)]
    pub revocation: Revocation,
    /// Minimum GUEST_SVN.
    #[serde(default)]
    pub min_guest_svn: u32,
    /// Exact HOST_DATA. The host chooses it, so it only tells guests apart.
    #[serde(default)]
    pub host_data: Option<Hex<32>>,
    /// Allowed FAMILY_ID values (any when empty).
    #[serde(default)]
    pub family_ids: Vec<Hex<16>>,
    /// Allowed IMAGE_ID values (any when empty).
    #[serde(default)]
    pub image_ids: Vec<Hex<16>>,
    /// Allowed ID_KEY_DIGEST values (any when empty).
    #[serde(default)]
    pub id_key_digests: Vec<Hex<48>>,
    /// Allowed AUTHOR_KEY_DIGEST values (any when empty).
    #[serde(default)]
    pub author_key_digests: Vec<Hex<48>>,
    /// Allowed CHIP_ID values (any when empty).
    #[serde(default)]
    pub chip_ids: Vec<Hex<64>>,
    /// Extra root certificates (PEM paths, relative to the policy file), e.g. the
    /// simulated test root. Evidence anchored in one is shown as SIMULATED.
    #[serde(default)]
    pub trusted_roots: Vec<String>,
    /// Refuse evidence that does not chain to the hardware vendor's own root, even
    /// when `trusted_roots` names another (`--require-hardware` sets it).
    #[serde(default)]
    pub require_hardware: bool,
    /// What an Intel TDX guest must be. Absent: TDX quotes are refused, naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdx: Option<TdxPolicy>,
    /// What a guest behind Azure's paravisor must claim (SEV-SNP keys above apply to
    /// its embedded report).
    #[serde(default, skip_serializing_if = "AzurePolicy::is_empty")]
    pub azure: AzurePolicy,
}

/// The `[azure]` table: requirements on the runtime claims of an HCL report.
///
/// ```toml
/// [azure]
/// vm_configuration = { "secure-boot" = true, "tpm-enabled" = true, "console-enabled" = false }
/// ak_pub = ["<SHA-256 of the vTPM AK's SubjectPublicKeyInfo DER, 64 hex>"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AzurePolicy {
    /// `vm-configuration` claims that must be present with this boolean value, e.g.
    /// `console-enabled = false`: Azure's serial console reaches the VM from the host
    /// side, around this channel.
    #[serde(default)]
    pub vm_configuration: std::collections::BTreeMap<String, bool>,
    /// Pinned vTPM attestation keys (any when empty).
    #[serde(default)]
    pub ak_pub: Vec<Hex<32>>,
}

impl AzurePolicy {
    /// Nothing required.
    pub fn is_empty(&self) -> bool {
        self.vm_configuration.is_empty() && self.ak_pub.is_empty()
    }
}

fn default_statuses() -> Vec<String> {
    vec!["UpToDate".into()]
}

/// The `[tdx]` table: what an Intel TDX guest's quote must show.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TdxPolicy {
    /// Allowed MRTD values (the TD's firmware measurement). Empty: refused, the GUI
    /// may offer to pin what it sees.
    #[serde(default)]
    pub mrtd: Vec<Hex<48>>,
    /// Allowed RTMR0 values (firmware configuration), any when empty.
    #[serde(default)]
    pub rtmr0: Vec<Hex<48>>,
    /// Allowed RTMR1 values (boot loader, kernel), any when empty.
    #[serde(default)]
    pub rtmr1: Vec<Hex<48>>,
    /// Allowed RTMR2 values (kernel command line, initrd), any when empty.
    #[serde(default)]
    pub rtmr2: Vec<Hex<48>>,
    /// Allowed RTMR3 values, any when empty.
    #[serde(default)]
    pub rtmr3: Vec<Hex<48>>,
    /// Allowed MRCONFIGID values, any when empty.
    #[serde(default)]
    pub mrconfigid: Vec<Hex<48>>,
    /// Allowed MROWNER values, any when empty.
    #[serde(default)]
    pub mrowner: Vec<Hex<48>>,
    /// Allowed MROWNERCONFIG values, any when empty.
    #[serde(default)]
    pub mrownerconfig: Vec<Hex<48>>,
    /// Allowed MRSIGNERSEAM values (the TDX module's signer), any when empty.
    #[serde(default)]
    pub mrsignerseam: Vec<Hex<48>>,
    /// Accept a debug TD (TDATTRIBUTES bit 0): its memory is readable by the host.
    #[serde(default)]
    pub allow_debug: bool,
    /// Require SEPT_VE_DISABLE (TDATTRIBUTES bit 28), default true.
    #[serde(default = "default_true")]
    pub require_sept_ve_disable: bool,
    /// Accept a migratable TD (TDATTRIBUTES bit 29).
    #[serde(default)]
    pub allow_migratable: bool,
    /// The platform TCB statuses accepted (Intel's names), default `["UpToDate"]`.
    #[serde(default = "default_statuses")]
    pub accepted_tcb_status: Vec<String>,
    /// Advisory IDs accepted when the status is accepted; any other advisory refuses.
    /// Empty: advisories do not refuse by themselves (the status decides).
    #[serde(default)]
    pub allowed_advisories: Vec<String>,
    /// Minimum TEE_TCB_SVN, byte by byte (16 bytes hex), none when absent.
    #[serde(default)]
    pub min_tee_tcb_svn: Option<Hex<16>>,
}

impl Default for TdxPolicy {
    fn default() -> Self {
        Self {
            mrtd: Vec::new(),
            rtmr0: Vec::new(),
            rtmr1: Vec::new(),
            rtmr2: Vec::new(),
            rtmr3: Vec::new(),
            mrconfigid: Vec::new(),
            mrowner: Vec::new(),
            mrownerconfig: Vec::new(),
            mrsignerseam: Vec::new(),
            allow_debug: false,
            require_sept_ve_disable: true,
            allow_migratable: false,
            accepted_tcb_status: default_statuses(),
            allowed_advisories: Vec::new(),
            min_tee_tcb_svn: None,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            measurements: Vec::new(),
            vmpl: 0,
            allow_debug: false,
            allow_migration_agent: false,
            allow_smt: true,
            require_single_socket: false,
            min_abi: MinAbi::default(),
            min_tcb: MinTcb::default(),
            min_launch_tcb: MinTcb::default(),
            min_committed_tcb: MinTcb::default(),
            allow_provisional_firmware: false,
            min_build: 0,
            min_version: MinAbi::default(),
            allow_cxl: false,
            require_mem_aes_256_xts: false,
            require_rapl_dis: false,
            require_ciphertext_hiding: false,
            require_page_swap_disable: false,
            platform_info: PlatformInfoPolicy::default(),
            required_mitigations: 0,
            revocation: Revocation::IfAvailable,
            min_guest_svn: 0,
            host_data: None,
            family_ids: Vec::new(),
            image_ids: Vec::new(),
            id_key_digests: Vec::new(),
            author_key_digests: Vec::new(),
            chip_ids: Vec::new(),
            trusted_roots: Vec::new(),
            require_hardware: false,
            tdx: None,
            azure: AzurePolicy::default(),
        }
    }
}

/// Largest VMPL defined by SEV-SNP.
pub const MAX_VMPL: u32 = 3;

impl Policy {
    /// Parse a policy file's text.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let policy: Self = toml::from_str(text).map_err(|e| PolicyError::Parse(one_line(&e.to_string())))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Render as TOML (for `sim-init` and pinning).
    pub fn to_toml(&self) -> Result<String, PolicyError> {
        toml::to_string_pretty(self).map_err(|e| PolicyError::Parse(e.to_string()))
    }

    fn validate(&self) -> Result<(), PolicyError> {
        if self.vmpl > MAX_VMPL {
            return Err(PolicyError::Invalid { field: "vmpl", reason: format!("{} is not 0..={MAX_VMPL}", self.vmpl) });
        }
        if let Some(tdx) = &self.tdx {
            for s in &tdx.accepted_tcb_status {
                if crate::tdx::tcb::TcbStatus::from_name(s).is_none() {
                    return Err(PolicyError::Invalid {
                        field: "tdx.accepted_tcb_status",
                        reason: format!(
                            "{:?} is not one of Intel's statuses ({})",
                            crate::text::escape(s),
                            crate::tdx::tcb::TcbStatus::ALL.map(|s| s.name()).join(", ")
                        ),
                    });
                }
            }
            if tdx.accepted_tcb_status.iter().any(|s| s == "Revoked") {
                return Err(PolicyError::Invalid {
                    field: "tdx.accepted_tcb_status",
                    reason: "\"Revoked\" cannot be accepted: the platform's keys are compromised".into(),
                });
            }
        }
        Ok(())
    }

    /// Warnings a person must see when this policy is in force.
    pub fn warnings(&self) -> Vec<&'static str> {
        let mut w = Vec::new();
        if self.allow_debug {
            w.push("allow_debug = true: a debug guest's memory is readable by the host; NOT CONFIDENTIAL");
        }
        if self.allow_migration_agent {
            w.push("allow_migration_agent = true: a migration agent can export this guest's memory");
        }
        if self.allow_provisional_firmware {
            w.push(
                "allow_provisional_firmware = true: the host can roll the running firmware back to the committed one",
            );
        }
        if self.allow_cxl {
            w.push("allow_cxl = true: the guest may be given CXL memory or devices");
        }
        if self.revocation == Revocation::Skip {
            w.push("revocation = \"skip\": a revoked AMD signing key would not be noticed");
        }
        if !self.trusted_roots.is_empty() {
            w.push("trusted_roots is set: evidence anchored in a policy root is not backed by AMD or Intel hardware");
        }
        if self.tdx.as_ref().is_some_and(|t| t.allow_debug) {
            w.push("[tdx] allow_debug = true: a debug TD's memory is readable by the host; NOT CONFIDENTIAL");
        }
        w
    }
}

/// toml errors span several lines with a source excerpt; keep the message and the
/// location on one line for CLI errors.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && *l != "^")
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "5feee30d6d7e1a29f403d70a4198237ddfb13051a2d6976439487c609388ed7f98189887920ab2fa0096903a0c23fca1";

    #[test]
    fn design_md_example_parses() {
        let text = format!(
            r#"
measurements = ["{M}"]
vmpl = 0
allow_debug = false
allow_migration_agent = false
min_tcb = {{ bootloader = 0, tee = 0, snp = 0, microcode = 0, fmc = 0 }}
min_guest_svn = 0
host_data = "{}"
trusted_roots = ["sim/ark.pem"]
"#,
            "ab".repeat(32)
        );
        let p = Policy::from_toml(&text).unwrap();
        assert_eq!(p.measurements[0].to_string(), M);
        assert_eq!(p.host_data.unwrap().0, [0xab; 32]);
        assert!(p.allow_smt);
        assert_eq!(Policy::from_toml(&p.to_toml().unwrap()).unwrap(), p);
    }

    #[test]
    fn tdx_table_parses_with_strict_defaults() {
        let p = Policy::from_toml(&format!("[tdx]\nmrtd = [\"{M}\"]\n")).unwrap();
        let t = p.tdx.as_ref().unwrap();
        assert_eq!(t.mrtd[0].to_string(), M);
        assert!(t.require_sept_ve_disable && !t.allow_debug && !t.allow_migratable);
        assert_eq!(t.accepted_tcb_status, ["UpToDate"]);
        assert_eq!(Policy::from_toml(&p.to_toml().unwrap()).unwrap(), p);
        assert!(Policy::from_toml("").unwrap().tdx.is_none());
        let e = Policy::from_toml("[tdx]\nmrdt = []").unwrap_err().to_string();
        assert!(e.contains("unknown field `mrdt`"), "{e}");
        let e = Policy::from_toml("[tdx]\naccepted_tcb_status = [\"UpToDate\", \"Fine\"]").unwrap_err().to_string();
        assert!(e.contains("\"Fine\" is not one of Intel's statuses"), "{e}");
        let e = Policy::from_toml("[tdx]\naccepted_tcb_status = [\"Revoked\"]").unwrap_err().to_string();
        assert!(e.contains("cannot be accepted"), "{e}");
        let e = Policy::from_toml("[tdx]\nmin_tee_tcb_svn = \"00\"").unwrap_err().to_string();
        assert!(e.contains("expected 32 hex characters"), "{e}");
    }

    #[test]
    fn empty_file_is_the_strict_default() {
        let p = Policy::from_toml("").unwrap();
        assert_eq!(p, Policy::default());
        assert!(p.measurements.is_empty() && !p.allow_debug && p.warnings().is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_hex_are_clear_errors() {
        let e = Policy::from_toml("alow_debug = true").unwrap_err().to_string();
        assert!(e.contains("unknown field `alow_debug`"), "{e}");
        let e = Policy::from_toml("min_tcb = { snp = 1, sev = 2 }").unwrap_err().to_string();
        assert!(e.contains("unknown field `sev`"), "{e}");
        let e = Policy::from_toml(&format!("measurements = [\"{}\"]", &M[..95])).unwrap_err().to_string();
        assert!(e.contains("expected 96 hex characters (48 bytes), got 95"), "{e}");
        let e = Policy::from_toml(&format!("host_data = \"{}zz\"", "0".repeat(62))).unwrap_err().to_string();
        assert!(e.contains("invalid hex character 'z' at position 62"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = Policy::from_toml("vmpl = 4").unwrap_err().to_string();
        assert!(e.contains("vmpl"), "{e}");
        let e = Policy::from_toml("min_tcb = { snp = 300 }").unwrap_err().to_string();
        assert!(e.contains("snp") || e.contains("300"), "{e}");
    }
}
