//! Medtech ALEX: the FHIR API the app files images through.
//!
//! [`AlexClient`] is the boundary the rest of the server uses; [`HttpAlexClient`]
//! is its one real implementation, pointed either at Medtech or at the
//! sandbox (`server::sandbox`) mounted in this app (embedded mode). Both paths exercise the
//! same HTTP code: tokens, retries, error mapping.

mod client;
pub mod earlier;
pub mod fhir;
pub mod filing;
pub mod messages;
mod pdf_font;
pub mod scan;
mod token;
mod wire;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use self::client::HttpAlexClient;
pub use self::filing::{Filing, Resource};

/// An ALEX call failed. The detail is for logs; [`messages`] maps it for GPs.
#[derive(Debug, thiserror::Error)]
pub enum AlexError {
    /// Network failure, timeout or proxy trouble (after retries).
    #[error("ALEX unreachable: {0}")]
    Unreachable(String),
    /// The token endpoint refused our client credentials.
    #[error("ALEX token request refused with HTTP {status}")]
    Auth { status: u16 },
    /// ALEX answered with an error (after retries, for transient ones).
    /// `diagnostics` is left out of the message: ALEX's free text could
    /// echo patient details, and messages go to logs.
    #[error("ALEX answered HTTP {status} ({code})")]
    Rejected { status: u16, code: String, diagnostics: String },
    /// ALEX answered with a body we could not read.
    #[error("ALEX answer unreadable: {0}")]
    Malformed(String),
    /// A create may have landed, and the look that would tell failed: it is
    /// unknown whether the resource exists. Worth a retry, which looks first,
    /// unless the look cannot be made at all ([`AlexError::NoNhi`]).
    #[error("unknown whether an earlier attempt was filed: {0}")]
    Unconfirmed(Box<AlexError>),
    /// The patient has no NHI in Medtech, and ALEX documents no search for
    /// a patient's resources but by NHI: whether an earlier attempt was
    /// filed cannot be looked up.
    #[error("the patient has no NHI, so its filings cannot be searched")]
    NoNhi,
}

/// Who and where a call is for: sent as `mt-facilityid` and `mt-correlationid`.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub facility_id: String,
    pub correlation_id: String,
}

/// A resource ALEX created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub resource_id: String,
    pub etag: Option<String>,
}

/// How to recognise a resource this app already filed: its identifier
/// (`system`, `value`: the image id) on the patient's resources.
///
/// ALEX searches resources by `patient.identifier` (the NHI), never by
/// `patient=`. Without an NHI from the launch, the client reads the patient
/// for it; a patient with none cannot be searched ([`AlexError::NoNhi`]).
#[derive(Debug, Clone)]
pub struct Dedupe {
    pub patient_id: String,
    pub nhi: Option<String>,
    pub system: String,
    pub value: String,
}

/// A patient, as the banner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSummary {
    pub name: String,
    pub nhi: Option<String>,
}

/// What Evolution's launch context resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchContext {
    pub patient_id: Option<String>,
    pub facility_code: String,
    pub provider_id: Option<String>,
    pub created_time: String,
}

/// What the app needs from ALEX.
#[async_trait]
pub trait AlexClient: Send + Sync {
    /// Short backend name for `/healthz`: `sandbox` or `alex`.
    fn backend(&self) -> &'static str;

    /// Proves ALEX is usable: its token endpoint grants us a token.
    async fn ping(&self) -> Result<(), AlexError>;

    /// `POST /{type}` with the resource. Before any retry, it checks whether
    /// the earlier attempt was filed after all (by `dedupe`); when that check
    /// fails, it stops rather than post blind.
    async fn create(
        &self,
        resource: &Resource,
        ctx: &CallContext,
        dedupe: &Dedupe,
    ) -> Result<Created, AlexError>;

    /// The resource this app filed for the patient under `dedupe`'s
    /// identifier, if any, reading every page of the search. An error means
    /// "unknown", never "not filed"; [`AlexError::NoNhi`] when the patient
    /// has no NHI to search by.
    async fn find_filed(
        &self,
        resource_type: &str,
        dedupe: &Dedupe,
        ctx: &CallContext,
    ) -> Result<Option<Created>, AlexError>;

    /// Every `resource_type` resource the documented search by the
    /// patient's NHI finds (`{type}?patient.identifier=<system>|<NHI>`),
    /// page by page, following `next` links on this ALEX only.
    async fn search_by_nhi(
        &self,
        resource_type: &str,
        nhi: &str,
        ctx: &CallContext,
    ) -> Result<Vec<serde_json::Value>, AlexError>;

    /// The bytes at an attachment's `content.url`, read from this ALEX only
    /// (relative, or absolute on its origin) with our token.
    async fn attachment(&self, url: &str, ctx: &CallContext) -> Result<Vec<u8>, AlexError>;

    /// `GET /Patient/{id}`, for the banner.
    async fn patient(&self, patient_id: &str, ctx: &CallContext) -> Result<PatientSummary, AlexError>;

    /// Resolves Evolution's `{context}` and `{signature}`.
    async fn launch_context(
        &self,
        context: &str,
        signature: &str,
        ctx: &CallContext,
    ) -> Result<LaunchContext, AlexError>;
}
