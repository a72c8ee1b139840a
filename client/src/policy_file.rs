//! Loading a trust policy file and the extra roots it names (paths relative to
//! the policy file).

use std::path::{Path, PathBuf};

use cvmc_protocol::{Policy, TrustAnchors};

use crate::error::{ClientError, read_file};

/// A loaded policy with its trust anchors.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// Where it was read from.
    pub path: PathBuf,
    /// The policy.
    pub policy: Policy,
    /// AMD's roots plus the policy's extra roots.
    pub anchors: TrustAnchors,
}

/// Read and check a policy file and its roots.
pub fn load_policy(path: &Path) -> Result<LoadedPolicy, ClientError> {
    let bytes = read_file(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ClientError::BadInput { path: path.to_path_buf(), reason: "not UTF-8 text".into() })?;
    let policy = Policy::from_toml(&text).map_err(|source| ClientError::Policy { path: path.to_path_buf(), source })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut anchors = TrustAnchors::amd();
    for root in &policy.trusted_roots {
        let root_path = base.join(root);
        let pem = read_file(&root_path)?;
        anchors.add_root(root, &pem).map_err(|source| ClientError::Root { path: root_path, source })?;
    }
    Ok(LoadedPolicy { path: path.to_path_buf(), policy, anchors })
}
