//! Azure confidential VMs: evidence from the paravisor (HCL) through the vTPM.
//!
//! On Azure the guest has no /dev/sev-guest: the paravisor below it makes the
//! hardware report and stores an HCL report (header, hardware report, runtime
//! claims) in vTPM NV index 0x01400001, refreshed after the guest writes 64 bytes of
//! user data to NV index 0x01400002. The hardware report's REPORT_DATA is the hash
//! of the runtime claims, and the claims carry the user data: so the binding runs
//! session → user-data → claims → REPORT_DATA → AMD's signature.
//!
//! - [`hcl`]: the HCL report parser (sans-IO, bounded).
//! - [`claims`]: the runtime claims JSON and the vTPM attestation key.
//! - [`verify`]: the SEV-SNP or TDX verification of the embedded report plus the
//!   claims.
//! - [`quote`]: TPM2 quotes (TPMS_ATTEST) by the vTPM's attestation key.

pub mod claims;
pub mod error;
pub mod hcl;
pub mod quote;
pub mod verify;

pub use error::AzureError;
pub use verify::{AzureTdxVerified, AzureVerified, verify_azure_snp, verify_azure_tdx};

/// vTPM NV index of the HCL report.
pub const NV_HCL_REPORT: u32 = 0x0140_0001;
/// vTPM NV index the guest writes its 64 bytes of user data to.
pub const NV_USER_DATA: u32 = 0x0140_0002;
/// Persistent handle of the vTPM attestation key.
pub const AK_HANDLE: u32 = 0x8100_0003;
