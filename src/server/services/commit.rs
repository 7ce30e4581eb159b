//! Filing images in ALEX, each exactly once.
//!
//! Per image (`commit/file.rs`, step by step): take a lock in the session store (atomic, with a TTL), re-read
//! the record, skip it if already committed, mark it `committing`, POST it,
//! then record `committed{resourceId}` (and delete the blob) or
//! `failed{message, retryable}`. Two tabs, two instances or a double click
//! therefore never post one image twice, and the identifier (the image id)
//! stays the same across retries. Patient and facility come from the
//! session, never from the browser. Every attempt is audited. What is filed
//! is the registered bytes with every metadata segment removed (`services::strip`),
//! whatever the browser did.

use crate::model::messages::{busy_elsewhere, NO_LONGER_IN_SESSION};
use crate::model::{ApiError, CommitOutcome, CommitReport, CommitResult, ImageStatus};
use crate::server::alex::{messages, AlexError, CallContext};
use crate::server::app_state::AppState;
use crate::server::services::auth::{Access, DesktopAccess};
use crate::server::services::claims::take_image_claim;
use crate::server::services::claims::Held;
use crate::server::stores::session_store::{ImageRecord, Updated};
use crate::server::support::ids::log_id;

mod file;
mod resource;
mod review;

pub use self::review::Confirmed;
use self::review::Review;

/// A failed result with a message for the GP (not retryable unless set).
fn failed(image_id: &str, message: &str) -> CommitResult {
    let mut r = result(image_id, CommitOutcome::Failed);
    r.message = Some(message.to_owned());
    r
}

fn result(image_id: &str, status: CommitOutcome) -> CommitResult {
    CommitResult { image_id: image_id.to_owned(), status, resource_id: None, message: None, retryable: false }
}

/// Commits the named images (or every uncommitted one) of the desktop's
/// session. With `confirmed`, a photo whose revision is not the one the GP
/// confirmed is not filed.
pub async fn commit(
    state: &AppState,
    access: &DesktopAccess,
    image_ids: Option<Vec<String>>,
    confirmed: Option<Confirmed>,
) -> Result<CommitReport, ApiError> {
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let all = state.sessions.images(&access.session_key).await?;
    let uploaded: Vec<&ImageRecord> = all.iter().filter(|r| r.uploaded_at.is_some()).collect();
    let chosen: Vec<(usize, &ImageRecord)> = uploaded
        .iter()
        .enumerate()
        .filter(|(_, r)| image_ids.as_ref().is_none_or(|ids| ids.contains(&r.image_id)))
        .map(|(i, r)| (i + 1, *r))
        .collect();
    let mut results = Vec::new();
    if let Some(ids) = &image_ids {
        for missing in ids.iter().filter(|id| !chosen.iter().any(|(_, r)| &r.image_id == *id)) {
            results.push(failed(missing, NO_LONGER_IN_SESSION));
        }
    }
    let ctx = CallContext {
        facility_id: access.session.facility_id.clone(),
        correlation_id: correlation_id.clone(),
    };
    let rule = state.config.commit_rule;
    for (index, record) in chosen {
        if !rule.satisfied(&record.metadata) && !matches!(record.status, ImageStatus::Committed { .. }) {
            results.push(failed(&record.image_id, rule.hint()));
            continue;
        }
        let confirmed = Review::of(confirmed.as_ref(), &record.image_id);
        let one = One { state, access, ctx: &ctx, image_id: &record.image_id, index, confirmed };
        results.push(one.commit().await?);
    }
    tracing::info!(
        session.id_hash = log_id(&access.session_key),
        correlation_id = %correlation_id,
        committed = results.iter().filter(|r| r.status == CommitOutcome::Committed).count(),
        failed = results.iter().filter(|r| r.status == CommitOutcome::Failed).count(),
        "commit finished"
    );
    Ok(CommitReport { correlation_id, results })
}

/// One image's commit, and everything it needs.
#[derive(Clone, Copy)]
struct One<'a> {
    state: &'a AppState,
    access: &'a Access,
    ctx: &'a CallContext,
    image_id: &'a str,
    /// Position in the commit, for the title.
    index: usize,
    /// What the GP confirmed of this photo.
    confirmed: Review<'a>,
}

impl One<'_> {
    /// Takes the image's claim (or reports it busy), commits, releases.
    /// The claim is taken before a byte is read, and renewed while the
    /// commit works; if it cannot be, the commit stops before it could lapse.
    async fn commit(&self) -> Result<CommitResult, ApiError> {
        let (state, access, image_id) = (self.state, self.access, self.image_id);
        let Some(claim) = take_image_claim(state, access, image_id).await? else {
            let mut r = result(image_id, CommitOutcome::Skipped);
            r.message = Some(busy_elsewhere(state.config.alex.commit_claim_ttl.as_secs()));
            r.retryable = true;
            return Ok(r);
        };
        let outcome = match claim.hold(state, self.file()).await {
            Held::Done(outcome) => outcome,
            Held::Lost => {
                // Left `committing`: the next commit looks before it posts.
                let lost = AlexError::Unconfirmed(Box::new(AlexError::Unreachable("claim lost".into())));
                let gp = messages::for_error(&lost);
                let mut r = failed(image_id, gp.message);
                r.retryable = gp.retryable;
                Ok(r)
            }
        };
        claim.release(state).await?;
        outcome
    }
}

/// Sets a record's status, re-reading on a concurrent metadata change.
async fn set_status(
    state: &AppState,
    access: &Access,
    image_id: &str,
    status: ImageStatus,
) -> Result<ImageRecord, ApiError> {
    let change = move |current: &ImageRecord| Some(ImageRecord { status: status.clone(), ..current.clone() });
    match state.sessions.update_image(&access.session_key, image_id, &change).await? {
        Updated::Done(record) | Updated::Refused(record) => Ok(record),
        Updated::Missing => Err(ApiError::NotFound),
    }
}
