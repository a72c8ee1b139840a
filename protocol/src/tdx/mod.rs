//! Intel TDX: the DCAP quote, Intel's PKI and collateral, TCB level matching, and the
//! verifier ([`verify::verify_tdx`]), sans-IO like the SEV-SNP side.
//!
//! Why not dcap-qvl as the verifier: it takes a custom root (`QuoteVerifier::new`),
//! but reports every failure as one `anyhow` error (so no check list and no stable
//! `failed_check` name), hard-codes its attribute policy, and brings some 25 crates
//! (webpki fork, scale codec, ring). These modules implement the same checks with
//! the RustCrypto crates the SEV-SNP side already uses; dcap-qvl is the test oracle
//! (`tests/tests/tdx_vectors.rs`): it must agree with our verdict and TCB status on
//! every real quote and every tampered copy.

pub mod certs;
pub mod collateral;
pub mod error;
pub mod quote;
pub mod tcb;
pub mod tdreport;
pub mod verify;

pub use collateral::Collateral;
pub use error::TdxError;
pub use quote::Quote;
pub use tcb::TcbStatus;
pub use verify::{TdxVerified, quote_fmspc, quote_platform, verify_tdx};
