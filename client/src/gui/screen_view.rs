//! The Screen tab: the guest's framebuffer as a texture updated per rectangle,
//! fit or 100% scaling, keyboard capture with a visible release chord, and the
//! send-keys menu.

use egui::{Color32, ColorImage, RichText, Sense, TextureHandle, TextureOptions, Vec2};

use crate::gui::frame::Framebuffer;
use crate::gui::keymap::{RELEASE_HINT, is_release, key_events};
use crate::gui::keysym::Chord;
use crate::gui::state::NetCommand;

/// The Screen tab's own state.
#[derive(Default)]
pub struct ScreenView {
    texture: Option<TextureHandle>,
    /// Scale to the tab (true) or show 1:1.
    pub fit: bool,
    /// Keys go to the guest.
    pub capture: bool,
    last_pointer: Option<(u16, u16, u8)>,
}

impl std::fmt::Debug for ScreenView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenView").field("fit", &self.fit).field("capture", &self.capture).finish_non_exhaustive()
    }
}

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
            ui.toggle_value(&mut self.capture, "Capture keyboard");
            ui.menu_button("Send keys", |ui| {
                for chord in Chord::all() {
                    if ui.button(chord.label()).clicked() {
                        send_keys(send, chord.events());
                        ui.close();
                    }
                }
            });
            if self.capture {
                ui.label(
                    RichText::new(format!("Keyboard captured: {RELEASE_HINT} releases it")).color(Color32::YELLOW),
                );
            }
        });
    }

    /// Draw the tab and forward input.
    pub fn ui(&mut self, ui: &mut egui::Ui, fb: &mut Framebuffer, send: &mut dyn FnMut(NetCommand)) {
        self.upload(ui.ctx(), fb);
        self.toolbar(ui, send);
        if let Some(reason) = &fb.ended {
            ui.colored_label(Color32::LIGHT_RED, reason);
        }
        let Some(tex) = &self.texture else {
            ui.label("Waiting for the guest's screen…");
            return;
        };
        let native = tex.size_vec2();
        let id = tex.id();
        let avail = ui.available_size();
        let scale = if self.fit { (avail.x / native.x).min(avail.y / native.y).max(0.01) } else { 1.0 };
        let response = egui::ScrollArea::both()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.add(egui::Image::new((id, native * scale)).sense(Sense::click_and_drag()))
                    .on_hover_cursor(egui::CursorIcon::Crosshair)
            })
            .inner;
        self.pointer(ui, &response, native, scale, send);
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
        native: Vec2,
        scale: f32,
        send: &mut dyn FnMut(NetCommand),
    ) {
        let Some(pos) = response.hover_pos() else { return };
        let at = (pos - response.rect.min) / scale;
        let clamp = |v: f32, max: f32| {
            // invariant: clamped into 0..=u16::MAX before the cast.
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped first")]
            let v = v.clamp(0.0, (max - 1.0).max(0.0)).min(f32::from(u16::MAX)) as u16;
            v
        };
        let buttons = ui.input(|i| {
            u8::from(i.pointer.primary_down())
                | (u8::from(i.pointer.middle_down()) << 1)
                | (u8::from(i.pointer.secondary_down()) << 2)
        });
        let now = (clamp(at.x, native.x), clamp(at.y, native.y), buttons);
        if self.last_pointer != Some(now) {
            self.last_pointer = Some(now);
            send(NetCommand::Pointer { x: now.0, y: now.1, buttons: now.2 });
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
