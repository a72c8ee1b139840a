//! TPM2 quotes by the vTPM's attestation key: TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE
//! (TPM 2.0 Library Part 2, 10.12), signed RSASSA-PKCS1-v1_5 with SHA-256 as Azure's
//! vTPM AK signs. Sans-IO: parse the attested message, check its signature by an AK,
//! its nonce (extraData) and the digest of the PCR values it covers.

use sha2::Digest as _;

use super::claims::AkPub;
use super::error::AzureError;
use crate::tpm::Reader;

/// TPM_GENERATED_VALUE: the message was made by the TPM.
pub const TPM_GENERATED: u32 = 0xff54_4347;
/// TPM_ST_ATTEST_QUOTE.
pub const ST_ATTEST_QUOTE: u16 = 0x8018;
/// Largest attested message accepted.
pub const MAX_ATTEST_LEN: usize = 2048;

/// A parsed quote message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteInfo {
    /// extraData: the nonce the quote was asked with.
    pub nonce: Vec<u8>,
    /// The PCR selection: (hash algorithm, selected PCR numbers).
    pub selection: Vec<(u16, Vec<u8>)>,
    /// The digest of the selected PCR values.
    pub pcr_digest: Vec<u8>,
}

fn bad(reason: impl Into<String>) -> AzureError {
    AzureError::Quote { reason: reason.into() }
}

impl QuoteInfo {
    /// Parse a TPMS_ATTEST that must be a quote.
    pub fn parse(message: &[u8]) -> Result<Self, AzureError> {
        if message.len() > MAX_ATTEST_LEN {
            return Err(bad(format!("{} bytes, more than {MAX_ATTEST_LEN}", message.len())));
        }
        let tpm = |e: crate::tpm::TpmError| bad(e.to_string());
        let mut r = Reader::new(message);
        if r.u32("magic").map_err(tpm)? != TPM_GENERATED {
            return Err(bad("not made by a TPM (magic is not TPM_GENERATED_VALUE)"));
        }
        let kind = r.u16("type").map_err(tpm)?;
        if kind != ST_ATTEST_QUOTE {
            return Err(bad(format!("attestation type {kind:#06x}, not a quote")));
        }
        let _signer = r.tpm2b("qualifiedSigner").map_err(tpm)?;
        let nonce = r.tpm2b("extraData").map_err(tpm)?.to_vec();
        let _clock = r.bytes(17, "clockInfo").map_err(tpm)?;
        let _firmware = r.u64("firmwareVersion").map_err(tpm)?;
        let count = r.u32("pcrSelect count").map_err(tpm)?;
        if count > 16 {
            return Err(bad(format!("{count} PCR banks selected")));
        }
        let mut selection = Vec::new();
        for _ in 0..count {
            let alg = r.u16("pcrSelect hash").map_err(tpm)?;
            let n = r.u8("sizeofSelect").map_err(tpm)?;
            let bits = r.bytes(usize::from(n), "pcrSelect").map_err(tpm)?;
            let pcrs = (0..bits.len() * 8)
                .filter(|&i| bits[i / 8] & (1 << (i % 8)) != 0)
                .filter_map(|i| u8::try_from(i).ok())
                .collect();
            selection.push((alg, pcrs));
        }
        let pcr_digest = r.tpm2b("pcrDigest").map_err(tpm)?.to_vec();
        if r.remaining() != 0 {
            return Err(bad(format!("{} trailing bytes", r.remaining())));
        }
        Ok(Self { nonce, selection, pcr_digest })
    }
}

/// Check a quote: `signature` (RSASSA-PKCS1-v1_5, SHA-256) over `message` by `ak`,
/// its nonce equal to `nonce`, and, when `pcrs` are given, the digest of those PCR
/// values (in selection order) equal to the quote's.
pub fn verify_quote(
    message: &[u8],
    signature: &[u8],
    ak: &AkPub,
    nonce: &[u8],
    pcrs: Option<&[[u8; 32]]>,
) -> Result<QuoteInfo, AzureError> {
    let info = QuoteInfo::parse(message)?;
    let digest = sha2::Sha256::digest(message);
    ak.key
        .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, signature)
        .map_err(|_| bad(format!("the signature is not by the AK {}", ak.fingerprint_shown())))?;
    if info.nonce != nonce {
        return Err(bad(format!(
            "the quote's nonce is {:?}, not the one asked for",
            crate::text::escape_bytes(&info.nonce)
        )));
    }
    if let Some(pcrs) = pcrs {
        let mut h = sha2::Sha256::new();
        pcrs.iter().for_each(|p| h.update(p));
        if h.finalize()[..] != info.pcr_digest[..] {
            return Err(bad("the PCR values given are not the ones the quote covers"));
        }
    }
    Ok(info)
}
