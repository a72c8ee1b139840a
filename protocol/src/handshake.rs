//! The attestation handshake that runs on every connection right after TLS
//! (docs/DESIGN.md "Wire protocol v1", steps 1-4):
//!
//! ```text
//! client                                   server
//!   Hello { version, nonce } ------------->
//!                            <------------- Evidence { tee, report, certs, identity }
//!   (verify: report, chain, binding, policy, identity)
//!   Proceed | Abort { reason } ----------->
//!                                          channel starts only after Proceed
//! ```
//!
//! A server that will not serve the channel the client named (no display configured,
//! a client key not allowed on it) answers Hello with `Abort { reason }` instead of
//! Evidence: nothing is attested and the connection ends, but the client can say why.
//!
//! Each message is one frame (see [`crate::frame`]); payload fields are
//! length-prefixed with named maxima and trailing bytes are refused.

use crate::codec::{Reader, Writer, truncate_utf8};
use crate::error::CodecError;
use crate::evidence::{CertEntry, CertKind, Evidence, GuestStage, Tee};
use crate::frame::{decode_frame, encode_frame};

/// ALPN protocol names: each channel is its own TLS connection (docs/DESIGN.md).
pub mod alpn {
    /// The login console (PTY).
    pub const CONSOLE: &[u8] = b"cvmc/1/console";
    /// The screen and input (RFB 3.8 inside).
    pub const DISPLAY: &[u8] = b"cvmc/1/display";
    /// Attestation only: the connection ends after the client's verdict
    /// (`cvm-console verify`).
    pub const VERIFY: &[u8] = b"cvmc/1/verify";
    /// All channels a server offers.
    pub const ALL: [&[u8]; 3] = [CONSOLE, DISPLAY, VERIFY];
}

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// Length of the client's fresh per-connection nonce.
pub const NONCE_LEN: usize = 32;
/// Largest attestation report or quote accepted (an SNP report is 1184 bytes; a TDX
/// quote with its certification data fits well within this).
pub const MAX_REPORT_LEN: usize = 16 * 1024;
/// Largest single certificate (AMD's ARK/ASK are about 1.6 KiB).
pub const MAX_CERT_LEN: usize = 8 * 1024;
/// Most certificates one Evidence may carry (VCEK/VLEK, ASK/ASVK, ARK, and spares).
pub const MAX_CERTS: usize = 8;
/// Largest collateral an Evidence may carry (Intel's TCB info, QE identity and CRLs
/// are 15-20 KiB as JSON; the Evidence frame is at most 64 KiB).
pub const MAX_EVIDENCE_COLLATERAL_LEN: usize = 40 * 1024;
/// Largest identity public key or signature.
pub const MAX_IDENTITY_LEN: usize = 256;
/// Largest Abort reason, in bytes of UTF-8.
pub const MAX_ABORT_REASON: usize = 1024;

/// Frame type bytes of the handshake phase.
pub mod kind {
    /// Client -> server: version and nonce.
    pub const HELLO: u8 = 0x01;
    /// Server -> client: the attestation evidence.
    pub const EVIDENCE: u8 = 0x02;
    /// Client -> server: verification failed; the connection closes.
    pub const ABORT: u8 = 0x03;
    /// Client -> server: verification passed; start the channel.
    pub const PROCEED: u8 = 0x04;
}

/// A handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeMsg {
    /// Client's opening message.
    Hello(Hello),
    /// Server's evidence.
    Evidence(Evidence),
    /// Client refuses the evidence; `reason` is for logs, never trusted.
    Abort {
        /// Human-readable reason.
        reason: String,
    },
    /// Client accepts the evidence.
    Proceed,
}

/// Client's first message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Protocol version the client speaks.
    pub version: u16,
    /// Fresh random nonce for this connection.
    pub nonce: [u8; NONCE_LEN],
}

impl HandshakeMsg {
    /// Encode as one frame.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let mut w = Writer::new();
        let k = match self {
            Self::Hello(h) => {
                w.u16(h.version);
                w.put(&h.nonce);
                kind::HELLO
            }
            Self::Evidence(ev) => {
                encode_evidence(&mut w, ev)?;
                kind::EVIDENCE
            }
            Self::Abort { reason } => {
                w.bytes_u16("abort reason", truncate_utf8(reason, MAX_ABORT_REASON).as_bytes(), MAX_ABORT_REASON)?;
                kind::ABORT
            }
            Self::Proceed => kind::PROCEED,
        };
        encode_frame(k, &w.into_inner())
    }

    /// Decode exactly one frame.
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        let frame = decode_frame(buf)?;
        Self::decode_payload(frame.kind, frame.payload)
    }

    /// Decode a payload whose frame type is already known.
    pub fn decode_payload(k: u8, payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new("handshake message", payload);
        let msg = match k {
            kind::HELLO => Self::Hello(Hello { version: r.u16()?, nonce: r.array()? }),
            kind::EVIDENCE => Self::Evidence(decode_evidence(&mut r)?),
            kind::ABORT => {
                let raw = r.bytes_u16("abort reason", MAX_ABORT_REASON)?;
                let reason = std::str::from_utf8(raw)
                    .map_err(|_| CodecError::BadValue { field: "abort reason", value: "not UTF-8".into() })?;
                Self::Abort { reason: reason.to_owned() }
            }
            kind::PROCEED => Self::Proceed,
            other => return Err(CodecError::UnknownType { what: "handshake message", value: other }),
        };
        r.finish()?;
        Ok(msg)
    }
}

fn encode_evidence(w: &mut Writer, ev: &Evidence) -> Result<(), CodecError> {
    w.u16(ev.tee.0);
    w.bytes_u32("report", &ev.report, MAX_REPORT_LEN)?;
    if ev.certs.len() > MAX_CERTS {
        return Err(CodecError::TooLong { field: "certificate count", len: ev.certs.len(), max: MAX_CERTS });
    }
    // Checked just above against MAX_CERTS (8).
    w.u8(u8::try_from(ev.certs.len()).unwrap_or(u8::MAX));
    for cert in &ev.certs {
        w.u8(cert.kind.0);
        w.bytes_u16("certificate", &cert.der, MAX_CERT_LEN)?;
    }
    w.bytes_u16("identity key", &ev.identity_key, MAX_IDENTITY_LEN)?;
    w.bytes_u16("identity signature", &ev.identity_sig, MAX_IDENTITY_LEN)?;
    // Optional, last, so that evidence without collateral or a stage is encoded as
    // before: collateral (empty only when a stage follows), then the stage byte.
    if !ev.collateral.is_empty() || ev.stage != GuestStage::System {
        w.bytes_u32("collateral", &ev.collateral, MAX_EVIDENCE_COLLATERAL_LEN)?;
    }
    if ev.stage != GuestStage::System {
        w.u8(ev.stage.code());
    }
    Ok(())
}

fn decode_evidence(r: &mut Reader<'_>) -> Result<Evidence, CodecError> {
    let tee = Tee(r.u16()?);
    let report = r.bytes_u32("report", MAX_REPORT_LEN)?.to_vec();
    let count = usize::from(r.u8()?);
    if count > MAX_CERTS {
        return Err(CodecError::TooLong { field: "certificate count", len: count, max: MAX_CERTS });
    }
    let mut certs = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = CertKind(r.u8()?);
        let der = r.bytes_u16("certificate", MAX_CERT_LEN)?.to_vec();
        certs.push(CertEntry { kind, der });
    }
    let identity_key = r.bytes_u16("identity key", MAX_IDENTITY_LEN)?.to_vec();
    let identity_sig = r.bytes_u16("identity signature", MAX_IDENTITY_LEN)?.to_vec();
    let collateral = if r.remaining() > 0 {
        let c = r.bytes_u32("collateral", MAX_EVIDENCE_COLLATERAL_LEN)?.to_vec();
        if c.is_empty() && r.remaining() == 0 {
            return Err(CodecError::BadValue { field: "collateral", value: "present but empty".into() });
        }
        c
    } else {
        Vec::new()
    };
    let stage = if r.remaining() > 0 {
        let code = r.u8()?;
        match GuestStage::from_code(code) {
            Some(GuestStage::System) => {
                return Err(CodecError::BadValue { field: "stage", value: "the default, sent explicitly".into() });
            }
            Some(stage) => stage,
            None => return Err(CodecError::BadValue { field: "stage", value: format!("{code}") }),
        }
    } else {
        GuestStage::System
    };
    Ok(Evidence { tee, report, certs, identity_key, identity_sig, collateral, stage })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_evidence() -> Evidence {
        Evidence {
            tee: Tee::SEV_SNP,
            report: vec![0xAB; 1184],
            certs: vec![
                CertEntry { kind: CertKind::VCEK, der: vec![1, 2, 3] },
                CertEntry { kind: CertKind(0x77), der: vec![] },
            ],
            identity_key: vec![9; 32],
            identity_sig: vec![8; 64],
            collateral: Vec::new(),
            stage: GuestStage::System,
        }
    }

    #[test]
    fn every_message_round_trips() {
        let msgs = [
            HandshakeMsg::Hello(Hello { version: PROTOCOL_VERSION, nonce: [7; NONCE_LEN] }),
            HandshakeMsg::Evidence(sample_evidence()),
            HandshakeMsg::Abort { reason: "measurement: not allowed".into() },
            HandshakeMsg::Proceed,
        ];
        for msg in msgs {
            let bytes = msg.encode().unwrap();
            assert_eq!(HandshakeMsg::decode(&bytes).unwrap(), msg);
        }
    }

    #[test]
    fn collateral_is_optional_bounded_and_never_empty_on_the_wire() {
        let plain = HandshakeMsg::Evidence(sample_evidence()).encode().unwrap();
        let mut ev = sample_evidence();
        ev.collateral = br#"{"tcb_info":"..."}"#.to_vec();
        let with = HandshakeMsg::Evidence(ev.clone()).encode().unwrap();
        assert_eq!(with.len(), plain.len() + 4 + ev.collateral.len(), "appended, the rest unchanged");
        assert_eq!(HandshakeMsg::decode(&with).unwrap(), HandshakeMsg::Evidence(ev.clone()));
        ev.collateral = vec![b'x'; MAX_EVIDENCE_COLLATERAL_LEN + 1];
        assert!(HandshakeMsg::Evidence(ev).encode().is_err());
        // A peer that sends a zero-length collateral gets a clear error.
        let mut bytes = plain.clone();
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        let n = u32::try_from(bytes.len() - crate::frame::FRAME_HEADER_LEN).unwrap();
        bytes[1..5].copy_from_slice(&n.to_be_bytes());
        let e = HandshakeMsg::decode(&bytes).unwrap_err();
        assert!(e.to_string().contains("collateral"), "{e}");
    }

    #[test]
    fn the_stage_is_optional_last_and_strict() {
        let plain = HandshakeMsg::Evidence(sample_evidence()).encode().unwrap();
        let mut ev = sample_evidence();
        ev.stage = GuestStage::Initramfs;
        let early = HandshakeMsg::Evidence(ev.clone()).encode().unwrap();
        assert_eq!(early.len(), plain.len() + 4 + 1, "an empty collateral, then the stage byte");
        assert_eq!(HandshakeMsg::decode(&early).unwrap(), HandshakeMsg::Evidence(ev.clone()));
        ev.collateral = b"{}".to_vec();
        let both = HandshakeMsg::Evidence(ev.clone()).encode().unwrap();
        assert_eq!(HandshakeMsg::decode(&both).unwrap(), HandshakeMsg::Evidence(ev));
        // An unknown stage, the default sent explicitly, or bytes after the stage: refused.
        for (last, want) in [(7u8, "stage"), (0, "stage")] {
            let mut bytes = early.clone();
            *bytes.last_mut().unwrap() = last;
            assert!(HandshakeMsg::decode(&bytes).unwrap_err().to_string().contains(want));
        }
        let mut bytes = early.clone();
        bytes.push(1);
        let n = u32::try_from(bytes.len() - crate::frame::FRAME_HEADER_LEN).unwrap();
        bytes[1..5].copy_from_slice(&n.to_be_bytes());
        assert!(HandshakeMsg::decode(&bytes).is_err());
    }

    #[test]
    fn known_answer_hello_encoding() {
        let bytes = HandshakeMsg::Hello(Hello { version: 1, nonce: [0x11; 32] }).encode().unwrap();
        let mut expected = vec![0x01, 0, 0, 0, 34, 0, 1];
        expected.extend_from_slice(&[0x11; 32]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn trailing_bytes_and_unknown_types_are_refused() {
        let mut payload = vec![0, 1];
        payload.extend_from_slice(&[0; 32]);
        payload.push(0);
        assert!(matches!(
            HandshakeMsg::decode_payload(kind::HELLO, &payload),
            Err(CodecError::TrailingData { extra: 1, .. })
        ));
        assert!(matches!(HandshakeMsg::decode_payload(kind::PROCEED, &[0]), Err(CodecError::TrailingData { .. })));
        assert!(matches!(HandshakeMsg::decode_payload(0x42, &[]), Err(CodecError::UnknownType { value: 0x42, .. })));
    }

    #[test]
    fn limits_are_enforced_both_ways() {
        let mut ev = sample_evidence();
        ev.report = vec![0; MAX_REPORT_LEN + 1];
        assert!(HandshakeMsg::Evidence(ev.clone()).encode().is_err());
        ev.report = vec![];
        ev.certs = vec![CertEntry { kind: CertKind::ASK, der: vec![] }; MAX_CERTS + 1];
        assert!(HandshakeMsg::Evidence(ev).encode().is_err());
        // A hand-made payload claiming 200 certificates.
        let payload = [0, 1, 0, 0, 0, 0, 200];
        assert!(matches!(
            HandshakeMsg::decode_payload(kind::EVIDENCE, &payload),
            Err(CodecError::TooLong { field: "certificate count", .. })
        ));
    }

    #[test]
    fn abort_reason_is_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_ABORT_REASON);
        let bytes = HandshakeMsg::Abort { reason: long }.encode().unwrap();
        let HandshakeMsg::Abort { reason } = HandshakeMsg::decode(&bytes).unwrap() else { panic!() };
        assert!(reason.len() <= MAX_ABORT_REASON && reason.chars().all(|c| c == 'é'));
    }
}
