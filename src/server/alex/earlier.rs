//! Reading a patient's earlier photos out of what ALEX's search returns:
//! the facts the desktop shows, and where each photo's bytes are.
//!
//! A Media counts; a DocumentReference counts only when it is typed as a
//! photograph (LOINC 72170-4), as the scan mode files them. Laterality is
//! read from a pre-lateralised site or from the SNOMED side qualifier on
//! the site, whoever filed it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::model::{EarlierPhoto, Laterality};
use crate::server::support::clock::parse_rfc3339;

/// LOINC "Photographic image".
pub const PHOTOGRAPH: &str = "72170-4";

/// Where an earlier photo's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// In the resource (`data`, base64).
    Inline { content_type: String, bytes: Vec<u8> },
    /// At a URL, to read from ALEX (and only from ALEX).
    Url { content_type: Option<String>, url: String },
    /// Neither: listed without a picture.
    Missing,
}

/// One earlier photo: what the desktop is shown, when it was taken (Unix
/// seconds, for ordering), and its bytes' whereabouts.
#[derive(Debug, Clone)]
pub struct Earlier {
    pub photo: EarlierPhoto,
    pub taken_at: Option<u64>,
    pub content: Content,
}

/// An entry of a search answer, if it is an earlier photo.
pub fn read(resource: &Value) -> Option<Earlier> {
    let kind = resource["resourceType"].as_str()?;
    let (date, attachment, description) = match kind {
        "Media" => (
            resource["createdDateTime"].as_str().or(resource["issued"].as_str()),
            &resource["content"],
            first_note(resource).or(resource["content"]["title"].as_str()),
        ),
        "DocumentReference" if typed_as_photograph(resource) => (
            resource["date"].as_str(),
            &resource["content"][0]["attachment"],
            resource["description"].as_str(),
        ),
        _ => return None,
    };
    let id = resource["id"].as_str().filter(|id| !id.is_empty())?;
    let date = date.or(resource["meta"]["lastUpdated"].as_str());
    let site = &resource["bodySite"];
    let code = snomed_code(site);
    let photo = EarlierPhoto {
        resource_id: id.to_owned(),
        resource_type: kind.to_owned(),
        date: date.map(str::to_owned),
        body_site: code.clone(),
        laterality: side_of(site),
        site_text: site["text"].as_str().map(str::to_owned).or_else(|| display(site)),
        description: description.map(|d| d.chars().take(500).collect()),
        thumbnail_url: None,
    };
    Some(Earlier { taken_at: date.and_then(parse_rfc3339), content: content(attachment), photo })
}

fn first_note(resource: &Value) -> Option<&str> {
    resource["note"].as_array()?.iter().find_map(|n| n["text"].as_str())
}

fn typed_as_photograph(resource: &Value) -> bool {
    resource["type"]["coding"].as_array().into_iter().flatten().any(|c| c["code"] == PHOTOGRAPH)
}

fn snomed_code(concept: &Value) -> Option<String> {
    concept["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"].as_str().is_some_and(|s| s.contains("snomed")))
        .and_then(|c| c["code"].as_str())
        .map(str::to_owned)
}

fn display(concept: &Value) -> Option<String> {
    concept["coding"].as_array()?.iter().find_map(|c| c["display"].as_str()).map(str::to_owned)
}

/// The side a site's qualifier names (SNOMED 7771000 left, 24028007 right,
/// 51440002 both), on any extension: other filers use their own URL.
fn side_of(site: &Value) -> Option<Laterality> {
    site["extension"].as_array()?.iter().find_map(|e| {
        let codes = e["valueCodeableConcept"]["coding"].as_array()?;
        codes.iter().find_map(|c| match c["code"].as_str()? {
            "7771000" => Some(Laterality::Left),
            "24028007" => Some(Laterality::Right),
            "51440002" => Some(Laterality::Bilateral),
            _ => None,
        })
    })
}

fn content(attachment: &Value) -> Content {
    let content_type = attachment["contentType"].as_str().map(str::to_owned);
    if let Some(data) = attachment["data"].as_str() {
        return match (STANDARD.decode(data), content_type) {
            (Ok(bytes), Some(content_type)) => Content::Inline { content_type, bytes },
            _ => Content::Missing,
        };
    }
    match attachment["url"].as_str() {
        Some(url) if !url.is_empty() => Content::Url { content_type, url: url.to_owned() },
        _ => Content::Missing,
    }
}

/// A picture a browser shows (JPEG, PNG or WebP) from an earlier photo's
/// bytes: as they are, or the JPEG a scan's PDF embeds (the scan mode
/// embeds the photo unchanged). `None` for anything else.
pub fn picture(content_type: Option<&str>, bytes: Vec<u8>) -> Option<(&'static str, Vec<u8>)> {
    let sniffed = match bytes.as_slice() {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    };
    if let Some(kind) = sniffed {
        return Some((kind, bytes));
    }
    if content_type == Some("application/pdf") || bytes.starts_with(b"%PDF-") {
        let doc = lopdf::Document::load_mem(&bytes).ok()?;
        return doc.objects.values().find_map(|object| {
            let stream = object.as_stream().ok()?;
            let filter = stream.dict.get(b"Filter").ok()?.as_name().ok()?;
            (filter == b"DCTDecode" && stream.content.starts_with(&[0xFF, 0xD8, 0xFF]))
                .then(|| ("image/jpeg", stream.content.clone()))
        });
    }
    None
}

/// Newest first (undated last), at most `limit`.
pub fn newest(mut found: Vec<Earlier>, limit: usize) -> Vec<Earlier> {
    found.sort_by_key(|e| std::cmp::Reverse(e.taken_at));
    found.truncate(limit);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_media_with_its_site_side_and_inline_bytes() {
        let media = json!({
            "resourceType": "Media", "id": "m1", "createdDateTime": "2026-03-01T09:30:00+13:00",
            "bodySite": {
                "coding": [{"system": "http://snomed.info/sct", "code": "14975008", "display": "Forearm structure"}],
                "extension": [{"url": "https://other-vendor.example/side",
                    "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "7771000"}]}}],
                "text": "Left forearm"
            },
            "note": [{"text": "Healing well"}],
            "content": {"contentType": "image/jpeg", "data": "/9j/AA=="}
        });
        let e = read(&media).unwrap();
        assert_eq!(e.photo.resource_id, "m1");
        assert_eq!(e.photo.body_site.as_deref(), Some("14975008"));
        assert_eq!(e.photo.laterality, Some(Laterality::Left));
        assert_eq!(e.photo.site_text.as_deref(), Some("Left forearm"));
        assert_eq!(e.photo.description.as_deref(), Some("Healing well"));
        assert_eq!(e.taken_at, parse_rfc3339("2026-02-28T20:30:00Z"));
        assert_eq!(
            e.content,
            Content::Inline { content_type: "image/jpeg".into(), bytes: vec![0xFF, 0xD8, 0xFF, 0] }
        );
    }

    #[test]
    fn a_document_counts_only_as_a_photograph_and_urls_are_kept_for_later() {
        let doc = |code: &str| {
            json!({"resourceType": "DocumentReference", "id": "d1", "date": "2026-01-02T00:00:00Z",
                "type": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "description": "Rash, left shin",
                "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/9"}}]})
        };
        let e = read(&doc(PHOTOGRAPH)).unwrap();
        assert_eq!(e.photo.resource_type, "DocumentReference");
        assert_eq!(
            e.content,
            Content::Url { content_type: Some("application/pdf".into()), url: "Binary/9".into() }
        );
        assert!(read(&doc("11488-4")).is_none(), "a consult note is not a photo");
        assert!(read(&json!({"resourceType": "OperationOutcome"})).is_none());
    }

    #[test]
    fn a_scan_pdf_gives_back_the_photo_it_embeds() {
        let jpeg = {
            let img = image::RgbImage::from_pixel(40, 30, image::Rgb([180, 120, 90]));
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
            out.into_inner()
        };
        let caption = vec!["Clinical photo".to_owned(), "Left forearm".to_owned()];
        let pdf = crate::server::alex::scan::pdf(&jpeg, "image/jpeg", &caption, 1_000_000).unwrap();
        assert_eq!(picture(Some("application/pdf"), pdf), Some(("image/jpeg", jpeg.clone())));
        assert_eq!(picture(None, jpeg.clone()), Some(("image/jpeg", jpeg)));
        assert_eq!(picture(Some("image/tiff"), b"II*\0rest".to_vec()), None);
    }

    #[test]
    fn newest_first_and_bounded() {
        let at = |id: &str, date: Option<&str>| {
            let mut m = json!({"resourceType": "Media", "id": id, "content": {}});
            if let Some(d) = date {
                m["createdDateTime"] = json!(d);
            }
            read(&m).unwrap()
        };
        let found = vec![
            at("old", Some("2025-01-01T00:00:00Z")),
            at("undated", None),
            at("new", Some("2026-11-01T00:00:00Z")),
            at("mid", Some("2026-05-01T00:00:00Z")),
        ];
        let ids: Vec<String> = newest(found, 3).into_iter().map(|e| e.photo.resource_id).collect();
        assert_eq!(ids, ["new", "mid", "old"]);
    }
}
