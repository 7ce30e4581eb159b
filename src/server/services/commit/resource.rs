//! The resource one image is filed as: its facts, and in scan mode the
//! captioned document built from it.

use crate::server::alex::{filing, scan, Filing, Resource};
use crate::server::app_state::AppState;
use crate::server::config::ScanFormat;
use crate::server::services::auth::Access;
use crate::server::stores::session_store::ImageRecord;
use crate::server::support::clock::rfc3339;

/// The facts a resource needs about one image of this session.
pub(super) fn filing_of<'a>(
    state: &'a AppState,
    access: &'a Access,
    record: &'a ImageRecord,
    index: usize,
) -> Filing<'a> {
    Filing {
        image_id: &record.image_id,
        identifier_system: &state.config.alex.identifier_system,
        patient_id: &access.session.patient_id,
        provider_id: access.session.provider_id.as_deref(),
        created: rfc3339(record.captured_at.or(record.uploaded_at).unwrap_or(record.created_at)),
        metadata: &record.metadata,
        width: record.width,
        height: record.height,
        index,
        laterality_extension: &state.config.alex.laterality_extension,
    }
}

/// Builds the DocumentReference (scan mode) for one image: a captioned PDF
/// or a TIFF, on the blocking pool. `Ok(None)`: too large for the inbox.
pub(super) async fn document_reference(
    state: &AppState,
    filing: &Filing<'_>,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<Option<Resource>, scan::ScanError> {
    let caption = scan::caption(filing.metadata, &filing.created);
    let description = caption[1..].join("; ");
    let content_type = content_type.to_owned();
    let format = state.config.alex.scan_format;
    let max_bytes = state.config.alex.scan_max_bytes;
    let max_pixels = state.config.uploads.max_pixels;
    let (doc_type, doc) = tokio::task::spawn_blocking(move || match format {
        ScanFormat::Pdf => {
            scan::pdf(&bytes, &content_type, &caption, max_pixels).map(|d| ("application/pdf", d))
        }
        ScanFormat::Tiff => {
            scan::tiff(&bytes, &caption, usize::try_from(max_bytes).unwrap_or(usize::MAX), max_pixels)
                .map(|d| ("image/tiff", d))
        }
    })
    .await
    .map_err(|e| scan::ScanError::Pdf(e.to_string()))??;
    if doc.len() as u64 > max_bytes {
        return Ok(None);
    }
    Ok(Some(filing::document_reference(filing, doc_type, &doc, description)))
}
