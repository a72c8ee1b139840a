//! The host-supplied SNP certificate table (`parse_cert_table`).
//!
//! Properties: nothing panics; every entry returned is a slice of the input of a
//! known kind; a parsed table re-encodes (when that fits) to a table that parses to
//! the same entries.
#![no_main]

use cvmc_protocol::evidence::CertKind;
use cvmc_protocol::snp::certtable::{MAX_ENTRIES, MAX_TABLE_LEN, encode_cert_table, guid, parse_cert_table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = parse_cert_table(data) else { return };
    assert!(entries.len() <= MAX_ENTRIES);
    let mut table = Vec::new();
    for e in &entries {
        let g = match e.kind {
            CertKind::VCEK => guid::VCEK,
            CertKind::VLEK => guid::VLEK,
            CertKind::ASK => guid::ASK,
            CertKind::ARK => guid::ARK,
            other => panic!("unexpected kind {other:?}"),
        };
        assert!(e.der.len() <= data.len());
        table.push((g, e.der.as_slice()));
    }
    // Entries may share bytes in the input, so the re-encoding can be larger.
    let encoded = encode_cert_table(&table);
    if encoded.len() <= MAX_TABLE_LEN {
        assert_eq!(parse_cert_table(&encoded).expect("a re-encoded table parses"), entries);
    }
});
