//! Paints a [`TerminalModel`] with egui and turns egui input into bytes for the PTY.

use alacritty_terminal::grid::Dimensions;
use alacritty_terminal::index::{Column, Line, Point};
use alacritty_terminal::term::TermMode;
use alacritty_terminal::term::cell::Flags;
use egui::{
    Align2, Color32, Event, EventFilter, FontId, Key, MouseWheelUnit, Pos2, Rect, Role, Sense, Stroke, StrokeKind, Ui,
    Vec2, ViewportCommand, WidgetInfo,
};

use super::{TermColor, TerminalModel, cell_info, key_to_bytes, palette, to_i32};

/// What happened during one [`TerminalView::ui`] call.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TerminalOutput {
    /// Bytes for the guest: typed keys, pastes and the model's replies to queries.
    pub input: Vec<u8>,
    /// The fitted (cols, rows) changed: send a resize to the PTY.
    pub resized: Option<(u16, u16)>,
    /// Text copied to the clipboard this frame.
    pub copied: Option<String>,
}

/// The Console tab's terminal widget. Its accessible label is "Terminal".
#[derive(Debug)]
pub struct TerminalView {
    pub model: TerminalModel,
    /// Monospace font size in points.
    pub font_size: f32,
    focus_requested: bool,
    drag_anchor: Option<(u16, u16)>,
    wheel_lines: f32,
}

fn rgb((r, g, b): (u8, u8, u8)) -> Color32 {
    Color32::from_rgb(r, g, b)
}

/// Whole cells that fit in `len` points.
#[expect(clippy::cast_possible_truncation, reason = "clamped to 1..=1000 before the cast")]
fn cells_in(len: f32, cell: f32) -> Option<u16> {
    (len.is_finite() && cell > 0.0).then(|| (len / cell).floor().clamp(1.0, 1000.0) as u16)
}

impl TerminalView {
    pub fn new(scrollback_lines: usize) -> Self {
        Self {
            model: TerminalModel::new(80, 24, scrollback_lines),
            font_size: 14.0,
            focus_requested: false,
            drag_anchor: None,
            wheel_lines: 0.0,
        }
    }

    /// Give the terminal keyboard focus on the next [`Self::ui`] call (e.g. when the tab opens).
    pub fn request_focus(&mut self) {
        self.focus_requested = true;
    }

    /// Draw and handle input. Returns what happened this frame.
    pub fn ui(&mut self, ui: &mut Ui) -> TerminalOutput {
        let mut out = TerminalOutput::default();
        let font = FontId::monospace(self.font_size);
        let (cell_w, cell_h) = ui.ctx().fonts_mut(|f| (f.glyph_width(&font, 'M'), f.row_height(&font)));
        let cell = Vec2::new(cell_w, cell_h);

        let avail = ui.available_size();
        let (old_cols, old_rows) = self.model.size();
        let cols = cells_in(avail.x, cell_w).unwrap_or(old_cols).max(2);
        let rows = cells_in(avail.y, cell_h).unwrap_or(old_rows);
        if (cols, rows) != (old_cols, old_rows) {
            self.model.resize(cols, rows);
            out.resized = Some(self.model.size());
        }
        let grid_size = Vec2::new(f32::from(cols) * cell_w, f32::from(rows) * cell_h);
        let size = Vec2::new(
            if avail.x.is_finite() { avail.x } else { grid_size.x },
            if avail.y.is_finite() { avail.y } else { grid_size.y },
        );
        let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
        let id = ui.make_persistent_id("cvm_terminal");
        let response = ui.interact(rect, id, Sense::click_and_drag());
        response.widget_info(|| WidgetInfo::labeled(Role::Terminal, true, "Terminal"));

        if std::mem::take(&mut self.focus_requested) || response.clicked() || response.drag_started() {
            response.request_focus();
        }
        self.handle_mouse(ui, &response, rect.min, cell, &mut out);
        if response.has_focus() {
            let all = EventFilter { tab: true, horizontal_arrows: true, vertical_arrows: true, escape: true };
            ui.memory_mut(|m| m.set_focus_lock_filter(id, all));
            let events = ui.input(|i| i.events.clone());
            self.handle_keyboard(ui, events, &mut out);
        }
        out.input.extend(self.model.take_replies());
        if ui.is_rect_visible(rect) {
            self.paint(ui, rect, &font, cell, response.has_focus());
        }
        out
    }

    fn cell_at(&self, origin: Pos2, cell: Vec2, pos: Pos2) -> (u16, u16) {
        let (cols, rows) = self.model.size();
        let col = cells_in(pos.x - origin.x + cell.x, cell.x).unwrap_or(1).min(cols) - 1;
        let row = cells_in(pos.y - origin.y + cell.y, cell.y).unwrap_or(1).min(rows) - 1;
        (col, row)
    }

    fn handle_mouse(&mut self, ui: &Ui, response: &egui::Response, origin: Pos2, cell: Vec2, out: &mut TerminalOutput) {
        if response.drag_started() {
            let press = ui.input(|i| i.pointer.press_origin()).or(response.interact_pointer_pos());
            self.drag_anchor = press.map(|p| self.cell_at(origin, cell, p));
            self.model.clear_selection();
        } else if response.clicked() {
            self.model.clear_selection();
        }
        if response.dragged()
            && let (Some(anchor), Some(pos)) = (self.drag_anchor, response.interact_pointer_pos())
        {
            let to = self.cell_at(origin, cell, pos);
            self.model.select(anchor, to);
        }
        if response.drag_stopped() {
            self.drag_anchor = None;
        }
        if !response.hovered() {
            return;
        }
        let rows = f32::from(self.model.size().1);
        for event in ui.input(|i| i.events.clone()) {
            if let Event::MouseWheel { unit, delta, .. } = event {
                self.wheel_lines += match unit {
                    MouseWheelUnit::Point => delta.y / cell.y,
                    MouseWheelUnit::Line => delta.y,
                    MouseWheelUnit::Page => delta.y * rows,
                };
            }
        }
        #[expect(clippy::cast_possible_truncation, reason = "clamped to a small range before the cast")]
        let lines = self.wheel_lines.trunc().clamp(-1000.0, 1000.0) as i32;
        self.wheel_lines -= lines as f32;
        if lines == 0 {
            return;
        }
        let mode = *self.model.term.mode();
        if mode.contains(TermMode::ALT_SCREEN | TermMode::ALTERNATE_SCROLL) {
            // Full-screen programs (less, vim) get arrow keys, as in xterm.
            let key = if lines > 0 { Key::ArrowUp } else { Key::ArrowDown };
            if let Some(bytes) = key_to_bytes(key, egui::Modifiers::NONE, self.model.app_cursor()) {
                for _ in 0..lines.unsigned_abs() {
                    out.input.extend_from_slice(&bytes);
                }
            }
        } else {
            self.model.scroll(-lines);
        }
    }

    fn handle_keyboard(&mut self, ui: &Ui, events: Vec<Event>, out: &mut TerminalOutput) {
        let macos = cfg!(target_os = "macos");
        let start = out.input.len();
        // Alt+key arrives both as a Key (sent as ESC-prefixed bytes) and as its Text: drop the Text.
        let mut skip_text = false;
        for event in events {
            match event {
                Event::Text(text) => {
                    let skip = std::mem::take(&mut skip_text);
                    out.input.extend_from_slice(if skip { &[] } else { text.as_bytes() });
                }
                Event::Paste(text) => self.paste(&text, out),
                // egui turns Ctrl+C (Cmd+C on macOS) into Copy: copy a selection, else interrupt.
                Event::Copy => match self.model.selection_text() {
                    Some(text) => copy(ui, text, out),
                    None if !macos => out.input.push(0x03),
                    None => {}
                },
                Event::Cut if !macos => out.input.push(0x18),
                Event::Key { key, pressed: true, modifiers, .. } => {
                    skip_text = false;
                    if modifiers.ctrl && modifiers.shift && key == Key::C {
                        if let Some(text) = self.model.selection_text() {
                            copy(ui, text, out);
                        }
                        continue;
                    }
                    if modifiers.ctrl && modifiers.shift && key == Key::V {
                        ui.ctx().send_viewport_cmd(ViewportCommand::RequestPaste);
                        continue;
                    }
                    if modifiers.shift && matches!(key, Key::PageUp | Key::PageDown) {
                        let page = i32::from(self.model.size().1.saturating_sub(1).max(1));
                        self.model.scroll(if key == Key::PageUp { -page } else { page });
                        continue;
                    }
                    let printable = key_to_bytes(key, egui::Modifiers::NONE, false).is_none();
                    // Option on macOS and AltGr (Ctrl+Alt) compose characters: let their Text through.
                    if printable && modifiers.alt && (macos || modifiers.ctrl) {
                        continue;
                    }
                    if let Some(bytes) = key_to_bytes(key, modifiers, self.model.app_cursor()) {
                        out.input.extend_from_slice(&bytes);
                        skip_text = printable && modifiers.alt;
                    }
                }
                _ => {}
            }
        }
        if out.input.len() > start {
            self.model.scroll_to_bottom();
            self.model.clear_selection();
        }
    }

    fn paste(&mut self, text: &str, out: &mut TerminalOutput) {
        // Terminals send Enter as CR; a pasted text must not end the bracket early.
        let text = text.replace("\r\n", "\r").replace('\n', "\r");
        if self.model.bracketed_paste() {
            out.input.extend_from_slice(b"\x1b[200~");
            out.input.extend_from_slice(text.replace("\x1b[201~", "").as_bytes());
            out.input.extend_from_slice(b"\x1b[201~");
        } else {
            out.input.extend_from_slice(text.as_bytes());
        }
    }

    fn paint(&self, ui: &Ui, rect: Rect, font: &FontId, cell: Vec2, focused: bool) {
        let painter = ui.painter_at(rect);
        let model = &self.model;
        let default_bg = rgb(model.rgb(TermColor::Default, false));
        painter.rect_filled(rect, 0.0, default_bg);
        let term = &model.term;
        let offset = to_i32(model.display_offset());
        let selection = model.selected();
        let (cursor_col, cursor_row) = model.cursor();
        let show_cursor = term.mode().contains(TermMode::SHOW_CURSOR);
        let cursor_color = rgb(palette::DEFAULT_FG);

        for row in 0..term.screen_lines() {
            let line = Line(to_i32(row) - offset);
            let y = rect.top() + row as f32 * cell.y;
            // A run of same-styled cells is painted as one text.
            let mut run = String::new();
            let mut run_start = 0usize;
            let mut run_style = (Color32::TRANSPARENT, false);
            let flush = |run: &mut String, start: usize, (color, bold): (Color32, bool)| {
                if !run.trim().is_empty() {
                    let pos = Pos2::new(rect.left() + start as f32 * cell.x, y);
                    painter.text(pos, Align2::LEFT_TOP, run.as_str(), font.clone(), color);
                    if bold {
                        painter.text(pos + Vec2::new(0.6, 0.0), Align2::LEFT_TOP, run.as_str(), font.clone(), color);
                    }
                }
                run.clear();
            };
            for (col, raw) in term.grid()[line].into_iter().enumerate() {
                if raw.flags.intersects(Flags::WIDE_CHAR_SPACER | Flags::LEADING_WIDE_CHAR_SPACER) {
                    continue;
                }
                let info = cell_info(raw);
                let fg_color = match info.fg {
                    TermColor::Indexed(i) if info.bold && i < 8 => TermColor::Indexed(i + 8),
                    other => other,
                };
                let mut fg = rgb(model.rgb(fg_color, true));
                let mut bg = rgb(model.rgb(info.bg, false));
                let selected = selection.as_ref().is_some_and(|s| s.contains(Point::new(line, Column(col))));
                if info.inverse != selected {
                    std::mem::swap(&mut fg, &mut bg);
                }
                let is_cursor = show_cursor && to_i32(col) == i32::from(cursor_col) && line.0 == i32::from(cursor_row);
                if is_cursor && focused {
                    (fg, bg) = (default_bg, cursor_color);
                }
                let width = if info.wide { 2.0 } else { 1.0 };
                let cell_rect = Rect::from_min_size(
                    Pos2::new(rect.left() + col as f32 * cell.x, y),
                    Vec2::new(cell.x * width, cell.y),
                );
                if bg != default_bg {
                    painter.rect_filled(cell_rect, 0.0, bg);
                }
                if is_cursor && !focused {
                    painter.rect_stroke(cell_rect, 0.0, Stroke::new(1.0, cursor_color), StrokeKind::Inside);
                }
                let style = (fg, info.bold);
                if info.wide || style != run_style {
                    flush(&mut run, run_start, run_style);
                    run_start = col;
                    run_style = style;
                }
                run.push(info.ch);
                run.extend(raw.zerowidth().into_iter().flatten());
                if info.wide {
                    flush(&mut run, run_start, run_style);
                    run_start = col + 2;
                }
            }
            flush(&mut run, run_start, run_style);
        }
    }
}

fn copy(ui: &Ui, text: String, out: &mut TerminalOutput) {
    ui.ctx().copy_text(text.clone());
    out.copied = Some(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_fit_and_clamp() {
        assert_eq!(cells_in(100.0, 10.0), Some(10));
        assert_eq!(cells_in(5.0, 10.0), Some(1));
        assert_eq!(cells_in(f32::INFINITY, 10.0), None);
        assert_eq!(cells_in(100.0, 0.0), None);
    }

    #[test]
    fn paste_is_bracketed_when_asked() {
        let mut view = TerminalView::new(10);
        let mut out = TerminalOutput::default();
        view.paste("a\nb", &mut out);
        assert_eq!(out.input, b"a\rb");
        view.model.feed(b"\x1b[?2004h");
        let mut out = TerminalOutput::default();
        view.paste("x\x1b[201~y", &mut out);
        assert_eq!(out.input, b"\x1b[200~xy\x1b[201~");
    }
}
