//! What the server tells a GP, sentence by sentence, in one place.
//!
//! Refusals of a request (sent as [`super::ApiError::BadRequest`]) and a
//! commit's per-photo results. Each says what happened and what to do.
//! The words for ALEX's answers are their own table
//! (`server::alex::messages`), and each error kind's fixed sentence is on
//! its enum (`UploadProblem::message`, `LaunchProblem::message`).

// The request itself.
pub const NOT_UNDERSTOOD: &str = "The request was not understood.";
pub const SEND_JSON: &str = "Requests must be sent as JSON (Content-Type: application/json).";
pub const TOO_LARGE: &str = "The request is too large.";
pub const TOO_SLOW: &str = "The request did not arrive in time. Check the network connection and try again.";
pub const TWO_SESSIONS: &str = "The page named two different sessions.";
pub const MIXED_CREDENTIALS: &str = "This phone link was opened in a browser that also has Clinical Images \
     open for a patient. Open the link on your phone by scanning the QR code.";

// A photo's details and versions.
pub const UNKNOWN_BODY_SITE: &str = "That body site is not on the verified list.";
pub const BAD_SHA256: &str = "sha256 must be 64 hexadecimal characters.";
pub const BAD_CAPTURED_AT: &str = "capturedAt must be an RFC 3339 time.";
pub const ALREADY_FILED: &str = "This photo is filed and can no longer be changed.";
pub const EDIT_NOT_UPLOADED: &str = "The edited photo has not been uploaded.";
pub const CHANGED_MEANWHILE: &str = "The photo changed meanwhile. Try again.";
pub const BEING_FILED: &str = "This photo is being filed right now, so it cannot be changed. \
     Wait for the commit to finish.";

// Ending a session.
pub const END_WHILE_FILING: &str =
    "Photos are being filed right now. Wait for the commit to finish, then end the session.";
pub const END_AFTER_UNFINISHED_FILING: &str =
    "A photo's filing did not finish. Commit again to check it, then end the session.";

// A commit's result for one photo.
pub const NO_LONGER_IN_SESSION: &str = "That photo is no longer in this session.";
/// A commit found the photo's claim held: by another window's commit or
/// change, or by a filing whose server stopped part-way (its claim lapses
/// within `retry_secs`, the claim's lifetime).
pub fn busy_elsewhere(retry_secs: u64) -> String {
    format!(
        "This photo is being changed or filed in another window, or a filing that stopped part-way \
         is still holding it. Try again in {retry_secs} seconds: it will not be filed twice."
    )
}
pub const FILE_MISSING: &str = "The photo's file is missing. Remove it and add it again.";
pub const UNCLEANABLE: &str = "This photo's file could not be checked for hidden data such as its location, \
     so it was not filed. Remove it and add it again through Clinical Images.";
pub const NO_CONSENT: &str = "This photo has no recorded consent, so it was not filed. \
     Record the patient's consent in its details, then commit again.";
pub const CHANGED_SINCE_REVIEW: &str = "This photo changed after you reviewed it, so it was not filed. \
     Check it, then commit again.";
pub const FILE_CHANGED: &str =
    "This photo's file changed after it was checked, so it was not filed. Remove it and add it again.";
pub const TOO_LARGE_FOR_SCAN: &str =
    "This photo is too large for the Medtech inbox. Crop or reduce it, then try again.";
pub const NO_PDF: &str =
    "This photo could not be turned into a PDF for the Medtech inbox. Remove it and add it again.";

// Earlier photos.
pub const NO_NHI_FOR_EARLIER: &str =
    "This patient has no NHI in Medtech, so their earlier photos cannot be found.";
