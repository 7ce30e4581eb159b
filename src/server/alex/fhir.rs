//! The FHIR R4 resources the app sends, as typed serde structs, and the
//! coding rules from `shared/reference/alex.md`: SNOMED body sites with the
//! verified terms as `display`, pre-lateralised concepts where they exist,
//! otherwise a laterality extension on `bodySite`.

use serde::Serialize;

use crate::model::{body_site, lateralised, BodySite, ImageKind, ImageMetadata, ImageView, Laterality};

pub const SNOMED: &str = "http://snomed.info/sct";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Coding {
    pub system: String,
    pub code: String,
    pub display: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    pub url: String,
    pub value_codeable_concept: CodeableConcept,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CodeableConcept {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    pub coding: Vec<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reference {
    pub reference: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Annotation {
    pub text: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Attachment {
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// Base64 of the bytes.
    pub data: String,
    pub size: u64,
    /// Base64 SHA-1 of the bytes.
    pub hash: String,
    pub creation: String,
    pub title: String,
}

/// R4 `Media`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub resource_type: &'static str,
    pub identifier: Vec<Identifier>,
    pub status: &'static str,
    #[serde(rename = "type")]
    pub media_type: CodeableConcept,
    pub subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<Reference>,
    pub created_date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_site: Option<CodeableConcept>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Annotation>,
    pub content: Attachment,
}

fn laterality_qualifier(l: Laterality) -> Option<(&'static str, &'static str)> {
    match l {
        Laterality::Left => Some(("7771000", "Left")),
        Laterality::Right => Some(("24028007", "Right")),
        Laterality::Bilateral => Some(("51440002", "Right and left")),
        Laterality::NotApplicable => None,
    }
}

/// "Forearm structure" → "forearm"; "Structure of back of trunk" → "back of trunk".
pub fn plain_site(term: &str) -> String {
    let t = term.strip_prefix("Structure of ").unwrap_or(term);
    t.strip_suffix(" structure").unwrap_or(t).to_lowercase()
}

/// Human text for a site and side: "Left forearm", "Both sides: forearm", "Forearm".
pub fn site_text(site: &BodySite, side: Option<Laterality>) -> String {
    let plain = plain_site(&site.term);
    let text = match side {
        Some(Laterality::Left) if !site.lateralised => format!("left {plain}"),
        Some(Laterality::Right) if !site.lateralised => format!("right {plain}"),
        Some(Laterality::Bilateral) => format!("left and right {plain}"),
        _ => plain,
    };
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `bodySite` for the metadata: `None` when no site was chosen. R4 Media has
/// no laterality element, so `laterality_extension` (the URL of an extension
/// on CodeableConcept, `ALEX_LATERALITY_EXTENSION`) carries it where no
/// pre-lateralised concept exists.
pub fn body_site_concept(meta: &ImageMetadata, laterality_extension: &str) -> Option<CodeableConcept> {
    let site = body_site(meta.body_site.as_deref()?)?;
    let side = meta.laterality;
    if let Some(pre) = side.and_then(|s| lateralised(site, s)) {
        return Some(CodeableConcept {
            extension: vec![],
            coding: vec![Coding { system: SNOMED.into(), code: pre.code.clone(), display: pre.term.clone() }],
            text: Some(site_text(pre, None)),
        });
    }
    let extension = side
        .and_then(laterality_qualifier)
        .map(|(code, display)| Extension {
            url: laterality_extension.into(),
            value_codeable_concept: CodeableConcept {
                extension: vec![],
                coding: vec![Coding { system: SNOMED.into(), code: code.into(), display: display.into() }],
                text: Some(display.into()),
            },
        })
        .into_iter()
        .collect();
    Some(CodeableConcept {
        extension,
        coding: vec![Coding { system: SNOMED.into(), code: site.code.clone(), display: site.term.clone() }],
        text: Some(site_text(site, side)),
    })
}

/// The site as words ("Left forearm"), for titles and captions.
pub fn body_site_text(meta: &ImageMetadata) -> Option<String> {
    body_site_concept(meta, "").and_then(|c| c.text)
}

pub fn view_label(v: ImageView) -> &'static str {
    match v {
        ImageView::CloseUp => "close-up",
        ImageView::Dermoscopy => "dermoscopy",
        ImageView::Overview => "overview",
        ImageView::Other => "other view",
    }
}

pub fn kind_label(k: ImageKind) -> &'static str {
    match k {
        ImageKind::Lesion => "lesion",
        ImageKind::Rash => "rash",
        ImageKind::Wound => "wound",
        ImageKind::Infection => "infection",
        ImageKind::Other => "other",
    }
}

/// A meaningful title: "Left forearm · rash · close-up · photo 2".
pub fn title(meta: &ImageMetadata, index: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(bs) = body_site_text(meta) {
        parts.push(bs);
    }
    if let Some(k) = meta.kind {
        parts.push(kind_label(k).into());
    }
    if let Some(v) = meta.view {
        parts.push(view_label(v).into());
    }
    parts.push(format!("photo {index}"));
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXT: &str = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier";

    fn meta(site: &str, side: Option<Laterality>) -> ImageMetadata {
        ImageMetadata { body_site: Some(site.into()), laterality: side, ..Default::default() }
    }

    #[test]
    fn uses_a_pre_lateralised_concept_where_one_exists() {
        let c = body_site_concept(&meta("117590005", Some(Laterality::Left)), EXT).unwrap(); // Ear structure
        assert_eq!(c.coding[0].code, "89644007");
        assert_eq!(c.coding[0].display, "Left ear structure");
        assert!(c.extension.is_empty());
        assert_eq!(c.text.as_deref(), Some("Left ear"));
    }

    #[test]
    fn otherwise_carries_laterality_in_an_extension() {
        let c = body_site_concept(&meta("14975008", Some(Laterality::Left)), EXT).unwrap(); // Forearm
        assert_eq!(c.coding[0].code, "14975008");
        assert_eq!(c.coding[0].display, "Forearm structure");
        assert_eq!(c.extension[0].url, EXT);
        assert_eq!(c.extension[0].value_codeable_concept.coding[0].code, "7771000");
        assert_eq!(c.text.as_deref(), Some("Left forearm"));
        let both = body_site_concept(&meta("14975008", Some(Laterality::Bilateral)), EXT).unwrap();
        assert_eq!(both.extension[0].value_codeable_concept.coding[0].code, "51440002");
    }

    #[test]
    fn not_applicable_omits_laterality() {
        let c = body_site_concept(&meta("41695006", Some(Laterality::NotApplicable)), EXT).unwrap();
        assert!(c.extension.is_empty());
        assert_eq!(c.text.as_deref(), Some("Scalp"));
        assert!(body_site_concept(&ImageMetadata::default(), EXT).is_none());
    }

    #[test]
    fn titles_say_what_the_photo_is() {
        let m = ImageMetadata {
            body_site: Some("14975008".into()),
            laterality: Some(Laterality::Right),
            view: Some(ImageView::CloseUp),
            kind: Some(ImageKind::Rash),
            description: None,
            consent: None,
        };
        assert_eq!(title(&m, 2), "Right forearm · rash · close-up · photo 2");
        assert_eq!(title(&ImageMetadata::default(), 1), "photo 1");
    }
}

/// One `DocumentReference.content` entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DocumentContent {
    pub attachment: Attachment,
}

/// R4 `DocumentReference`, as Medtech files it in the Inbox Scan folder.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DocumentReference {
    pub resource_type: &'static str,
    pub identifier: Vec<Identifier>,
    pub status: &'static str,
    #[serde(rename = "type")]
    pub doc_type: CodeableConcept,
    pub subject: Reference,
    pub date: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub author: Vec<Reference>,
    pub description: String,
    pub content: Vec<DocumentContent>,
}

/// LOINC 72170-4 "Photographic image".
pub fn photographic_image() -> CodeableConcept {
    CodeableConcept {
        extension: vec![],
        coding: vec![Coding {
            system: "http://loinc.org".into(),
            code: "72170-4".into(),
            display: "Photographic image".into(),
        }],
        text: Some("Photographic image".into()),
    }
}
