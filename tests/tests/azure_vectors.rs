//! Azure's paravisor evidence with the real vectors of `tests/data/azure/`: the HCL
//! reports parse byte-exact and their runtime claims are what REPORT_DATA hashes; the
//! vector's certificates chain to AMD's Milan root but are another chip's (their
//! hwID is not the report's CHIP_ID), so the real report is refused at its signature;
//! the vTPM quote verifies with its AK. The whole verification, and each way of
//! bending the evidence, run on HCL reports made the way the paravisor makes them,
//! around an SEV-SNP report of the simulated chain whose REPORT_DATA hashes the real
//! runtime claims.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use cvmc_protocol::azure::claims::{AkPub, ClaimValue, RuntimeClaims};
use cvmc_protocol::azure::hcl::{self, ClaimsHash, HclReport, HwReportType};
use cvmc_protocol::azure::quote::verify_quote;
use cvmc_protocol::azure::verify_azure_snp;
use cvmc_protocol::policy::Hex;
use cvmc_protocol::snp::certs::AmdCert;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::{Report, SigningKey};
use cvmc_protocol::{AvailableCerts, Check, ExpectedReportData, Policy, TrustAnchors, VerifyError};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/data/azure/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn der(name: &str) -> Vec<u8> {
    let pem = String::from_utf8(data(name)).unwrap();
    der::pem::decode_vec(pem.trim().as_bytes()).unwrap().1
}

struct Snp {
    hcl: Vec<u8>,
    vcek: Vec<u8>,
    ask: Vec<u8>,
    policy: Policy,
    anchors: TrustAnchors,
    now: u64,
}

/// The real vector with the vector's certificates and AMD's roots.
fn real() -> Snp {
    let hcl = data("azcvm_hcl-report-snp.bin");
    let report = Report::parse(HclReport::parse(&hcl).unwrap().hw_report).unwrap();
    let vcek = der("azcvm_vcek.pem");
    let now = AmdCert::from_der("VCEK", &vcek).unwrap().validity().0 + 86_400;
    let policy = Policy { measurements: vec![Hex(report.measurement)], vmpl: report.vmpl, ..Policy::default() };
    Snp { hcl, vcek, ask: der("azcvm_ask.pem"), policy, anchors: TrustAnchors::amd(), now }
}

/// An HCL report as the paravisor makes it, around a simulated Milan report whose
/// REPORT_DATA is the SHA-256 of `claims` (the real ones unless a test bends them).
fn paravisor(claims: &[u8]) -> Snp {
    let ca = cvmc_tests::sim_ca(Product::Milan);
    let signer = ca.issue_leaf(&ca.default_leaf(SigningKey::Vcek)).unwrap();
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(&ClaimsHash::Sha256.digest(claims));
    let r = signer.report_template(report_data);
    let hcl = hcl::encode(HwReportType::Snp, &signer.sign(&r), claims, 2048);
    let mut policy = Policy { measurements: vec![Hex(r.measurement)], ..Policy::default() };
    policy.trusted_roots = vec!["sim/ark.pem".into()];
    let root = der::EncodePem::to_pem(&ca.ark, der::pem::LineEnding::LF).unwrap();
    let anchors = TrustAnchors::with_extra_roots([("sim/ark.pem", root.as_bytes())]).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    Snp { hcl, vcek: signer.cert_der(), ask: ca.ask_der(), policy, anchors, now }
}

/// The paravisor's HCL report around the real claims that carry user-data (zeros).
fn snp() -> Snp {
    paravisor(&data("azcvm_var-data.bin"))
}

impl Snp {
    fn verify(&self, expected: &ExpectedReportData) -> Result<cvmc_protocol::azure::AzureVerified, VerifyError> {
        self.verify_bytes(&self.hcl, expected)
    }

    fn verify_bytes(
        &self,
        hcl: &[u8],
        expected: &ExpectedReportData,
    ) -> Result<cvmc_protocol::azure::AzureVerified, VerifyError> {
        let certs = AvailableCerts { vcek: Some(&self.vcek), ask: Some(&self.ask), ..AvailableCerts::default() };
        verify_azure_snp(hcl, certs, expected, &self.policy, &self.anchors, self.now)
    }
}

#[test]
fn the_real_snp_hcl_report_parses_byte_exact_and_its_claims_are_what_report_data_hashes() {
    let raw = data("azcvm_hcl-report-snp.bin");
    let h = HclReport::parse(&raw).unwrap();
    assert_eq!((h.version, h.report_type, h.hash), (1, HwReportType::Snp, ClaimsHash::Sha256));
    assert_eq!(h.hw_report, &raw[32..32 + 1184]);
    let report = Report::parse(h.hw_report).unwrap();
    assert_eq!(h.claims_digest(), report.report_data[..32].to_vec());
    assert_eq!(report.report_data[32..], [0; 32]);
    let claims = RuntimeClaims::parse(h.variable_data).unwrap();
    assert_eq!(claims.flag("secure-boot"), Some(true));
    assert_eq!(claims.flag("console-enabled"), Some(true));
    assert_eq!(claims.vm_configuration.get("current-time"), Some(&ClaimValue::Other("1678652405".into())));
    assert_eq!(claims.user_data, None, "this report was fetched without user data");
    assert!(claims.ak.is_some());
    // The separate claims file: with user-data (64 zero bytes), AK and EK.
    let other = RuntimeClaims::parse(&data("azcvm_var-data.bin")).unwrap();
    assert_eq!(other.user_data, Some([0; 64]));
    assert_ne!(other.ak, claims.ak);
}

#[test]
fn the_real_report_chains_to_amd_but_the_vectors_vcek_is_another_chips() {
    let s = real();
    let ark = TrustAnchors::amd_ark(Product::Milan).unwrap();
    let ask = AmdCert::from_der("ASK", &s.ask).unwrap();
    let vcek = AmdCert::from_der("VCEK", &s.vcek).unwrap();
    ark.check_issued(&ask).unwrap();
    ask.check_issued(&vcek).unwrap();
    let report = Report::parse(HclReport::parse(&s.hcl).unwrap().hw_report).unwrap();
    let hwid = vcek.require_extension(&cvmc_protocol::snp::certs::ext::HWID, "hwID").unwrap();
    assert_ne!(hwid, &report.chip_id[..], "the vector's VCEK is not this report's chip");
    // The claims check passes on the real report (it runs first); its signature is
    // not the VCEK's.
    let e = s.verify(&ExpectedReportData::NotBound).unwrap_err();
    assert_eq!(e.check(), Check::Signature, "{e}");
}

#[test]
fn an_hcl_report_made_as_the_paravisor_makes_it_verifies_with_the_claims_row() {
    let s = snp();
    let v = s.verify(&ExpectedReportData::NotBound).unwrap();
    assert!(v.snp.simulated() && !v.snp.binding_checked);
    let checks: Vec<Check> = v.snp.passed.iter().map(|p| p.check).collect();
    assert_eq!(checks.last(), Some(&Check::RuntimeClaims));
    assert!(!checks.contains(&Check::Binding), "{checks:?}");
    let row = &v.snp.passed.last().unwrap().detail;
    assert!(row.contains("SHA-256") && row.contains("AK SHA256:") && row.contains("console-enabled=true"), "{row}");
    assert!(v.snp.warnings.iter().any(|w| w.starts_with("binding not checked")), "{:?}", v.snp.warnings);
    assert!(v.snp.warnings.iter().any(|w| w.contains("serial console is enabled")), "{:?}", v.snp.warnings);

    // Its user-data is 64 zero bytes: as a binding, that passes, and anything else
    // is a relay or replay, refused by the binding check.
    let v = s.verify(&ExpectedReportData::Exact([0; 64])).unwrap();
    assert!(v.snp.binding_checked);
    assert!(v.snp.passed.iter().any(|p| p.check == Check::Binding));
    let e = s.verify(&ExpectedReportData::Exact([1; 64])).unwrap_err();
    assert_eq!((e.name(), e.check()), ("runtime_claims_user_data", Check::Binding), "{e}");
}

#[test]
fn bent_azure_evidence_is_refused_by_its_named_check() {
    let s = snp();
    let var_at = hcl::VARIABLE_DATA_OFFSET;
    let unique = s.hcl.windows(8).position(|w| w == b"3404EF27").unwrap();
    assert!(unique > var_at);

    // Runtime claims edited (one character of vmUniqueId): the hash no longer matches.
    let mut edited = s.hcl.clone();
    edited[unique] = b'4';
    let e = s.verify_bytes(&edited, &ExpectedReportData::NotBound).unwrap_err();
    assert_eq!((e.name(), e.check()), ("runtime_claims_hash", Check::RuntimeClaims), "{e}");

    // The HCL report carrying another VM's SNP report (a real, AMD-signed one).
    let other = std::fs::read(format!("{}/data/snp/milan_attestation_report.bin", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut swapped = s.hcl.clone();
    swapped[32..32 + 1184].copy_from_slice(&other);
    let e = s.verify_bytes(&swapped, &ExpectedReportData::NotBound).unwrap_err();
    assert_eq!(e.name(), "runtime_claims_hash", "{e}");

    // The AK swapped: a policy pinning another AK (here the quote's) refuses this one.
    let mut pinned = snp();
    let other_ak = AkPub::from_pem(std::str::from_utf8(&data("azcvm_akpub.pem")).unwrap()).unwrap();
    pinned.policy.azure.ak_pub = vec![Hex(other_ak.fingerprint)];
    let e = pinned.verify(&ExpectedReportData::NotBound).unwrap_err();
    assert_eq!((e.name(), e.check()), ("ak_pin", Check::RuntimeClaims), "{e}");
    let own = RuntimeClaims::parse(HclReport::parse(&s.hcl).unwrap().variable_data).unwrap().ak.unwrap();
    pinned.policy.azure.ak_pub = vec![Hex(other_ak.fingerprint), Hex(own.fingerprint)];
    pinned.verify(&ExpectedReportData::NotBound).unwrap();

    // vm-configuration: console-enabled is true here; a policy requiring false refuses.
    let mut strict = snp();
    strict.policy.azure.vm_configuration.insert("secure-boot".into(), true);
    strict.verify(&ExpectedReportData::NotBound).unwrap();
    strict.policy.azure.vm_configuration.insert("console-enabled".into(), false);
    let e = strict.verify(&ExpectedReportData::NotBound).unwrap_err();
    assert_eq!((e.name(), e.check()), ("azure_vm_configuration", Check::Policy), "{e}");
    assert!(e.to_string().contains("console-enabled is true"), "{e}");
    strict.policy.azure.vm_configuration.clear();
    strict.policy.azure.vm_configuration.insert("no-such-claim".into(), true);
    assert!(strict.verify(&ExpectedReportData::NotBound).unwrap_err().to_string().contains("absent"));

    // The embedded report is checked as on bare SEV-SNP: another measurement pinned.
    let mut other_measurement = snp();
    other_measurement.policy.measurements = vec![Hex([7; 48])];
    let e = other_measurement.verify(&ExpectedReportData::NotBound).unwrap_err();
    assert_eq!(e.check(), Check::Measurement, "{e}");
}

#[test]
fn hostile_hcl_reports_are_clear_errors() {
    let raw = data("azcvm_hcl-report-snp.bin");
    let set = |at: usize, v: u32| {
        let mut b = raw.clone();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (raw[..1000].to_vec(), "shorter"),
        (vec![0; hcl::MAX_HCL_LEN + 1], "more than"),
        (set(0, 0x1234_5678), "signature"),
        (set(4, 9), "version"),
        (set(16, 1), "status"),
        (set(1216 + 8, 3), "hardware report type"),
        (set(1216 + 12, 0), "hash type"),
        (set(1216 + 16, 60_000), "HCL data size"),
        (set(1216, 20 + 60_000), "HCL data size"),
        (set(8, 5), "report size"),
    ];
    let mut bad = cases;
    // Variable data size and data size consistent, but past the end.
    let mut past = set(1216 + 16, 4000);
    past[1216..1220].copy_from_slice(&4020u32.to_le_bytes());
    bad.push((past, "runs past"));
    for (bytes, want) in bad {
        let e = HclReport::parse(&bytes).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
    // Claims that are not JSON, or whose user-data is not 64 bytes of hex.
    assert!(RuntimeClaims::parse(b"{not json").is_err());
    assert!(RuntimeClaims::parse(br#"{"user-data":"zz"}"#).unwrap_err().to_string().contains("hex"));
    assert!(RuntimeClaims::parse(br#"{"user-data":"00"}"#).unwrap_err().to_string().contains("1 bytes"));
    assert!(RuntimeClaims::parse(br#"{"keys":[{"kid":"HCLAkPub","kty":"EC"}]}"#).is_err());
    let two = br#"{"keys":[{"kid":"HCLAkPub","kty":"RSA","n":"AQAB","e":"AQAB"},{"kid":"HCLAkPub","kty":"RSA","n":"AQAB","e":"AQAB"}]}"#;
    assert!(RuntimeClaims::parse(two).unwrap_err().to_string().contains("two keys"));
    // A round trip of the encoder the test paravisor uses.
    let h = HclReport::parse(&raw).unwrap();
    let again = hcl::encode(HwReportType::Snp, h.hw_report, h.variable_data, raw.len());
    let h2 = HclReport::parse(&again).unwrap();
    assert_eq!((h2.hw_report, h2.variable_data), (h.hw_report, h.variable_data));
}

#[test]
fn the_real_tdx_hcl_report_parses_and_its_ak_is_extracted() {
    let raw = data("azcvm_hcl-report-tdx.bin");
    let h = HclReport::parse(&raw).unwrap();
    assert_eq!(h.report_type, HwReportType::Tdx);
    assert_eq!(h.hw_report.len(), 1024);
    assert_eq!(h.hw_report[0], 0x81, "TDREPORT type: TDX");
    assert_eq!(h.claims_digest(), h.hw_report[128..160].to_vec(), "REPORTDATA[0..32] = SHA-256(claims)");
    let claims = RuntimeClaims::parse(h.variable_data).unwrap();
    let ak = claims.ak.unwrap();
    assert_eq!(rsa::traits::PublicKeyParts::size(&ak.key), 256, "an RSA-2048 AK");
    assert!(ak.fingerprint_shown().starts_with("SHA256:"));
    // A live TDX HCL report cannot be verified without Azure's quote: a clear refusal.
    let s = snp();
    let e = s.verify_bytes(&raw, &ExpectedReportData::NotBound).unwrap_err();
    assert_eq!(e.name(), "hcl_report_type", "{e}");
}

/// The origin's bincode `Quote { signature, message, pcrs: Vec<[u8; 32]> }`: each
/// field a u64 LE length (or count), then its bytes.
fn quote() -> (Vec<u8>, Vec<u8>, Vec<[u8; 32]>) {
    let raw = data("azcvm_quote.bin");
    let mut at = 0;
    let mut field = |unit: usize| {
        let n = usize::try_from(u64::from_le_bytes(raw[at..at + 8].try_into().unwrap())).unwrap() * unit;
        at += 8 + n;
        raw[at - n..at].to_vec()
    };
    let (signature, message, pcrs) = (field(1), field(1), field(32));
    assert_eq!(at, raw.len());
    (signature, message, pcrs.chunks(32).map(|p| p.try_into().unwrap()).collect())
}

#[test]
fn the_vtpm_quote_verifies_with_its_ak_for_challenge_and_for_nothing_else() {
    let (signature, message, pcrs) = quote();
    let ak = AkPub::from_pem(std::str::from_utf8(&data("azcvm_akpub.pem")).unwrap()).unwrap();
    let info = verify_quote(&message, &signature, &ak, b"challenge", Some(&pcrs)).unwrap();
    assert_eq!(info.selection.len(), 1);
    assert_eq!(info.selection[0], (0x000b, (0..24).collect::<Vec<u8>>()), "SHA-256 bank, PCRs 0-23");
    for nonce in [&b"challengf"[..], b"", b"challenge\0"] {
        let e = verify_quote(&message, &signature, &ak, nonce, Some(&pcrs)).unwrap_err();
        assert!(e.to_string().contains("nonce"), "{e}");
    }
    // Another AK (the SNP CVM's, from its claims) does not verify the signature.
    let s = snp();
    let other = RuntimeClaims::parse(HclReport::parse(&s.hcl).unwrap().variable_data).unwrap().ak.unwrap();
    let e = verify_quote(&message, &signature, &other, b"challenge", None).unwrap_err();
    assert!(e.to_string().contains("not by the AK"), "{e}");
    // A PCR value changed: the digest no longer matches.
    let mut bent = pcrs.clone();
    bent[7][0] ^= 1;
    assert!(verify_quote(&message, &signature, &ak, b"challenge", Some(&bent)).is_err());
    // A message bit flipped: the signature fails (or the parse does).
    let mut m = message.clone();
    m[40] ^= 1;
    assert!(verify_quote(&m, &signature, &ak, b"challenge", None).is_err());
}
