//! The phone flow's state, and what the screens do to it.

use leptos::prelude::*;

use super::Screen;
use crate::client::pipeline::Processed;
use crate::client::upload::Outgoing;
use crate::model::{CaptureSettings, ImageMetadata};

/// Where the flow is, between connecting and a dead link.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Step {
    Capture,
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
    pub(super) stage: RwSignal<Stage>,
    pub(super) thumb: RwSignal<Option<String>>,
    pub(super) metadata: RwSignal<ImageMetadata>,
    pub(super) processed: StoredValue<Option<Processed>, LocalStorage>,
    pub(super) outgoing: StoredValue<Option<Outgoing>, LocalStorage>,
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
    pub(super) next_id: StoredValue<u32>,
    pub(super) settings: StoredValue<CaptureSettings>,
    /// The flow's reactive owner: photos' signals belong to it, not to the
    /// screen that picked them (which goes away when the step changes).
    pub(super) owner: StoredValue<Owner>,
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
    if files.is_empty() {
        return;
    }
    let targets = flow.settings.with_value(|s| s.pipeline);
    let make = |id, _: &web_sys::File| Photo {
        id,
        stage: RwSignal::new(Stage::Preparing(0.0)),
        thumb: RwSignal::new(None),
        metadata: RwSignal::new(ImageMetadata::default()),
        processed: StoredValue::new_local(None),
        outgoing: StoredValue::new_local(None),
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
                photo.processed.set_value(Some(processed));
                photo.stage.set(Stage::Ready);
            }
            Err(failure) => photo.stage.set(Stage::Rejected(failure.message)),
        }
    };
    let added = crate::pages::widgets::for_each_picked(files, flow.next_id, flow.owner, make, start);
    flow.photos.update(|v| v.extend(added));
    flow.step.set(Step::Review);
}

pub(super) fn remove_photo(flow: Flow, id: u32) {
    flow.photos.update(|v| {
        if let Some(p) = v.iter().find(|p| p.id == id) {
            if let Some(url) = p.thumb.get_untracked() {
                crate::client::revoke_object_url(&url);
            }
        }
        v.retain(|p| p.id != id);
    });
}

/// Goes to the uploading screen and sends whatever is not sent yet.
pub(super) fn start_sending(flow: Flow) {
    flow.step.set(Step::Uploading);
    if flow.sending.get_untracked() {
        return;
    }
    flow.sending.set(true);
    leptos::task::spawn_local(async move {
        // Photos added while sending are picked up by the next pass.
        loop {
            let next = flow.photos.get_untracked().into_iter().find(|p| {
                matches!(p.stage.get_untracked(), Stage::Preparing(_) | Stage::Ready | Stage::Queued)
            });
            let Some(photo) = next else { break };
            if !send_one(flow, photo).await {
                break; // the link stopped working
            }
        }
        flow.sending.set(false);
        if flow
            .photos
            .get_untracked()
            .iter()
            .all(|p| matches!(p.stage.get_untracked(), Stage::Sent | Stage::Rejected(_)))
        {
            flow.step.set(Step::Done);
        }
    });
}

/// Sends one photo, with automatic retries. Returns false if the link died.
async fn send_one(flow: Flow, photo: Photo) -> bool {
    use crate::client::upload::Waiting;
    use futures::StreamExt;
    use leptos::prelude::ToStream;
    // Wait for the pipeline: woken by the photo's stage changing (its
    // progress, then Ready or Rejected), not by polling.
    if matches!(photo.stage.get_untracked(), Stage::Preparing(_)) {
        let mut changes = flow.owner.with_value(|owner| owner.with(|| photo.stage.to_stream()));
        while let Some(stage) = changes.next().await {
            if !matches!(stage, Stage::Preparing(_)) {
                break;
            }
        }
    }
    if matches!(photo.stage.get_untracked(), Stage::Rejected(_)) {
        return true;
    }
    if photo.outgoing.with_value(Option::is_none) {
        let Some(p) = photo.processed.get_value() else {
            photo
                .stage
                .set(Stage::Failed("This photo could not be prepared. Remove it and add it again.".into()));
            return true;
        };
        let metadata = photo.metadata.get_untracked();
        let metadata = (metadata != ImageMetadata::default()).then_some(metadata);
        photo.outgoing.set_value(Some(Outgoing::new(
            p.blob,
            p.summary.content_type.clone(),
            p.summary.captured.clone(),
            metadata,
        )));
    }
    let Some(mut outgoing) = photo.outgoing.try_update_value(Option::take).flatten() else { return true };
    let stage = photo.stage;
    let result = outgoing
        .send(&move |f| stage.set(Stage::Sending(f)), &move |wait| {
            stage.set(match wait {
                Waiting::Offline => Stage::Offline,
                Waiting::Retry { seconds } => Stage::Retrying(seconds),
            })
        })
        .await;
    // Kept, so a manual Retry reuses the same ticket and image id.
    photo.outgoing.set_value(Some(outgoing));
    match result {
        Ok(_) => {
            photo.stage.set(Stage::Sent);
            flow.sent_total.update(|n| *n += 1);
            true
        }
        Err(f) => match f.token_problem {
            Some(problem) => {
                flow.screen.set(Screen::Invalid(problem));
                false
            }
            None => {
                photo.stage.set(Stage::Failed(f.message));
                true
            }
        },
    }
}
