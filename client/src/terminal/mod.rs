//! The Console tab's terminal: an `alacritty_terminal` model fed with the guest's bytes,
//! painted by egui, turning keyboard and paste events back into bytes for the PTY.
//!
//! ```text
//! guest bytes ─► TerminalModel::feed ─► vte parser ─► Term grid ─► TerminalView::ui (egui painter)
//!                        └─► take_replies (DSR/DA answers) ─┐
//! egui keys / text / paste ─► key_to_bytes ─────────────────┴─► TerminalOutput::input ─► PTY
//! ```
//!
//! [`TerminalModel`] knows no egui type, so tests replay recorded byte streams against it.

mod keys;
mod palette;
mod view;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use alacritty_terminal::Term;
use alacritty_terminal::event::{Event, EventListener};
use alacritty_terminal::grid::{Dimensions, Scroll};
use alacritty_terminal::index::{Column, Line, Point, Side};
use alacritty_terminal::selection::{Selection, SelectionType};
use alacritty_terminal::term::cell::{Cell, Flags};
use alacritty_terminal::term::{Config, TermMode};
use alacritty_terminal::vte::ansi::{Color, NamedColor, Processor, Rgb};

pub use keys::key_to_bytes;
pub use view::{TerminalOutput, TerminalView};

/// A terminal colour as the guest asked for it; [`TerminalModel::rgb`] resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermColor {
    /// The default foreground (for `fg`) or background (for `bg`).
    Default,
    /// One of the 256 indexed colours (0..16 are the ANSI colours).
    Indexed(u8),
    /// A truecolor value (SGR 38;2 / 48;2).
    Rgb(u8, u8, u8),
}

/// One grid cell, for painting and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellInfo {
    pub ch: char,
    pub fg: TermColor,
    pub bg: TermColor,
    pub bold: bool,
    pub inverse: bool,
    /// The first half of a double-width character (the next cell is its spacer).
    pub wide: bool,
}

/// Collects what the terminal must answer to the guest (`Event::PtyWrite`).
#[derive(Clone, Default)]
struct Replies(Arc<Mutex<Vec<u8>>>);

impl Replies {
    fn push(&self, bytes: &[u8]) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl EventListener for Replies {
    fn send_event(&self, event: Event) {
        match event {
            Event::PtyWrite(text) => self.push(text.as_bytes()),
            // OSC 10/11/4 queries: answer with the built-in palette.
            Event::ColorRequest(index, format) => {
                let (r, g, b) = palette::default_rgb(index);
                self.push(format(Rgb { r, g, b }).as_bytes());
            }
            _ => {}
        }
    }
}

struct Size {
    cols: usize,
    rows: usize,
}

impl Dimensions for Size {
    fn total_lines(&self) -> usize {
        self.rows
    }
    fn screen_lines(&self) -> usize {
        self.rows
    }
    fn columns(&self) -> usize {
        self.cols
    }
}

/// The terminal state: grid, scrollback, modes, selection. No renderer.
pub struct TerminalModel {
    term: Term<Replies>,
    parser: Processor,
    replies: Replies,
}

impl fmt::Debug for TerminalModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TerminalModel")
            .field("size", &self.size())
            .field("cursor", &self.cursor())
            .field("display_offset", &self.display_offset())
            .finish_non_exhaustive()
    }
}

/// Terminal sizes are clamped to this range (alacritty needs at least 2 columns).
fn clamp_size(cols: u16, rows: u16) -> Size {
    Size { cols: usize::from(cols.max(2)), rows: usize::from(rows.max(1)) }
}

fn to_u16(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

fn to_i32(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl TerminalModel {
    pub fn new(cols: u16, rows: u16, scrollback_lines: usize) -> Self {
        let replies = Replies::default();
        let config = Config { scrolling_history: scrollback_lines, ..Config::default() };
        let term = Term::new(config, &clamp_size(cols, rows), replies.clone());
        Self { term, parser: Processor::new(), replies }
    }

    /// Output from the guest.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.advance(&mut self.term, bytes);
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.term.resize(clamp_size(cols, rows));
    }

    /// (cols, rows)
    pub fn size(&self) -> (u16, u16) {
        (to_u16(self.term.columns()), to_u16(self.term.screen_lines()))
    }

    /// Visible lines, trailing spaces trimmed, joined by '\n'.
    pub fn screen_text(&self) -> String {
        let lines: Vec<String> = (0..self.term.screen_lines()).map(|row| self.line_text(row)).collect();
        lines.join("\n")
    }

    /// The text of visible row `row` (0 = top of the view), trailing spaces trimmed.
    pub fn line_text(&self, row: usize) -> String {
        let Some(line) = self.view_line(row) else { return String::new() };
        let mut text = String::new();
        for cell in &self.term.grid()[line][..] {
            if cell.flags.intersects(Flags::WIDE_CHAR_SPACER | Flags::LEADING_WIDE_CHAR_SPACER) {
                continue;
            }
            text.push(cell.c);
            text.extend(cell.zerowidth().into_iter().flatten());
        }
        text.trim_end_matches(' ').to_owned()
    }

    /// The cursor in screen coordinates (col, row), as the guest placed it (ignores scrollback view).
    pub fn cursor(&self) -> (u16, u16) {
        let point = self.term.grid().cursor.point;
        (to_u16(point.column.0), u16::try_from(point.line.0).unwrap_or(0))
    }

    /// Bytes the terminal must send back to the guest (answers to DSR/DA queries, ...).
    pub fn take_replies(&mut self) -> Vec<u8> {
        self.replies.take()
    }

    /// Moves the scrollback view: negative shows earlier lines, positive later ones.
    pub fn scroll(&mut self, lines: i32) {
        self.term.scroll_display(Scroll::Delta(lines.saturating_neg()));
    }

    /// Returns the view to the live screen.
    pub fn scroll_to_bottom(&mut self) {
        self.term.scroll_display(Scroll::Bottom);
    }

    /// How many lines the view is scrolled back into history.
    pub fn display_offset(&self) -> usize {
        self.term.grid().display_offset()
    }

    pub fn selection_text(&self) -> Option<String> {
        self.term.selection_to_string().filter(|s| !s.is_empty())
    }

    /// Selects visible cells from `from` to `to` (both (col, row), inclusive, in either order).
    pub fn select(&mut self, from: (u16, u16), to: (u16, u16)) {
        let (mut a, mut b) = (self.view_point(from), self.view_point(to));
        if b < a {
            std::mem::swap(&mut a, &mut b);
        }
        let mut selection = Selection::new(SelectionType::Simple, a, Side::Left);
        selection.update(b, Side::Right);
        self.term.selection = Some(selection);
    }

    pub fn clear_selection(&mut self) {
        self.term.selection = None;
    }

    /// The visible cell at (col, row), or None outside the screen.
    pub fn cell(&self, col: u16, row: u16) -> Option<CellInfo> {
        let line = self.view_line(usize::from(row))?;
        let cell = self.term.grid()[line].into_iter().nth(usize::from(col))?;
        Some(cell_info(cell))
    }

    /// Application cursor keys (DECCKM) are on.
    pub fn app_cursor(&self) -> bool {
        self.term.mode().contains(TermMode::APP_CURSOR)
    }

    /// The guest asked for bracketed paste (mode 2004).
    pub fn bracketed_paste(&self) -> bool {
        self.term.mode().contains(TermMode::BRACKETED_PASTE)
    }

    /// The alternate screen (full-screen programs) is active.
    pub fn alt_screen(&self) -> bool {
        self.term.mode().contains(TermMode::ALT_SCREEN)
    }

    /// Resolves a colour to RGB, honouring palette changes the guest made (OSC 4).
    pub fn rgb(&self, color: TermColor, is_fg: bool) -> (u8, u8, u8) {
        let index = match color {
            TermColor::Rgb(r, g, b) => return (r, g, b),
            TermColor::Indexed(i) => usize::from(i),
            TermColor::Default if is_fg => NamedColor::Foreground as usize,
            TermColor::Default => NamedColor::Background as usize,
        };
        match self.term.colors()[index] {
            Some(Rgb { r, g, b }) => (r, g, b),
            None => palette::default_rgb(index),
        }
    }

    /// Grid line of visible row `row`, or None below the screen.
    fn view_line(&self, row: usize) -> Option<Line> {
        (row < self.term.screen_lines()).then(|| Line(to_i32(row) - to_i32(self.display_offset())))
    }

    fn view_point(&self, (col, row): (u16, u16)) -> Point {
        let last_row = self.term.screen_lines().saturating_sub(1);
        let row = usize::from(row).min(last_row);
        let col = usize::from(col).min(self.term.columns().saturating_sub(1));
        Point::new(Line(to_i32(row) - to_i32(self.display_offset())), Column(col))
    }

    /// Visible cells (with their screen row/col) that lie in the selection, for painting.
    fn selected(&self) -> Option<alacritty_terminal::selection::SelectionRange> {
        self.term.selection.as_ref().and_then(|s| s.to_range(&self.term))
    }
}

fn term_color(color: Color) -> TermColor {
    match color {
        Color::Spec(Rgb { r, g, b }) => TermColor::Rgb(r, g, b),
        Color::Indexed(i) => TermColor::Indexed(i),
        Color::Named(named) => {
            let n = named as usize;
            if let Ok(i) = u8::try_from(n) {
                TermColor::Indexed(i)
            } else if (NamedColor::DimBlack as usize..=NamedColor::DimWhite as usize).contains(&n) {
                TermColor::Indexed(u8::try_from(n - NamedColor::DimBlack as usize).unwrap_or(7))
            } else {
                TermColor::Default
            }
        }
    }
}

fn cell_info(cell: &Cell) -> CellInfo {
    CellInfo {
        ch: cell.c,
        fg: term_color(cell.fg),
        bg: term_color(cell.bg),
        bold: cell.flags.contains(Flags::BOLD),
        inverse: cell.flags.contains(Flags::INVERSE),
        wide: cell.flags.contains(Flags::WIDE_CHAR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_colours_map_to_indexes() {
        assert_eq!(term_color(Color::Named(NamedColor::Red)), TermColor::Indexed(1));
        assert_eq!(term_color(Color::Named(NamedColor::BrightWhite)), TermColor::Indexed(15));
        assert_eq!(term_color(Color::Named(NamedColor::Foreground)), TermColor::Default);
        assert_eq!(term_color(Color::Named(NamedColor::DimGreen)), TermColor::Indexed(2));
    }

    #[test]
    fn tiny_sizes_are_clamped() {
        let mut m = TerminalModel::new(0, 0, 10);
        assert_eq!(m.size(), (2, 1));
        m.feed(b"abcdef");
        m.resize(1, 0);
        assert_eq!(m.size(), (2, 1));
        assert!(m.cell(5, 5).is_none());
    }

    #[test]
    fn osc_colour_query_is_answered() {
        let mut m = TerminalModel::new(80, 24, 10);
        m.feed(b"\x1b]11;?\x07");
        let reply = String::from_utf8(m.take_replies()).unwrap();
        assert!(reply.starts_with("\x1b]11;rgb:"), "{reply:?}");
    }
}
