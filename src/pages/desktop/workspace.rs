//! The workspace: capture bar, image strip, zoomable preview, metadata panel
//! and QR panel, with the live event stream, keyboard shortcuts and the
//! leave-page guard.

use leptos::ev;
use leptos::prelude::*;

use super::desk::{Desk, Dialog};
use super::dialogs::{CameraDialog, CommitDialog, ConfirmDelete};
use super::earlier::{CompareDialog, EarlierPanel};
use super::editor::EditorDialog;
use super::panels::{MetadataPanel, QrPanel};
use super::preview::Preview;
use super::shortcuts::ShortcutSheet;
use super::strip::Strip;
use crate::model::{ImageStatus, SessionEvent, SessionSummary};
use crate::pages::widgets::PhotoPicker;

#[component]
pub fn Workspace(summary: SessionSummary) -> impl IntoView {
    let events_url =
        format!("/api/medtech/session/events?{}={}", crate::model::SESSION_QUERY, summary.session);
    let desk = Desk::new(summary);

    // Live updates: any event refreshes the list; (re)connecting catches up.
    Effect::new(move |_| {
        desk.refresh();
        let subscription = crate::client::events::subscribe(
            &events_url,
            move |event| {
                match &event {
                    SessionEvent::ImageAdded(info) if info.source == crate::model::ImageSource::Mobile => {
                        desk.notify("New photo from the phone.");
                    }
                    SessionEvent::TokenRevoked => desk.phones.set(0),
                    SessionEvent::PhoneJoined { phones } => {
                        desk.phones.set(*phones);
                        desk.notify("A phone joined.");
                        return;
                    }
                    SessionEvent::SessionExpiring { .. } => {
                        desk.notify("This session ends in 5 minutes. Commit your photos now.");
                    }
                    _ => {}
                }
                desk.refresh();
            },
            move |up| {
                desk.live.set(up);
                if up {
                    desk.refresh();
                }
            },
        );
        StoredValue::new_local(subscription)
    });

    // Paste from the clipboard anywhere on the page.
    let _paste = window_event_listener(ev::paste, move |e| {
        let files = crate::client::capture::pasted_files(&e);
        if !files.is_empty() {
            e.prevent_default();
            desk.add_files(files);
        }
    });

    // Leaving with photos not yet filed asks first.
    let _unload = window_event_listener(ev::beforeunload, move |e| {
        let busy = !untrack(|| desk.uncommitted()).is_empty() || !desk.pending.with_untracked(Vec::is_empty);
        if busy {
            e.prevent_default();
            e.set_return_value("Photos have not been committed to the patient's record.");
        }
    });

    let _keys = window_event_listener(ev::keydown, move |e| on_key(desk, &e));

    let (dragging, set_dragging) = signal(false);
    let on_drop = move |e: ev::DragEvent| {
        e.prevent_default();
        set_dragging.set(false);
        let Some(data) = e.data_transfer() else { return };
        let (entries, files) = crate::client::capture::dropped_entries(&data);
        leptos::task::spawn_local(async move {
            let mut all = files;
            all.extend(crate::client::capture::files_in(entries).await);
            desk.add_files(all);
        });
    };

    let commit_count = move || {
        desk.images.with(|v| v.iter().filter(|i| !matches!(i.status, ImageStatus::Committed { .. })).count())
    };

    view! {
        <div
            class="desk"
            class:desk--dragging=move || dragging.get()
            on:dragover=move |e: ev::DragEvent| {
                e.prevent_default();
                set_dragging.set(true);
            }
            on:dragleave=move |_| set_dragging.set(false)
            on:drop=on_drop
        >
            // While a dialog is open, the page behind it takes no focus and
            // no clicks: Tab stays in the dialog (WCAG 2.4.3, 2.1.2).
            <header class="desk__bar" inert=move || desk.dialog.get() != Dialog::None>
                <h1 class="visually-hidden">"Clinical Images"</h1>
                <PhotoPicker label="Add photos" class="button" on_files=move |files| desk.add_files(files) />
                <button class="button button--secondary" on:click=move |_| desk.dialog.set(Dialog::Camera)>
                    "Webcam"
                </button>
                <button
                    class="button button--secondary"
                    aria-expanded=move || desk.qr_open.get().to_string()
                    aria-keyshortcuts="Q"
                    on:click=move |_| desk.qr_open.update(|o| *o = !*o)
                >
                    "Phone (QR)"
                </button>
                <span class="desk__hint muted">"or drop files and folders here, or paste"</span>
                <span class="desk__spacer"></span>
                <span class="desk__live" class:desk__live--down=move || !desk.live.get() role="status">
                    {move || if desk.live.get() { "Live" } else { "Reconnecting…" }}
                </span>
                <button class="button button--link" aria-keyshortcuts="?" on:click=move |_| desk.dialog.set(Dialog::Shortcuts)>
                    "Shortcuts"
                </button>
                <button
                    class="button"
                    aria-keyshortcuts="Control+Enter"
                    disabled=move || commit_count() == 0
                    on:click=move |_| desk.dialog.set(Dialog::Commit)
                >
                    {move || match commit_count() {
                        1 => "Commit 1 image".to_owned(),
                        n => format!("Commit {n} images"),
                    }}
                </button>
            </header>
            <div class="desk__main" inert=move || desk.dialog.get() != Dialog::None>
                // Type-erased at these boundaries: the whole workspace as one
                // static view type overflows rustc's layout queries.
                <div class="desk__left">
                    {view! { <Strip desk /> }.into_any()}
                    {view! { <Preview desk /> }.into_any()}
                </div>
                <aside class="desk__side">
                    <Show when=move || desk.qr_open.get()>
                        {view! { <QrPanel desk /> }.into_any()}
                    </Show>
                    {view! { <MetadataPanel desk /> }.into_any()}
                    {view! { <EarlierPanel desk /> }.into_any()}
                </aside>
            </div>
            // One live region for the page's whole life: a screen reader
            // announces a change of its text, not a region born holding it.
            // Shown only with no dialog open (a dialog shows its own outcome,
            // and the toast would cover its buttons in a narrow window); it
            // is announced either way.
            <div
                class="toast"
                class:toast--idle=move || desk.toast.with(Option::is_none) || desk.dialog.with(|d| *d != Dialog::None)
                role="status"
                aria-live="polite"
                data-testid="announcer"
            >
                {move || desk.toast.get().unwrap_or_default()}
            </div>
            // Only the dialog's kind picks what is shown: what a dialog reads
            // as it is built (the photos, say) must not rebuild it, which
            // would throw away its state and the focus inside it.
            {move || {
                let dialog = desk.dialog.get();
                untrack(move || match dialog {
                Dialog::None => ().into_any(),
                Dialog::Camera => view! { <CameraDialog desk /> }.into_any(),
                Dialog::Commit => view! { <CommitDialog desk /> }.into_any(),
                Dialog::Shortcuts => view! { <ShortcutSheet desk /> }.into_any(),
                Dialog::ConfirmDelete(ids) => view! { <ConfirmDelete desk ids /> }.into_any(),
                Dialog::Editor(image_id) => view! { <EditorDialog desk image_id /> }.into_any(),
                Dialog::Compare(earlier) => view! { <CompareDialog desk earlier /> }.into_any(),
                })
            }}
        </div>
    }
}

fn on_key(desk: Desk, e: &ev::KeyboardEvent) {
    use wasm_bindgen::JsCast;
    let typing = e
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
    if desk.dialog.get_untracked() != Dialog::None {
        // Escape closes a dialog, but asks before throwing away edits.
        if e.key() == "Escape"
            && (!desk.unsaved.get_untracked()
                || window().confirm_with_message("Discard your changes to this photo?").unwrap_or(false))
        {
            desk.dialog.set(Dialog::None);
        }
        return;
    }
    if e.key() == "Enter" && (e.ctrl_key() || e.meta_key()) {
        e.prevent_default();
        if !untrack(|| desk.uncommitted()).is_empty() {
            desk.dialog.set(Dialog::Commit);
        }
        return;
    }
    if typing || e.ctrl_key() || e.meta_key() || e.alt_key() {
        return;
    }
    // Single-character keys (R, E, Q, ?: WCAG 2.1.4's "character keys"; the
    // named ones, arrows and Delete, are longer) act only when turned on,
    // and not from a control in the details panel, where a letter is an
    // answer, not a command.
    if e.key().chars().count() == 1 {
        let in_details = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| el.closest(".desk__side").ok().flatten().is_some());
        if !desk.letter_keys.get_untracked() || in_details {
            return;
        }
    }
    match e.key().as_str() {
        "ArrowLeft" => desk.step(-1),
        "ArrowRight" => desk.step(1),
        "Delete" => {
            let ids = desk.selected.get_untracked();
            if !ids.is_empty() {
                desk.dialog.set(Dialog::ConfirmDelete(ids));
            }
        }
        "q" | "Q" => desk.qr_open.update(|o| *o = !*o),
        "r" | "R" => desk.quick_rotate(),
        "e" | "E" => {
            if let Some(id) = desk.focused.get_untracked().filter(|id| desk.editable(id)) {
                desk.dialog.set(Dialog::Editor(id));
            }
        }
        "?" => desk.dialog.set(Dialog::Shortcuts),
        _ => return,
    }
    e.prevent_default();
}
