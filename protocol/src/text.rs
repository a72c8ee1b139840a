//! Text that came from a peer or a file, made safe to show.
//!
//! A guest, a man in the middle or a hostile file can put terminal controls into any
//! string we later print: an `Abort` reason, a certificate's subject, a line of a
//! config file. Printed raw, `ESC [2K` erases a line, `OSC 0;title BEL` sets the window
//! title, OSC 52 writes the clipboard, and U+202E turns the rest of the line around so a
//! refusal reads like a verdict. [`escape`] replaces every such character with a
//! visible escape (`\x1b`, `\u{202e}`), so what reaches a terminal, a log or the GUI is
//! exactly the characters that were sent, and none of them acts.
//!
//! Escaped: C0 controls and DEL (tab and newline too: these strings are one-line
//! messages), C1 controls (U+0080..U+009F, which some terminals take as CSI and OSC),
//! the bidirectional overrides, embeddings and isolates, the invisible format
//! characters that hide or join text (zero-width space/joiners, word joiner, BOM, soft
//! hyphen), line and paragraph separators, and the backslash itself, so an escape in
//! the output always means an escape was made.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal or a label as it is.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f'..='\u{9f}'
        // bidirectional marks, embeddings, overrides and isolates
        | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // invisible: zero-width space, joiners, word joiner and friends, BOM, soft hyphen
        | '\u{00ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}'
        // line and paragraph separators
        | '\u{2028}' | '\u{2029}'
        // interlinear annotation, object replacement controls
        | '\u{fff9}'..='\u{fffb}')
}

/// `text` with every unsafe character (and every backslash) written as a visible
/// escape: `\x1b` for one byte's worth, `\u{202e}` above that, `\\` for a backslash.
/// Borrowed when nothing needed escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if !is_unsafe(c) {
            out.push(c);
        } else {
            push_escape(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// [`escape`] for text of several lines: newlines are kept, every other unsafe
/// character is escaped. For whole reports a program prints (a check list, an error
/// line) as the last filter before a terminal.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Backslashes stay as they are here: this is the last filter, not a quoting.
        for c in line.chars() {
            if is_unsafe(c) {
                push_escape(&mut out, c);
            } else {
                out.push(c);
            }
        }
    }
    Cow::Owned(out)
}

fn push_escape(out: &mut String, c: char) {
    if u32::from(c) <= 0xff {
        let _ = write!(out, "\\x{:02x}", u32::from(c));
    } else {
        let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
    }
}

/// Bytes that should be UTF-8 text, escaped; invalid sequences become `\xNN` for each
/// byte, so nothing is lost and nothing acts.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_invisibles_are_written_as_escapes() {
        let hostile = "ok\x1b[2K\r\x1b]0;title\x07\u{9b}31m\u{202e}desrever\u{2066}\u{200b}\u{feff}\n\\";
        let safe = escape(hostile);
        assert_eq!(
            safe,
            "ok\\x1b[2K\\x0d\\x1b]0;title\\x07\\x9b31m\\u{202e}desrever\\u{2066}\\u{200b}\\u{feff}\\x0a\\\\"
        );
        assert!(!safe.chars().any(is_unsafe));
    }

    #[test]
    fn plain_text_is_borrowed_and_unchanged() {
        assert!(matches!(escape("SEV-VCEK issued by SEV-Milan, é ü 中"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_keep_their_newlines_and_lose_their_controls() {
        assert_eq!(escape_lines("ok   chain\n  FAIL \x1b[1A\u{202e}x\n"), "ok   chain\n  FAIL \\x1b[1A\\u{202e}x\n");
        assert!(matches!(escape_lines("a\\b\nc\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_utf8_keeps_every_byte_visible() {
        assert_eq!(escape_bytes(b"a\xff\x1bb\xc3"), "a\\xff\\x1bb\\xc3");
    }

    #[test]
    fn escaping_is_injective_on_its_output() {
        // A literal "\x1b" in the input is not confused with an escaped ESC.
        assert_ne!(escape("\\x1b"), escape("\x1b"));
    }
}
