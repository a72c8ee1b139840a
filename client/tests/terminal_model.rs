//! The Console terminal: recorded byte streams replayed into `TerminalModel`, keys mapped by
//! `key_to_bytes`, and the egui `TerminalView` driven headless by egui_kittest.

use cvm_console::terminal::{CellInfo, TermColor, TerminalModel, TerminalOutput, TerminalView, key_to_bytes};
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;

fn term(bytes: &[u8]) -> TerminalModel {
    let mut t = TerminalModel::new(80, 24, 1000);
    t.feed(bytes);
    t
}

fn cell(t: &TerminalModel, col: u16, row: u16) -> CellInfo {
    t.cell(col, row).expect("cell on screen")
}

#[test]
fn plain_text_and_crlf() {
    let t = term(b"hello\r\nworld");
    assert_eq!(t.line_text(0), "hello");
    assert_eq!(t.line_text(1), "world");
    assert_eq!(t.cursor(), (5, 1));
    assert!(t.screen_text().starts_with("hello\nworld\n\n"));
    assert_eq!(t.screen_text().split('\n').count(), 24);
    // LF alone moves down without returning.
    let t = term(b"ab\ncd");
    assert_eq!(t.line_text(1), "  cd");
}

#[test]
fn cursor_movement() {
    let mut t = term(b"\x1b[5;10HX");
    assert_eq!(t.line_text(4), "         X");
    assert_eq!(t.cursor(), (10, 4));
    t.feed(b"\x1b[2A\x1b[3DY"); // up 2, back 3
    assert_eq!(t.line_text(2), "       Y");
    t.feed(b"\x1b[4B\x1b[5CZ"); // down 4, forward 5
    assert_eq!(t.line_text(6), "             Z");
    t.feed(b"\x1b[H");
    assert_eq!(t.cursor(), (0, 0));
}

#[test]
fn erase_display_and_line() {
    let mut t = term(b"line one\r\nline two\r\nline three");
    t.feed(b"\x1b[2;6H\x1b[K"); // EL: erase to end of line 2 from col 6
    assert_eq!(t.line_text(1), "line");
    t.feed(b"\x1b[1;3H\x1b[1K"); // EL 1: erase to start
    assert_eq!(t.line_text(0), "   e one");
    t.feed(b"\x1b[2J");
    assert_eq!(t.screen_text().trim(), "");
}

#[test]
fn colours_and_attributes() {
    let t = term(b"\x1b[31mR\x1b[1mB\x1b[0;7mI\x1b[38;5;208mX\x1b[38;2;1;2;3;48;5;17mT\x1b[0mN");
    assert_eq!(cell(&t, 0, 0).fg, TermColor::Indexed(1));
    let bold = cell(&t, 1, 0);
    assert!(bold.bold && bold.fg == TermColor::Indexed(1));
    let inv = cell(&t, 2, 0);
    assert!(inv.inverse && !inv.bold && inv.fg == TermColor::Default);
    assert_eq!(cell(&t, 3, 0).fg, TermColor::Indexed(208));
    let tc = cell(&t, 4, 0);
    assert_eq!((tc.ch, tc.fg, tc.bg), ('T', TermColor::Rgb(1, 2, 3), TermColor::Indexed(17)));
    let n = cell(&t, 5, 0);
    assert_eq!((n.fg, n.bg, n.bold, n.inverse), (TermColor::Default, TermColor::Default, false, false));
    assert_eq!(t.rgb(TermColor::Indexed(1), true), (0xcd, 0, 0));
    assert_eq!(t.rgb(TermColor::Rgb(1, 2, 3), true), (1, 2, 3));
}

#[test]
fn wraps_at_right_margin() {
    let mut t = TerminalModel::new(10, 5, 100);
    t.feed(b"0123456789abc");
    assert_eq!(t.line_text(0), "0123456789");
    assert_eq!(t.line_text(1), "abc");
    assert_eq!(t.cursor(), (3, 1));
}

#[test]
fn scrollback() {
    let mut t = term(b"");
    let seq: String = (1..=100).map(|i| format!("{i}\r\n")).collect();
    t.feed(seq.as_bytes());
    assert_eq!(t.line_text(0), "78");
    assert_eq!(t.line_text(22), "100");
    assert_eq!(t.line_text(23), "");
    t.scroll(-10);
    assert_eq!(t.display_offset(), 10);
    assert_eq!(t.line_text(0), "68");
    assert_eq!(t.line_text(23), "91");
    t.scroll(5);
    assert_eq!(t.line_text(0), "73");
    t.scroll_to_bottom();
    assert_eq!(t.line_text(0), "78");
    t.scroll(-1000); // clamped to the history
    assert_eq!(t.line_text(0), "1");
}

#[test]
fn alternate_screen_restores() {
    let mut t = term(b"$ less file\r\n");
    t.feed(b"\x1b[?1049h\x1b[H\x1b[2Jfull screen");
    assert!(t.alt_screen());
    assert_eq!(t.line_text(0), "full screen");
    t.feed(b"\x1b[?1049l");
    assert!(!t.alt_screen());
    assert_eq!(t.line_text(0), "$ less file");
    assert_eq!(t.cursor(), (0, 1));
}

#[test]
fn dsr_and_da_queries_are_answered() {
    let mut t = term(b"abc\x1b[6n");
    assert_eq!(t.take_replies(), b"\x1b[1;4R");
    assert!(t.take_replies().is_empty());
    t.feed(b"\x1b[c");
    assert!(t.take_replies().starts_with(b"\x1b[?"));
}

#[test]
fn resize_keeps_content() {
    let mut t = term(b"first\r\nsecond");
    t.resize(100, 30);
    assert_eq!(t.size(), (100, 30));
    assert_eq!(t.line_text(0), "first");
    assert_eq!(t.line_text(1), "second");
    t.resize(40, 10);
    assert_eq!(t.size(), (40, 10));
    assert!(t.screen_text().contains("second"));
}

#[test]
fn utf8_and_wide_characters() {
    let mut t = term("héllo €\r\n".as_bytes());
    // A multibyte character split across two feeds.
    let cjk = "中a".as_bytes();
    t.feed(&cjk[..1]);
    t.feed(&cjk[1..]);
    assert_eq!(t.line_text(0), "héllo €");
    assert_eq!(t.line_text(1), "中a");
    let wide = cell(&t, 0, 1);
    assert!(wide.wide && wide.ch == '中');
    assert_eq!(cell(&t, 2, 1).ch, 'a');
    assert_eq!(t.cursor(), (3, 1));
}

#[test]
fn recorded_bash_session() {
    // `bash --norc` in a PTY: prompt, bracketed paste on, typed `echo hi` echoed back, output, prompt.
    let rec: &[u8] = b"\x1b[?2004hbash-5.2$ e\x08echo hi\r\n\x1b[?2004l\rhi\r\n\x1b[?2004hbash-5.2$ ";
    let t = term(rec);
    assert_eq!(t.line_text(0), "bash-5.2$ echo hi");
    assert_eq!(t.line_text(1), "hi");
    assert_eq!(t.line_text(2), "bash-5.2$");
    assert_eq!(t.cursor(), (10, 2));
    assert!(t.bracketed_paste());
}

#[test]
fn selection() {
    let mut t = term(b"hello world\r\nsecond line");
    t.select((6, 0), (10, 0));
    assert_eq!(t.selection_text().as_deref(), Some("world"));
    t.select((6, 0), (5, 1)); // across lines
    assert_eq!(t.selection_text().as_deref(), Some("world\nsecond"));
    t.select((10, 0), (6, 0)); // reversed
    assert_eq!(t.selection_text().as_deref(), Some("world"));
    t.clear_selection();
    assert_eq!(t.selection_text(), None);
}

#[test]
fn key_table() {
    let none = Modifiers::NONE;
    let ctrl = Modifiers::CTRL;
    let alt = Modifiers::ALT;
    let cases: &[(Key, Modifiers, bool, Option<&[u8]>)] = &[
        (Key::ArrowUp, none, false, Some(b"\x1b[A")),
        (Key::ArrowUp, none, true, Some(b"\x1bOA")),
        (Key::ArrowLeft, none, false, Some(b"\x1b[D")),
        (Key::ArrowRight, ctrl, false, Some(b"\x1b[1;5C")),
        (Key::Home, none, false, Some(b"\x1b[H")),
        (Key::End, none, true, Some(b"\x1bOF")),
        (Key::PageUp, none, false, Some(b"\x1b[5~")),
        (Key::PageDown, none, false, Some(b"\x1b[6~")),
        (Key::Delete, none, false, Some(b"\x1b[3~")),
        (Key::F1, none, false, Some(b"\x1bOP")),
        (Key::F4, none, false, Some(b"\x1bOS")),
        (Key::F5, none, false, Some(b"\x1b[15~")),
        (Key::F12, none, false, Some(b"\x1b[24~")),
        (Key::Tab, none, false, Some(b"\t")),
        (Key::Tab, Modifiers::SHIFT, false, Some(b"\x1b[Z")),
        (Key::Enter, none, false, Some(b"\r")),
        (Key::Backspace, none, false, Some(b"\x7f")),
        (Key::Escape, none, false, Some(b"\x1b")),
        (Key::A, ctrl, false, Some(b"\x01")),
        (Key::C, ctrl, false, Some(b"\x03")),
        (Key::Z, ctrl, false, Some(b"\x1a")),
        (Key::B, alt, false, Some(b"\x1bb")),
        (Key::B, alt | Modifiers::SHIFT, false, Some(b"\x1bB")),
        (Key::Enter, alt, false, Some(b"\x1b\r")),
        (Key::A, none, false, None),
        (Key::Num1, Modifiers::SHIFT, false, None),
    ];
    for (key, mods, app, want) in cases {
        assert_eq!(key_to_bytes(*key, *mods, *app).as_deref(), *want, "{key:?} {mods:?} app={app}");
    }
}

#[test]
fn kittest_typing_reaches_the_pty() {
    let mut view = TerminalView::new(1000);
    view.model.feed(b"$ ");
    let mut outputs: Vec<TerminalOutput> = Vec::new();
    let mut harness = egui_kittest::Harness::new_ui_state(
        |ui, (view, outputs): &mut (TerminalView, Vec<TerminalOutput>)| {
            outputs.push(view.ui(ui));
        },
        (view, std::mem::take(&mut outputs)),
    );
    harness.run();
    let first_resize = harness.state().1.iter().find_map(|o| o.resized);
    let (cols, rows) = first_resize.expect("the view fits the terminal to the 800x600 harness");
    assert!(cols > 80 && rows > 24, "{cols}x{rows}");
    assert_eq!(harness.state().0.model.size(), (cols, rows));
    // Typing before the terminal has focus goes nowhere; a click focuses it.
    harness.event(egui::Event::Text("lost".into()));
    harness.run();
    harness.get_by_label("Terminal").click();
    harness.run();
    assert!(harness.state().1.iter().all(|o| o.input.is_empty()));
    harness.state_mut().1.clear();

    harness.event(egui::Event::Text("ls -l".into()));
    harness.key_press(Key::Enter);
    harness.key_press_modifiers(Modifiers::CTRL, Key::D);
    harness.event(egui::Event::Paste("a\nb".into()));
    harness.run();
    let input: Vec<u8> = harness.state().1.iter().flat_map(|o| o.input.clone()).collect();
    assert_eq!(input, b"ls -l\r\x04a\rb");

    // A guest query is answered through the same output.
    harness.state_mut().0.model.feed(b"\x1b[6n");
    harness.state_mut().1.clear();
    harness.run();
    let input: Vec<u8> = harness.state().1.iter().flat_map(|o| o.input.clone()).collect();
    assert_eq!(input, b"\x1b[1;3R");
}

#[test]
fn kittest_mouse_selects_copies_and_scrolls() {
    let mut view = TerminalView::new(1000);
    let seq: String = (1..=100).map(|i| format!("line {i}\r\n")).collect();
    view.model.feed(seq.as_bytes());
    let mut harness = egui_kittest::Harness::new_ui_state(
        |ui, (view, outputs): &mut (TerminalView, Vec<TerminalOutput>)| {
            outputs.push(view.ui(ui));
        },
        (view, Vec::new()),
    );
    harness.run();
    let rect = harness.get_by_label("Terminal").rect();
    let rows = harness.state().0.model.size().1;
    assert_eq!(harness.state().0.model.line_text(usize::from(rows) - 2), "line 100");
    let first_text = harness.state().0.model.line_text(0);

    // Drag across the whole first row, then Ctrl+Shift+C.
    let y = rect.top() + 3.0;
    harness.drag_at(egui::pos2(rect.left() + 1.0, y));
    harness.hover_at(egui::pos2(rect.right() - 1.0, y));
    harness.drop_at(egui::pos2(rect.right() - 1.0, y));
    harness.run();
    assert_eq!(harness.state().0.model.selection_text(), Some(first_text.clone()));
    harness.key_press_modifiers(Modifiers::CTRL | Modifiers::SHIFT, Key::C);
    harness.run();
    let copied: Vec<String> = harness.state().1.iter().filter_map(|o| o.copied.clone()).collect();
    assert_eq!(copied, [first_text]);
    assert!(harness.state().1.iter().all(|o| o.input.is_empty()));

    // The wheel scrolls the scrollback.
    harness.hover_at(rect.center());
    harness.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, 3.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: Modifiers::NONE,
    });
    harness.run();
    assert_eq!(harness.state().0.model.display_offset(), 3);
}
