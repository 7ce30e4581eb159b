//! The wire rules of ALEX answers: which statuses are transient, how long
//! to wait, how errors and created resources are read.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::{AlexError, Created};

const BASE_BACKOFF: Duration = Duration::from_millis(200);

pub fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (ALEX and Azure send seconds, not dates).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(30)))
}

/// Exponential backoff with up to 50% random jitter.
pub fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    let mut r = [0u8; 2];
    let _ = getrandom::fill(&mut r);
    let jitter = u64::from(u16::from_le_bytes(r)) * (base.as_millis() as u64 / 2) / u64::from(u16::MAX);
    base + Duration::from_millis(jitter)
}

/// Reads an OperationOutcome into an error.
pub fn rejected(status: StatusCode, body: &[u8]) -> AlexError {
    let outcome: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let issue = &outcome["issue"][0];
    AlexError::Rejected {
        status: status.as_u16(),
        code: issue["code"].as_str().unwrap_or("unknown").to_owned(),
        diagnostics: issue["diagnostics"].as_str().unwrap_or("").chars().take(300).collect(),
    }
}

/// Reads the id of a created resource: from `Location`
/// (`…/{type}/{id}/_history/{version}`), else from the body.
pub fn created(resource_type: &str, headers: &HeaderMap, bytes: &[u8]) -> Result<Created, AlexError> {
    let from_location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| loc.split(&format!("{resource_type}/")).nth(1))
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    let resource_id = from_location
        .or_else(|| serde_json::from_slice::<Value>(bytes).ok()?["id"].as_str().map(str::to_owned))
        .ok_or_else(|| AlexError::Malformed("created resource has no id".into()))?;
    let etag = headers.get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    Ok(Created { resource_id, etag })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..=3 {
            let b = backoff(attempt);
            let base = BASE_BACKOFF * 2u32.pow(attempt - 1);
            assert!(b >= base && b <= base + base / 2, "{b:?}");
        }
    }

    #[test]
    fn reads_retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn operation_outcomes_become_errors() {
        let body = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":"Practice Facility not found"}]}"#;
        match rejected(StatusCode::FORBIDDEN, body) {
            AlexError::Rejected { status, code, diagnostics } => {
                assert_eq!(
                    (status, code.as_str(), diagnostics.as_str()),
                    (403, "forbidden", "Practice Facility not found")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
