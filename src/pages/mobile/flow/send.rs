//! Sending the batch: two upload lanes take the photos in batch order as
//! their pipelines finish, each photo with its own retries.

use leptos::prelude::*;

use super::{Flow, Photo, Stage, Step};
use crate::model::ImageMetadata;
use crate::pages::mobile::Screen;

/// Uploads in flight at once. Two keep the uplink busy while the other
/// photo's presign and register round trips are under way; more would only
/// split the same bandwidth.
const UPLOAD_LANES: usize = 2;

/// Goes to the uploading screen and sends whatever is not sent yet.
pub(in crate::pages::mobile) fn start_sending(flow: Flow) {
    flow.step.set(Step::Uploading);
    for p in flow.photos.get_untracked() {
        if p.saved.with_value(|e| e.as_ref().is_some_and(|e| !e.queued)) {
            p.update_saved(|e| e.queued = true);
        }
    }
    if flow.sending.get_untracked() {
        return;
    }
    flow.sending.set(true);
    let lanes = std::rc::Rc::new(std::cell::Cell::new(UPLOAD_LANES));
    for _ in 0..UPLOAD_LANES {
        let lanes = lanes.clone();
        leptos::task::spawn_local(async move {
            upload_lane(flow).await;
            lanes.set(lanes.get() - 1);
            if lanes.get() > 0 {
                return;
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
}

/// One upload lane: sends the first photo (in batch order) whose pipeline is
/// done and that no lane holds, until none is left or the link dies. Photos
/// added while sending are picked up too.
async fn upload_lane(flow: Flow) {
    use futures::StreamExt;
    use leptos::prelude::ToStream;
    loop {
        let photos = flow.photos.get_untracked();
        let waiting = |p: &&Photo| matches!(p.stage.get_untracked(), Stage::Ready | Stage::Queued);
        // Photos uploaded during review first: registering is one round
        // trip, and frees the phone's reservations for the rest. The
        // desktop lists them in pick order whatever order they register in.
        let uploaded = |p: &&Photo| p.early.get_untracked() == super::Early::Uploaded;
        if let Some(photo) =
            photos.iter().filter(waiting).find(uploaded).or_else(|| photos.iter().find(waiting))
        {
            // Held from here on: the other lane skips it.
            photo.stage.set(Stage::Sending(0.0));
            if !send_one(flow, *photo).await {
                return; // the link stopped working
            }
            continue;
        }
        if !photos.iter().any(|p| matches!(p.stage.get_untracked(), Stage::Preparing(_))) {
            return;
        }
        // Woken when a photo leaves the pipeline, not by polling.
        let seen = flow.prepared.get_untracked();
        let mut changes = flow.owner.with_value(|owner| owner.with(|| flow.prepared.to_stream()));
        while let Some(n) = changes.next().await {
            if n != seen {
                break;
            }
        }
    }
}

/// Sends one photo, with automatic retries. Returns false if the link died.
async fn send_one(flow: Flow, photo: Photo) -> bool {
    use crate::client::upload::Waiting;
    // Its bytes may be on their way already (uploaded while the GP
    // reviewed): that upload finishes first, and is not made twice.
    super::early::settled(flow, photo).await;
    // A restored photo carries on under the ticket its earlier page kept.
    let Some(mut outgoing) = photo.take_outgoing() else {
        photo
            .stage
            .set(Stage::Failed("This photo could not be prepared. Remove it and add it again.".into()));
        return true;
    };
    // What the GP set last (a restored photo may have been edited since).
    let metadata = photo.metadata.get_untracked();
    outgoing.metadata = (metadata != ImageMetadata::default()).then_some(metadata);
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
            // Registered: the phone keeps nothing of it from now on.
            photo.forget().await;
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
