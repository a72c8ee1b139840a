//! The Console tab: the terminal widget between the guest's console bytes and the
//! console loop's commands.
//!
//! ```text
//! NetEvent::Console(Output) ─► ClientState::console_output ─► TerminalView::model.feed
//! TerminalView::ui ─► input ─► ConsoleCommand::Input,  resized ─► ConsoleCommand::Resize
//! ```

use crate::console_client::ConsoleCommand;
use crate::gui::net::NetCommand;
use crate::gui::state::ClientState;
use crate::terminal::TerminalView;

/// Lines of scrollback the Console tab keeps.
pub const SCROLLBACK_LINES: usize = 10_000;

/// The terminal and whether it was shown before (to focus it when the tab opens).
#[derive(Debug)]
pub struct ConsoleTab {
    view: TerminalView,
    shown_last_frame: bool,
}

impl Default for ConsoleTab {
    fn default() -> Self {
        Self { view: TerminalView::new(SCROLLBACK_LINES), shown_last_frame: false }
    }
}

impl ConsoleTab {
    /// Feed the guest's output to the terminal (every frame, whichever tab is open),
    /// and send the model's replies to terminal queries.
    pub fn feed(&mut self, state: &mut ClientState, send: &mut dyn FnMut(NetCommand)) {
        let output = state.take_console_output();
        if !output.is_empty() {
            self.view.model.feed(&output);
        }
        let replies = self.view.model.take_replies();
        if !replies.is_empty() {
            send(NetCommand::Console(ConsoleCommand::Input(replies)));
        }
    }

    /// Draw the terminal and forward what the user did.
    pub fn ui(&mut self, ui: &mut egui::Ui, send: &mut dyn FnMut(NetCommand)) {
        if !std::mem::replace(&mut self.shown_last_frame, true) {
            self.view.request_focus();
        }
        let out = self.view.ui(ui);
        if !out.input.is_empty() {
            send(NetCommand::Console(ConsoleCommand::Input(out.input)));
        }
        if let Some((cols, rows)) = out.resized {
            send(NetCommand::Console(ConsoleCommand::Resize { cols, rows }));
        }
    }

    /// The tab is not shown this frame.
    pub fn hidden(&mut self) {
        self.shown_last_frame = false;
    }
}
