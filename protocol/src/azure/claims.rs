//! The runtime claims: the JSON the paravisor puts in the HCL report's variable data
//! and hashes into the hardware report's REPORT_DATA.
//!
//! ```json
//! {"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"…"}, {"kid":"HCLEkPub",…}],
//!  "vm-configuration":{"console-enabled":true,"secure-boot":true,"tpm-enabled":true,…},
//!  "user-data":"<128 hex digits: the 64 bytes last written to NV 0x01400002>"}
//! ```
//!
//! Parsed from bytes already bounded by the HCL parser; unknown members are ignored
//! (Azure adds claims over time), known ones must have their type. The AK is the
//! vTPM's attestation key (persistent handle 0x81000003): its public key is shown as
//! `SHA256:<hex>` of its SubjectPublicKeyInfo DER (what `openssl pkey -pubin
//! -outform der | sha256sum` prints for the key's PEM), so a user can pin it.

use std::collections::BTreeMap;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use rsa::pkcs8::EncodePublicKey as _;
use sha2::Digest as _;

use super::error::AzureError;

/// The key ID of the vTPM attestation key in the claims.
pub const AK_KID: &str = "HCLAkPub";
/// Most keys accepted in `keys`.
pub const MAX_KEYS: usize = 16;
/// Largest RSA modulus accepted (bits).
pub const MAX_RSA_BITS: usize = 4096;

/// The vTPM attestation key from the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AkPub {
    /// The RSA public key.
    pub key: rsa::RsaPublicKey,
    /// SHA-256 of its SubjectPublicKeyInfo DER.
    pub fingerprint: [u8; 32],
}

impl AkPub {
    /// From an RSA public key.
    pub fn new(key: rsa::RsaPublicKey) -> Result<Self, AzureError> {
        let der = key
            .to_public_key_der()
            .map_err(|e| AzureError::Claims { reason: format!("the AK does not encode: {e}") })?;
        Ok(Self { fingerprint: sha2::Sha256::digest(der.as_bytes()).into(), key })
    }

    /// From a PEM public key (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, AzureError> {
        use rsa::pkcs8::DecodePublicKey as _;
        let key = rsa::RsaPublicKey::from_public_key_pem(pem)
            .map_err(|e| AzureError::Claims { reason: format!("not an RSA public key: {e}") })?;
        Self::new(key)
    }

    /// `SHA256:<hex>`.
    pub fn fingerprint_shown(&self) -> String {
        format!("SHA256:{}", hex::encode(self.fingerprint))
    }
}

/// A `vm-configuration` claim's value, as shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum ClaimValue {
    /// true or false.
    Bool(bool),
    /// Anything else: a string's text, or other JSON as its text (escaped when shown).
    Other(String),
}

/// The parsed runtime claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeClaims {
    /// The attestation key, when the claims carry one.
    pub ak: Option<AkPub>,
    /// `vm-configuration`, by claim name.
    pub vm_configuration: BTreeMap<String, ClaimValue>,
    /// `user-data`, decoded (64 bytes when present and well formed).
    pub user_data: Option<[u8; 64]>,
}

#[derive(serde::Deserialize)]
struct Raw {
    #[serde(default)]
    keys: Vec<RawKey>,
    #[serde(rename = "vm-configuration", default)]
    vm_configuration: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(rename = "user-data", default)]
    user_data: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawKey {
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    kty: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

fn bad(reason: impl Into<String>) -> AzureError {
    AzureError::Claims { reason: reason.into() }
}

fn rsa_key(k: &RawKey) -> Result<rsa::RsaPublicKey, AzureError> {
    if k.kty.as_deref() != Some("RSA") {
        return Err(bad(format!(
            "{AK_KID} has key type {:?}, not RSA",
            crate::text::escape(k.kty.as_deref().unwrap_or(""))
        )));
    }
    let part = |name: &str, v: &Option<String>| -> Result<Vec<u8>, AzureError> {
        let v = v.as_deref().ok_or_else(|| bad(format!("{AK_KID} has no {name}")))?;
        Base64UrlUnpadded::decode_vec(v).map_err(|_| bad(format!("{AK_KID}.{name} is not unpadded base64url")))
    };
    let (n, e) = (part("n", &k.n)?, part("e", &k.e)?);
    if n.len() * 8 > MAX_RSA_BITS || e.len() > 8 {
        return Err(bad(format!("{AK_KID} is larger than {MAX_RSA_BITS} bits")));
    }
    rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), rsa::BigUint::from_bytes_be(&e))
        .map_err(|e| bad(format!("{AK_KID} is not a usable RSA key: {e}")))
}

impl RuntimeClaims {
    /// Parse the variable data of an HCL report.
    pub fn parse(json: &[u8]) -> Result<Self, AzureError> {
        let raw: Raw = serde_json::from_slice(json).map_err(|e| bad(format!("not the claims JSON: {e}")))?;
        if raw.keys.len() > MAX_KEYS {
            return Err(bad(format!("{} keys, more than {MAX_KEYS}", raw.keys.len())));
        }
        let mut aks = raw.keys.iter().filter(|k| k.kid.as_deref() == Some(AK_KID));
        let ak = match (aks.next(), aks.next()) {
            (None, _) => None,
            (Some(k), None) => Some(AkPub::new(rsa_key(k)?)?),
            (Some(_), Some(_)) => return Err(bad(format!("two keys named {AK_KID}"))),
        };
        let vm_configuration = raw
            .vm_configuration
            .unwrap_or_default()
            .into_iter()
            .map(|(name, v)| {
                let v = match v {
                    serde_json::Value::Bool(b) => ClaimValue::Bool(b),
                    serde_json::Value::String(text) => ClaimValue::Other(text),
                    other => ClaimValue::Other(other.to_string()),
                };
                (name, v)
            })
            .collect();
        let user_data = match raw.user_data {
            None => None,
            Some(h) => {
                let bytes = hex::decode(h.trim()).map_err(|_| bad("user-data is not hex"))?;
                Some(
                    <[u8; 64]>::try_from(bytes.as_slice())
                        .map_err(|_| bad(format!("user-data is {} bytes, not 64", bytes.len())))?,
                )
            }
        };
        Ok(Self { ak, vm_configuration, user_data })
    }

    /// A `vm-configuration` claim that is a boolean.
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.vm_configuration.get(name) {
            Some(ClaimValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// The claims as one line for the check list: the boolean `vm-configuration`
    /// claims (names escaped).
    pub fn flags_shown(&self) -> String {
        let flags: Vec<String> = self
            .vm_configuration
            .iter()
            .filter_map(|(k, v)| match v {
                ClaimValue::Bool(b) => Some(format!("{}={b}", crate::text::escape(k))),
                ClaimValue::Other(_) => None,
            })
            .collect();
        if flags.is_empty() { "no vm-configuration flags".into() } else { flags.join(", ") }
    }
}
