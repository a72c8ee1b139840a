//! Every file a person writes for cvm-consoled or cvm-console, and that a careless or
//! hostile hand may fill with anything: `authorized_clients`, `server.toml`,
//! `known_guests`, `guests.toml` (the trust policy has `policy_parse`), and the
//! escaping every message from a peer or a file goes through. The first byte picks
//! the parser; the rest is its text.
//!
//! Properties: nothing panics; a fingerprint the parser accepts is canonical; a
//! config or guests file that parses renders back to the same value; a known_guests
//! address pinned first with an identity is Known for it; escaped text holds no
//! control, bidi or invisible character.
#![no_main]

use cvm_console::known_guests::{self, Pin};
use cvm_console::saved_guests;
use cvm_consoled::authorized;
use cvm_consoled::config::ServerConfig;
use cvmc_protocol::text::{escape, escape_lines, is_unsafe};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match which % 5 {
        0 => {
            for fp in authorized::parse(&text) {
                assert_eq!(authorized::parse_fingerprint(&fp).as_deref(), Some(fp.as_str()), "not canonical");
            }
        }
        1 => {
            if let Ok(config) = ServerConfig::from_toml(&text) {
                let rendered = toml::to_string(&config).expect("a parsed config renders");
                let back = ServerConfig::from_toml(&rendered)
                    .unwrap_or_else(|e| panic!("rendered config does not parse: {e}\n{rendered}"));
                assert_eq!(back, config, "config changed through rendering:\n{rendered}");
            }
        }
        2 => {
            let entries = known_guests::parse(&text);
            for e in &entries {
                assert!(!e.address.starts_with('#') && !e.address.is_empty() && !e.fingerprint.is_empty());
                let first = entries.iter().find(|x| x.address == e.address).expect("itself");
                assert_eq!(known_guests::decide(&entries, &e.address, &first.fingerprint), Pin::Known);
            }
        }
        3 => {
            if let Ok(guests) = saved_guests::parse(&text) {
                let rendered = saved_guests::render(&guests);
                assert_eq!(saved_guests::parse(&rendered).as_ref(), Ok(&guests), "guests changed:\n{rendered}");
            }
        }
        _ => {
            assert!(!escape(&text).chars().any(is_unsafe));
            assert!(!escape_lines(&text).chars().any(|c| c != '\n' && is_unsafe(c)));
        }
    }
});
