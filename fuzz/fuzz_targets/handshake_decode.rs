//! `HandshakeMsg` decoding, both as one frame and through the streaming
//! `FrameDecoder`; plus the encoder direction from an `Arbitrary` message.
//!
//! Properties: nothing panics; a decoded message re-encodes to exactly its input
//! (one encoding, one meaning) and decodes again to the same message; the encoder
//! refuses exactly what exceeds a named maximum.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use cvmc_fuzz::drive_frames;
use cvmc_protocol::evidence::{CertEntry, CertKind, Evidence, GuestStage, Tee};
use cvmc_protocol::frame::{FRAME_HEADER_LEN, MAX_FRAME_PAYLOAD};
use cvmc_protocol::handshake::{
    Hello, HandshakeMsg, MAX_ABORT_REASON, MAX_CERT_LEN, MAX_CERTS, MAX_EVIDENCE_COLLATERAL_LEN, MAX_IDENTITY_LEN, MAX_REPORT_LEN,
};
use libfuzzer_sys::fuzz_target;

fn round_trip(bytes: &[u8], msg: &HandshakeMsg) {
    let enc = msg.encode().expect("a decoded message re-encodes");
    assert_eq!(enc, bytes, "re-encoding differs from the decoded bytes");
    assert_eq!(&HandshakeMsg::decode(&enc).expect("the re-encoding decodes"), msg);
}

/// A handshake message built field by field, for the encoder direction.
#[derive(Debug, Arbitrary)]
enum AnyMsg {
    Hello { version: u16, nonce: [u8; 32] },
    Evidence {
        tee: u16,
        report: Vec<u8>,
        certs: Vec<(u8, Vec<u8>)>,
        key: Vec<u8>,
        sig: Vec<u8>,
        collateral: Vec<u8>,
        early_boot: bool,
    },
    Abort(String),
    Proceed,
}

fn encoder_direction(data: &[u8]) {
    let Ok(any) = AnyMsg::arbitrary_take_rest(Unstructured::new(data)) else { return };
    let (msg, fits) = match any {
        AnyMsg::Hello { version, nonce } => (HandshakeMsg::Hello(Hello { version, nonce }), true),
        AnyMsg::Evidence { tee, report, certs, key, sig, collateral, early_boot } => {
            let stage = if early_boot { GuestStage::Initramfs } else { GuestStage::System };
            let payload = 2 + 4 + report.len() + 1 + certs.iter().map(|c| 3 + c.1.len()).sum::<usize>() + 4 + key.len() + sig.len()
                + if collateral.is_empty() && !early_boot { 0 } else { 4 + collateral.len() }
                + usize::from(early_boot);
            let fits = report.len() <= MAX_REPORT_LEN
                && certs.len() <= MAX_CERTS
                && certs.iter().all(|c| c.1.len() <= MAX_CERT_LEN)
                && key.len() <= MAX_IDENTITY_LEN
                && sig.len() <= MAX_IDENTITY_LEN
                && collateral.len() <= MAX_EVIDENCE_COLLATERAL_LEN
                && payload <= MAX_FRAME_PAYLOAD;
            let certs = certs.into_iter().map(|(kind, der)| CertEntry { kind: CertKind(kind), der }).collect();
            let ev = Evidence { tee: Tee(tee), report, certs, identity_key: key, identity_sig: sig, collateral, stage };
            (HandshakeMsg::Evidence(ev), fits)
        }
        AnyMsg::Abort(reason) => (HandshakeMsg::Abort { reason }, true),
        AnyMsg::Proceed => (HandshakeMsg::Proceed, true),
    };
    let enc = msg.encode();
    assert_eq!(enc.is_ok(), fits, "encode of {msg:?}: {enc:?}");
    let Ok(enc) = enc else { return };
    assert!(enc.len() <= FRAME_HEADER_LEN + MAX_FRAME_PAYLOAD);
    let back = HandshakeMsg::decode(&enc).expect("what we encode, we decode");
    match (&msg, &back) {
        // An over-long reason is cut on a character boundary.
        (HandshakeMsg::Abort { reason }, HandshakeMsg::Abort { reason: cut }) if reason.len() > MAX_ABORT_REASON => {
            assert!(reason.starts_with(cut.as_str()) && cut.len() <= MAX_ABORT_REASON && cut.len() + 4 > MAX_ABORT_REASON);
        }
        _ => assert_eq!(back, msg),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = HandshakeMsg::decode(data) {
        round_trip(data, &msg);
    }
    drive_frames(data, |frame| {
        if let Ok(msg) = HandshakeMsg::decode_payload(frame.kind, &frame.payload) {
            let enc = msg.encode().expect("a decoded message re-encodes");
            assert_eq!(HandshakeMsg::decode(&enc).expect("the re-encoding decodes"), msg);
            assert_eq!(enc[0], frame.kind);
            assert_eq!(&enc[FRAME_HEADER_LEN..], &frame.payload[..]);
        }
    });
    encoder_direction(data);
});
