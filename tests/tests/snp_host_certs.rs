//! Certificates the host supplies with an extended SEV-SNP report
//! (SNP_GET_EXT_REPORT): the `sev-snp` provider's pure half turns the firmware's
//! response and the host's certificate table into evidence, and what the host put
//! there is checked exactly like certificates from anywhere else. The ioctl itself
//! needs /dev/sev-guest, which this machine does not have; its structure layouts are
//! tested in `cvm_consoled::sys`.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use cvm_consoled::evidence::sevguest::{FIRST_CERTS_LEN, SevGuestProvider};
use cvmc_protocol::evidence::CertKind;
use cvmc_protocol::snp::certtable::{MAX_TABLE_LEN, encode_cert_table, guid};
use cvmc_protocol::snp::verify::AvailableCerts;
use cvmc_protocol::{SnpCerts, VerifyError, verify_snp};
use cvmc_tests::vector;
use cvmc_tests::verifier_cases::{Input, MILAN_V3};

/// MSG_REPORT_RSP as the kernel copies it out: status, report size, 24 reserved
/// bytes, the report, zero padding to 4000 bytes.
fn response(status: u32, size: u32, report: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(4000);
    r.extend_from_slice(&status.to_le_bytes());
    r.extend_from_slice(&size.to_le_bytes());
    r.extend_from_slice(&[0; 24]);
    r.extend_from_slice(report);
    r.resize(4000, 0);
    r
}

/// The host's table in the guest's zeroed certificate buffer.
fn buffer(entries: &[([u8; 16], &[u8])]) -> Vec<u8> {
    let mut b = encode_cert_table(entries);
    b.resize(FIRST_CERTS_LEN, 0);
    b
}

fn verify(input: &Input, ev: &cvm_consoled::evidence::RawEvidence) -> Result<(), VerifyError> {
    let cert = |kind| ev.certs.iter().find(|c| c.kind == kind).map(|c| c.der.as_slice());
    let available = AvailableCerts {
        vcek: cert(CertKind::VCEK),
        vlek: cert(CertKind::VLEK),
        ask: cert(CertKind::ASK),
        asvk: cert(CertKind::ASVK),
        crl: None,
    };
    let certs = SnpCerts::select(&ev.report, available);
    verify_snp(&ev.report, certs, &input.expected, &input.policy, &input.anchors(), input.now).map(|_| ())
}

#[test]
fn a_real_report_with_the_hosts_vcek_and_ask_verifies_with_nothing_else_given() {
    let v = vector(MILAN_V3);
    let input = Input::from_vector(&v);
    let ask = v.intermediate.clone().unwrap();
    let report = SevGuestProvider::report_from_response(&response(0, 1184, &v.report)).unwrap();
    assert_eq!(report, v.report);
    let host = SevGuestProvider::host_certs(&buffer(&[(guid::VCEK, &v.signer), (guid::ASK, &ask)])).unwrap();
    let ev = SevGuestProvider::assemble(report, host, None).unwrap();
    let kinds: Vec<CertKind> = ev.certs.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![CertKind::VCEK, CertKind::ASK]);
    verify(&input, &ev).unwrap();

    // The host supplied nothing: the buffer comes back untouched, and the report
    // alone cannot verify until the client finds the VCEK (KDS or cache).
    assert!(SevGuestProvider::host_certs(&vec![0; FIRST_CERTS_LEN]).unwrap().is_empty());
    let bare = SevGuestProvider::assemble(v.report.clone(), Vec::new(), None).unwrap();
    assert!(matches!(verify(&input, &bare), Err(VerifyError::MissingCertificate { .. })));
}

#[test]
fn what_the_host_supplies_is_checked_like_any_other_certificate() {
    let v = vector(MILAN_V3);
    let input = Input::from_vector(&v);
    let ask = v.intermediate.clone().unwrap();
    // Another chip's VCEK (a real one, AMD-signed): the report's signature fails.
    let other = std::fs::read(format!("{}/data/snp/vcek_turin.der", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let host = SevGuestProvider::host_certs(&buffer(&[(guid::VCEK, &other), (guid::ASK, &ask)])).unwrap();
    let ev = SevGuestProvider::assemble(v.report.clone(), host, None).unwrap();
    assert!(verify(&input, &ev).is_err(), "a VCEK of another chip is refused");
    // Garbage in the VCEK slot: a clear certificate error, not a panic.
    let host = SevGuestProvider::host_certs(&buffer(&[(guid::VCEK, b"not DER"), (guid::ASK, &ask)])).unwrap();
    let ev = SevGuestProvider::assemble(v.report.clone(), host, None).unwrap();
    assert!(verify(&input, &ev).is_err());
    // A stray VLEK beside the right VCEK does not stop a VCEK-signed report.
    let host =
        SevGuestProvider::host_certs(&buffer(&[(guid::VLEK, &other), (guid::VCEK, &v.signer), (guid::ASK, &ask)]))
            .unwrap();
    verify(&input, &SevGuestProvider::assemble(v.report.clone(), host, None).unwrap()).unwrap();
}

#[test]
fn the_hosts_certificates_come_before_the_disks_which_only_fill_gaps() {
    let v = vector(MILAN_V3);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vcek.pem"), b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        .unwrap();
    std::fs::copy(format!("{}/data/snp/milan_ask.pem", env!("CARGO_MANIFEST_DIR")), dir.path().join("ask.pem"))
        .unwrap();
    let host = SevGuestProvider::host_certs(&buffer(&[(guid::VCEK, &v.signer)])).unwrap();
    let ev = SevGuestProvider::assemble(v.report.clone(), host, Some(dir.path())).unwrap();
    let kinds: Vec<CertKind> = ev.certs.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![CertKind::VCEK, CertKind::ASK], "the disk's VCEK is not added beside the host's");
    assert_eq!(ev.certs[0].der, v.signer);
    verify(&Input::from_vector(&v), &ev).unwrap();
}

#[test]
fn hostile_responses_and_tables_are_clear_errors() {
    let v = vector(MILAN_V3);
    for (resp, what) in [
        (response(0x16, 1184, &v.report), "status"),
        (response(0, 1000, &v.report), "1000 bytes"),
        (response(0, u32::MAX, &v.report), "bytes"),
        (vec![0; 7], "7 bytes"),
        (response(0, 1184, &v.report)[..600].to_vec(), "too short"),
    ] {
        let err = SevGuestProvider::report_from_response(&resp).unwrap_err().to_string();
        assert!(err.contains(what), "{what}: {err}");
    }
    // A table with no terminator, and one whose entry points outside the buffer.
    let mut t = encode_cert_table(&[(guid::VCEK, b"x")]);
    t.truncate(24);
    assert!(SevGuestProvider::host_certs(&t).unwrap_err().to_string().contains("certificate table"));
    let mut t = buffer(&[(guid::VCEK, b"x")]);
    t[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(SevGuestProvider::host_certs(&t).is_err());
    // The retry length: larger, page-sized, bounded; never a second try at the same size.
    assert_eq!(SevGuestProvider::retry_len(FIRST_CERTS_LEN, 5 * 4096), Some(5 * 4096));
    assert_eq!(SevGuestProvider::retry_len(FIRST_CERTS_LEN, 5 * 4096 + 1), Some(6 * 4096));
    assert_eq!(SevGuestProvider::retry_len(FIRST_CERTS_LEN, 4096), None);
    assert_eq!(SevGuestProvider::retry_len(FIRST_CERTS_LEN, u32::try_from(FIRST_CERTS_LEN).unwrap()), None);
    assert_eq!(SevGuestProvider::retry_len(FIRST_CERTS_LEN, u32::try_from(MAX_TABLE_LEN).unwrap() + 1), None);
    assert_eq!(SevGuestProvider::retry_len(FIRST_CERTS_LEN, u32::MAX), None);
}
