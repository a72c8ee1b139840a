//! TCB level matching (`judge_platform`, `isv_level`) on any TCB info and any SVNs.
//!
//! Input: `[16 SGX components][PCESVN u16 LE][16 TEE_TCB_SVN bytes][TCB info JSON]`
//! (seeds: the real TCB infos of `tests/data/tdx/` behind the sample platforms' SVNs).
//!
//! Properties: nothing panics; matching is monotone: a platform whose SVNs are all at
//! least another's, with the same TDX module version (TEE_TCB_SVN byte 1), meets a
//! level whenever the other does.
#![no_main]

use cvmc_protocol::tdx::collateral::TcbInfo;
use cvmc_protocol::tdx::tcb::{PlatformSvns, isv_level, judge_platform};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 34 {
        return;
    }
    let (svns, json) = data.split_at(34);
    let mut sgx = [0u8; 16];
    sgx.copy_from_slice(&svns[..16]);
    let pce_svn = u16::from_le_bytes([svns[16], svns[17]]);
    let mut tee = [0u8; 16];
    tee.copy_from_slice(&svns[18..34]);
    let Ok(info) = serde_json::from_slice::<TcbInfo>(json) else { return };
    let low = judge_platform(&info, PlatformSvns { sgx: &sgx, pce_svn, tee_tcb_svn: &tee });
    for identity in &info.tdx_module_identities {
        let _ = isv_level(&identity.tcb_levels, u16::from(tee[0]));
    }
    if low.is_ok() {
        let (mut sgx_hi, mut tee_hi) = (sgx, tee);
        sgx_hi.iter_mut().for_each(|s| *s = s.saturating_add(1));
        for (i, t) in tee_hi.iter_mut().enumerate() {
            if i != 1 {
                *t = t.saturating_add(1);
            }
        }
        let high = judge_platform(
            &info,
            PlatformSvns { sgx: &sgx_hi, pce_svn: pce_svn.saturating_add(1), tee_tcb_svn: &tee_hi },
        );
        assert!(high.is_ok(), "higher SVNs meet no level: {high:?}");
    }
});
