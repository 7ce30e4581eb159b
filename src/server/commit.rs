//! Filing images in ALEX, each exactly once.
//!
//! Per image: take a lock in the session store (atomic, with a TTL), re-read
//! the record, skip it if already committed, mark it `committing`, POST it,
//! then record `committed{resourceId}` (and delete the blob) or
//! `failed{message, retryable}`. Two tabs, two instances or a double click
//! therefore never post one image twice, and the identifier (the image id)
//! stays the same across retries. Patient and facility come from the
//! session, never from the browser. Every attempt is audited.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use sha1::Digest;

use super::alex::fhir::{
    self, Annotation, Attachment, CodeableConcept, Coding, DocumentContent, DocumentReference, Identifier,
    Media, Reference,
};
use super::alex::{messages, scan, CallContext, Dedupe};
use super::auth::Access;
use super::config::{CommitMode, ScanFormat};
use super::events;
use super::ids::log_id;
use super::sessions::rfc3339;
use super::state::AppState;
use super::stores::session::{unix_now, ImageRecord};
use crate::model::{ApiError, CommitReport, CommitResult, ImageStatus, SessionEvent};

/// Longest one image's commit may hold its lock (retries included).
const LOCK_TTL: Duration = Duration::from_secs(120);

/// Builds the Media resource for one image.
pub fn media(state: &AppState, access: &Access, record: &ImageRecord, bytes: &[u8], index: usize) -> Media {
    let created = rfc3339(record.captured_at.or(record.uploaded_at).unwrap_or(record.created_at));
    Media {
        resource_type: "Media",
        identifier: vec![Identifier {
            system: state.config.alex.identifier_system.clone(),
            value: record.image_id.clone(),
        }],
        status: "completed",
        media_type: CodeableConcept {
            extension: vec![],
            coding: vec![Coding {
                system: "http://terminology.hl7.org/CodeSystem/media-type".into(),
                code: "image".into(),
                display: "Image".into(),
            }],
            text: None,
        },
        subject: Reference { reference: format!("Patient/{}", access.session.patient_id) },
        operator: access
            .session
            .provider_id
            .as_ref()
            .map(|p| Reference { reference: format!("Practitioner/{p}") }),
        created_date_time: created.clone(),
        body_site: fhir::body_site_concept(&record.metadata, &state.config.alex.laterality_extension),
        width: record.width,
        height: record.height,
        note: record.metadata.description.iter().map(|t| Annotation { text: t.clone() }).collect(),
        content: Attachment {
            content_type: record.content_type.clone(),
            data: STANDARD.encode(bytes),
            size: bytes.len() as u64,
            hash: STANDARD.encode(sha1::Sha1::digest(bytes)),
            creation: created,
            title: fhir::title(&record.metadata, index),
        },
    }
}

/// Builds the DocumentReference (scan mode) for one image: a captioned PDF or a TIFF.
/// CPU-bound work runs on the blocking pool.
pub async fn document_reference(
    state: &AppState,
    access: &Access,
    record: &ImageRecord,
    bytes: Vec<u8>,
    index: usize,
) -> Result<DocumentReference, scan::ScanError> {
    let created = rfc3339(record.captured_at.or(record.uploaded_at).unwrap_or(record.created_at));
    let caption = scan::caption(&record.metadata, &created);
    let description = caption[1..].join("; ");
    let content_type = record.content_type.clone();
    let format = state.config.alex.scan_format;
    let max_bytes = state.config.alex.scan_max_bytes;
    let (doc_type, doc) = tokio::task::spawn_blocking(move || match format {
        ScanFormat::Pdf => scan::pdf(&bytes, &content_type, &caption).map(|d| ("application/pdf", d)),
        ScanFormat::Tiff => scan::tiff(&bytes, &caption, usize::try_from(max_bytes).unwrap_or(usize::MAX))
            .map(|d| ("image/tiff", d)),
    })
    .await
    .map_err(|e| scan::ScanError::Pdf(e.to_string()))??;
    let extension = if doc_type == "image/tiff" { "tif" } else { "pdf" };
    Ok(DocumentReference {
        resource_type: "DocumentReference",
        identifier: vec![Identifier {
            system: state.config.alex.identifier_system.clone(),
            value: record.image_id.clone(),
        }],
        status: "current",
        doc_type: fhir::photographic_image(),
        subject: Reference { reference: format!("Patient/{}", access.session.patient_id) },
        date: created.clone(),
        author: access
            .session
            .provider_id
            .iter()
            .map(|p| Reference { reference: format!("Practitioner/{p}") })
            .collect(),
        description,
        content: vec![DocumentContent {
            attachment: Attachment {
                content_type: doc_type.into(),
                size: doc.len() as u64,
                hash: STANDARD.encode(sha1::Sha1::digest(&doc)),
                data: STANDARD.encode(&doc),
                creation: created,
                title: format!("{}.{extension}", fhir::title(&record.metadata, index)),
            },
        }],
    })
}

/// A failed result with a message for the GP (not retryable unless set).
fn failed(image_id: &str, message: &str) -> CommitResult {
    let mut r = result(image_id, "failed");
    r.message = Some(message.to_owned());
    r
}

fn result(image_id: &str, status: &str) -> CommitResult {
    CommitResult {
        image_id: image_id.to_owned(),
        status: status.to_owned(),
        resource_id: None,
        message: None,
        retryable: false,
    }
}

/// Commits the named images (or every uncommitted one) of the desktop's session.
pub async fn commit(
    state: &AppState,
    access: &Access,
    image_ids: Option<Vec<String>>,
) -> Result<CommitReport, ApiError> {
    access.require_desktop()?;
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
            results.push(failed(missing, "That photo is no longer in this session."));
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
        results.push(commit_one(state, access, &record.image_id, index, &ctx).await?);
    }
    tracing::info!(
        session.id_hash = log_id(&access.session_key),
        correlation_id = %correlation_id,
        committed = results.iter().filter(|r| r.status == "committed").count(),
        failed = results.iter().filter(|r| r.status == "failed").count(),
        "commit finished"
    );
    Ok(CommitReport { correlation_id, results })
}

async fn commit_one(
    state: &AppState,
    access: &Access,
    image_id: &str,
    index: usize,
    ctx: &CallContext,
) -> Result<CommitResult, ApiError> {
    let lock = format!("commit:{}:{image_id}", access.session_key);
    if !state.sessions.try_claim(&lock, LOCK_TTL).await? {
        let mut r = result(image_id, "skipped");
        r.message = Some("This photo is being filed from another window.".into());
        r.retryable = true;
        return Ok(r);
    }
    let outcome = commit_locked(state, access, image_id, index, ctx).await;
    state.sessions.release(&lock).await?;
    outcome
}

/// Sets a record's status by compare-and-set, re-reading on a concurrent metadata change.
async fn set_status(
    state: &AppState,
    access: &Access,
    image_id: &str,
    status: ImageStatus,
) -> Result<ImageRecord, ApiError> {
    for _ in 0..8 {
        let Some(current) = state.sessions.image(&access.session_key, image_id).await? else {
            return Err(ApiError::NotFound);
        };
        let next = ImageRecord { status: status.clone(), ..current.clone() };
        if state.sessions.replace_image(&access.session_key, &current, &next).await? {
            return Ok(next);
        }
    }
    Err(ApiError::Unavailable)
}

async fn commit_locked(
    state: &AppState,
    access: &Access,
    image_id: &str,
    index: usize,
    ctx: &CallContext,
) -> Result<CommitResult, ApiError> {
    let Some(record) = state.sessions.image(&access.session_key, image_id).await? else {
        return Ok(failed(image_id, "That photo is no longer in this session."));
    };
    if let ImageStatus::Committed { resource_id } = &record.status {
        let mut r = result(image_id, "committed");
        r.resource_id = Some(resource_id.clone());
        return Ok(r);
    }
    let Some((_, bytes)) = state.blobs.get(&record.blob_key).await? else {
        return Ok(failed(image_id, "The photo's file is missing. Remove it and add it again."));
    };
    let prior_status = record.status.clone();
    let record = set_status(state, access, image_id, ImageStatus::Committing).await?;
    let (resource_type, resource) = match state.config.alex.commit_mode {
        CommitMode::Media => ("Media", serde_json::to_value(media(state, access, &record, &bytes, index))),
        CommitMode::Scan => {
            match document_reference(state, access, &record, bytes, index).await {
                Ok(doc) if doc.content[0].attachment.size <= state.config.alex.scan_max_bytes => {
                    ("DocumentReference", serde_json::to_value(doc))
                }
                outcome => {
                    let message = match outcome {
                    Ok(_) => "This photo is too large for the Medtech inbox. Crop or reduce it, then try again.",
                    Err(e) => {
                        tracing::warn!(image.id = image_id, error = %e, "scan PDF could not be built");
                        "This photo could not be turned into a PDF for the Medtech inbox. Remove it and add it again."
                    }
                };
                    let status = ImageStatus::Failed { message: message.into(), retryable: false };
                    set_status(state, access, image_id, status).await?;
                    return Ok(failed(image_id, message));
                }
            }
        }
    };
    let resource = resource.map_err(|_| ApiError::Internal)?;
    let dedupe = access.session.nhi.as_ref().map(|nhi| Dedupe {
        nhi: nhi.clone(),
        system: state.config.alex.identifier_system.clone(),
        value: record.image_id.clone(),
    });
    // An earlier commit of this image may have reached ALEX without hearing
    // back (it is still `committing`, or failed in a retryable way): look first.
    let earlier =
        matches!(prior_status, ImageStatus::Committing | ImageStatus::Failed { retryable: true, .. });
    let found = match (&dedupe, earlier) {
        (Some(d), true) => state.alex.find_filed(resource_type, d, ctx).await,
        _ => Ok(None),
    };
    let outcome = match found {
        Ok(Some(created)) => Ok(created),
        Ok(None) => state.alex.create(resource_type, &resource, ctx, dedupe.as_ref()).await,
        // Not knowing whether the earlier attempt was filed, never post
        // again: the image fails, and a retry looks again.
        Err(e) => Err(e),
    };

    let (status, out) = match &outcome {
        Ok(created) => {
            let mut r = result(image_id, "committed");
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
    state
        .sessions
        .append_audit(&json!({
            "at": rfc3339(unix_now()),
            "session": log_id(&access.session_key),
            "patientId": access.session.patient_id,
            "facilityId": access.session.facility_id,
            "imageId": image_id,
            "correlationId": ctx.correlation_id,
            "outcome": out.status,
            "resourceId": out.resource_id,
            "error": outcome.as_ref().err().map(ToString::to_string),
        }))
        .await?;
    if outcome.is_ok() {
        // The bytes now live in the patient's record; keep no copy.
        let keys = std::iter::once(&record.blob_key).chain(record.original.as_ref().map(|o| &o.blob_key));
        for key in keys {
            if let Err(e) = state.blobs.delete(key).await {
                tracing::warn!(image.id = image_id, error = %e, "committed image's blob could not be deleted; the lifecycle rule will");
            }
        }
    }
    let info = crate::server::images::info_of(state, &updated).await?;
    events::publish(state, access, SessionEvent::ImageUpdated(info)).await;
    Ok(out)
}
