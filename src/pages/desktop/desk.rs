//! The desktop workspace's state and the actions on it. Components read and
//! call these; the server is the source of truth for images (the list is
//! refreshed on every event and whenever the event stream reopens).

use leptos::prelude::*;

use crate::api::{delete_image, list_images, update_image_metadata};
use crate::client::upload::{Outgoing, Waiting};
use crate::model::{ApiError, CaptureSettings, ImageInfo, ImageMetadata, ImageStatus, SessionSummary};

/// Which modal is open.
#[derive(Clone, Debug, PartialEq)]
pub enum Dialog {
    None,
    Camera,
    Commit,
    Shortcuts,
    ConfirmDelete(Vec<String>),
    Editor(String),
    /// Today's selected photo beside an earlier one.
    Compare(crate::model::EarlierPhoto),
}

/// A photo on its way up (before the server knows it).
#[derive(Clone, Copy)]
pub struct Pending {
    pub key: u32,
    /// When the GP picked it ([`crate::client::pick_time`]): the strip
    /// lists photos in this order, whichever upload finishes first.
    pub picked_at: u64,
    pub name: StoredValue<String>,
    /// 0–1 over the pipeline (first 40 %) and the upload.
    pub progress: RwSignal<f64>,
    pub error: RwSignal<Option<String>>,
    pub thumb: RwSignal<Option<String>>,
    /// Set while the upload waits to try again (or for the network).
    pub waiting: RwSignal<Option<Waiting>>,
}

/// Everything the workspace shares. All handles: `Copy`.
#[derive(Clone, Copy)]
pub struct Desk {
    pub images: RwSignal<Vec<ImageInfo>>,
    pub pending: RwSignal<Vec<Pending>>,
    /// Selected image ids (the metadata panel edits these).
    pub selected: RwSignal<Vec<String>>,
    /// The image in the preview.
    pub focused: RwSignal<Option<String>>,
    pub dialog: RwSignal<Dialog>,
    /// The open dialog holds work that closing it would throw away (the
    /// editor's unsaved edits): Escape asks first.
    pub unsaved: RwSignal<bool>,
    /// Whether the single-key shortcuts (R, E, Q, ?) act (WCAG 2.1.4: a
    /// speech-input user's words must not fire them). Kept in this browser.
    pub letter_keys: RwSignal<bool>,
    pub qr_open: RwSignal<bool>,
    /// Phones that opened the current QR link.
    pub phones: RwSignal<usize>,
    /// A short, non-blocking message (new photos from the phone, errors).
    pub toast: RwSignal<Option<String>>,
    /// Whether the live event stream is connected.
    pub live: RwSignal<bool>,
    pub settings: StoredValue<CaptureSettings>,
    pub summary: StoredValue<SessionSummary>,
    owner: StoredValue<Owner>,
    next_key: StoredValue<u32>,
    /// A list request is in flight / another is wanted after it: a burst of
    /// events (a commit sends two per photo) costs two requests, not one each.
    listing: StoredValue<(bool, bool)>,
}

impl Desk {
    /// Saves an edit of `image_id` as its new version: render, pipeline, upload, swap.
    pub async fn save_edit(
        self,
        image_id: String,
        img: web_sys::HtmlImageElement,
        edit: crate::model::edit::Edit,
    ) -> Result<(), String> {
        let file = crate::client::canvas::render(&img, &edit).await.ok_or("The edit could not be drawn.")?;
        let targets = self.settings.with_value(|s| s.pipeline);
        let processed =
            crate::client::pipeline::process(&file, &targets, |_| {}).await.map_err(|f| f.message)?;
        let mut outgoing = Outgoing::new(processed.blob, processed.summary.content_type.clone(), None, None);
        let info = outgoing.attempt(&|_| {}).await.map_err(|f| f.message)?;
        crate::api::replace_image_version(image_id, info.image_id).await.map_err(|e| e.to_string())?;
        self.refresh();
        Ok(())
    }

    pub fn new(summary: SessionSummary) -> Self {
        Desk {
            images: RwSignal::new(Vec::new()),
            pending: RwSignal::new(Vec::new()),
            selected: RwSignal::new(Vec::new()),
            focused: RwSignal::new(None),
            dialog: RwSignal::new(Dialog::None),
            unsaved: RwSignal::new(false),
            letter_keys: RwSignal::new(super::shortcuts::letter_keys_setting()),
            qr_open: RwSignal::new(false),
            phones: RwSignal::new(0),
            toast: RwSignal::new(None),
            live: RwSignal::new(false),
            settings: StoredValue::new(summary.settings.clone()),
            summary: StoredValue::new(summary),
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
            next_key: StoredValue::new(1),
            listing: StoredValue::new((false, false)),
        }
    }

    pub fn image(&self, id: &str) -> Option<ImageInfo> {
        self.images.with(|v| v.iter().find(|i| i.image_id == id).cloned())
    }

    /// [`Self::image`] without subscribing: for handlers and tasks.
    fn image_untracked(&self, id: &str) -> Option<ImageInfo> {
        self.images.with_untracked(|v| v.iter().find(|i| i.image_id == id).cloned())
    }

    /// 1-based position of an image in the strip, for labels.
    pub fn number_of(&self, id: &str) -> usize {
        self.images.with(|v| v.iter().position(|i| i.image_id == id).map(|i| i + 1).unwrap_or(0))
    }

    /// Images not committed yet.
    pub fn uncommitted(&self) -> Vec<ImageInfo> {
        self.images.with(|v| {
            v.iter().filter(|i| !matches!(i.status, ImageStatus::Committed { .. })).cloned().collect()
        })
    }

    pub fn needs_details(&self, info: &ImageInfo) -> bool {
        self.settings.with_value(|s| {
            !s.commit_rule.satisfied(&info.metadata) || !s.consent_rule.satisfied(&info.metadata)
        })
    }

    /// Whether a photo lacks the consent the practice requires to file it.
    pub fn needs_consent(&self, info: &ImageInfo) -> bool {
        !self.settings.with_value(|s| s.consent_rule).satisfied(&info.metadata)
    }

    pub fn notify(&self, message: impl Into<String>) {
        let toast = self.toast;
        let message = message.into();
        toast.set(Some(message.clone()));
        leptos::task::spawn_local(async move {
            crate::client::upload::sleep(5000).await;
            if toast.get_untracked().as_deref() == Some(message.as_str()) {
                toast.set(None);
            }
        });
    }

    /// Asks for the list again; requests that arrive while one is in flight
    /// are served by a single follow-up request.
    pub fn refresh(self) {
        let (busy, _) = self.listing.get_value();
        self.listing.set_value((true, busy));
        if busy {
            return; // the request in flight runs once more when it ends
        }
        leptos::task::spawn_local(async move {
            loop {
                self.list_once().await;
                let (_, again) = self.listing.get_value();
                if !again {
                    break;
                }
                self.listing.set_value((true, false));
            }
            self.listing.set_value((false, false));
        });
    }

    /// Reloads the list from the server, keeping the selection where it can.
    async fn list_once(self) {
        match list_images().await {
            Ok(list) => {
                let ids: Vec<String> = list.iter().map(|i| i.image_id.clone()).collect();
                self.images.set(list);
                // Only a real change may notify: the details panel resets its
                // draft when the selection changes, and a refresh arrives
                // whenever any photo changes, while the GP may be typing.
                if self.selected.with_untracked(|s| s.iter().any(|id| !ids.contains(id))) {
                    self.selected.update(|s| s.retain(|id| ids.contains(id)));
                }
                if self.focused.get_untracked().is_none_or(|f| !ids.contains(&f)) {
                    self.focused.set(ids.last().cloned());
                    if let Some(last) = ids.last() {
                        if self.selected.with_untracked(Vec::is_empty) {
                            self.selected.set(vec![last.clone()]);
                        }
                    }
                }
            }
            Err(e) => self.notify(e.to_string()),
        }
    }

    /// Selects one image (or toggles it into a multi-selection).
    pub fn select(&self, id: &str, add: bool) {
        let id = id.to_owned();
        if add {
            self.selected.update(|s| {
                if let Some(at) = s.iter().position(|x| *x == id) {
                    if s.len() > 1 {
                        s.remove(at);
                    }
                } else {
                    s.push(id.clone());
                }
            });
        } else {
            self.selected.set(vec![id.clone()]);
        }
        self.focused.set(Some(id));
    }

    /// Moves the selection by `step` along the strip.
    pub fn step(&self, step: isize) {
        let ids: Vec<String> = self.images.with(|v| v.iter().map(|i| i.image_id.clone()).collect());
        if ids.is_empty() {
            return;
        }
        let at =
            self.focused.get_untracked().and_then(|f| ids.iter().position(|i| *i == f)).unwrap_or(0) as isize;
        let next = (at + step).clamp(0, ids.len() as isize - 1) as usize;
        self.select(&ids[next], false);
    }

    /// Runs files through the pipeline and uploads them, each with its own progress.
    pub fn add_files(self, files: Vec<web_sys::File>) {
        let targets = self.settings.with_value(|s| s.pipeline);
        let make = |key, file: &web_sys::File| Pending {
            key,
            picked_at: crate::client::pick_time(),
            name: StoredValue::new(file.name()),
            progress: RwSignal::new(0.0),
            error: RwSignal::new(None),
            thumb: RwSignal::new(None),
            waiting: RwSignal::new(None),
        };
        let start = move |pending: Pending, file: web_sys::File| async move {
            let progress = pending.progress;
            let processed =
                crate::client::pipeline::process(&file, &targets, move |f| progress.set(0.4 * f)).await;
            let processed = match processed {
                Ok(p) => p,
                Err(failure) => {
                    pending.error.set(Some(failure.message));
                    return;
                }
            };
            pending.thumb.set(crate::client::object_url(&processed.blob));
            let mut outgoing = Outgoing::new(
                processed.blob,
                processed.summary.content_type.clone(),
                processed.summary.captured.clone(),
                None,
            )
            .picked_at(pending.picked_at);
            let waiting = pending.waiting;
            let on_progress = move |f| {
                // Each attempt starts at 0: the wait, if any, is over.
                if waiting.get_untracked().is_some() {
                    waiting.set(None);
                }
                progress.set(0.4 + 0.6 * f)
            };
            let sent = outgoing.send(&on_progress, &move |w| waiting.set(Some(w))).await;
            waiting.set(None);
            let info = match sent {
                Ok(info) => info,
                Err(f) => {
                    pending.error.set(Some(f.message));
                    return;
                }
            };
            let id = info.image_id.clone();
            self.images.update(|v| {
                if !v.iter().any(|i| i.image_id == id) {
                    v.push(info);
                }
            });
            self.pending.update(|p| p.retain(|x| x.key != pending.key));
            if let Some(url) = pending.thumb.get_untracked() {
                crate::client::revoke_object_url(&url);
            }
            self.select(&id, false);
        };
        let added = crate::pages::widgets::for_each_picked(files, self.next_key, self.owner, make, start);
        self.pending.update(|p| p.extend(added));
    }

    pub fn dismiss_pending(&self, key: u32) {
        self.pending.update(|p| {
            if let Some(x) = p.iter().find(|x| x.key == key) {
                if let Some(url) = x.thumb.get_untracked() {
                    crate::client::revoke_object_url(&url);
                }
            }
            p.retain(|x| x.key != key)
        });
    }

    /// Saves `metadata` on every selected, uncommitted image.
    pub fn apply_metadata(self, metadata: ImageMetadata) {
        let ids = self.selected.get_untracked();
        leptos::task::spawn_local(async move {
            let mut failed: Option<ApiError> = None;
            for id in ids {
                if self
                    .image_untracked(&id)
                    .is_some_and(|i| matches!(i.status, ImageStatus::Committed { .. }))
                {
                    continue;
                }
                match update_image_metadata(id.clone(), metadata.clone()).await {
                    Ok(info) => self.images.update(|v| {
                        if let Some(slot) = v.iter_mut().find(|i| i.image_id == id) {
                            let preview = slot.preview_url.take();
                            *slot = ImageInfo { preview_url: info.preview_url.clone().or(preview), ..info };
                        }
                    }),
                    Err(e) => failed = Some(e),
                }
            }
            match failed {
                Some(e) => self.notify(e.to_string()),
                None => self.notify("Details saved."),
            }
        });
    }

    /// Whether an image may still be changed (not committed or committing). Untracked: for handlers.
    pub fn editable(&self, id: &str) -> bool {
        self.image_untracked(id)
            .is_some_and(|i| matches!(i.status, ImageStatus::Uploaded | ImageStatus::Failed { .. }))
    }

    /// Turns the focused photo a quarter clockwise, saved as its new version.
    pub fn quick_rotate(self) {
        let Some(id) = self.focused.get_untracked().filter(|id| self.editable(id)) else { return };
        let Some(src) = self.image_untracked(&id).and_then(|i| i.preview_url) else { return };
        self.notify("Rotating…");
        leptos::task::spawn_local(async move {
            let Some(img) = crate::client::canvas::load_image(&src).await else {
                self.notify("The photo could not be loaded for rotating.");
                return;
            };
            let edit = crate::model::edit::Edit { turns: 1, ..Default::default() };
            match self.save_edit(id, img, edit).await {
                Ok(()) => self.notify("Rotated. The original is kept until commit."),
                Err(message) => self.notify(message),
            }
        });
    }

    pub fn revert(self, id: String) {
        leptos::task::spawn_local(async move {
            match crate::api::revert_image_version(id).await {
                Ok(_) => self.notify("Back to the photo as it was taken."),
                Err(e) => self.notify(e.to_string()),
            }
            self.refresh();
        });
    }

    pub fn delete(self, ids: Vec<String>) {
        leptos::task::spawn_local(async move {
            for id in ids {
                match delete_image(id.clone()).await {
                    Ok(()) => self.images.update(|v| v.retain(|i| i.image_id != id)),
                    Err(e) => self.notify(e.to_string()),
                }
            }
            self.refresh();
        });
    }
}
