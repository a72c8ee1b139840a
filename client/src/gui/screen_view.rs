//! The Screen tab: the guest's framebuffer as a texture updated per rectangle,
//! fit or 100% scaling (HiDPI-aware, see [`crate::gui::scale`]), keyboard capture with
//! a visible release chord, the send-keys menu (with SysRq and paste-as-typing, each
//! destructive or long one confirmed first) and view-only.

use egui::{Color32, ColorImage, Event, RichText, Sense, TextureHandle, TextureOptions, ViewportCommand};

use crate::gui::frame::Framebuffer;
use crate::gui::keymap::{RELEASE_HINT, is_release, key_events};
use crate::gui::keysym::{Chord, PASTE_PREVIEW, paste_keys};
use crate::gui::net::NetCommand;
use crate::gui::scale::{guest_pixel, points_per_guest_pixel};
use crate::gui::state::SessionView;

/// Something waiting for the user's yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// A chord that ends processes or the guest.
    Chord(Chord),
    /// Clipboard text to type.
    Paste {
        /// The text.
        text: String,
        /// Its key events.
        keys: Vec<(u32, bool)>,
    },
}

/// The Screen tab's own state.
#[derive(Default)]
pub struct ScreenView {
    texture: Option<TextureHandle>,
    /// Scale to the tab (true) or one guest pixel per physical pixel.
    pub fit: bool,
    /// Keys go to the guest.
    pub capture: bool,
    /// Nothing is sent to the guest: no keys, no pointer.
    pub view_only: bool,
    /// Awaiting the user's confirmation.
    pub confirm: Option<Confirm>,
    /// A paste was asked for; the clipboard's text arrives as an event within a frame
    /// or two (none comes for an empty clipboard): frames waited so far.
    awaiting_paste: Option<u8>,
    /// Why something was not sent (shown until dismissed).
    pub notice: Option<String>,
    last_pointer: Option<(u16, u16, u8)>,
}

impl std::fmt::Debug for ScreenView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenView")
            .field("fit", &self.fit)
            .field("capture", &self.capture)
            .field("view_only", &self.view_only)
            .finish_non_exhaustive()
    }
}

/// The label of the view-only state, shown while it is on.
pub const VIEW_ONLY_TEXT: &str = "VIEW ONLY: no keyboard or pointer input is sent";
/// Frames to wait for the clipboard's text before calling it empty.
const MAX_PASTE_FRAMES: u8 = 4;
/// The send-keys menu entry for typing the clipboard.
pub const PASTE_LABEL: &str = "Paste as typing…";

fn send_keys(send: &mut dyn FnMut(NetCommand), events: Vec<(u32, bool)>) {
    for (keysym, down) in events {
        send(NetCommand::Key { keysym, down });
    }
}

impl ScreenView {
    /// A view that starts fitted to the tab.
    pub fn new() -> Self {
        Self { fit: true, ..Self::default() }
    }

    /// A view for a new connection that keeps the user's choices (scaling, view-only).
    pub fn fresh(&self) -> Self {
        Self { fit: self.fit, view_only: self.view_only, ..Self::default() }
    }

    fn upload(&mut self, ctx: &egui::Context, fb: &mut Framebuffer) {
        let (w, h) = (usize::from(fb.size.0), usize::from(fb.size.1));
        if w == 0 || h == 0 {
            return;
        }
        match (fb.take_dirty(), &mut self.texture) {
            (Some(rects), Some(tex)) if tex.size() == [w, h] => {
                for (r, px) in rects {
                    let img = ColorImage::from_rgba_unmultiplied([usize::from(r.w), usize::from(r.h)], &px);
                    tex.set_partial([usize::from(r.x), usize::from(r.y)], img, TextureOptions::LINEAR);
                }
            }
            _ => {
                let img = ColorImage::from_rgba_unmultiplied([w, h], &fb.rgba);
                match &mut self.texture {
                    Some(tex) => tex.set(img, TextureOptions::LINEAR),
                    None => self.texture = Some(ctx.load_texture("guest-screen", img, TextureOptions::LINEAR)),
                }
            }
        }
    }

    fn toolbar(&mut self, ui: &mut egui::Ui, send: &mut dyn FnMut(NetCommand)) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.fit, true, "Fit");
            ui.selectable_value(&mut self.fit, false, "100%");
            ui.separator();
            if ui.toggle_value(&mut self.view_only, "View only").changed() && self.view_only {
                self.capture = false;
                self.awaiting_paste = None;
                self.confirm = None;
            }
            ui.add_enabled_ui(!self.view_only, |ui| {
                ui.toggle_value(&mut self.capture, "Capture keyboard");
                ui.menu_button("Send keys", |ui| self.send_keys_menu(ui, send));
            });
            if self.view_only {
                ui.label(RichText::new(VIEW_ONLY_TEXT).strong().color(Color32::YELLOW));
            } else if self.capture {
                ui.label(
                    RichText::new(format!("Keyboard captured: {RELEASE_HINT} releases it")).color(Color32::YELLOW),
                );
            }
        });
    }

    fn send_keys_menu(&mut self, ui: &mut egui::Ui, send: &mut dyn FnMut(NetCommand)) {
        for chord in Chord::all() {
            if ui.button(chord.label()).clicked() {
                send_keys(send, chord.events());
                ui.close();
            }
        }
        ui.menu_button("SysRq", |ui| {
            for chord in Chord::sysrq() {
                if ui.button(chord.label()).clicked() {
                    if chord.needs_confirmation() {
                        self.confirm = Some(Confirm::Chord(chord));
                    } else {
                        send_keys(send, chord.events());
                    }
                    ui.close();
                }
            }
        });
        ui.separator();
        if ui.button(PASTE_LABEL).clicked() {
            // The clipboard's text arrives as an Event::Paste on a later frame.
            self.awaiting_paste = Some(0);
            self.notice = None;
            ui.ctx().send_viewport_cmd(ViewportCommand::RequestPaste);
            ui.ctx().request_repaint();
            ui.close();
        }
    }

    /// The clipboard text asked for by "Paste as typing", if it arrived: check it, then confirm.
    fn take_paste(&mut self, ui: &egui::Ui) {
        let Some(waited) = self.awaiting_paste else { return };
        let pasted = ui.input(|i| {
            i.events.iter().find_map(|e| match e {
                Event::Paste(t) => Some(t.clone()),
                _ => None,
            })
        });
        let Some(text) = pasted else {
            if waited >= MAX_PASTE_FRAMES {
                self.awaiting_paste = None;
                self.notice = Some("the clipboard holds no text; nothing was typed".into());
            } else {
                self.awaiting_paste = Some(waited + 1);
                ui.ctx().request_repaint();
            }
            return;
        };
        self.awaiting_paste = None;
        if text.is_empty() {
            self.notice = Some("the clipboard holds no text; nothing was typed".into());
            return;
        }
        match paste_keys(&text) {
            Ok(keys) => self.confirm = Some(Confirm::Paste { text, keys }),
            Err(why) => self.notice = Some(why),
        }
    }

    /// The confirmation dialog, if one is pending.
    fn confirm_ui(&mut self, ctx: &egui::Context, send: &mut dyn FnMut(NetCommand)) {
        let Some(confirm) = &self.confirm else { return };
        let (title, body, yes) = match confirm {
            Confirm::Chord(chord) => (
                format!("Send {}?", chord.label()),
                "The guest's kernel acts on this at once: processes or the whole guest stop without a clean \
                 shutdown, and unsaved work is lost."
                    .to_owned(),
                "Send it",
            ),
            Confirm::Paste { text, .. } => {
                let chars = text.chars().count();
                // Escaped, so newlines and tabs are visible (\n, \t).
                let preview: String = text.chars().take(PASTE_PREVIEW).flat_map(char::escape_debug).collect();
                let more = if chars > PASTE_PREVIEW { "…" } else { "" };
                (
                    format!("Type {chars} characters into the guest?"),
                    format!(
                        "Each character is sent as a key press, as if typed, into whatever has the guest's \
                         focus. It starts with:\n{preview}{more}"
                    ),
                    "Type it",
                )
            }
        };
        let mut answer = None;
        egui::Modal::new(egui::Id::unique("screen-confirm")).show(ctx, |ui| {
            ui.set_max_width(480.0);
            ui.heading(title);
            ui.label(body);
            ui.horizontal(|ui| {
                if ui.button(yes).clicked() {
                    answer = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(false);
                }
            });
        });
        match answer {
            Some(true) => match self.confirm.take() {
                Some(Confirm::Chord(chord)) => send_keys(send, chord.events()),
                Some(Confirm::Paste { keys, .. }) => send_keys(send, keys),
                None => {}
            },
            Some(false) => self.confirm = None,
            None => {}
        }
    }

    /// Draw the tab and forward input (none in view-only).
    pub fn ui(&mut self, ui: &mut egui::Ui, session: &mut SessionView, send: &mut dyn FnMut(NetCommand)) {
        let fb = &mut session.screen;
        self.upload(ui.ctx(), fb);
        let mut dropped = |_: NetCommand| {};
        let send: &mut dyn FnMut(NetCommand) = if self.view_only { &mut dropped } else { send };
        self.toolbar(ui, send);
        self.take_paste(ui);
        self.confirm_ui(ui.ctx(), send);
        if self.awaiting_paste.is_some() {
            ui.horizontal(|ui| {
                ui.label("Waiting for text from the clipboard (is it empty?)");
                if ui.button("Cancel paste").clicked() {
                    self.awaiting_paste = None;
                }
            });
        }
        if let Some(notice) = &self.notice {
            let mut dismiss = false;
            ui.horizontal(|ui| {
                ui.colored_label(Color32::LIGHT_RED, format!("Not typed: {notice}"));
                dismiss = ui.small_button("Dismiss").clicked();
            });
            if dismiss {
                self.notice = None;
            }
        }
        if let Some(retry) = &session.screen_retry {
            ui.colored_label(
                Color32::YELLOW,
                format!(
                    "Screen connection lost ({}); reconnecting with a fresh attestation, attempt {}, next try in {} s",
                    retry.reason,
                    retry.attempt,
                    retry.secs_left()
                ),
            );
            ui.ctx().request_repaint_after(std::time::Duration::from_secs(1));
        }
        if let Some(reason) = &session.screen_ended {
            ui.colored_label(Color32::LIGHT_RED, reason);
        }
        let Some(tex) = &self.texture else {
            ui.label("Waiting for the guest's first screen update…");
            return;
        };
        let native = tex.size_vec2();
        let id = tex.id();
        let guest = session.screen.size;
        let scale = points_per_guest_pixel(native, ui.available_size(), ui.ctx().pixels_per_point(), self.fit);
        let response = egui::ScrollArea::both()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let image = egui::Image::new((id, native * scale)).sense(Sense::click_and_drag());
                let r = ui.add(image).on_hover_cursor(egui::CursorIcon::Crosshair);
                r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "Guest screen"));
                r
            })
            .inner;
        if self.view_only {
            return;
        }
        self.pointer(ui, &response, scale, guest, send);
        if response.clicked() && self.capture {
            response.request_focus();
        }
        if self.capture {
            self.keyboard(ui, &response, send);
        }
    }

    fn pointer(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        scale: f32,
        guest: (u16, u16),
        send: &mut dyn FnMut(NetCommand),
    ) {
        let Some(pos) = response.hover_pos() else { return };
        let (x, y) = guest_pixel(pos - response.rect.min, scale, guest);
        let buttons = ui.input(|i| {
            u8::from(i.pointer.primary_down())
                | (u8::from(i.pointer.middle_down()) << 1)
                | (u8::from(i.pointer.secondary_down()) << 2)
        });
        let now = (x, y, buttons);
        if self.last_pointer != Some(now) {
            self.last_pointer = Some(now);
            send(NetCommand::Pointer { x, y, buttons });
        }
    }

    fn keyboard(&mut self, ui: &egui::Ui, response: &egui::Response, send: &mut dyn FnMut(NetCommand)) {
        response.request_focus();
        let all = egui::EventFilter { tab: true, horizontal_arrows: true, vertical_arrows: true, escape: true };
        ui.memory_mut(|m| m.set_focus_lock_filter(response.id, all));
        for event in ui.input(|i| i.events.clone()) {
            if is_release(&event) {
                self.capture = false;
                return;
            }
            send_keys(send, key_events(&event));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::frame::{Rect, ScreenEvent};

    /// One egui frame of the tab; the texture uploads it produced: (size, position).
    fn frame(
        ctx: &egui::Context,
        view: &mut ScreenView,
        session: &mut SessionView,
    ) -> Vec<([usize; 2], Option<[usize; 2]>)> {
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| view.ui(ui, session, &mut |_| {}));
        let deltas = out.textures_delta.set.values().flat_map(|d| d.iter()).map(|d| (d.image.size(), d.pos)).collect();
        out.textures_delta.clear();
        deltas
    }

    #[test]
    fn an_update_uploads_only_its_rectangle_of_the_texture() {
        let ctx = egui::Context::default();
        let (mut view, mut session) = (ScreenView::new(), SessionView::default());
        session.screen.apply(ScreenEvent::Resized { w: 64, h: 32 });
        assert!(frame(&ctx, &mut view, &mut session).contains(&([64, 32], None)), "a new size uploads the picture");
        session.screen.apply(ScreenEvent::Pixels(Rect { x: 10, y: 5, w: 3, h: 2 }, [0, 255, 0, 255].repeat(6)));
        let deltas = frame(&ctx, &mut view, &mut session);
        assert!(deltas.contains(&([3, 2], Some([10, 5]))), "{deltas:?}");
        assert!(!deltas.iter().any(|(size, _)| *size == [64, 32]), "no whole-picture upload: {deltas:?}");
        let again = frame(&ctx, &mut view, &mut session);
        assert!(!again.iter().any(|(size, _)| *size == [3, 2]), "nothing new, nothing sent");
    }
}
