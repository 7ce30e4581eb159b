//! Reading a patient's earlier photos from ALEX: every resource of a kind
//! the documented search finds, and an attachment's bytes by its URL. Both
//! read from this ALEX only, with our token, facility and correlation id,
//! as every call does: a link or URL elsewhere is never followed, so our
//! token never leaves for another host.

use serde_json::Value;

use super::{enc, json, HttpAlexClient};
use crate::server::alex::wire::rejected;
use crate::server::alex::{AlexError, CallContext};

/// Most search pages read for one kind of resource.
const MAX_PAGES: usize = 40;

impl HttpAlexClient {
    /// Every `resource_type` resource the search by the patient's NHI finds.
    pub(super) async fn search_by_nhi(
        &self,
        resource_type: &str,
        nhi: &str,
        ctx: &CallContext,
    ) -> Result<Vec<Value>, AlexError> {
        let mut url = Some(format!(
            "{}/{resource_type}?patient.identifier={}",
            self.base_url,
            enc(&format!("{}|{nhi}", self.nhi_system))
        ));
        let mut found = Vec::new();
        let mut pages = 0;
        while let Some(page) = url.take() {
            pages += 1;
            if pages > MAX_PAGES {
                tracing::warn!(
                    resource_type,
                    pages = MAX_PAGES,
                    "earlier photos: search cut at its page limit"
                );
                break;
            }
            let bundle = match self.get(&page, ctx).await? {
                (status, body) if status.is_success() => json(&body)?,
                (status, body) => return Err(rejected(status, &body)),
            };
            if bundle["resourceType"] != "Bundle" {
                return Err(AlexError::Malformed("search answer is not a Bundle".into()));
            }
            found.extend(
                bundle["entry"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e["resource"].clone())
                    .filter(|r| r["resourceType"] == resource_type),
            );
            url = self.next_page(&bundle)?;
        }
        Ok(found)
    }

    /// A search answer's `next` link, if it has one on this ALEX.
    pub(super) fn next_page(&self, bundle: &Value) -> Result<Option<String>, AlexError> {
        let next =
            bundle["link"].as_array().into_iter().flatten().find_map(|l| {
                (l["relation"] == "next").then(|| l["url"].as_str().map(str::to_owned)).flatten()
            });
        match next {
            Some(next) if !next.starts_with(&format!("{}/", self.base_url)) => {
                Err(AlexError::Malformed("search's next page is on another host".into()))
            }
            next => Ok(next),
        }
    }

    /// The bytes at an attachment's `url`: relative to this ALEX's FHIR
    /// base, or absolute on the same origin. Anywhere else is refused
    /// before any request is made.
    pub(super) async fn read_attachment(&self, url: &str, ctx: &CallContext) -> Result<Vec<u8>, AlexError> {
        let resolved = same_origin_url(&self.base_url, url)
            .ok_or_else(|| AlexError::Malformed("an attachment's URL is not on this ALEX".into()))?;
        match self.get(&resolved, ctx).await? {
            (status, body) if status.is_success() => Ok(body),
            (status, body) => Err(rejected(status, &body)),
        }
    }
}

/// `url` resolved against the FHIR base `base`, if it is on the same
/// origin (scheme, host and port).
fn same_origin_url(base: &str, url: &str) -> Option<String> {
    let base = url::Url::parse(&format!("{base}/")).ok()?;
    let resolved = base.join(url).ok()?;
    (resolved.origin() == base.origin()).then(|| resolved.to_string())
}

#[cfg(test)]
mod tests {
    use super::same_origin_url;

    #[test]
    fn attachments_are_read_from_this_alex_only() {
        let base = "https://alex.example.nz/FHIR";
        assert_eq!(
            same_origin_url(base, "Binary/9").as_deref(),
            Some("https://alex.example.nz/FHIR/Binary/9")
        );
        assert_eq!(
            same_origin_url(base, "https://alex.example.nz/files/9?x=1").as_deref(),
            Some("https://alex.example.nz/files/9?x=1")
        );
        for elsewhere in [
            "https://evil.example/FHIR/Binary/9",
            "//evil.example/Binary/9",
            "http://alex.example.nz/FHIR/Binary/9",
            "https://alex.example.nz:8443/FHIR/Binary/9",
            "https://alex.example.nz.evil.example/x",
        ] {
            assert_eq!(same_origin_url(base, elsewhere), None, "{elsewhere}");
        }
    }
}
