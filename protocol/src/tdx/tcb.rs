//! Choosing the TCB level of a TDX platform and combining the statuses of its parts,
//! as Intel's Quote Verification Library does for TDX:
//!
//! 1. Platform: the first TCB info level (highest first) whose 16 SGX components and
//!    PCESVN are met by the PCK certificate's and whose 16 TDX components are met by
//!    the quote's TEE_TCB_SVN. When TEE_TCB_SVN byte 1 (the module's major version)
//!    is not zero, TDX components 0 and 1 are left to step 2.
//! 2. TDX module: the module identity `TDX_NN` for that major version; its first level
//!    whose ISVSVN is met by TEE_TCB_SVN byte 0. An OutOfDate or Revoked module
//!    lowers the platform status.
//! 3. QE: the first QE identity level whose ISVSVN the QE report meets; OutOfDate or
//!    Revoked lowers the status the same way.
//! 4. TD 1.5: the current TCB (TEE_TCB_SVN_2) is judged the same way; an out-of-date
//!    launch TCB with a current one that is not becomes `TDRelaunchAdvised`.
//!
//! Advisory IDs of every part are collected, each once.

use serde::{Deserialize, Serialize};

use crate::tdx::collateral::{IsvLevel, TcbInfo, TcbLevel};
use crate::tdx::error::TdxError;

/// A TCB status as Intel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TcbStatus {
    /// The platform is patched; nothing to do.
    UpToDate,
    /// Patched, but software must apply mitigations (see the advisories).
    SWHardeningNeeded,
    /// Patched, but the platform's configuration needs a change (see the advisories).
    ConfigurationNeeded,
    /// Both of the above.
    ConfigurationAndSWHardeningNeeded,
    /// A TCB recovery the platform has not applied.
    OutOfDate,
    /// Out of date and needs configuration.
    OutOfDateConfigurationNeeded,
    /// The platform's keys are compromised.
    Revoked,
    /// TD 1.5: launched on an out-of-date TCB whose current TCB is up to date.
    TDRelaunchAdvised,
    /// TD 1.5: as above, with configuration needed.
    TDRelaunchAdvisedConfigurationNeeded,
}

impl TcbStatus {
    /// Intel's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SWHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::Revoked => "Revoked",
            Self::TDRelaunchAdvised => "TDRelaunchAdvised",
            Self::TDRelaunchAdvisedConfigurationNeeded => "TDRelaunchAdvisedConfigurationNeeded",
        }
    }

    /// Parse Intel's name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }

    /// Every status.
    pub const ALL: [Self; 9] = [
        Self::UpToDate,
        Self::SWHardeningNeeded,
        Self::ConfigurationNeeded,
        Self::ConfigurationAndSWHardeningNeeded,
        Self::OutOfDate,
        Self::OutOfDateConfigurationNeeded,
        Self::Revoked,
        Self::TDRelaunchAdvised,
        Self::TDRelaunchAdvisedConfigurationNeeded,
    ];

    /// Lower a platform status by a component's (QE, TDX module): only OutOfDate and
    /// Revoked components change it.
    pub fn converge(self, component: Self) -> Self {
        use TcbStatus::*;
        match (component, self) {
            (Revoked, _) => Revoked,
            (OutOfDate, UpToDate | SWHardeningNeeded) => OutOfDate,
            (OutOfDate, ConfigurationNeeded | ConfigurationAndSWHardeningNeeded) => OutOfDateConfigurationNeeded,
            _ => self,
        }
    }

    /// Combine a TD 1.5 launch status with its current one.
    pub fn with_current(self, current: Self) -> Self {
        use TcbStatus::*;
        let config = |s| {
            matches!(
                s,
                ConfigurationNeeded
                    | OutOfDateConfigurationNeeded
                    | ConfigurationAndSWHardeningNeeded
                    | TDRelaunchAdvisedConfigurationNeeded
            )
        };
        match (self, current) {
            (
                OutOfDate | OutOfDateConfigurationNeeded,
                UpToDate | SWHardeningNeeded | ConfigurationNeeded | ConfigurationAndSWHardeningNeeded,
            ) => {
                if config(self) || config(current) {
                    TDRelaunchAdvisedConfigurationNeeded
                } else {
                    TDRelaunchAdvised
                }
            }
            _ => self,
        }
    }
}

impl std::fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The platform's SVNs the levels are matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformSvns<'a> {
    /// The PCK certificate's 16 SGX components.
    pub sgx: &'a [u8; 16],
    /// The PCK certificate's PCESVN.
    pub pce_svn: u16,
    /// The quote's TEE_TCB_SVN (or TEE_TCB_SVN_2 for the current TCB).
    pub tee_tcb_svn: &'a [u8; 16],
}

/// The judged TCB: status, advisories and the date of its oldest part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The combined status.
    pub status: TcbStatus,
    /// Advisory IDs, each once, in the order found.
    pub advisory_ids: Vec<String>,
    /// The matched platform level's tcbDate.
    pub tcb_date: String,
}

fn add_advisories(into: &mut Vec<String>, from: &[String]) {
    for a in from {
        if !into.contains(a) {
            into.push(a.clone());
        }
    }
}

fn meets(have: &[u8], need: &[crate::tdx::collateral::Component], skip: usize) -> Result<bool, String> {
    if need.len() != have.len() {
        return Err(format!("a TCB level lists {} components, expected {}", need.len(), have.len()));
    }
    Ok(have.iter().zip(need).skip(skip).all(|(h, n)| *h >= n.svn))
}

/// The platform level, converged with the TDX module's (steps 1 and 2).
pub fn judge_platform(info: &TcbInfo, svns: PlatformSvns<'_>) -> Result<Judged, TdxError> {
    let bad = |reason: String| TdxError::CollateralFormat { what: "TCB info", reason };
    // Every level must be well formed, not only those visited before a match: else
    // whether a malformed (if signed) document is refused would depend on the SVNs.
    for level in &info.tcb_levels {
        let (sgx, tdx) = (level.tcb.sgxtcbcomponents.len(), level.tcb.tdxtcbcomponents.len());
        if sgx != 16 || tdx != 16 {
            return Err(bad(format!("a TCB level lists {sgx} SGX and {tdx} TDX components, expected 16 each")));
        }
    }
    let module_version = svns.tee_tcb_svn[1];
    let skip = if module_version > 0 { 2 } else { 0 };
    let mut levels: Vec<&TcbLevel> = info.tcb_levels.iter().collect();
    // Intel publishes levels highest first; sort anyway, so that the first match is
    // the highest level met whatever order the (signed) document uses.
    levels.sort_by(|a, b| {
        let key = |l: &TcbLevel| {
            (
                l.tcb.sgxtcbcomponents.iter().map(|c| c.svn).collect::<Vec<_>>(),
                l.tcb.pcesvn,
                l.tcb.tdxtcbcomponents.iter().map(|c| c.svn).collect::<Vec<_>>(),
            )
        };
        key(b).cmp(&key(a))
    });
    let mut found = None;
    for level in levels {
        if meets(svns.sgx, &level.tcb.sgxtcbcomponents, 0).map_err(bad)?
            && svns.pce_svn >= level.tcb.pcesvn
            && meets(svns.tee_tcb_svn, &level.tcb.tdxtcbcomponents, skip).map_err(bad)?
        {
            found = Some(level);
            break;
        }
    }
    let level = found.ok_or_else(|| TdxError::NoTcbLevel {
        sgx: hex::encode(svns.sgx),
        pce_svn: svns.pce_svn,
        tee_tcb_svn: hex::encode(svns.tee_tcb_svn),
    })?;
    let mut judged =
        Judged { status: level.tcb_status, advisory_ids: level.advisory_ids.clone(), tcb_date: level.tcb_date.clone() };
    if matches!(level.tcb_status, TcbStatus::TDRelaunchAdvised | TcbStatus::TDRelaunchAdvisedConfigurationNeeded) {
        return Err(bad(format!("a platform level has the status {}", level.tcb_status)));
    }
    if module_version > 0 {
        let module_level = module_identity_level(info, svns.tee_tcb_svn)?;
        if !matches!(module_level.tcb_status, TcbStatus::UpToDate | TcbStatus::OutOfDate | TcbStatus::Revoked) {
            return Err(bad(format!("a TDX module level has the status {}", module_level.tcb_status)));
        }
        judged.status = judged.status.converge(module_level.tcb_status);
        add_advisories(&mut judged.advisory_ids, &module_level.advisory_ids);
    }
    Ok(judged)
}

/// The TDX module identity for the quote's module version (`TDX_NN`), if the
/// version is not zero.
pub fn module_identity<'a>(
    info: &'a TcbInfo,
    tee_tcb_svn: &[u8; 16],
) -> Result<Option<&'a crate::tdx::collateral::TdxModuleIdentity>, TdxError> {
    let version = tee_tcb_svn[1];
    if version == 0 {
        return Ok(None);
    }
    let id = format!("TDX_{version:02X}");
    info.tdx_module_identities
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(&id))
        .map(Some)
        .ok_or(TdxError::NoModuleIdentity { id })
}

fn module_identity_level<'a>(info: &'a TcbInfo, tee_tcb_svn: &[u8; 16]) -> Result<&'a IsvLevel, TdxError> {
    let identity = module_identity(info, tee_tcb_svn)?.ok_or(TdxError::NoModuleIdentity { id: "TDX_00".into() })?;
    isv_level(&identity.tcb_levels, u16::from(tee_tcb_svn[0]))
        .ok_or_else(|| TdxError::SvnBelowLevels { what: "TDX module", svn: u16::from(tee_tcb_svn[0]) })
}

/// The first level (highest first) whose ISVSVN `svn` meets.
pub fn isv_level(levels: &[IsvLevel], svn: u16) -> Option<&IsvLevel> {
    let mut sorted: Vec<&IsvLevel> = levels.iter().collect();
    sorted.sort_by_key(|l| std::cmp::Reverse(l.tcb.isvsvn));
    sorted.into_iter().find(|l| svn >= l.tcb.isvsvn)
}

/// Converge a platform judgement with the QE's level (step 3).
pub fn with_qe(mut judged: Judged, qe: &IsvLevel) -> Result<Judged, TdxError> {
    if matches!(
        qe.tcb_status,
        TcbStatus::SWHardeningNeeded
            | TcbStatus::ConfigurationAndSWHardeningNeeded
            | TcbStatus::TDRelaunchAdvised
            | TcbStatus::TDRelaunchAdvisedConfigurationNeeded
    ) {
        return Err(TdxError::CollateralFormat {
            what: "QE identity",
            reason: format!("a level has the status {}", qe.tcb_status),
        });
    }
    judged.status = judged.status.converge(qe.tcb_status);
    add_advisories(&mut judged.advisory_ids, &qe.advisory_ids);
    Ok(judged)
}

#[cfg(test)]
mod tests {
    use super::TcbStatus::*;

    /// Found by the tdx_tcb_levels fuzz target: a level with no TDX components after
    /// a level the platform meets was refused only for platforms that got that far.
    #[test]
    fn a_malformed_level_is_refused_whatever_the_svns() {
        use super::{PlatformSvns, judge_platform};
        use crate::tdx::collateral::TcbInfo;
        let comps = |v: u8| (0..16).map(|_| format!("{{\"svn\":{v}}}")).collect::<Vec<_>>().join(",");
        let text = format!(
            r#"{{"id":"TDX","version":3,"issueDate":"","nextUpdate":"","fmspc":"","pceId":"","tcbEvaluationDataNumber":1,
            "tdxModule":null,"tcbLevels":[
            {{"tcb":{{"sgxtcbcomponents":[{hi}],"pcesvn":5,"tdxtcbcomponents":[]}},"tcbDate":"","tcbStatus":"UpToDate"}},
            {{"tcb":{{"sgxtcbcomponents":[{lo}],"pcesvn":1,"tdxtcbcomponents":[{zero}]}},"tcbDate":"","tcbStatus":"OutOfDate"}}]}}"#,
            hi = comps(5),
            lo = comps(1),
            zero = comps(0)
        );
        let info: TcbInfo = serde_json::from_str(&text).unwrap();
        for svn in [1u8, 9] {
            let (sgx, mut tee) = ([svn; 16], [svn; 16]);
            tee[1] = 0; // no module version: the platform level alone decides
            let r = judge_platform(&info, PlatformSvns { sgx: &sgx, pce_svn: u16::from(svn) * 5, tee_tcb_svn: &tee });
            assert!(r.is_err(), "svn {svn}: {r:?}");
        }
    }

    #[test]
    fn components_lower_the_platform_only_when_out_of_date_or_revoked() {
        assert_eq!(UpToDate.converge(UpToDate), UpToDate);
        assert_eq!(UpToDate.converge(OutOfDate), OutOfDate);
        assert_eq!(SWHardeningNeeded.converge(OutOfDate), OutOfDate);
        assert_eq!(ConfigurationNeeded.converge(OutOfDate), OutOfDateConfigurationNeeded);
        assert_eq!(SWHardeningNeeded.converge(ConfigurationNeeded), SWHardeningNeeded);
        assert_eq!(UpToDate.converge(Revoked), Revoked);
    }

    #[test]
    fn relaunch_is_advised_when_only_the_launch_tcb_is_out_of_date() {
        assert_eq!(OutOfDate.with_current(UpToDate), TDRelaunchAdvised);
        assert_eq!(OutOfDate.with_current(ConfigurationNeeded), TDRelaunchAdvisedConfigurationNeeded);
        assert_eq!(OutOfDate.with_current(OutOfDate), OutOfDate);
        assert_eq!(UpToDate.with_current(OutOfDate), UpToDate);
        for s in super::TcbStatus::ALL {
            assert_eq!(super::TcbStatus::from_name(s.name()), Some(s));
        }
    }
}
