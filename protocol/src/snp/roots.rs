//! Trust anchors: AMD's root keys pinned per product, and the extra roots a trust
//! policy names (for example the simulated test root).
//!
//! A root the guest sends is never trusted: the evidence's ARK, if any, is ignored.
//! The ARKs and ASKs are the `sev` crate's built-ins; the ASVKs (which sign VLEKs)
//! are not in sev, so they ship under `assets/amd/` as published by AMD's KDS.

use sha2::{Digest, Sha256};

use crate::error::VerifyError;
use crate::snp::certs::AmdCert;
use crate::snp::product::Product;

const MILAN_ASVK: &[u8] = include_bytes!("../../../assets/amd/milan_asvk.pem");
const GENOA_ASVK: &[u8] = include_bytes!("../../../assets/amd/genoa_asvk.pem");
const TURIN_ASVK: &[u8] = include_bytes!("../../../assets/amd/turin_asvk.pem");

/// Where a verified chain ends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anchor {
    /// AMD's own root for the product: this is real SEV-SNP hardware.
    AmdArk {
        /// The product line.
        product: Product,
    },
    /// Intel's SGX Root CA, pinned: this is real Intel TDX hardware.
    IntelSgxRoot,
    /// A root listed in the trust policy, NOT AMD's or Intel's: no hardware guarantee.
    PolicyRoot {
        /// The policy's label for it (its path).
        label: String,
        /// SHA-256 of its DER.
        fingerprint: String,
    },
}

impl Anchor {
    /// Whether the evidence is backed by AMD hardware.
    pub fn is_amd(&self) -> bool {
        matches!(self, Self::AmdArk { .. })
    }

    /// Whether the evidence is backed by a hardware vendor's root (AMD's or Intel's).
    pub fn is_hardware(&self) -> bool {
        !matches!(self, Self::PolicyRoot { .. })
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AmdArk { product } => write!(f, "AMD ARK-{product}"),
            Self::IntelSgxRoot => f.write_str("Intel SGX Root CA"),
            Self::PolicyRoot { label, fingerprint } => write!(f, "policy root {label} (SHA256:{fingerprint})"),
        }
    }
}

/// An extra root from the trust policy.
#[derive(Debug, Clone)]
pub struct ExtraRoot {
    /// Label (the path in the policy) for messages.
    pub label: String,
    /// The parsed, self-signed root.
    pub cert: AmdCert,
}

/// The roots a verification may end in.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    extra: Vec<ExtraRoot>,
}

impl TrustAnchors {
    /// AMD's pinned roots only.
    pub fn amd() -> Self {
        Self::default()
    }

    /// AMD's roots plus extra roots from a policy, each given as (label, PEM bytes).
    /// Each must parse and be self-signed.
    pub fn with_extra_roots<'a>(roots: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<Self, VerifyError> {
        let mut anchors = Self::amd();
        for (label, pem) in roots {
            anchors.add_root(label, pem)?;
        }
        Ok(anchors)
    }

    /// Add one extra root (PEM); it must parse and be self-signed: RSA-PSS as AMD's
    /// roots are (a simulated SEV-SNP root), or ECDSA P-256 as Intel's (a simulated
    /// TDX root).
    pub fn add_root(&mut self, label: &str, pem: &[u8]) -> Result<(), VerifyError> {
        let role = format!("policy root {label}");
        let cert = AmdCert::from_pem(&role, pem)?;
        if cert.x509.signature_algorithm.oid == crate::tdx::certs::OID_ECDSA_SHA256 {
            let der = der::Encode::to_der(&cert.x509)
                .map_err(|e| VerifyError::CertificateDecode { kind: role.clone(), reason: e.to_string() })?;
            let intel = crate::tdx::certs::IntelCert::from_der(&role, &der)?;
            intel.check_issued(&intel)?;
        } else {
            cert.check_issued(&cert)?;
        }
        self.extra.push(ExtraRoot { label: label.to_owned(), cert });
        Ok(())
    }

    /// The extra roots.
    pub fn extra(&self) -> &[ExtraRoot] {
        &self.extra
    }

    /// AMD's pinned ARK for a product.
    pub fn amd_ark(product: Product) -> Result<AmdCert, VerifyError> {
        use sev::certs::snp::builtin;
        let pem = match product {
            Product::Milan => builtin::milan::ARK,
            Product::Genoa => builtin::genoa::ARK,
            Product::Turin => builtin::turin::ARK,
        };
        AmdCert::from_pem(&format!("AMD ARK-{product}"), pem)
    }

    /// AMD's ASK for a product, used when the guest sends none.
    pub fn amd_ask(product: Product) -> Result<AmdCert, VerifyError> {
        use sev::certs::snp::builtin;
        let pem = match product {
            Product::Milan => builtin::milan::ASK,
            Product::Genoa => builtin::genoa::ASK,
            Product::Turin => builtin::turin::ASK,
        };
        AmdCert::from_pem("ASK (built-in)", pem)
    }

    /// AMD's ASVK for a product, used when the guest sends none.
    pub fn amd_asvk(product: Product) -> Result<AmdCert, VerifyError> {
        let pem = match product {
            Product::Milan => MILAN_ASVK,
            Product::Genoa => GENOA_ASVK,
            Product::Turin => TURIN_ASVK,
        };
        AmdCert::from_pem("ASVK (built-in)", pem)
    }

    /// Find the root that issued `intermediate` among AMD's pinned root for
    /// `product` and the policy's extra roots; check names, signature and validity.
    pub fn anchor(&self, product: Product, intermediate: &AmdCert, now: u64) -> Result<(Anchor, AmdCert), VerifyError> {
        let ark = Self::amd_ark(product)?;
        if intermediate.x509.tbs_certificate.issuer == ark.x509.tbs_certificate.subject
            && ark.check_issued(intermediate).is_ok()
        {
            ark.check_validity(now)?;
            return Ok((Anchor::AmdArk { product }, ark));
        }
        for root in &self.extra {
            if intermediate.x509.tbs_certificate.issuer == root.cert.x509.tbs_certificate.subject
                && root.cert.check_issued(intermediate).is_ok()
            {
                root.cert.check_validity(now)?;
                let fingerprint = hex::encode(Sha256::digest(root.cert.to_der()));
                return Ok((Anchor::PolicyRoot { label: root.label.clone(), fingerprint }, root.cert.clone()));
            }
        }
        Err(VerifyError::UntrustedRoot {
            subject: intermediate.label(),
            issuer: intermediate.issuer_dn_shown(),
            product: product.name().into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_roots_are_self_signed_and_issue_their_intermediates() {
        for p in Product::ALL {
            let ark = TrustAnchors::amd_ark(p).unwrap();
            ark.check_issued(&ark).unwrap();
            assert_eq!(ark.subject_cn, format!("ARK-{p}"));
            let anchors = TrustAnchors::amd();
            let now = 1_800_000_000;
            let (anchor, _) = anchors.anchor(p, &TrustAnchors::amd_ask(p).unwrap(), now).unwrap();
            assert_eq!(anchor, Anchor::AmdArk { product: p });
            let (anchor, _) = anchors.anchor(p, &TrustAnchors::amd_asvk(p).unwrap(), now).unwrap();
            assert!(anchor.is_amd());
        }
    }

    #[test]
    fn another_products_intermediate_is_refused() {
        let genoa_ask = TrustAnchors::amd_ask(Product::Genoa).unwrap();
        let err = TrustAnchors::amd().anchor(Product::Milan, &genoa_ask, 1_800_000_000).unwrap_err();
        assert!(matches!(err, VerifyError::UntrustedRoot { .. }), "{err}");
    }
}
