//! `ConsoleMsg` decoding, both as one frame and through the streaming
//! `FrameDecoder`; plus the encoder direction from an `Arbitrary` message.
//!
//! Properties: nothing panics; a decoded message re-encodes to exactly its input
//! and decodes again to the same message; the encoder refuses exactly an oversized
//! Data and a zero terminal size, and what it accepts, the decoder accepts back.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use cvmc_fuzz::drive_frames;
use cvmc_protocol::console::{ConsoleMsg, MAX_DATA, SessionToken};
use cvmc_protocol::frame::FRAME_HEADER_LEN;
use libfuzzer_sys::fuzz_target;

/// A console message built field by field, for the encoder direction.
#[derive(Debug, Arbitrary)]
enum AnyMsg {
    Data(Vec<u8>),
    Resize { cols: u16, rows: u16 },
    Attach { token: [u8; 32], output_received: u64 },
    SessionInfo { token: [u8; 32], input_received: u64, output_start: u64 },
    Exit { status: i32 },
}

fn encoder_direction(data: &[u8]) {
    let Ok(any) = AnyMsg::arbitrary_take_rest(Unstructured::new(data)) else { return };
    let msg = match any {
        AnyMsg::Data(bytes) => ConsoleMsg::Data(bytes),
        AnyMsg::Resize { cols, rows } => ConsoleMsg::Resize { cols, rows },
        AnyMsg::Attach { token, output_received } => ConsoleMsg::Attach { token: SessionToken(token), output_received },
        AnyMsg::SessionInfo { token, input_received, output_start } => {
            ConsoleMsg::SessionInfo { token: SessionToken(token), input_received, output_start }
        }
        AnyMsg::Exit { status } => ConsoleMsg::Exit { status },
    };
    let enc = msg.encode();
    // The encoder refuses Data over the maximum and a zero terminal size (which the
    // decoder refuses too); everything else encodes and decodes back.
    let fits = match &msg {
        ConsoleMsg::Data(b) => b.len() <= MAX_DATA,
        ConsoleMsg::Resize { cols, rows } => *cols != 0 && *rows != 0,
        _ => true,
    };
    assert_eq!(enc.is_ok(), fits, "encode of {msg:?}: {enc:?}");
    let Ok(enc) = enc else { return };
    assert_eq!(ConsoleMsg::decode(&enc).expect("what the encoder accepts decodes"), msg);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = ConsoleMsg::decode(data) {
        let enc = msg.encode().expect("a decoded message re-encodes");
        assert_eq!(enc, data, "re-encoding differs from the decoded bytes");
        assert_eq!(ConsoleMsg::decode(&enc).expect("the re-encoding decodes"), msg);
    }
    drive_frames(data, |frame| {
        if let Ok(msg) = ConsoleMsg::decode_payload(frame.kind, &frame.payload) {
            let enc = msg.encode().expect("a decoded message re-encodes");
            assert_eq!(enc[0], frame.kind);
            assert_eq!(&enc[FRAME_HEADER_LEN..], &frame.payload[..]);
            assert_eq!(ConsoleMsg::decode(&enc).expect("the re-encoding decodes"), msg);
        }
    });
    encoder_direction(data);
});
