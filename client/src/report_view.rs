//! Every field of an SEV-SNP report as named, decoded values: the `--json`
//! output's `report` object and the GUI's Attestation tab render the same list.

use serde_json::{Map, Value, json};

use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::Report;
use cvmc_protocol::snp::tcb::RawTcb;
use cvmc_protocol::snp::verify::policy_bits;

/// Guest policy bits, decoded.
pub fn policy_json(policy: u64) -> Value {
    json!({
        "raw": format!("{policy:#x}"),
        "abi_major": (policy >> policy_bits::ABI_MAJOR_SHIFT) & 0xff,
        "abi_minor": policy & policy_bits::ABI_MINOR_MASK,
        "smt": policy & policy_bits::SMT != 0,
        "migrate_ma": policy & policy_bits::MIGRATE_MA != 0,
        "debug": policy & policy_bits::DEBUG != 0,
        "single_socket": policy & policy_bits::SINGLE_SOCKET != 0,
    })
}

fn tcb_json(raw: RawTcb, product: Option<Product>) -> Value {
    let mut obj = Map::new();
    obj.insert("raw".into(), json!(hex::encode(raw.0)));
    if let Some(Ok(t)) = product.map(|p| raw.decode(p)) {
        for (c, v) in t.components() {
            obj.insert(c.to_string(), json!(v));
        }
    }
    Value::Object(obj)
}

/// All report fields. `product` decodes the TCB fields (their layout depends on it).
pub fn report_json(r: &Report, product: Option<Product>) -> Value {
    let version = |(maj, min, build): (u8, u8, u8)| format!("{maj}.{min}.{build}");
    json!({
        "version": r.version,
        "guest_svn": r.guest_svn,
        "policy": policy_json(r.policy),
        "family_id": hex::encode(r.family_id),
        "image_id": hex::encode(r.image_id),
        "vmpl": r.vmpl,
        "signature_algo": r.signature_algo,
        "current_tcb": tcb_json(r.current_tcb, product),
        "platform_info": format!("{:#x}", r.platform_info),
        "author_key_en": r.author_key_en,
        "mask_chip_key": r.mask_chip_key,
        "signing_key": r.signing_key,
        "report_data": hex::encode(r.report_data),
        "measurement": hex::encode(r.measurement),
        "host_data": hex::encode(r.host_data),
        "id_key_digest": hex::encode(r.id_key_digest),
        "author_key_digest": hex::encode(r.author_key_digest),
        "report_id": hex::encode(r.report_id),
        "report_id_ma": hex::encode(r.report_id_ma),
        "reported_tcb": tcb_json(r.reported_tcb, product),
        "cpuid": r.cpuid.map(|(f, m, s)| json!({"family": f, "model": m, "stepping": s})),
        "chip_id": hex::encode(r.chip_id),
        "committed_tcb": tcb_json(r.committed_tcb, product),
        "current_version": version(r.current_version),
        "committed_version": version(r.committed_version),
        "launch_tcb": tcb_json(r.launch_tcb, product),
        "mit_vectors": r.mit_vectors.map(|(l, c)| json!({"launch": format!("{l:#x}"), "current": format!("{c:#x}")})),
    })
}

/// TDATTRIBUTES, decoded.
pub fn td_attributes_json(attributes: u64) -> Value {
    use cvmc_protocol::tdx::quote::{
        TD_ATTR_DEBUG, TD_ATTR_MIGRATABLE, TD_ATTR_RESERVED, TD_ATTR_SEPT_VE_DISABLE, TD_ATTR_SERVTD_EXT,
        TD_ATTR_TUD_OTHER,
    };
    json!({
        "raw": format!("{attributes:#018x}"),
        "debug": attributes & TD_ATTR_DEBUG != 0,
        "tud_other": attributes & TD_ATTR_TUD_OTHER != 0,
        "sept_ve_disable": attributes & TD_ATTR_SEPT_VE_DISABLE != 0,
        "migratable": attributes & TD_ATTR_MIGRATABLE != 0,
        "servtd_ext": attributes & TD_ATTR_SERVTD_EXT != 0,
        "reserved": attributes & TD_ATTR_RESERVED != 0,
    })
}

/// All fields of a TDX quote's header and TD report.
pub fn quote_json(q: &cvmc_protocol::tdx::Quote) -> Value {
    let td = &q.td;
    json!({
        "version": q.header.version,
        "body_type": q.body_type,
        "qe_svn": q.header.qe_svn,
        "pce_svn": q.header.pce_svn,
        "tee_tcb_svn": hex::encode(td.tee_tcb_svn),
        "mrseam": hex::encode(td.mr_seam),
        "mrsignerseam": hex::encode(td.mr_signer_seam),
        "seam_attributes": hex::encode(td.seam_attributes),
        "td_attributes": td_attributes_json(td.attributes()),
        "xfam": hex::encode(td.xfam),
        "mrtd": hex::encode(td.mr_td),
        "mrconfigid": hex::encode(td.mr_config_id),
        "mrowner": hex::encode(td.mr_owner),
        "mrownerconfig": hex::encode(td.mr_owner_config),
        "rtmr0": hex::encode(td.rtmr[0]),
        "rtmr1": hex::encode(td.rtmr[1]),
        "rtmr2": hex::encode(td.rtmr[2]),
        "rtmr3": hex::encode(td.rtmr[3]),
        "report_data": hex::encode(td.report_data),
        "tee_tcb_svn2": td.tee_tcb_svn2.map(hex::encode),
        "mrservicetd": td.mr_service_td.map(hex::encode),
        "qe_isv_svn": q.qe_report.isv_svn,
        "unsigned_trailing_bytes": q.trailing,
    })
}

/// The runtime claims of an Azure HCL report, for `--json` (`runtime_claims`): their
/// digest as REPORT_DATA begins, the vTPM AK, the `vm-configuration` claims, and the
/// user-data (hex).
pub fn claims_json(c: &cvmc_protocol::azure::claims::RuntimeClaims, hash: &str, digest: &str) -> Value {
    let config: serde_json::Map<String, Value> =
        c.vm_configuration.iter().map(|(k, v)| (cvmc_protocol::text::escape(k).into_owned(), json!(v))).collect();
    json!({
        "hash": hash,
        "digest": digest,
        "ak_pub": c.ak.as_ref().map(|a| a.fingerprint_shown()),
        "vm_configuration": config,
        "user_data": c.user_data.map(hex::encode),
    })
}
