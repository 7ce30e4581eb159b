//! Looking for a filing before a create is re-posted: ALEX's documented
//! search by the patient's NHI, narrowed by the resource's own identifier
//! unless this ALEX refuses that as not supported, read page by page on
//! this ALEX only.

use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use serde_json::Value;

use super::{enc, json, HttpAlexClient};
use crate::server::alex::wire::rejected;
use crate::server::alex::{AlexError, CallContext, Created, Dedupe};

/// Most search pages read while looking for an earlier attempt.
const MAX_SEARCH_PAGES: usize = 50;

/// What a search ended with.
enum Search<T> {
    Found(T),
    Missing,
    /// The server refused the search's parameters as not supported.
    Unsupported(AlexError),
}

/// Whether a refused search was refused for its parameters: 405, or 400 or
/// 422 with an OperationOutcome issue `not-supported` (a strict FHIR
/// server's answer to a search parameter it does not support).
fn unsupported_search(status: StatusCode, body: &[u8]) -> bool {
    match status.as_u16() {
        405 => true,
        400 | 422 => serde_json::from_slice::<Value>(body).is_ok_and(|outcome| {
            outcome["issue"].as_array().into_iter().flatten().any(|i| i["code"] == "not-supported")
        }),
        _ => false,
    }
}

impl HttpAlexClient {
    /// The filing of an earlier attempt of this create, if there is one.
    pub(super) async fn look_up_filed(
        &self,
        resource_type: &str,
        dedupe: &Dedupe,
        ctx: &CallContext,
    ) -> Result<Option<Created>, AlexError> {
        // ALEX documents no search for a patient's filings but by NHI; a
        // search by the resource's identifier alone is not one it promises.
        let Some(nhi) = self.nhi_of(dedupe, ctx).await? else {
            return Err(AlexError::NoNhi);
        };
        // The patient's filings: the documented search.
        let documented = format!(
            "{}/{resource_type}?patient.identifier={}",
            self.base_url,
            enc(&format!("{}|{nhi}", self.nhi_system))
        );
        let subject = format!("Patient/{}", dedupe.patient_id);
        let pick = |entry: &Value| {
            let r = &entry["resource"];
            let ours = r["identifier"].as_array().into_iter().flatten().any(|i| {
                i["system"].as_str() == Some(dedupe.system.as_str())
                    && i["value"].as_str() == Some(dedupe.value.as_str())
            });
            let same_patient = r["subject"]["reference"].as_str().is_none_or(|s| s == subject);
            (ours && same_patient).then(|| r["id"].as_str().map(str::to_owned)).flatten()
        };
        let filed = |resource_id| Created { resource_id, etag: None };
        if !self.documented_search_only.load(Ordering::Relaxed) {
            // Narrowed by the resource's own identifier, a standard search
            // parameter of Media and DocumentReference: a patient with years
            // of photos is not read page by page. A server that ignored it
            // would list them all, and the search stops at the page with ours.
            let own = enc(&format!("{}|{}", dedupe.system, dedupe.value));
            match self.search_first(format!("{documented}&identifier={own}"), ctx, &pick).await? {
                Search::Found(id) => return Ok(Some(filed(id))),
                Search::Missing => return Ok(None),
                // A strict server refuses the parameter ALEX does not
                // document: use the documented search, now and from now on.
                Search::Unsupported(e) => {
                    if !self.documented_search_only.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            backend = self.backend,
                            resource_type,
                            correlation_id = %ctx.correlation_id,
                            error = %e,
                            "ALEX refused the look-up search narrowed by identifier; searching by patient.identifier alone from now on"
                        );
                    }
                }
            }
        }
        match self.search_first(documented, ctx, &pick).await? {
            Search::Found(id) => Ok(Some(filed(id))),
            Search::Missing => Ok(None),
            Search::Unsupported(e) => Err(e),
        }
    }

    /// The first entry of a search that `pick` takes, page by page,
    /// following `next` links on this ALEX only (a link elsewhere would carry
    /// our token to another host). Stops at the page that has it, so a
    /// filing is found without reading the rest of a long history. A refusal
    /// of the search's parameters is [`Search::Unsupported`], not an error.
    async fn search_first<T>(
        &self,
        first: String,
        ctx: &CallContext,
        pick: impl Fn(&Value) -> Option<T>,
    ) -> Result<Search<T>, AlexError> {
        let mut url = Some(first);
        let mut pages = 0;
        while let Some(page) = url.take() {
            pages += 1;
            if pages > MAX_SEARCH_PAGES {
                return Err(AlexError::Malformed(format!("search has more than {MAX_SEARCH_PAGES} pages")));
            }
            let bundle = match self.get(&page, ctx).await? {
                (status, body) if status.is_success() => json(&body)?,
                (status, body) if unsupported_search(status, &body) => {
                    return Ok(Search::Unsupported(rejected(status, &body)));
                }
                (status, body) => return Err(rejected(status, &body)),
            };
            if bundle["resourceType"] != "Bundle" {
                return Err(AlexError::Malformed("search answer is not a Bundle".into()));
            }
            if let Some(found) = bundle["entry"].as_array().into_iter().flatten().find_map(&pick) {
                return Ok(Search::Found(found));
            }
            url = self.next_page(&bundle)?;
        }
        Ok(Search::Missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_of_search_parameters_are_recognised() {
        let outcome = |code: &str| {
            json!({"resourceType": "OperationOutcome", "issue": [
                {"severity": "warning", "code": "informational"},
                {"severity": "error", "code": code},
            ]})
            .to_string()
            .into_bytes()
        };
        assert!(unsupported_search(StatusCode::BAD_REQUEST, &outcome("not-supported")));
        assert!(unsupported_search(StatusCode::UNPROCESSABLE_ENTITY, &outcome("not-supported")));
        assert!(unsupported_search(StatusCode::METHOD_NOT_ALLOWED, b""));
        assert!(!unsupported_search(StatusCode::BAD_REQUEST, &outcome("invalid")));
        assert!(!unsupported_search(StatusCode::BAD_REQUEST, b"not json"));
        assert!(!unsupported_search(StatusCode::FORBIDDEN, &outcome("not-supported")));
        assert!(!unsupported_search(StatusCode::INTERNAL_SERVER_ERROR, &outcome("not-supported")));
    }
}
