//! Uploading while the GP reviews: each photo's bytes go as soon as its
//! pipeline is done, into a slot the desktop does not see; "Send" then only
//! registers them (`send.rs`), one round trip a photo. A photo removed or
//! discarded meanwhile has its upload cancelled and its bytes deleted
//! ([`Photo::cancel_upload`]); one the GP walks away from lapses with its
//! URL, and the server sweeps its bytes.

use leptos::prelude::*;

use super::{Flow, Photo, Stage};
use crate::client::upload::Waiting;
use crate::pages::mobile::Screen;

/// Uploads ahead of "Send" at once, as for sending (`send::UPLOAD_LANES`).
const EARLY_LANES: usize = 2;

/// Where a photo's upload ahead of "Send" is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(in crate::pages::mobile) enum Early {
    NotYet,
    Uploading(f64),
    /// Offline, or waiting to retry.
    Paused(Waiting),
    /// The bytes wait at their slot for "Send" to register them.
    Uploaded,
    /// Refused or failed: "Send" uploads it, as it did before.
    Left,
}

/// Starts uploading the photos whose pipeline is done, unless lanes are
/// already at it (they pick up photos that become ready meanwhile).
pub(in crate::pages::mobile) fn start_early_uploads(flow: Flow) {
    if flow.early_lanes.get_value() > 0 {
        return;
    }
    flow.early_lanes.set_value(EARLY_LANES);
    for _ in 0..EARLY_LANES {
        leptos::task::spawn_local(async move {
            while let Some(photo) = next(flow) {
                upload_early(flow, photo).await;
            }
            flow.early_lanes.update_value(|n| *n -= 1);
        });
    }
}

/// The first photo, in batch order, ready and not yet uploaded; marked as
/// taken before the caller awaits anything, so the other lane skips it.
fn next(flow: Flow) -> Option<Photo> {
    let photo = flow
        .photos
        .get_untracked()
        .into_iter()
        .find(|p| p.stage.get_untracked() == Stage::Ready && p.early.get_untracked() == Early::NotYet)?;
    photo.early.set(Early::Uploading(0.0));
    Some(photo)
}

async fn upload_early(flow: Flow, photo: Photo) {
    let Some(mut outgoing) = photo.take_outgoing() else {
        photo.early.set(Early::Left);
        return;
    };
    let (stage, early) = (photo.stage, photo.early);
    // Once the GP has tapped "Send", the sending screen shows this upload.
    let sending =
        move || matches!(stage.get_untracked(), Stage::Sending(_) | Stage::Retrying(_) | Stage::Offline);
    let result = outgoing
        .upload_only(
            &move |f| {
                early.set(Early::Uploading(f));
                if sending() {
                    stage.set(Stage::Sending(f));
                }
            },
            &move |wait| {
                early.set(Early::Paused(wait));
                if sending() {
                    stage.set(match wait {
                        Waiting::Offline => Stage::Offline,
                        Waiting::Retry { seconds } => Stage::Retrying(seconds),
                    });
                }
            },
        )
        .await;
    photo.outgoing.set_value(Some(outgoing));
    let still_here = flow.photos.with_untracked(|v| v.iter().any(|p| p.id == photo.id));
    match result {
        Ok(()) if still_here => {
            photo.update_saved(|e| e.uploaded = true);
            photo.early.set(Early::Uploaded);
        }
        // Removed while its bytes were on their way: they go now.
        Ok(()) => {
            photo.early.set(Early::Left);
            photo.cancel_upload();
        }
        Err(failure) => {
            photo.early.set(Early::Left);
            if let Some(problem) = failure.token_problem {
                flow.screen.set(Screen::Invalid(problem));
            }
        }
    }
}

fn under_way(early: Early) -> bool {
    matches!(early, Early::Uploading(_) | Early::Paused(_))
}

/// Waits for the photo's upload ahead of "Send" to finish, if one is under
/// way; the sending screen shows where it is meanwhile.
pub(in crate::pages::mobile) async fn settled(flow: Flow, photo: Photo) {
    use futures::StreamExt;
    use leptos::prelude::ToStream;
    match photo.early.get_untracked() {
        Early::Uploading(f) => photo.stage.set(Stage::Sending(f)),
        Early::Paused(Waiting::Offline) => photo.stage.set(Stage::Offline),
        Early::Paused(Waiting::Retry { seconds }) => photo.stage.set(Stage::Retrying(seconds)),
        Early::NotYet | Early::Uploaded | Early::Left => return,
    }
    let mut changes = flow.owner.with_value(|owner| owner.with(|| photo.early.to_stream()));
    while let Some(early) = changes.next().await {
        if !under_way(early) {
            return;
        }
    }
}
