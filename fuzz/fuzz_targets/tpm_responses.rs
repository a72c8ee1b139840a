//! The TPM 2.0 response parsers the `azure-vtpm` provider uses on what the vTPM
//! answers (NV_ReadPublic, NV_Read, NV_Write, NV_DefineSpace, the header's length),
//! and the quote (TPMS_ATTEST) parser.
//!
//! Input: any bytes (seeds: well-formed responses of each kind and the real quote
//! message).
//!
//! Properties: nothing panics; NV_Read returns exactly the bytes asked for, from
//! inside the response.
#![no_main]

use cvmc_protocol::tpm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tpm::response_len(data);
    let _ = tpm::parse_nv_read_public(data);
    let _ = tpm::parse_nv_write(data);
    let _ = tpm::parse_nv_define_space(data);
    for want in [0usize, 64, 1024] {
        if let Ok(bytes) = tpm::parse_nv_read(data, want) {
            assert_eq!(bytes.len(), want);
        }
    }
    let _ = cvmc_protocol::azure::quote::QuoteInfo::parse(data);
});
