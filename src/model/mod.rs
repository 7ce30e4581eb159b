//! Types shared by the server and the browser: what crosses the wire.
//!
//! Nothing here does I/O; everything serialises with serde.

mod body_sites;
mod earlier;
pub mod edit;
mod error;
mod health;
mod image;
pub mod marks;
pub mod messages;
mod session_views;

pub use body_sites::{
    body_site, body_sites, lateralised, search_body_sites, site_and_side, site_label, BodySite,
};
pub use earlier::{group_earlier, EarlierGroup, EarlierPhoto, RetakeGuide};
pub use error::{ApiError, UploadProblem};
pub use health::{DependencyReport, HealthReport, Mode};
pub use image::{
    AuditEntry, CommitOutcome, CommitReport, CommitResult, Consent, ConsentGiver, ConsentMethod,
    ConsentScope, ImageInfo, ImageKind, ImageMetadata, ImageSource, ImageStatus, ImageView, Laterality,
    MobileGrant, SessionEvent, UploadRequest, UploadTicket, CONSENT_GIVERS, CONSENT_METHODS, CONSENT_SCOPES,
    DESCRIPTION_MAX_CHARS,
};
pub use session_views::{
    CaptureSettings, CommitRule, CommitTarget, ConsentRule, DesktopSession, LaunchProblem, MobileLink,
    SessionSummary, TokenProblem, SESSION_HEADER, SESSION_QUERY,
};
