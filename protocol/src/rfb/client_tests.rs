//! Known bytes for each client message (RFC 6143 7.5 layouts), refusal of every bound,
//! and the streaming decoder fed one byte at a time.

use super::*;
use crate::rfb::encoding;
use crate::rfb::error::PixelFormatError;

fn screen() -> Screen {
    Screen { id: 1, x: 0, y: 0, width: 1024, height: 768, flags: 0 }
}

fn known() -> Vec<(ClientMsg, Vec<u8>)> {
    let mut pf_bytes = vec![0, 0, 0, 0];
    pf_bytes.extend_from_slice(&[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
    let mut sds = vec![251, 0, 4, 0, 3, 0, 1, 0];
    sds.extend_from_slice(&screen().encode());
    vec![
        (ClientMsg::SetPixelFormat(PixelFormat::RGB888), pf_bytes),
        (
            ClientMsg::SetEncodings(vec![encoding::ZRLE, encoding::RAW, encoding::DESKTOP_SIZE]),
            vec![2, 0, 0, 3, 0, 0, 0, 16, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21],
        ),
        (
            ClientMsg::FramebufferUpdateRequest { incremental: true, x: 1, y: 2, width: 800, height: 600 },
            vec![3, 1, 0, 1, 0, 2, 3, 32, 2, 88],
        ),
        (ClientMsg::KeyEvent { down: true, keysym: 0xff0d }, vec![4, 1, 0, 0, 0, 0, 0xff, 0x0d]),
        (ClientMsg::PointerEvent { buttons: 0b101, x: 300, y: 2 }, vec![5, 5, 1, 44, 0, 2]),
        (ClientMsg::ClientCutText(b"abc".to_vec()), vec![6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']),
        (ClientMsg::SetDesktopSize { width: 1024, height: 768, screens: vec![screen()] }, sds),
        // rfbproto's example: XK_A (0x41) from XT scancode 0x1e, key down.
        (
            ClientMsg::QemuExtendedKeyEvent { down: true, keysym: 0x41, keycode: 0x1e },
            vec![255, 0, 0, 1, 0, 0, 0, 0x41, 0, 0, 0, 0x1e],
        ),
    ]
}

#[test]
fn known_bytes_round_trip() {
    for (msg, bytes) in known() {
        assert_eq!(msg.encode().unwrap(), bytes, "{msg:?}");
        assert_eq!(ClientMsg::decode(&bytes).unwrap(), msg);
        assert_eq!(message_len(&bytes).unwrap(), Some(bytes.len()));
        assert!(ClientMsg::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(ClientMsg::decode(&long), Err(RfbError::Codec(_))));
    }
}

#[test]
fn decoder_streams_byte_by_byte() {
    let all = known();
    let stream: Vec<u8> = all.iter().flat_map(|(_, b)| b.clone()).collect();
    let mut dec = ClientMsgDecoder::new();
    let mut got = Vec::new();
    for byte in &stream {
        dec.push(std::slice::from_ref(byte)).unwrap();
        while let Some(msg) = dec.next_msg().unwrap() {
            got.push(msg);
        }
    }
    assert_eq!(got, all.into_iter().map(|(m, _)| m).collect::<Vec<_>>());
    assert_eq!(dec.buffered(), 0);
    assert_eq!(dec.next_msg().unwrap(), None);
}

#[test]
fn nonzero_flags_normalise() {
    let msg = ClientMsg::decode(&[3, 9, 0, 0, 0, 0, 0, 1, 0, 1]).unwrap();
    assert_eq!(msg, ClientMsg::FramebufferUpdateRequest { incremental: true, x: 0, y: 0, width: 1, height: 1 });
    let msg = ClientMsg::decode(&[255, 0, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 2]).unwrap();
    assert_eq!(msg, ClientMsg::QemuExtendedKeyEvent { down: true, keysym: 1, keycode: 2 });
}

#[test]
fn unknown_types_name_the_type() {
    for kind in [1u8, 7, 150, 250, 252] {
        assert_eq!(message_len(&[kind]), Err(RfbError::UnknownMessageType { value: kind }));
        assert_eq!(ClientMsg::decode(&[kind, 0, 0, 0]), Err(RfbError::UnknownMessageType { value: kind }));
    }
    assert_eq!(message_len(&[255, 1]), Err(RfbError::UnknownQemuSubmessage { value: 1 }));
    let mut dec = ClientMsgDecoder::new();
    dec.push(&[42]).unwrap();
    let err = dec.next_msg().unwrap_err();
    assert_eq!(err.to_string(), "client message: unknown message type 42");
}

#[test]
fn huge_cut_text_is_refused_from_the_header_alone() {
    let mut dec = ClientMsgDecoder::new();
    dec.push(&[6, 0, 0, 0]).unwrap();
    assert_eq!(dec.next_msg(), Ok(None));
    dec.push(&[0x7f, 0xff, 0xff, 0xff]).unwrap();
    assert!(matches!(dec.next_msg(), Err(RfbError::TooLong { field: "ClientCutText length", .. })));
    let max_ok = u32::try_from(MAX_CUT_TEXT).unwrap().to_be_bytes();
    assert_eq!(message_len(&[6, 0, 0, 0, max_ok[0], max_ok[1], max_ok[2], max_ok[3]]), Ok(Some(MAX_CLIENT_MSG)));
    let over = u32::try_from(MAX_CUT_TEXT + 1).unwrap().to_be_bytes();
    assert!(message_len(&[6, 0, 0, 0, over[0], over[1], over[2], over[3]]).is_err());
    assert!(ClientMsg::ClientCutText(vec![0; MAX_CUT_TEXT + 1]).encode().is_err());
    assert!(ClientMsg::ClientCutText(vec![0; MAX_CUT_TEXT]).encode().is_ok());
}

#[test]
fn encodings_count_is_bounded() {
    let n = u16::try_from(MAX_ENCODINGS + 1).unwrap().to_be_bytes();
    assert!(matches!(message_len(&[2, 0, n[0], n[1]]), Err(RfbError::TooLong { field: "SetEncodings count", .. })));
    assert!(ClientMsg::SetEncodings(vec![0; MAX_ENCODINGS + 1]).encode().is_err());
    let max = ClientMsg::SetEncodings(vec![0; MAX_ENCODINGS]).encode().unwrap();
    assert_eq!(ClientMsg::decode(&max).unwrap(), ClientMsg::SetEncodings(vec![0; MAX_ENCODINGS]));
}

#[test]
fn screen_count_is_bounded() {
    let over = u8::try_from(MAX_SCREENS + 1).unwrap();
    assert!(matches!(message_len(&[251, 0, 0, 1, 0, 1, over]), Err(RfbError::TooLong { .. })));
    assert!(matches!(message_len(&[251, 0, 0, 1, 0, 1, 0]), Err(RfbError::BadValue { .. })));
    let msg = ClientMsg::SetDesktopSize { width: 1, height: 1, screens: vec![screen(); MAX_SCREENS + 1] };
    assert!(msg.encode().is_err());
    let msg = ClientMsg::SetDesktopSize { width: 1, height: 1, screens: vec![] };
    assert!(msg.encode().is_err());
}

#[test]
fn bad_pixel_format_is_refused() {
    let mut bytes = ClientMsg::SetPixelFormat(PixelFormat::RGB888).encode().unwrap();
    bytes[4] = 24; // bits-per-pixel
    assert_eq!(ClientMsg::decode(&bytes), Err(RfbError::PixelFormat(PixelFormatError::BitsPerPixel { bpp: 24 })));
    bytes[4] = 32;
    bytes[7] = 0; // true-colour-flag
    assert_eq!(ClientMsg::decode(&bytes), Err(RfbError::PixelFormat(PixelFormatError::NotTrueColour)));
    let bad = PixelFormat { true_colour: false, ..PixelFormat::RGB888 };
    assert!(ClientMsg::SetPixelFormat(bad).encode().is_err());
}

#[test]
fn decoder_buffering_is_bounded() {
    let mut dec = ClientMsgDecoder::new();
    dec.push(&vec![4; MAX_BUFFERED]).unwrap();
    assert!(matches!(dec.push(&[4]), Err(RfbError::Overfull { .. })));
    // Draining frees room again.
    let mut taken = 0;
    while dec.next_msg().unwrap().is_some() {
        taken += 1;
    }
    assert_eq!(taken, MAX_BUFFERED / 8);
    dec.push(&[4; 8]).unwrap();
}
