//! RFB client-to-server messages (`cvmc_protocol::rfb::client`): the bytes through the
//! streaming `ClientMsgDecoder` in chunks whose sizes (1..=64) come from the data
//! itself, the same bytes through the one-shot `ClientMsg::decode`, and the encoder
//! direction from an `Arbitrary` message.
//!
//! Properties: nothing panics; every decoded message re-encodes to bytes of the length
//! it was cut from, which decode to the same message; the decoder buffers exactly the
//! bytes it has not returned; what the encoder accepts, the decoder accepts back.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use cvmc_protocol::rfb::client::message_len;
use cvmc_protocol::rfb::{ClientMsg, ClientMsgDecoder, PixelFormat, Screen};
use libfuzzer_sys::fuzz_target;

fn round_trip(msg: &ClientMsg, len: usize) {
    let enc = msg.encode().expect("a decoded message re-encodes");
    assert_eq!(enc.len(), len, "re-encoding of {msg:?} has another length");
    assert_eq!(&ClientMsg::decode(&enc).expect("the re-encoding decodes"), msg);
}

fn stream(data: &[u8]) {
    let mut dec = ClientMsgDecoder::new();
    let (mut fed, mut consumed, mut i) = (0usize, 0usize, 0usize);
    while fed < data.len() {
        let step = usize::from(data[i % data.len()] % 64) + 1;
        i += 1;
        let end = (fed + step).min(data.len());
        if dec.push(&data[fed..end]).is_err() {
            return;
        }
        fed = end;
        loop {
            match dec.next_msg() {
                Ok(Some(msg)) => {
                    let len = message_len(&data[consumed..]).expect("header decoded").expect("header complete");
                    let one_shot = ClientMsg::decode(&data[consumed..consumed + len]).expect("the same bytes decode");
                    assert_eq!(one_shot, msg);
                    round_trip(&msg, len);
                    consumed += len;
                    assert_eq!(dec.buffered(), fed - consumed, "decoder buffers exactly the unreturned bytes");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// A client message built field by field, for the encoder direction.
#[derive(Debug, Arbitrary)]
enum AnyMsg {
    SetPixelFormat([u8; 16]),
    SetEncodings(Vec<i32>),
    Request { incremental: bool, x: u16, y: u16, width: u16, height: u16 },
    Key { down: bool, keysym: u32 },
    Pointer { buttons: u8, x: u16, y: u16 },
    CutText(Vec<u8>),
    SetDesktopSize { width: u16, height: u16, screens: Vec<(u32, u16, u16, u16, u16, u32)> },
    QemuKey { down: bool, keysym: u32, keycode: u32 },
}

fn encoder_direction(data: &[u8]) {
    let Ok(any) = AnyMsg::arbitrary_take_rest(Unstructured::new(data)) else { return };
    let msg = match any {
        AnyMsg::SetPixelFormat(b) => ClientMsg::SetPixelFormat(PixelFormat::decode(&b)),
        AnyMsg::SetEncodings(list) => ClientMsg::SetEncodings(list),
        AnyMsg::Request { incremental, x, y, width, height } => {
            ClientMsg::FramebufferUpdateRequest { incremental, x, y, width, height }
        }
        AnyMsg::Key { down, keysym } => ClientMsg::KeyEvent { down, keysym },
        AnyMsg::Pointer { buttons, x, y } => ClientMsg::PointerEvent { buttons, x, y },
        AnyMsg::CutText(text) => ClientMsg::ClientCutText(text),
        AnyMsg::SetDesktopSize { width, height, screens } => ClientMsg::SetDesktopSize {
            width,
            height,
            screens: screens
                .into_iter()
                .map(|(id, x, y, width, height, flags)| Screen { id, x, y, width, height, flags })
                .collect(),
        },
        AnyMsg::QemuKey { down, keysym, keycode } => ClientMsg::QemuExtendedKeyEvent { down, keysym, keycode },
    };
    if let Ok(enc) = msg.encode() {
        assert_eq!(message_len(&enc), Ok(Some(enc.len())));
        assert_eq!(ClientMsg::decode(&enc).expect("what the encoder accepts decodes"), msg);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = ClientMsg::decode(data) {
        round_trip(&msg, data.len());
    }
    stream(data);
    encoder_direction(data);
});
