//! The keyboard shortcut sheet, and the setting that turns the single-key
//! shortcuts off (WCAG 2.1.4).

use leptos::prelude::*;

use super::desk::{Desk, Dialog};
use super::dialogs::Modal;

#[component]
pub fn ShortcutSheet(desk: Desk) -> impl IntoView {
    let rows = [
        ("← / →", "Select the previous or next photo"),
        ("Ctrl+click, Space", "Add a photo to the selection"),
        ("R", "Rotate the photo a quarter turn clockwise"),
        ("E", "Edit: rotate, crop, annotate"),
        ("Delete", "Delete the selected photos"),
        ("Q", "Show or hide the phone QR code"),
        ("Ctrl+Enter", "Commit"),
        ("?", "This sheet"),
        ("Esc", "Close a dialog"),
    ];
    view! {
        <Modal title="Keyboard shortcuts" desk>
            <dl class="shortcuts">
                {rows.into_iter().map(|(k, v)| view! { <dt><kbd>{k}</kbd></dt><dd>{v}</dd> }).collect_view()}
            </dl>
            <label class="shortcuts__setting">
                <input
                    type="checkbox"
                    prop:checked=move || desk.letter_keys.get()
                    on:change=move |e| desk.set_letter_keys(event_target_checked(&e))
                />
                <span>
                    "Single-key shortcuts (R, E, Q and ?). Turn them off if you use speech input, or keys \
                     pressed by mistake act on your photos. The others (arrows, Delete, Ctrl+Enter, Esc) stay."
                </span>
            </label>
            <div class="modal__actions">
                <button class="button" on:click=move |_| desk.dialog.set(Dialog::None)>"Close"</button>
            </div>
        </Modal>
    }
}

const LETTER_KEYS: &str = "clinical-images.letter-shortcuts";

/// The single-key shortcuts' setting in this browser: on unless turned off.
pub(super) fn letter_keys_setting() -> bool {
    // Also built on the server, where there is no browser storage.
    if !cfg!(target_arch = "wasm32") {
        return true;
    }
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(LETTER_KEYS).ok().flatten())
        .is_none_or(|v| v != "off")
}

impl Desk {
    /// Turns the single-key shortcuts on or off, and remembers it.
    pub fn set_letter_keys(self, on: bool) {
        self.letter_keys.set(on);
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = storage.set_item(LETTER_KEYS, if on { "on" } else { "off" });
        }
    }
}
