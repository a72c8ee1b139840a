//! Pinning a measurement into a trust policy file, after the user's explicit,
//! warned confirmation (the GUI offers it only when the policy names no measurement).
//!
//! The file is edited in place with `toml_edit`: the user's comments, order and other
//! keys stay as they were; only `measurements` gains one entry. The result must still
//! load as a policy before it replaces the file (written beside it, then renamed).

use std::path::Path;

use cvmc_protocol::Policy;

use crate::error::ClientError;

/// What the confirmation says, in words a person can check against.
pub const PIN_WARNING: &str = "Trusting this measurement means trusting whatever guest image produced it. \
The guest itself reported this value: compare it, out of band, with the measurement published by whoever \
built the image (or computed with a tool such as sev-snp-measure) before you trust it. From now on the \
policy accepts only guests with exactly this measurement.";

/// The policy text with `measurement` (96 hex characters) added to `measurements`.
pub fn add_measurement(text: &str, measurement: &str) -> Result<String, String> {
    if measurement.len() != 96 || !measurement.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("not a measurement (96 hex characters): {measurement:?}"));
    }
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.message().to_owned())?;
    let value = measurement.to_ascii_lowercase();
    match doc.get_mut("measurements") {
        None => {
            let mut list = toml_edit::Array::new();
            list.push(value);
            let mut key = toml_edit::Key::new("measurements");
            key.leaf_decor_mut().set_prefix("# Pinned from the cvm-console GUI after an explicit confirmation.\n");
            doc.insert_formatted(&key, toml_edit::Item::Value(list.into()));
            // insert_formatted appends after existing tables; a top-level key must come
            // before them, so move it to the front of the document's key order.
            doc.sort_values_by(|a, _, b, _| (b.get() == "measurements").cmp(&(a.get() == "measurements")));
        }
        Some(item) => {
            let Some(list) = item.as_array_mut() else {
                return Err("`measurements` is not a list".into());
            };
            if list.iter().any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&value))) {
                return Err("the measurement is in the policy already".into());
            }
            list.push(value);
        }
    }
    let out = doc.to_string();
    Policy::from_toml(&out).map_err(|e| format!("the edited policy does not load: {e}"))?;
    Ok(out)
}

/// Where a pinned value goes in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PinKey {
    /// SEV-SNP: the top-level `measurements` list.
    #[default]
    Measurements,
    /// Intel TDX: `mrtd` in the `[tdx]` table.
    TdxMrtd,
}

impl PinKey {
    /// Where it goes, for the dialog.
    pub fn shown(self) -> &'static str {
        match self {
            Self::Measurements => "`measurements`",
            Self::TdxMrtd => "`mrtd` in the `[tdx]` table",
        }
    }
}

/// The policy text with `mrtd` (96 hex characters) added to `[tdx] mrtd`, creating the
/// table or the key as needed.
pub fn add_mrtd(text: &str, mrtd: &str) -> Result<String, String> {
    if mrtd.len() != 96 || !mrtd.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("not an MRTD (96 hex characters): {mrtd:?}"));
    }
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.message().to_owned())?;
    let value = mrtd.to_ascii_lowercase();
    let table = doc.entry("tdx").or_insert_with(toml_edit::table);
    let Some(table) = table.as_table_like_mut() else {
        return Err("`tdx` is not a table".into());
    };
    match table.get_mut("mrtd") {
        None => {
            let mut list = toml_edit::Array::new();
            list.push(value);
            table.insert("mrtd", toml_edit::Item::Value(list.into()));
        }
        Some(item) => {
            let Some(list) = item.as_array_mut() else { return Err("`tdx.mrtd` is not a list".into()) };
            if list.iter().any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&value))) {
                return Err("the MRTD is in the policy already".into());
            }
            list.push(value);
        }
    }
    let out = doc.to_string();
    Policy::from_toml(&out).map_err(|e| format!("the edited policy does not load: {e}"))?;
    Ok(out)
}

/// Add `measurement` to the policy file at `path`, keeping the rest of the file.
pub fn pin_measurement(path: &Path, measurement: &str) -> Result<(), ClientError> {
    pin_value(path, PinKey::Measurements, measurement)
}

/// Add `value` under `key` in the policy file at `path`, keeping the rest of the file.
pub fn pin_value(path: &Path, key: PinKey, value: &str) -> Result<(), ClientError> {
    let bad = |reason: String| ClientError::BadInput { path: path.to_path_buf(), reason };
    let io = |e: std::io::Error| ClientError::File { path: path.to_path_buf(), reason: e.to_string() };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let out = match key {
        PinKey::Measurements => add_measurement(&text, value),
        PinKey::TdxMrtd => add_mrtd(&text, value),
    }
    .map_err(bad)?;
    let tmp = path.with_extension("toml.pinning");
    std::fs::write(&tmp, out).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn adds_to_an_empty_list_and_keeps_comments() {
        let text = "# my policy\nmeasurements = [] # none yet\nvmpl = 0\n\n[min_tcb]\nsnp = 3 # keep\n";
        let out = add_measurement(text, M).unwrap();
        assert!(out.contains("# my policy") && out.contains("snp = 3 # keep") && out.contains("# none yet"), "{out}");
        assert_eq!(Policy::from_toml(&out).unwrap().measurements[0].to_string(), M);
        assert!(add_measurement(&out, &M.to_ascii_uppercase()).unwrap_err().contains("already"));
    }

    #[test]
    fn an_mrtd_goes_into_the_tdx_table_made_if_needed() {
        let text = "# mine\nvmpl = 0\n";
        let out = add_mrtd(text, M).unwrap();
        let p = Policy::from_toml(&out).unwrap();
        assert_eq!(p.tdx.as_ref().unwrap().mrtd[0].to_string(), M);
        assert!(p.measurements.is_empty() && out.contains("# mine"), "{out}");
        let text = "[tdx]\nallow_debug = false # keep\nmrtd = []\n";
        let out = add_mrtd(text, M).unwrap();
        assert!(out.contains("# keep"), "{out}");
        assert_eq!(Policy::from_toml(&out).unwrap().tdx.unwrap().mrtd.len(), 1);
        assert!(add_mrtd(&out, M).unwrap_err().contains("already"));
        assert!(add_mrtd("tdx = 3\n", M).is_err());
        assert!(add_mrtd(text, "00").is_err());
    }

    #[test]
    fn adds_the_key_before_any_table() {
        let text = "vmpl = 0\n\n[min_tcb]\nsnp = 3\n";
        let out = add_measurement(text, M).unwrap();
        let policy = Policy::from_toml(&out).unwrap();
        assert_eq!(policy.measurements.len(), 1);
        assert!(out.find("measurements").unwrap() < out.find("[min_tcb]").unwrap(), "{out}");
        assert!(out.contains("# Pinned from the cvm-console GUI"));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(add_measurement("measurements = []", "abc").is_err());
        assert!(add_measurement("measurements = 3", M).unwrap_err().contains("not a list"));
        assert!(add_measurement("measurements = [", M).is_err());
    }

    #[test]
    fn edits_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "# keep me\nmeasurements = []\n").unwrap();
        pin_measurement(&path, M).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# keep me\n") && text.contains(M), "{text}");
    }
}
