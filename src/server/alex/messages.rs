//! What a GP is told when ALEX refuses or fails, and whether trying again can help.
//! One table, unit-tested; the detail stays in the log with the correlation id.

use super::AlexError;

/// A GP-facing message and whether a retry may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpMessage {
    pub message: &'static str,
    pub retryable: bool,
}

const fn msg(message: &'static str, retryable: bool) -> GpMessage {
    GpMessage { message, retryable }
}

/// Whether `err` is, or was caused by, a patient having no NHI to search by.
fn no_nhi(err: &AlexError) -> bool {
    match err {
        AlexError::NoNhi => true,
        AlexError::Unconfirmed(cause) => no_nhi(cause),
        _ => false,
    }
}

/// No look for an earlier attempt is possible. Marked retryable, so a later
/// commit of the photo looks again (and so again refuses) rather than post
/// it blind: the photo is never sent twice. If it is not in the Inbox, the
/// GP removes it and adds it again, which files it as a new photo.
const NO_NHI: GpMessage = msg(
    "This patient has no NHI in Medtech, so Clinical Images cannot check whether this photo was already filed. It was not sent again. Check the patient's Inbox in Evolution; if the photo is not there, remove it here and add it again.",
    true,
);

/// Maps an ALEX failure to plain language.
pub fn for_error(err: &AlexError) -> GpMessage {
    match err {
        AlexError::NoNhi => NO_NHI,
        AlexError::Unconfirmed(cause) if no_nhi(cause) => NO_NHI,
        AlexError::Unreachable(_) => msg(
            "Medtech could not be reached. Check the practice's internet connection, then try again.",
            true,
        ),
        AlexError::Auth { .. } => msg(
            "Clinical Images could not sign in to Medtech. Ask your practice's IT support to check its ALEX credentials.",
            false,
        ),
        AlexError::Malformed(_) => msg("Medtech sent an unexpected answer. Try again in a minute.", true),
        AlexError::Unconfirmed(_) => msg(
            "Medtech did not confirm whether this photo was filed. Try again in a minute: it will not be filed twice.",
            true,
        ),
        AlexError::Rejected { status, code, diagnostics } => match (*status, code.as_str()) {
            (403, _) if diagnostics.contains("Facility") => msg(
                "Medtech does not recognise this practice (facility). Ask your IT support to check the facility set up for Clinical Images.",
                false,
            ),
            (401 | 403, _) => msg(
                "Medtech refused permission to file photos. Ask your IT support to check Clinical Images' ALEX permissions.",
                false,
            ),
            (404, _) => msg(
                "Medtech could not find this patient. Reopen the patient in Evolution and launch Clinical Images again.",
                false,
            ),
            (413, _) => msg("This photo is too large for Medtech. Crop it or take it again at a lower size.", false),
            (400 | 422, "business-rule") => msg(
                "Medtech rejected this photo's record. Contact support and quote the reference below.",
                false,
            ),
            (400 | 422, _) => msg(
                "Medtech could not accept this photo as sent. Contact support and quote the reference below.",
                false,
            ),
            (409, _) => msg("Medtech reported a conflict with an existing record. Try again in a minute.", true),
            (429, _) => msg("Medtech is busy right now. Try again in a minute.", true),
            (500..=599, _) => msg("Medtech is temporarily unavailable. Try again in a few minutes.", true),
            _ => msg("Medtech could not file this photo. Contact support and quote the reference below.", false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(status: u16, code: &str, diagnostics: &str) -> AlexError {
        AlexError::Rejected { status, code: code.into(), diagnostics: diagnostics.into() }
    }

    #[test]
    fn the_table() {
        let cases = [
            (rejected(403, "forbidden", "Practice Facility not found"), "practice (facility)", false),
            (rejected(403, "forbidden", "Authorization failed."), "permission", false),
            (rejected(404, "not-found", "Patient not found"), "could not find this patient", false),
            (
                rejected(400, "business-rule", "The mandatory Identifier.value …"),
                "rejected this photo's record",
                false,
            ),
            (rejected(400, "invalid", "bad base64"), "could not accept", false),
            (rejected(413, "too-costly", "over 8 MB"), "too large", false),
            (rejected(429, "throttled", ""), "busy", true),
            (rejected(503, "transient", ""), "temporarily unavailable", true),
            (AlexError::Unreachable("connect refused".into()), "could not be reached", true),
            (AlexError::Auth { status: 401 }, "could not sign in", false),
            (
                AlexError::Unconfirmed(Box::new(rejected(503, "transient", ""))),
                "did not confirm whether this photo was filed",
                true,
            ),
            (AlexError::Unconfirmed(Box::new(AlexError::NoNhi)), "no NHI in Medtech", true),
            (AlexError::NoNhi, "Check the patient's Inbox", true),
        ];
        for (err, needle, retryable) in cases {
            let m = for_error(&err);
            assert!(m.message.contains(needle), "{err:?} → {}", m.message);
            assert_eq!(m.retryable, retryable, "{err:?}");
            assert!(!m.message.contains("HTTP") && !m.message.contains("OperationOutcome"));
        }
    }
}
