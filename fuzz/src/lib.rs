//! Helpers shared by the fuzz targets: the stream driver for `FrameDecoder`, and the
//! real AMD certificates from `tests/data/snp/`, parsed once.

use std::sync::LazyLock;

use cvmc_protocol::frame::{FrameDecoder, OwnedFrame, encode_frame};
use cvmc_protocol::snp::certs::AmdCert;

/// The dcap-qvl sample TDX quote (`tests/data/tdx/dcapqvl_tdx_quote`).
pub const TDX_QUOTE: &[u8] = include_bytes!("../../tests/data/tdx/dcapqvl_tdx_quote");

/// 2025-07-01: inside the sample quote's collateral validity.
pub const TDX_AT: u64 = 1_751_328_000;

/// The sample quote's real collateral, parsed once.
pub fn tdx_collateral() -> &'static cvmc_protocol::tdx::Collateral {
    static C: LazyLock<cvmc_protocol::tdx::Collateral> = LazyLock::new(|| {
        cvmc_protocol::tdx::Collateral::from_json(include_bytes!("../../tests/data/tdx/dcapqvl_tdx_quote_collateral.json"))
            .expect("the sample collateral parses")
    });
    &C
}

/// The time every verification runs at (2027-01-15): inside the validity of the
/// real VCEKs below, so the chain checks pass and the fuzzer reaches the signature.
pub const NOW: u64 = 1_800_000_000;

/// Feed `data` to a [`FrameDecoder`] in chunks whose sizes (1..=32) come from the
/// data itself, taking frames out after every push until an error. Checks that each
/// frame re-encodes to exactly the bytes it was cut from, and that the decoder
/// buffers exactly what it has not yet returned.
pub fn drive_frames(data: &[u8], mut on_frame: impl FnMut(&OwnedFrame)) {
    let mut dec = FrameDecoder::new();
    let (mut fed, mut consumed, mut i) = (0usize, 0usize, 0usize);
    while fed < data.len() {
        let step = usize::from(data[i % data.len()] % 32) + 1;
        i += 1;
        let end = (fed + step).min(data.len());
        dec.push(&data[fed..end]);
        fed = end;
        loop {
            match dec.next_frame() {
                Ok(Some(frame)) => {
                    let enc = encode_frame(frame.kind, &frame.payload).expect("a decoded frame re-encodes");
                    assert_eq!(&data[consumed..consumed + enc.len()], &enc[..], "frame re-encodes to its bytes");
                    consumed += enc.len();
                    assert_eq!(dec.buffered(), fed - consumed, "decoder buffers exactly the unreturned bytes");
                    on_frame(&frame);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// A real signer certificate with the intermediate that issued it, as DER.
#[derive(Debug)]
pub struct RealChain {
    /// Which test vector (for debugging a crash).
    pub name: &'static str,
    /// VCEK or VLEK.
    pub signer: Vec<u8>,
    /// ASK or ASVK.
    pub intermediate: Vec<u8>,
}

const SNP: &str = "../../tests/data/snp/";

macro_rules! data {
    ($file:literal) => {
        include_bytes!(concat!("../../tests/data/snp/", $file)).as_slice()
    };
}

/// The `index`th certificate of a PEM bundle, as DER.
fn pem_der(file: &str, pem: &[u8], index: usize) -> Vec<u8> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let text = std::str::from_utf8(pem).unwrap_or_else(|_| panic!("{SNP}{file} is not UTF-8"));
    let block = text.split(BEGIN).filter(|b| b.contains("-----END")).nth(index);
    let block = block.unwrap_or_else(|| panic!("{SNP}{file} has no certificate #{index}"));
    let cert = AmdCert::from_pem(file, format!("{BEGIN}{block}").as_bytes())
        .unwrap_or_else(|e| panic!("{SNP}{file} #{index}: {e}"));
    cert.to_der()
}

/// The real chains, in a fixed order; the fuzz corpus's seeds index into it
/// (`report_verify`: first byte `2 * index`, plus 0x10 to pass the intermediate).
pub static CHAINS: LazyLock<Vec<RealChain>> = LazyLock::new(|| {
    let milan_ask = pem_der("milan_ask.pem", data!("milan_ask.pem"), 0);
    let milan_bundle = data!("trustee_milan_ask_ark_asvk.pem");
    vec![
        RealChain {
            name: "milan (milan_attestation_report.bin)",
            signer: pem_der("milan_vcek.pem", data!("milan_vcek.pem"), 0),
            intermediate: milan_ask.clone(),
        },
        RealChain {
            name: "genoa (genoa_attestation_report.bin)",
            signer: pem_der("genoa_vcek.pem", data!("genoa_vcek.pem"), 0),
            intermediate: pem_der("genoa_ask.pem", data!("genoa_ask.pem"), 0),
        },
        RealChain {
            name: "turin (turin_attestation_report.bin)",
            signer: pem_der("turin_vcek.pem", data!("turin_vcek.pem"), 0),
            intermediate: pem_der("turin_ask.pem", data!("turin_ask.pem"), 0),
        },
        RealChain {
            name: "milan v2 (report_milan.hex)",
            signer: data!("vcek_milan.der").to_vec(),
            intermediate: milan_ask.clone(),
        },
        RealChain {
            name: "trustee milan (trustee_test-report.bin)",
            signer: data!("trustee_test-vcek.der").to_vec(),
            intermediate: milan_ask,
        },
        RealChain {
            name: "trustee milan VLEK (trustee_test-vlek-report.bin)",
            signer: data!("trustee_test-vlek.der").to_vec(),
            intermediate: pem_der("trustee_milan_ask_ark_asvk.pem", milan_bundle, 2),
        },
    ]
});
