//! What the pages learn about a capture session.

use serde::{Deserialize, Serialize};

/// The header in which a desktop page names the capture session it was
/// opened for, on every API call (the event stream, which cannot set
/// headers, takes [`SESSION_QUERY`] instead).
pub const SESSION_HEADER: &str = "x-capture-session";

/// The desktop page's query parameter naming its session:
/// `/medtech-images?session=…`, where every launch lands.
pub const SESSION_QUERY: &str = "session";

/// Why the desktop has no usable session. Each says what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LaunchProblem {
    /// No session cookie: the page was opened directly.
    NotLaunched,
    /// The session existed but timed out.
    Expired,
    /// Evolution launched the widget with no patient open.
    NoPatient,
    /// The launch link was stale, replayed or had a bad signature.
    InvalidLaunch,
}

impl LaunchProblem {
    /// The sentence shown to the GP.
    pub fn message(self) -> &'static str {
        match self {
            LaunchProblem::NotLaunched => {
                "This page was opened directly, so it does not know which patient the photos are for."
            }
            LaunchProblem::Expired => "Your capture session has ended because it was idle or open too long.",
            LaunchProblem::NoPatient => "No patient was open in Medtech Evolution at launch.",
            LaunchProblem::InvalidLaunch => {
                "The launch link from Medtech Evolution was not valid or had already been used."
            }
        }
    }
}

/// Why a phone's QR link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenProblem {
    /// The page was opened without a token.
    Missing,
    /// No such token (mistyped, or from another server).
    NotFound,
    /// The token timed out.
    Expired,
    /// The desktop made a new QR code, which cancels the old one.
    Revoked,
    /// The link already joined as many phones as a QR code may.
    TooManyPhones,
}

impl TokenProblem {
    /// The sentence shown on the phone.
    pub fn message(self) -> &'static str {
        match self {
            TokenProblem::Missing => "This link is incomplete.",
            TokenProblem::NotFound => "This link is not recognised.",
            TokenProblem::Expired => "This link has expired.",
            TokenProblem::Revoked => "This link was replaced by a newer QR code.",
            TokenProblem::TooManyPhones => "This QR code is already open on as many phones as it allows.",
        }
    }
}

/// The patient, facility and provider a desktop session is bound to, for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    /// The session's name: what the page sends in [`SESSION_HEADER`].
    pub session: String,
    /// The patient banner as the launch resolved it.
    pub patient_label: String,
    pub facility_id: String,
    /// True for a development launch: the page shows a DEV banner.
    pub dev_launch: bool,
    /// RFC 3339 time at which the session ends at the latest.
    pub expires_at: String,
    /// The practice's capture settings.
    pub settings: CaptureSettings,
}

/// The desktop page's view of its session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum DesktopSession {
    Active(SessionSummary),
    Missing { problem: LaunchProblem },
}

/// What a phone learns when it validates its link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MobileLink {
    pub valid: bool,
    pub expires_at: String,
    /// Masked: initials and the last characters of the NHI, never a full name or NHI.
    pub patient_banner: String,
    /// The practice's capture settings.
    pub settings: CaptureSettings,
    /// This phone's id, issued by the server when it first opened the link;
    /// the phone sends it back when it opens the link again (a reload), so
    /// it is counted once.
    pub phone_id: String,
}

/// What an image needs before it may be committed (`COMMIT_RULE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CommitRule {
    /// A body site or a description (the default).
    #[default]
    BodySiteOrDescription,
    BodySite,
    Description,
    /// Nothing: metadata is optional.
    Nothing,
}

impl CommitRule {
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "bodySiteOrDescription" => CommitRule::BodySiteOrDescription,
            "bodySite" => CommitRule::BodySite,
            "description" => CommitRule::Description,
            "nothing" => CommitRule::Nothing,
            _ => return None,
        })
    }

    /// Whether `metadata` is enough to commit.
    pub fn satisfied(self, metadata: &crate::model::ImageMetadata) -> bool {
        let site = metadata.body_site.is_some();
        let text = metadata.description.as_deref().is_some_and(|d| !d.trim().is_empty());
        match self {
            CommitRule::BodySiteOrDescription => site || text,
            CommitRule::BodySite => site,
            CommitRule::Description => text,
            CommitRule::Nothing => true,
        }
    }

    /// What the GP is told an image is missing.
    pub fn hint(self) -> &'static str {
        match self {
            CommitRule::BodySiteOrDescription => "Add a body site or a description.",
            CommitRule::BodySite => "Add a body site.",
            CommitRule::Description => "Add a description.",
            CommitRule::Nothing => "",
        }
    }
}

/// Whether a photo must carry the patient's consent to be filed (`CONSENT_RULE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConsentRule {
    /// A photo without consent is not filed (the default).
    #[default]
    Required,
    Optional,
}

impl ConsentRule {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "required" => Some(ConsentRule::Required),
            "optional" => Some(ConsentRule::Optional),
            _ => None,
        }
    }

    /// Whether `metadata` carries the consent this rule asks for.
    pub fn satisfied(self, metadata: &crate::model::ImageMetadata) -> bool {
        self == ConsentRule::Optional || metadata.consent.is_some()
    }

    /// What the GP is told a photo is missing.
    pub const HINT: &'static str = "Record the patient's consent for this photo.";
}

/// The practice's capture settings, from the server's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureSettings {
    /// What the image pipeline aims for.
    pub pipeline: crate::pipeline::Targets,
    /// SNOMED codes of the practice's common body sites, offered first (`BODY_SITE_TEMPLATES`).
    pub body_site_templates: Vec<String>,
    pub commit_rule: CommitRule,
    /// Whether consent must be recorded before filing (`CONSENT_RULE`).
    #[serde(default)]
    pub consent_rule: ConsentRule,
    /// Where commits file the photos (`ALEX_COMMIT_MODE`).
    pub commit_target: CommitTarget,
}

/// Where a commit files photos in Medtech Evolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CommitTarget {
    /// As clinical images (FHIR Media) on the patient's record.
    Media,
    /// As a document in the Inbox Scan folder (FHIR DocumentReference).
    InboxScan,
}

impl CommitTarget {
    pub fn label(self) -> &'static str {
        match self {
            CommitTarget::Media => "Clinical images (Media) on the patient's record",
            CommitTarget::InboxScan => "Inbox Scan folder, as a document",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageMetadata;

    #[test]
    fn the_commit_rule_asks_for_what_it_names() {
        let empty = ImageMetadata::default();
        let site = ImageMetadata { body_site: Some("89545001".into()), ..Default::default() };
        let blank = ImageMetadata { description: Some("   ".into()), ..Default::default() };
        let text = ImageMetadata { description: Some("Rash, 3 days".into()), ..Default::default() };
        let rule = CommitRule::default();
        assert!(!rule.satisfied(&empty) && !rule.satisfied(&blank));
        assert!(rule.satisfied(&site) && rule.satisfied(&text));
        assert!(!CommitRule::BodySite.satisfied(&text));
        assert!(!CommitRule::Description.satisfied(&site));
        assert!(CommitRule::Nothing.satisfied(&empty));
        assert_eq!(CommitRule::parse("bodySite"), Some(CommitRule::BodySite));
        assert_eq!(CommitRule::parse("site"), None);
    }
}
