//! A whole Evidence message through `verify_evidence`: TEE label, the SNP verifier,
//! the session binding and the identity signature.
//!
//! Property: nothing panics, whatever the guest (or the host in its place) sends.
#![no_main]

use cvmc_fuzz::NOW;
use cvmc_protocol::handshake::HandshakeMsg;
use cvmc_protocol::{Policy, SessionBinding, TrustAnchors, verify_evidence};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(HandshakeMsg::Evidence(ev)) = HandshakeMsg::decode(data) {
        let session = SessionBinding { ekm: [0; 32], nonce: [0; 32] };
        let _ = verify_evidence(&ev, &session, &Policy::default(), &TrustAnchors::amd(), &Default::default(), NOW);
    }
});
