//! Images in a capture session: their metadata, status and the upload flow's messages.

use serde::{Deserialize, Serialize};

/// Which side of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Laterality {
    Left,
    Right,
    Bilateral,
    NotApplicable,
}

/// How the photo was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImageView {
    CloseUp,
    Dermoscopy,
    Overview,
    Other,
}

/// What the photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImageKind {
    Lesion,
    Rash,
    Wound,
    Infection,
    Other,
}

/// Longest description accepted, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 500;

/// Clinical metadata of one image. Every field is optional until commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub laterality: Option<Laterality>,
    /// SNOMED CT concept id from the verified body-site list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<ImageView>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ImageKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The patient's consent to this photo, at a stated level of use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
}

/// The consent recorded with a photo (NZMA's smartphone guidance, the IMI
/// consent guideline): for what use, from whom, and how it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub scope: ConsentScope,
    pub given_by: ConsentGiver,
    pub how: ConsentMethod,
}

/// The use the patient agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConsentScope {
    /// The clinical record only.
    Record,
    /// Also de-identified teaching.
    Teaching,
    /// Also publication.
    Publication,
}

/// Who gave the consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConsentGiver {
    Patient,
    Guardian,
    Representative,
    /// The patient cannot consent, and the photo is in their interest.
    ClinicianJudgement,
}

/// How the consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConsentMethod {
    Verbal,
    Written,
}

/// The choices and their words, for both pages and the record.
pub const CONSENT_SCOPES: [(ConsentScope, &str); 3] = [
    (ConsentScope::Record, "Clinical record only"),
    (ConsentScope::Teaching, "Record and de-identified teaching"),
    (ConsentScope::Publication, "Record, teaching and publication"),
];
pub const CONSENT_GIVERS: [(ConsentGiver, &str); 4] = [
    (ConsentGiver::Patient, "The patient"),
    (ConsentGiver::Guardian, "A parent or guardian"),
    (ConsentGiver::Representative, "The patient's representative"),
    (ConsentGiver::ClinicianJudgement, "Clinician's judgement (patient cannot consent)"),
];
pub const CONSENT_METHODS: [(ConsentMethod, &str); 2] =
    [(ConsentMethod::Verbal, "Verbal"), (ConsentMethod::Written, "Written")];

impl Consent {
    /// The sentence the record carries, in words an Inbox reader understands:
    /// "Consent: clinical record only; verbal; given by the patient".
    pub fn note(&self) -> String {
        let scope = match self.scope {
            ConsentScope::Record => "clinical record only",
            ConsentScope::Teaching => "clinical record and de-identified teaching",
            ConsentScope::Publication => "clinical record, teaching and publication",
        };
        let how = match self.how {
            ConsentMethod::Verbal => "verbal",
            ConsentMethod::Written => "written",
        };
        let by = match self.given_by {
            ConsentGiver::Patient => "given by the patient",
            ConsentGiver::Guardian => "given by a parent or guardian",
            ConsentGiver::Representative => "given by the patient's representative",
            ConsentGiver::ClinicianJudgement => {
                "the patient could not consent; taken in their interest on the clinician's judgement"
            }
        };
        format!("Consent: {scope}; {how}; {by}")
    }
}

/// Where an image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImageSource {
    Desktop,
    Mobile,
}

/// Where an image is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum ImageStatus {
    /// Uploaded, verified, waiting for the GP.
    Uploaded,
    /// Being filed in ALEX now.
    Committing,
    /// Filed; `resourceId` is the ALEX resource.
    #[serde(rename_all = "camelCase")]
    Committed { resource_id: String },
    /// Filing failed; `message` is for the GP, `retryable` says whether trying again may help.
    Failed {
        message: String,
        #[serde(default)]
        retryable: bool,
    },
}

/// An image as the pages see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    pub image_id: String,
    pub source: ImageSource,
    pub content_type: String,
    pub bytes: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// RFC 3339.
    pub uploaded_at: String,
    pub metadata: ImageMetadata,
    pub status: ImageStatus,
    /// An edited version replaces the photo as uploaded (which is kept until commit).
    #[serde(default)]
    pub edited: bool,
    /// A short-lived URL to show the image; absent in events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    /// What the photo is now: its bytes and its details, as a short hash.
    /// The commit dialog sends the revision it showed, and a photo changed
    /// since (edited, reverted, described differently) is not filed.
    #[serde(default)]
    pub revision: String,
}

/// `POST /api/medtech/session/presigned-url` input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRequest {
    pub content_type: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// When the GP picked the photo, on this device's clock (Unix ms,
    /// strictly increasing per device): the session lists a device's photos
    /// in this order, whichever upload finished first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picked_at: Option<u64>,
}

/// Where and how to upload one image's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub image_id: String,
    pub upload_url: String,
    pub method: String,
    /// Headers the upload must send exactly (they are signed).
    pub headers: Vec<(String, String)>,
    /// RFC 3339.
    pub expires_at: String,
}

/// `POST /api/medtech/session/mobile-token` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MobileGrant {
    pub mobile_url: String,
    /// The QR code of `mobile_url`, as an SVG document.
    pub qr_svg: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Something that happened in a session, as sent on the event stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "kebab-case")]
pub enum SessionEvent {
    ImageAdded(ImageInfo),
    ImageUpdated(ImageInfo),
    #[serde(rename_all = "camelCase")]
    ImageRemoved {
        image_id: String,
    },
    TokenRevoked,
    /// Another phone opened the current QR link; `phones` is how many have.
    PhoneJoined {
        phones: usize,
    },
    #[serde(rename_all = "camelCase")]
    SessionExpiring {
        expires_at: String,
    },
}

impl SessionEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            SessionEvent::ImageAdded(_) => "image-added",
            SessionEvent::ImageUpdated(_) => "image-updated",
            SessionEvent::ImageRemoved { .. } => "image-removed",
            SessionEvent::TokenRevoked => "token-revoked",
            SessionEvent::PhoneJoined { .. } => "phone-joined",
            SessionEvent::SessionExpiring { .. } => "session-expiring",
        }
    }
}

/// What a commit did with one image (`committed`, `failed`, `skipped` on
/// the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CommitOutcome {
    /// Filed: `resourceId` is the ALEX resource.
    Committed,
    /// Not filed; `message` says why, `retryable` whether to try again.
    Failed,
    /// Another commit or change holds the photo right now.
    Skipped,
}

impl CommitOutcome {
    /// The wire name, for metrics labels and the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitOutcome::Committed => "committed",
            CommitOutcome::Failed => "failed",
            CommitOutcome::Skipped => "skipped",
        }
    }
}

/// One image's outcome in a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitResult {
    pub image_id: String,
    pub status: CommitOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub retryable: bool,
}

/// `POST /api/medtech/attachments/commit` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitReport {
    /// Sent to ALEX as `mt-correlationid`; quote it to support.
    pub correlation_id: String,
    pub results: Vec<CommitResult>,
}

/// One filing attempt as the audit recorded it (`POST /api/medtech/attachments/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// RFC 3339.
    pub at: String,
    pub image_id: String,
    /// `committed` or `failed`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// The latest attempt's correlation id.
    pub correlation_id: String,
    /// Attempts this entry stands for: refusals of one photo are one entry.
    #[serde(default = "one")]
    pub attempts: u32,
}

fn one() -> u32 {
    1
}
