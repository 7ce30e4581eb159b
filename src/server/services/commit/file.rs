//! One photo's filing, under its claim, as named steps:
//! 1. [`One::checked_record`]: the record as it is now, and whether it may
//!    be filed (still here, not filed already, as the GP confirmed it, with
//!    consent);
//! 2. [`One::verified_bytes`]: exactly the bytes verified at registration,
//!    stripped of hidden data;
//! 3. [`One::resource`]: the Media, or the scan's DocumentReference;
//! 4. [`One::find_or_create`]: the exchange with ALEX, which never posts a
//!    photo whose earlier attempt may have been filed;
//! 5. [`One::record_outcome`]: the image's status, the audit, the bytes
//!    deleted, the desktop told.
//!
//! A step either hands on what it made or stops with the photo's result.

use crate::model::messages::{
    CHANGED_SINCE_REVIEW, FILE_CHANGED, FILE_MISSING, NO_CONSENT, NO_LONGER_IN_SESSION, NO_PDF,
    TOO_LARGE_FOR_SCAN, UNCLEANABLE,
};
use crate::model::{ApiError, CommitOutcome, CommitResult, ImageStatus, SessionEvent};
use crate::server::alex::{filing, messages, AlexError, Created, Dedupe, Resource};
use crate::server::config::CommitMode;
use crate::server::services::audit::AuditRecord;
use crate::server::services::images::{info_of, revision};
use crate::server::services::upload_slots::delete_blobs;
use crate::server::services::{notify, strip};
use crate::server::stores::session_store::ImageRecord;
use crate::server::support::clock::{rfc3339, unix_now};
use crate::server::support::ids::{hash_credential, log_id, sha256_hex};

use super::resource::{document_reference, filing_of};
use super::{failed, result, set_status, One};

/// What a step made, or the photo's result if it stopped there.
type Step<T> = Result<T, CommitResult>;

/// Goes on with a step's value, or answers the result it stopped with.
macro_rules! next {
    ($step:expr) => {
        match $step.await? {
            Ok(value) => value,
            Err(stop) => return Ok(stop),
        }
    };
}

impl One<'_> {
    /// Files the image, under its claim.
    pub(super) async fn file(&self) -> Result<CommitResult, ApiError> {
        let record = next!(self.checked_record());
        let bytes = next!(self.verified_bytes(&record));
        // An earlier commit may have reached ALEX without hearing back: it
        // is still `committing`, or failed in a way worth retrying.
        let earlier =
            matches!(record.status, ImageStatus::Committing | ImageStatus::Failed { retryable: true, .. });
        let record = set_status(self.state, self.access, self.image_id, ImageStatus::Committing).await?;
        // `committing` is what makes a later commit look before it posts: it
        // must outlive a failover before anything is sent to ALEX.
        self.state.sessions.replicated().await?;
        let resource = next!(self.resource(&record, bytes));
        let outcome = self.find_or_create(&resource, &record, earlier).await;
        self.record_outcome(&record, outcome).await
    }

    /// The record as it is now (read under the claim, so nothing can change
    /// it between these checks and the filing), if it may be filed.
    async fn checked_record(&self) -> Result<Step<ImageRecord>, ApiError> {
        let One { state, access, image_id, confirmed, .. } = *self;
        let Some(record) = state.sessions.image(&access.session_key, image_id).await? else {
            return Ok(Err(failed(image_id, NO_LONGER_IN_SESSION)));
        };
        if let ImageStatus::Committed { resource_id } = &record.status {
            let mut r = result(image_id, CommitOutcome::Committed);
            r.resource_id = Some(resource_id.clone());
            return Ok(Err(r));
        }
        // What is filed is what the GP confirmed.
        if !confirmed.allows(&revision(&record)) {
            tracing::info!(image.id = image_id, "photo changed since it was confirmed; not filed");
            return Ok(Err(failed(image_id, CHANGED_SINCE_REVIEW)));
        }
        // No photo is filed without the patient's recorded consent
        // (`CONSENT_RULE=required`, the default).
        if !state.config.consent_rule.satisfied(&record.metadata) {
            tracing::info!(image.id = image_id, "photo has no recorded consent; not filed");
            return Ok(Err(failed(image_id, NO_CONSENT)));
        }
        Ok(Ok(record))
    }

    /// The bytes to file: those verified at registration (the upload URL may
    /// still be live, and nothing written there since counts), with every
    /// metadata segment stripped whatever the browser did, so what is filed
    /// and hashed in the resource is exactly the cleaned bytes. Hashing and
    /// stripping megabytes is CPU work: off the async threads.
    async fn verified_bytes(&self, record: &ImageRecord) -> Result<Step<Vec<u8>>, ApiError> {
        let One { state, access, image_id, .. } = *self;
        let Some((_, bytes)) = state.blobs.get(&record.blob_key).await? else {
            return Ok(Err(failed(image_id, FILE_MISSING)));
        };
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
            return self.refuse(FILE_CHANGED).await;
        }
        match cleaned {
            Ok(cleaned) => Ok(Ok(cleaned)),
            Err(e) => {
                tracing::warn!(image.id = image_id, error = %e, "photo's metadata could not be removed; not filed");
                self.refuse(UNCLEANABLE).await
            }
        }
    }

    /// What is sent: the Media, or in scan mode the captioned document.
    async fn resource(&self, record: &ImageRecord, bytes: Vec<u8>) -> Result<Step<Resource>, ApiError> {
        let One { state, access, image_id, index, .. } = *self;
        let filing = filing_of(state, access, record, index);
        match state.config.alex.commit_mode {
            CommitMode::Media => Ok(Ok(filing::media(&filing, &record.content_type, &bytes))),
            CommitMode::Scan => match document_reference(state, &filing, &record.content_type, bytes).await {
                Ok(Some(doc)) => Ok(Ok(doc)),
                Ok(None) => self.refuse(TOO_LARGE_FOR_SCAN).await,
                Err(e) => {
                    tracing::warn!(image.id = image_id, error = %e, "scan PDF could not be built");
                    self.refuse(NO_PDF).await
                }
            },
        }
    }

    /// Marks the photo failed for good, with `message`, and stops.
    async fn refuse<T>(&self, message: &str) -> Result<Step<T>, ApiError> {
        let status = ImageStatus::Failed { message: message.into(), retryable: false };
        set_status(self.state, self.access, self.image_id, status).await?;
        Ok(Err(failed(self.image_id, message)))
    }

    /// The exchange with ALEX, bounded well inside the claim's lifetime.
    /// After an `earlier` attempt it looks first, and not knowing whether
    /// that one was filed, never posts again: the photo fails, and a retry
    /// looks again.
    async fn find_or_create(
        &self,
        resource: &Resource,
        record: &ImageRecord,
        earlier: bool,
    ) -> Result<Created, AlexError> {
        let One { state, access, ctx, .. } = *self;
        let dedupe = Dedupe {
            patient_id: access.session.patient_id.clone(),
            nhi: access.session.nhi.clone(),
            system: state.config.alex.identifier_system.clone(),
            value: record.image_id.clone(),
        };
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
                Ok(None) => state.alex.create(resource, ctx, &dedupe).await,
                Err(e) => Err(e),
            }
        };
        let budget = state.config.alex.commit_budget;
        match tokio::time::timeout(budget, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AlexError::Unconfirmed(Box::new(AlexError::Unreachable(format!(
                "the exchange took longer than its budget of {} s",
                budget.as_secs()
            ))))),
        }
    }

    /// Records what happened: the image's status, the metric, the audit;
    /// once filed, the bytes are deleted (they live in the record now);
    /// the desktop is told.
    async fn record_outcome(
        &self,
        record: &ImageRecord,
        outcome: Result<Created, AlexError>,
    ) -> Result<CommitResult, ApiError> {
        let One { state, access, ctx, image_id, .. } = *self;
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
        self.audit(record, &out, outcome.as_ref().err()).await?;
        // The status and the audit entry, on the replicas. Filed is filed: a
        // short answer is logged, not the GP's. Were the status lost, the
        // photo would read `committing`, and the next commit would look first.
        if let Err(e) = state.sessions.replicated().await {
            tracing::warn!(image.id = image_id, error = %e, "a filing's status may not have reached the replicas");
        }
        // A failure here is logged where it is mapped; the lifecycle rule
        // deletes them later.
        if outcome.is_ok() && delete_blobs(state, record).await.is_err() {
            tracing::warn!(image.id = image_id, "committed image's blobs left to the lifecycle rule");
        }
        let info = info_of(state, &updated).await?;
        notify::publish(state, access, SessionEvent::ImageUpdated(info)).await;
        Ok(out)
    }

    /// The audit names the patient by a hash of the id: the practice can
    /// still find a patient's filings (hash the id it looks for), and a copy
    /// of the audit reveals no identifier. A filing is kept as its own
    /// record; refusals of one image are aggregated into one, so
    /// re-committing a refused photo cannot flood the audit or push out
    /// anyone's filing.
    async fn audit(
        &self,
        record: &ImageRecord,
        out: &CommitResult,
        error: Option<&AlexError>,
    ) -> Result<(), ApiError> {
        let One { state, access, ctx, image_id, .. } = *self;
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
            error: error.map(ToString::to_string),
            attempts: 1,
            first_at: Some(at),
            consent: record.metadata.consent.map(|c| c.note()),
        }
        .to_json();
        let retention = state.config.audit.retention;
        if error.is_none() {
            state.sessions.append_audit(&entry, retention).await?;
        } else {
            state.sessions.append_refusal(&format!("{session}:{image_id}"), &entry, retention).await?;
        }
        Ok(())
    }
}
