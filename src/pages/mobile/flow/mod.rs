//! The phone flow's state, and what the screens do to it.

use leptos::prelude::*;

use super::Screen;
use crate::client::pipeline::Processed;
use crate::client::queue::{self, Entry};
use crate::client::upload::Outgoing;
use crate::model::{CaptureSettings, ImageMetadata, UploadTicket};
use crate::pipeline::Summary;

mod early;
mod send;

pub(in crate::pages::mobile) use self::early::{start_early_uploads, Early};
pub(in crate::pages::mobile) use self::send::start_sending;

/// Where the flow is, between connecting and a dead link.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Step {
    Capture,
    /// "Retake like last time": the live camera under the earlier photo.
    Guided,
    Review,
    Details,
    Uploading,
    Done,
}

/// One photo's progress.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Stage {
    /// In the pipeline, with its progress.
    Preparing(f64),
    Ready,
    /// The pipeline refused it (not an image, damaged): it is not sent.
    Rejected(String),
    /// Waiting its turn to send.
    Queued,
    /// Paused until the phone is back online.
    Offline,
    Sending(f64),
    /// Waiting to try again after a network failure, seconds.
    Retrying(u32),
    Sent,
    /// Retries exhausted; the GP can try again.
    Failed(String),
}

impl Stage {
    pub(super) fn settled(&self) -> bool {
        matches!(self, Stage::Rejected(_) | Stage::Sent | Stage::Failed(_))
    }
}

/// One photo in the current batch. Every field is a handle, so it is `Copy`.
#[derive(Clone, Copy)]
pub(super) struct Photo {
    pub(super) id: u32,
    /// When the GP picked it ([`crate::client::pick_time`]): the desktop
    /// lists the phone's photos in this order.
    pub(super) picked_at: u64,
    pub(super) stage: RwSignal<Stage>,
    pub(super) thumb: RwSignal<Option<String>>,
    pub(super) metadata: RwSignal<ImageMetadata>,
    pub(super) processed: StoredValue<Option<Processed>, LocalStorage>,
    pub(super) outgoing: StoredValue<Option<Outgoing>, LocalStorage>,
    /// Its record in the phone's queue (IndexedDB), once the pipeline is done.
    pub(super) saved: StoredValue<Option<Entry>, LocalStorage>,
    /// Its bytes' upload while the GP reviews (`early.rs`).
    pub(super) early: RwSignal<Early>,
}

impl Photo {
    fn new(id: u32, picked_at: u64, stage: Stage) -> Self {
        Photo {
            id,
            picked_at,
            stage: RwSignal::new(stage),
            thumb: RwSignal::new(None),
            metadata: RwSignal::new(ImageMetadata::default()),
            processed: StoredValue::new_local(None),
            outgoing: StoredValue::new_local(None),
            saved: StoredValue::new_local(None),
            early: RwSignal::new(Early::NotYet),
        }
    }

    /// Changes its kept record, and rewrites it in the background.
    fn update_saved(&self, change: impl FnOnce(&mut Entry)) {
        let Some(entry) = self.saved.try_update_value(|saved| {
            saved.as_mut().map(|e| {
                change(e);
                e.clone()
            })
        }) else {
            return;
        };
        if let Some(entry) = entry {
            leptos::task::spawn_local(async move {
                let _ = queue::update(&entry).await;
            });
        }
    }

    /// Keeps its record up to date with what the GP sets on the details screen.
    fn track_metadata(self, flow: Flow) {
        flow.owner.with_value(|owner| {
            owner.with(|| {
                // The first run only subscribes: the record was just written.
                Effect::new(move |first: Option<()>| {
                    let metadata = self.metadata.get();
                    if first.is_some() {
                        self.update_saved(|e| e.metadata = metadata);
                    }
                })
            })
        });
    }

    /// Its upload; each new ticket is kept with its record, so a reopened
    /// link resumes under the same image id.
    fn outgoing_for(
        self,
        blob: &web_sys::Blob,
        summary: &Summary,
        ticket: Option<UploadTicket>,
        uploaded: bool,
    ) -> Outgoing {
        Outgoing::new(blob.clone(), summary.content_type.clone(), summary.captured.clone(), None)
            .picked_at(self.picked_at)
            .with_ticket(ticket, uploaded)
            .on_ticket(move |t| {
                let t = t.clone();
                // A new ticket's slot is empty until its PUT is done.
                self.update_saved(|e| {
                    e.ticket = Some(t);
                    e.uploaded = false;
                });
            })
    }

    /// Takes its upload to work on (made on first use, carrying on under the
    /// ticket its kept record has); `None` while another holds it, or if the
    /// pipeline gave nothing to send. Put it back when done.
    fn take_outgoing(&self) -> Option<Outgoing> {
        if self.outgoing.with_value(Option::is_none) {
            let processed =
                self.processed.with_value(|p| p.as_ref().map(|p| (p.blob.clone(), p.summary.clone())));
            let (blob, summary) = processed?;
            let (ticket, uploaded) = self
                .saved
                .with_value(|e| e.as_ref().map_or((None, false), |e| (e.ticket.clone(), e.uploaded)));
            self.outgoing.set_value(Some(self.outgoing_for(&blob, &summary, ticket, uploaded)));
        }
        self.outgoing.try_update_value(Option::take).flatten()
    }

    /// The image id its upload was given, if sending it had started, on
    /// this page or on one before it.
    fn upload_id(&self) -> Option<String> {
        let outgoing = self.outgoing.with_value(|o| o.as_ref().and_then(|o| o.image_id().map(str::to_owned)));
        outgoing
            .or_else(|| self.saved.with_value(|e| e.as_ref()?.ticket.as_ref().map(|t| t.image_id.clone())))
    }

    /// A photo the GP removed or discarded before it was sent: what of it
    /// reached the server is deleted at once. If that cannot be done now
    /// (offline), its reservation lapses with its URL and the bytes are swept.
    fn cancel_upload(&self) {
        if self.stage.get_untracked() == Stage::Sent {
            return;
        }
        if let Some(id) = self.upload_id() {
            leptos::task::spawn_local(async move {
                let _ = crate::api::cancel_upload(id).await;
            });
        }
    }

    /// Deletes its kept record, if any, and waits for that to be durable.
    async fn forget(&self) {
        if let Some(entry) = self.saved.try_update_value(Option::take).flatten() {
            let _ = queue::forget(&entry.key).await;
        }
    }
}

/// The flow's state, shared by the screens.
#[derive(Clone, Copy)]
pub(super) struct Flow {
    pub(super) screen: RwSignal<Screen>,
    pub(super) step: RwSignal<Step>,
    pub(super) photos: RwSignal<Vec<Photo>>,
    /// Photos this phone has sent in this session, over all batches.
    pub(super) sent_total: RwSignal<usize>,
    /// The photo the details screen shows (index among the usable ones).
    pub(super) current: RwSignal<usize>,
    pub(super) online: RwSignal<bool>,
    pub(super) sending: RwSignal<bool>,
    /// Counts photos leaving the pipeline (ready or refused): what an idle
    /// upload lane waits on.
    pub(super) prepared: RwSignal<u32>,
    pub(super) next_id: StoredValue<u32>,
    pub(super) settings: StoredValue<CaptureSettings>,
    /// The phone link's key in the queue ([`queue::link_key`]) and its expiry.
    pub(super) link: StoredValue<String>,
    pub(super) link_expires_at: StoredValue<String>,
    /// Photos found unsent from an earlier page of this link.
    pub(super) restored: RwSignal<usize>,
    /// The GP's standing request for a photo like an earlier one.
    pub(super) guide: RwSignal<Option<crate::model::RetakeGuide>>,
    /// The flow's reactive owner: photos' signals belong to it, not to the
    /// screen that picked them (which goes away when the step changes).
    pub(super) owner: StoredValue<Owner>,
    /// Lanes uploading ahead of "Send" (`early.rs`).
    pub(super) early_lanes: StoredValue<usize>,
}

impl Flow {
    /// Photos that can be sent (the pipeline did not refuse them).
    pub(super) fn usable(&self) -> Vec<Photo> {
        self.photos.get().into_iter().filter(|p| !matches!(p.stage.get(), Stage::Rejected(_))).collect()
    }

    pub(super) fn number_of(&self, id: u32) -> usize {
        self.photos.with(|v| v.iter().position(|p| p.id == id).map(|i| i + 1).unwrap_or(0))
    }
}

/// Adds picked files to the batch and starts each through the pipeline.
pub(super) fn add_files(flow: Flow, files: Vec<web_sys::File>) {
    add_files_with(flow, files, None);
}

/// The same, each photo starting with `metadata` (a guided retake's site
/// and side).
pub(super) fn add_files_with(flow: Flow, files: Vec<web_sys::File>, metadata: Option<ImageMetadata>) {
    if files.is_empty() {
        return;
    }
    let targets = flow.settings.with_value(|s| s.pipeline);
    let make = |id, _: &web_sys::File| {
        let photo = Photo::new(id, crate::client::pick_time(), Stage::Preparing(0.0));
        if let Some(m) = &metadata {
            photo.metadata.set(m.clone());
        }
        photo
    };
    let start = move |photo: Photo, file: web_sys::File| async move {
        let stage = photo.stage;
        let done = crate::client::pipeline::process(&file, &targets, move |f| {
            if matches!(stage.get_untracked(), Stage::Preparing(_)) {
                stage.set(Stage::Preparing(f));
            }
        })
        .await;
        match done {
            Ok(processed) => {
                photo.thumb.set(crate::client::object_url(&processed.blob));
                // Kept before it can be sent, so the deletion on registering
                // always comes after the write. Only the pipeline's output.
                let link = flow.link.get_value();
                let entry = Entry {
                    key: queue::new_key(&link),
                    link,
                    order: photo.id,
                    picked_at: Some(photo.picked_at),
                    summary: processed.summary.clone(),
                    metadata: photo.metadata.get_untracked(),
                    queued: false,
                    ticket: None,
                    uploaded: false,
                    link_expires_at: flow.link_expires_at.get_value(),
                };
                if queue::save(&entry, &processed.blob).await.is_ok() {
                    photo.saved.set_value(Some(entry));
                    photo.track_metadata(flow);
                }
                photo.processed.set_value(Some(processed));
                photo.stage.set(Stage::Ready);
                // Its bytes go now, while the GP reviews; "Send" registers them.
                start_early_uploads(flow);
            }
            Err(failure) => photo.stage.set(Stage::Rejected(failure.message)),
        }
        flow.prepared.update(|n| *n = n.wrapping_add(1));
    };
    let added = crate::pages::widgets::for_each_picked(files, flow.next_id, flow.owner, make, start);
    flow.photos.update(|v| v.extend(added));
    flow.step.set(Step::Review);
}

pub(super) fn remove_photo(flow: Flow, id: u32) {
    flow.photos.update(|v| {
        if let Some(p) = v.iter().find(|p| p.id == id).copied() {
            if let Some(url) = p.thumb.get_untracked() {
                crate::client::revoke_object_url(&url);
            }
            p.cancel_upload();
            leptos::task::spawn_local(async move { p.forget().await });
        }
        v.retain(|p| p.id != id);
    });
}

/// The GP tapped "Discard": the batch goes, from the screen and the phone.
pub(super) fn discard_batch(flow: Flow) {
    forget_batch(flow);
    for p in flow.photos.get_untracked() {
        if let Some(url) = p.thumb.get_untracked() {
            crate::client::revoke_object_url(&url);
        }
    }
    flow.photos.set(Vec::new());
    flow.restored.set(0);
    flow.step.set(Step::Capture);
}

/// Deletes whatever of this link is still kept: the batch is over (every
/// photo sent, or the GP finished without the ones that failed, or
/// discarded it). What of an unsent photo reached the server goes too.
pub(super) fn forget_batch(flow: Flow) {
    for p in flow.photos.get_untracked() {
        p.cancel_upload();
        p.saved.set_value(None);
    }
    let link = flow.link.get_value();
    leptos::task::spawn_local(async move {
        let _ = queue::forget_link(&link).await;
    });
}

/// Brings back this link's photos that an earlier page did not send (a
/// reload, a tab the OS killed). A photo whose image id is already among the
/// session's images (`sent`) was registered just before the page died: it
/// is deleted, not sent again. If sending had started, it resumes.
pub(super) async fn resume(flow: Flow, sent: Vec<String>) {
    let link = flow.link.get_value();
    // Another link's photos: a newer QR code revoked it, or it is another
    // patient's session. Either way they must not be sent here.
    let _ = queue::keep_only(&link).await;
    let Ok(restored) = queue::restore(&link).await else { return };
    let mut photos = Vec::new();
    let mut queued = false;
    for queue::Restored { entry, blob } in restored {
        if entry.ticket.as_ref().is_some_and(|t| sent.contains(&t.image_id)) {
            let _ = queue::forget(&entry.key).await;
            continue;
        }
        let id = flow.next_id.get_value();
        flow.next_id.set_value(id + 1);
        // An entry from before pick times is listed as sent.
        let picked_at = entry.picked_at.unwrap_or_else(crate::client::pick_time);
        let photo = flow.owner.with_value(|o| o.with(|| Photo::new(id, picked_at, Stage::Ready)));
        photo.thumb.set(crate::client::object_url(&blob));
        photo.metadata.set(entry.metadata.clone());
        queued |= entry.queued;
        if entry.uploaded && entry.ticket.is_some() {
            photo.early.set(Early::Uploaded);
        }
        photo.processed.set_value(Some(Processed { blob, summary: entry.summary.clone() }));
        photo.saved.set_value(Some(entry));
        photo.track_metadata(flow);
        photos.push(photo);
    }
    if photos.is_empty() {
        return;
    }
    flow.restored.set(photos.len());
    flow.photos.update(|v| v.extend(photos));
    if queued {
        start_sending(flow);
    } else {
        flow.step.set(Step::Review);
        start_early_uploads(flow);
    }
}
