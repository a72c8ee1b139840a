//! `cvm-console measure` on hostile firmware images: the OVMF footer-table and SEV
//! metadata parser, then (for an image it accepts) the whole measurement by the
//! `sev` crate, which indexes those tables unchecked.
//!
//! Input: any bytes (seeds: the AmdSev and OvmfPkgX64 footers of the reference
//! tool's fixtures), written to a file and measured with one vCPU.
//!
//! Properties: nothing panics; what the parser refuses is refused before the crate
//! sees it; an image the parser accepts is measured or refused, never a panic.
#![no_main]

use cvm_console::measure::{MeasureArgs, Vcpu, measure};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = cvmc_protocol::snp::ovmf::parse(data);
    if let Ok(facts) = &parsed {
        assert!(facts.size == data.len() && facts.size.is_multiple_of(4096));
        let _ = facts.measured_direct_boot();
    }
    // The file-based path only for page-sized inputs: the rest never reach the crate.
    if data.is_empty() || !data.len().is_multiple_of(4096) {
        return;
    }
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("ovmf.fd");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let args = MeasureArgs {
        ovmf: path,
        kernel: None,
        initrd: None,
        append: None,
        vcpus: 1,
        vcpu: Vcpu::Type("EPYC-v4".into()),
        vmm_type: "QEMU".into(),
        guest_features: 1,
        snp_ovmf_hash: None,
    };
    let measured = measure(&args);
    assert!(parsed.is_ok() || measured.is_err(), "an image the parser refused was measured");
});
