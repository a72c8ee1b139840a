//! The trust policy file: `Policy::from_toml` on any text.
//!
//! Properties: nothing panics; a policy that parses renders to TOML that parses
//! back to the same policy.
#![no_main]

use cvmc_protocol::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(policy) = Policy::from_toml(&text) {
        let rendered = policy.to_toml().expect("a parsed policy renders");
        let back = Policy::from_toml(&rendered).unwrap_or_else(|e| panic!("rendered policy does not parse: {e}\n{rendered}"));
        assert_eq!(back, policy, "policy changed through to_toml:\n{rendered}");
    }
});
