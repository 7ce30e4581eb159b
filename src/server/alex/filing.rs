//! What one image becomes in ALEX: a [`Filing`] (the few facts a resource
//! needs, with no app state) turned into a typed [`Resource`].
//!
//! The commit service decides *whether* to file; this module decides *what*
//! is sent, so the FHIR shape lives beside the rest of the ALEX boundary.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::Digest;

use super::fhir::{
    self, Annotation, Attachment, CodeableConcept, Coding, DocumentContent, DocumentReference, Identifier,
    Media, Reference,
};
use crate::model::ImageMetadata;

/// One image to file, as the resource builders need it.
#[derive(Debug, Clone)]
pub struct Filing<'a> {
    /// The image's stable id: the resource's identifier, the same on every retry.
    pub image_id: &'a str,
    pub identifier_system: &'a str,
    pub patient_id: &'a str,
    pub provider_id: Option<&'a str>,
    /// When the photo was taken (or uploaded), RFC 3339.
    pub created: String,
    pub metadata: &'a ImageMetadata,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Position in the commit, for the title ("Photo 2").
    pub index: usize,
    pub laterality_extension: &'a str,
}

/// A resource the client can send.
#[derive(Debug, Clone)]
pub enum Resource {
    Media(Box<Media>),
    DocumentReference(Box<DocumentReference>),
}

impl Resource {
    /// The FHIR type, which is also the endpoint: `POST /{type}`.
    pub fn resource_type(&self) -> &'static str {
        match self {
            Resource::Media(_) => "Media",
            Resource::DocumentReference(_) => "DocumentReference",
        }
    }

    /// The JSON body. Serialising these plain structs cannot fail; the
    /// error is still returned (and logged by the client) rather than hidden.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        match self {
            Resource::Media(m) => serde_json::to_string(m),
            Resource::DocumentReference(d) => serde_json::to_string(d),
        }
    }
}

fn identifier(f: &Filing<'_>) -> Vec<Identifier> {
    vec![Identifier { system: f.identifier_system.to_owned(), value: f.image_id.to_owned() }]
}

fn subject(f: &Filing<'_>) -> Reference {
    Reference { reference: format!("Patient/{}", f.patient_id) }
}

fn practitioner(f: &Filing<'_>) -> Option<Reference> {
    f.provider_id.map(|p| Reference { reference: format!("Practitioner/{p}") })
}

fn attachment(content_type: &str, bytes: &[u8], created: &str, title: String) -> Attachment {
    Attachment {
        content_type: content_type.to_owned(),
        data: STANDARD.encode(bytes),
        size: bytes.len() as u64,
        hash: STANDARD.encode(sha1::Sha1::digest(bytes)),
        creation: created.to_owned(),
        title,
    }
}

/// `Media` with the photo itself.
pub fn media(f: &Filing<'_>, content_type: &str, bytes: &[u8]) -> Resource {
    Resource::Media(Box::new(Media {
        resource_type: "Media",
        identifier: identifier(f),
        status: "completed",
        media_type: CodeableConcept {
            extension: vec![],
            coding: vec![Coding {
                system: "http://terminology.hl7.org/CodeSystem/media-type".into(),
                code: "image".into(),
                display: "Image".into(),
            }],
            text: None,
        },
        subject: subject(f),
        operator: practitioner(f),
        created_date_time: f.created.clone(),
        body_site: fhir::body_site_concept(f.metadata, f.laterality_extension),
        width: f.width,
        height: f.height,
        note: f
            .metadata
            .description
            .iter()
            .cloned()
            .chain(f.metadata.consent.map(|c| c.note()))
            .map(|text| Annotation { text })
            .collect(),
        content: attachment(content_type, bytes, &f.created, fhir::title(f.metadata, f.index)),
    }))
}

/// `DocumentReference` (the Inbox Scan folder) carrying `document`, a PDF
/// or TIFF already built from the photo, described by `description`.
pub fn document_reference(f: &Filing<'_>, doc_type: &str, document: &[u8], description: String) -> Resource {
    let extension = if doc_type == "image/tiff" { "tif" } else { "pdf" };
    Resource::DocumentReference(Box::new(DocumentReference {
        resource_type: "DocumentReference",
        identifier: identifier(f),
        status: "current",
        doc_type: fhir::photographic_image(),
        subject: subject(f),
        date: f.created.clone(),
        author: practitioner(f).into_iter().collect(),
        description,
        content: vec![DocumentContent {
            attachment: attachment(
                doc_type,
                document,
                &f.created,
                format!("{}.{extension}", fhir::title(f.metadata, f.index)),
            ),
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filing(meta: &ImageMetadata) -> Filing<'_> {
        Filing {
            image_id: "img-1",
            identifier_system: "https://example.nz/image-id",
            patient_id: "p1",
            provider_id: Some("dr1"),
            created: "2026-12-02T01:02:03Z".into(),
            metadata: meta,
            width: Some(4),
            height: Some(3),
            index: 2,
            laterality_extension: "https://example.nz/laterality",
        }
    }

    #[test]
    fn media_carries_identifier_subject_and_the_exact_bytes() {
        let meta = ImageMetadata::default();
        let resource = media(&filing(&meta), "image/jpeg", b"\xFF\xD8\xFFbytes");
        assert_eq!(resource.resource_type(), "Media");
        let json: serde_json::Value = serde_json::from_str(&resource.to_json().unwrap()).unwrap();
        assert_eq!(json["identifier"][0]["value"], "img-1");
        assert_eq!(json["subject"]["reference"], "Patient/p1");
        assert_eq!(json["operator"]["reference"], "Practitioner/dr1");
        assert_eq!(STANDARD.decode(json["content"]["data"].as_str().unwrap()).unwrap(), b"\xFF\xD8\xFFbytes");
        assert_eq!(json["content"]["size"], 8);
    }

    #[test]
    fn document_references_name_their_format() {
        let meta = ImageMetadata::default();
        let resource = document_reference(&filing(&meta), "image/tiff", b"II*\0", "Site: arm".into());
        let json: serde_json::Value = serde_json::from_str(&resource.to_json().unwrap()).unwrap();
        assert_eq!(json["resourceType"], "DocumentReference");
        assert!(json["content"][0]["attachment"]["title"].as_str().unwrap().ends_with(".tif"));
        assert_eq!(json["author"][0]["reference"], "Practitioner/dr1");
    }
}
