//! Filing images in ALEX, each exactly once.
//!
//! Per image: take a lock in the session store (atomic, with a TTL), re-read
//! the record, skip it if already committed, mark it `committing`, POST it,
//! then record `committed{resourceId}` (and delete the blob) or
//! `failed{message, retryable}`. Two tabs, two instances or a double click
//! therefore never post one image twice, and the identifier (the image id)
//! stays the same across retries. Patient and facility come from the
//! session, never from the browser. Every attempt is audited. What is filed
//! is the registered bytes with every metadata segment removed ([`strip`]),
//! whatever the browser did.

use crate::model::messages::{
    BUSY_ELSEWHERE, CHANGED_SINCE_REVIEW, FILE_CHANGED, FILE_MISSING, NO_CONSENT, NO_LONGER_IN_SESSION,
    NO_PDF, TOO_LARGE_FOR_SCAN, UNCLEANABLE,
};
use crate::model::{ApiError, CommitOutcome, CommitReport, CommitResult, ImageStatus, SessionEvent};
use crate::server::alex::{filing, messages, AlexError, CallContext, Dedupe};
use crate::server::app_state::AppState;
use crate::server::config::CommitMode;
use crate::server::services::audit::AuditRecord;
use crate::server::services::auth::{Access, DesktopAccess};
use crate::server::services::claims::take_image_claim;
use crate::server::services::claims::Held;
use crate::server::services::images::{info_of, revision};
use crate::server::services::upload_slots::delete_blobs;
use crate::server::services::{notify, strip};
use crate::server::stores::session_store::{ImageRecord, Updated};
use crate::server::support::clock::{rfc3339, unix_now};
use crate::server::support::ids::{hash_credential, log_id, sha256_hex};

mod resource;
mod review;

use self::resource::{document_reference, filing_of};
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
            r.message = Some(BUSY_ELSEWHERE.into());
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

impl One<'_> {
    /// Files the image, under its claim.
    async fn file(&self) -> Result<CommitResult, ApiError> {
        let One { state, access, ctx, image_id, index, confirmed } = *self;
        let Some(record) = state.sessions.image(&access.session_key, image_id).await? else {
            return Ok(failed(image_id, NO_LONGER_IN_SESSION));
        };
        if let ImageStatus::Committed { resource_id } = &record.status {
            let mut r = result(image_id, CommitOutcome::Committed);
            r.resource_id = Some(resource_id.clone());
            return Ok(r);
        }
        // What is filed is what the GP confirmed: read under the claim, so
        // nothing can change it between this check and the filing.
        if !confirmed.allows(&revision(&record)) {
            tracing::info!(image.id = image_id, "photo changed since it was confirmed; not filed");
            let mut r = failed(image_id, CHANGED_SINCE_REVIEW);
            r.retryable = false;
            return Ok(r);
        }
        // No photo is filed without the patient's recorded consent, read
        // under the claim (`CONSENT_RULE=required`, the default).
        if !state.config.consent_rule.satisfied(&record.metadata) {
            tracing::info!(image.id = image_id, "photo has no recorded consent; not filed");
            return Ok(failed(image_id, NO_CONSENT));
        }
        let Some((_, bytes)) = state.blobs.get(&record.blob_key).await? else {
            return Ok(failed(image_id, FILE_MISSING));
        };
        // The upload URL may still be live: file only the bytes that were
        // verified at registration, never what was written there since.
        // Then strip every metadata segment, whatever the browser did: what
        // is filed (and hashed in the resource) is exactly the cleaned bytes.
        // Hashing and stripping megabytes is CPU work: off the async threads.
        let content_type = record.content_type.clone();
        let (bytes, digest, cleaned) = tokio::task::spawn_blocking(move || {
            let digest = sha256_hex(&bytes);
            let cleaned = strip::strip(&content_type, &bytes);
            (bytes, digest, cleaned)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "commit hashing task failed");
            ApiError::Internal
        })?;
        if bytes.len() as u64 != record.size || record.sha256.as_deref() != Some(digest.as_str()) {
            tracing::warn!(
                session.id_hash = log_id(&access.session_key),
                image.id = image_id,
                "blob differs from the registered bytes; not filed"
            );
            let status = ImageStatus::Failed { message: FILE_CHANGED.into(), retryable: false };
            set_status(state, access, image_id, status).await?;
            return Ok(failed(image_id, FILE_CHANGED));
        }
        let bytes = match cleaned {
            Ok(cleaned) => cleaned,
            Err(e) => {
                tracing::warn!(image.id = image_id, error = %e, "photo's metadata could not be removed; not filed");
                let status = ImageStatus::Failed { message: UNCLEANABLE.into(), retryable: false };
                set_status(state, access, image_id, status).await?;
                return Ok(failed(image_id, UNCLEANABLE));
            }
        };
        let prior_status = record.status.clone();
        let record = set_status(state, access, image_id, ImageStatus::Committing).await?;
        let filing = filing_of(state, access, &record, index);
        let resource = match state.config.alex.commit_mode {
            CommitMode::Media => filing::media(&filing, &record.content_type, &bytes),
            CommitMode::Scan => match document_reference(state, &filing, &record.content_type, bytes).await {
                Ok(Some(doc)) => doc,
                outcome => {
                    let message = match outcome {
                        Ok(_) => TOO_LARGE_FOR_SCAN,
                        Err(e) => {
                            tracing::warn!(image.id = image_id, error = %e, "scan PDF could not be built");
                            NO_PDF
                        }
                    };
                    let status = ImageStatus::Failed { message: message.into(), retryable: false };
                    set_status(state, access, image_id, status).await?;
                    return Ok(failed(image_id, message));
                }
            },
        };
        let dedupe = Dedupe {
            patient_id: access.session.patient_id.clone(),
            nhi: access.session.nhi.clone(),
            system: state.config.alex.identifier_system.clone(),
            value: record.image_id.clone(),
        };
        // An earlier commit of this image may have reached ALEX without hearing
        // back (it is still `committing`, or failed in a retryable way): look
        // first. Not knowing whether it was filed, never post again: the image
        // fails, and a retry looks again.
        let earlier =
            matches!(prior_status, ImageStatus::Committing | ImageStatus::Failed { retryable: true, .. });
        // The whole exchange is bounded, well inside the claim's lifetime.
        let exchange = async {
            let found = if earlier {
                state
                    .alex
                    .find_filed(resource.resource_type(), &dedupe, ctx)
                    .await
                    .map_err(|e| AlexError::Unconfirmed(Box::new(e)))
            } else {
                Ok(None)
            };
            match found {
                Ok(Some(created)) => Ok(created),
                Ok(None) => state.alex.create(&resource, ctx, &dedupe).await,
                Err(e) => Err(e),
            }
        };
        let budget = state.config.alex.commit_budget;
        let outcome = match tokio::time::timeout(budget, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AlexError::Unconfirmed(Box::new(AlexError::Unreachable(format!(
                "the exchange took longer than its budget of {} s",
                budget.as_secs()
            ))))),
        };

        let (status, out) = match &outcome {
            Ok(created) => {
                let mut r = result(image_id, CommitOutcome::Committed);
                r.resource_id = Some(created.resource_id.clone());
                (ImageStatus::Committed { resource_id: created.resource_id.clone() }, r)
            }
            Err(e) => {
                let gp = messages::for_error(e);
                tracing::warn!(
                    session.id_hash = log_id(&access.session_key),
                    image.id = image_id,
                    correlation_id = %ctx.correlation_id,
                    error = %e,
                    "commit of one image failed"
                );
                let mut r = failed(image_id, gp.message);
                r.retryable = gp.retryable;
                (ImageStatus::Failed { message: gp.message.to_owned(), retryable: gp.retryable }, r)
            }
        };
        let updated = set_status(state, access, image_id, status).await?;
        metrics::counter!("commits_total", "outcome" => out.status.as_str()).increment(1);
        // The audit names the patient by a hash of the id: the practice can
        // still find a patient's filings (hash the id it looks for), and a
        // copy of the audit reveals no identifier.
        // A filing is kept as its own record; refusals of one image are
        // aggregated into one, so re-committing a refused photo cannot
        // flood the audit or push out anyone's filing.
        let at = rfc3339(unix_now());
        let session = log_id(&access.session_key);
        let entry = AuditRecord {
            at: at.clone(),
            session: session.to_owned(),
            patient_id_hash: hash_credential(&access.session.patient_id),
            facility_id: access.session.facility_id.clone(),
            image_id: image_id.to_owned(),
            correlation_id: ctx.correlation_id.clone(),
            outcome: out.status,
            resource_id: out.resource_id.clone(),
            error: outcome.as_ref().err().map(ToString::to_string),
            attempts: 1,
            first_at: Some(at),
            consent: record.metadata.consent.map(|c| c.note()),
        }
        .to_json();
        let retention = state.config.audit.retention;
        if outcome.is_ok() {
            state.sessions.append_audit(&entry, retention).await?;
        } else {
            state.sessions.append_refusal(&format!("{session}:{image_id}"), &entry, retention).await?;
        }
        // The bytes now live in the patient's record; keep no copy. A failure
        // here is logged where it is mapped; the lifecycle rule deletes them later.
        if outcome.is_ok() && delete_blobs(state, &record).await.is_err() {
            tracing::warn!(image.id = image_id, "committed image's blobs left to the lifecycle rule");
        }
        let info = info_of(state, &updated).await?;
        notify::publish(state, access, SessionEvent::ImageUpdated(info)).await;
        Ok(out)
    }
}
