//! cvm-console's protocol core: everything both ends must agree on, with no IO.
//!
//! ```text
//!             TLS 1.3 (rustls, in guest-server / client)
//!                  │ exporter(ekm), nonce
//!                  ▼
//!  handshake ── Hello ─► Evidence ─► verify_evidence ─► Proceed | Abort
//!                          │            │
//!                          │            ├─ snp::verify  (report, chain, root, TCB, policy)
//!                          │            ├─ tdx::verify  (quote, PCK chain, CRLs, collateral, TCB, policy)
//!                          │            ├─ binding       (REPORT_DATA = f(ekm, nonce, identity))
//!                          │            └─ identity sig  (Ed25519 over ekm, nonce)
//!                          ▼
//!  console frames (Data, Resize, Attach, SessionInfo, Exit)   — after Proceed
//! ```
//!
//! No tokio, no sockets, no clock reads: callers pass the time in, bytes in and
//! bytes out, so every decoder and the verifier can be fuzzed and tested
//! deterministically.

#![forbid(unsafe_code)]
// Cargo cannot add lints to `[lints] workspace = true`, so the protocol crate, the one other
// crates build on, states its two extra lints here (scripts/test turns warnings into errors).
#![warn(missing_docs, unreachable_pub)]

pub mod attest;
pub mod azure;
pub mod binding;
pub mod codec;
pub mod console;
pub mod error;
pub mod evidence;
pub mod frame;
pub mod handshake;
pub mod policy;
pub mod rfb;
pub mod snp;
pub mod tdx;
pub mod text;
pub mod time;
pub mod tpm;
pub mod verify_error;

pub use attest::{AttestedGuest, GuestVerdict, SessionBinding, Supplied, verify_evidence};
pub use error::{Check, CodecError, PolicyError, ReportError, VerifyError};
pub use evidence::{CertEntry, CertKind, Evidence, GuestStage, Tee};
pub use policy::Policy;
pub use snp::roots::{Anchor, TrustAnchors};
pub use snp::verify::{AvailableCerts, ExpectedReportData, SnpCerts, Verified, verify_snp};
