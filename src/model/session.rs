//! What the pages learn about a capture session.

use serde::{Deserialize, Serialize};

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
}

impl TokenProblem {
    /// The sentence shown on the phone.
    pub fn message(self) -> &'static str {
        match self {
            TokenProblem::Missing => "This link is incomplete.",
            TokenProblem::NotFound => "This link is not recognised.",
            TokenProblem::Expired => "This link has expired.",
            TokenProblem::Revoked => "This link was replaced by a newer QR code.",
        }
    }
}

/// The patient, facility and provider a desktop session is bound to, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    /// The patient banner as the launch resolved it.
    pub patient_label: String,
    pub facility_id: String,
    /// True for a development launch: the page shows a DEV banner.
    pub dev_launch: bool,
    /// RFC 3339 time at which the session ends at the latest.
    pub expires_at: String,
}

/// The desktop page's view of its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum DesktopSession {
    Active(SessionSummary),
    Missing { problem: LaunchProblem },
}

/// What a phone learns when it validates its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MobileLink {
    pub valid: bool,
    pub expires_at: String,
    /// Masked: initials and the last characters of the NHI, never a full name or NHI.
    pub patient_banner: String,
}
