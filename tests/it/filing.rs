//! What is filed is what the GP confirmed, once, and clean (issue 27,
//! items 3 to 5), against the ALEX sandbox as a separate service:
//! - an edit raced against a commit never files bytes or details other than
//!   those confirmed;
//! - a commit stretched past its claim's lifetime by a slow ALEX keeps the
//!   claim, so a second commit files nothing twice;
//! - the server strips metadata and trailers, whatever the browser sent,
//!   read back from what the sandbox received by an independent EXIF reader.

use crate::common;
use std::io::Cursor;
use std::time::Duration;

use crate::common::{jpeg, Auth, SandboxServer, TestApp};
use base64::Engine;
use serde_json::{json, Value};
use sha1::Digest;

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";

async fn app_with(sandbox: &SandboxServer, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = common::service_vars();
    vars.extend(sandbox.vars());
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    TestApp::start(vars).await
}

/// Uploads and registers `bytes`; returns the image id.
async fn add(app: &TestApp, desktop: &Auth, content_type: &str, bytes: Vec<u8>) -> String {
    let ticket = app.upload(desktop, content_type, bytes).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    let (status, body) = app.register(desktop, &id).await;
    assert_eq!(status, 200, "{body}");
    id
}

/// The photo's revision as the desktop's list shows it now.
async fn revision(app: &TestApp, desktop: &Auth, id: &str) -> String {
    let (_, list) = app.get("/api/medtech/session/images", desktop).await;
    let image = list.as_array().unwrap().iter().find(|i| i["imageId"] == id).unwrap().clone();
    image["revision"].as_str().unwrap().to_owned()
}

/// The bytes the sandbox received for a filed resource.
async fn filed_bytes(sandbox: &SandboxServer, resource_id: &str) -> (Vec<u8>, Value) {
    let inbox = sandbox.json("/inbox.json").await;
    let entry = inbox.as_array().unwrap().iter().find(|e| e["id"] == resource_id).unwrap().clone();
    let data = entry["resource"]["content"]["data"].as_str().unwrap();
    (base64::engine::general_purpose::STANDARD.decode(data).unwrap(), entry)
}

/// A JPEG with an EXIF segment holding GPS coordinates, an XMP packet, a
/// comment, and 64 bytes of someone else's data after its end.
fn jpeg_with_gps_and_trailer() -> Vec<u8> {
    let plain = jpeg(32, 24);
    // TIFF (little-endian): IFD0 with one entry, GPSInfo → a GPS IFD holding GPSLatitudeRef "S".
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend([1, 0]); // IFD0: one entry
    tiff.extend([0x25, 0x88, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0]); // GPSInfo (LONG) → offset 26
    tiff.extend([0, 0, 0, 0]); // no next IFD
    tiff.extend([1, 0]); // GPS IFD: one entry
    tiff.extend([1, 0, 2, 0, 2, 0, 0, 0, b'S', 0, 0, 0]); // GPSLatitudeRef = "S"
    tiff.extend([0, 0, 0, 0]);
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(tiff);
    let segment = |marker: u8, body: &[u8]| {
        let mut s = vec![0xFF, marker];
        s.extend(u16::try_from(body.len() + 2).unwrap().to_be_bytes());
        s.extend(body);
        s
    };
    let mut out = plain[..2].to_vec();
    out.extend(segment(0xE1, &exif));
    out.extend(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>GPS -36.85</x:xmpmeta>"));
    out.extend(segment(0xFE, b"taken at 12 Example Street"));
    out.extend(&plain[2..]);
    out.extend([0x5A; 64]);
    out
}

#[tokio::test]
async fn the_server_strips_metadata_and_trailers_before_filing() {
    let sandbox = SandboxServer::start().await;
    let app = app_with(&sandbox, &[]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let sent = jpeg_with_gps_and_trailer();
    assert!(exif::Reader::new().read_from_container(&mut Cursor::new(&sent)).is_ok(), "the input has EXIF");
    let id = add(&app, &desktop, "image/jpeg", sent.clone()).await;
    let (status, report) =
        app.post("/api/medtech/attachments/commit", json!({"imageIds": [id]}), &desktop).await;
    assert_eq!(status, 200);
    assert_eq!(report["results"][0]["status"], "committed", "{report}");
    let (filed, entry) = filed_bytes(&sandbox, report["results"][0]["resourceId"].as_str().unwrap()).await;

    // An independent reader finds no EXIF; no XMP, comment or trailer is left.
    assert!(exif::Reader::new().read_from_container(&mut Cursor::new(&filed)).is_err(), "EXIF filed");
    let has = |needle: &[u8]| filed.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"Exif\0\0") && !has(b"ns.adobe.com/xap") && !has(b"Example Street"));
    let eoi = filed.windows(2).rposition(|w| w == [0xFF, 0xD9]).unwrap();
    assert_eq!(eoi + 2, filed.len(), "nothing after the end of the image");
    assert!(!has(&[0x5A; 16]));
    // The pixels are the ones sent, and the resource's hash covers exactly the filed bytes.
    let (a, b) = (image::load_from_memory(&sent).unwrap(), image::load_from_memory(&filed).unwrap());
    assert_eq!(a.to_rgb8(), b.to_rgb8());
    let hash = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&filed));
    assert_eq!(entry["resource"]["content"]["hash"], hash.as_str());
}

#[tokio::test]
async fn png_text_chunks_are_not_filed() {
    let sandbox = SandboxServer::start().await;
    let app = app_with(&sandbox, &[]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let mut png = Vec::new();
    image::DynamicImage::new_rgb8(8, 8)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // A tEXt chunk after IHDR (8-byte signature + 25-byte IHDR chunk).
    let text = b"Location\0-36.8485,174.7633";
    let mut chunk = u32::try_from(text.len()).unwrap().to_be_bytes().to_vec();
    let mut typed = b"tEXt".to_vec();
    typed.extend(text);
    chunk.extend(&typed);
    chunk.extend(crc32(&typed).to_be_bytes());
    png.splice(33..33, chunk);
    assert!(image::load_from_memory(&png).is_ok());
    let id = add(&app, &desktop, "image/png", png).await;
    let (_, report) = app.post("/api/medtech/attachments/commit", json!({"imageIds": [id]}), &desktop).await;
    assert_eq!(report["results"][0]["status"], "committed", "{report}");
    let (filed, _) = filed_bytes(&sandbox, report["results"][0]["resourceId"].as_str().unwrap()).await;
    assert!(!filed.windows(8).any(|w| w == b"Location"), "the text chunk was filed");
    assert!(image::load_from_memory(&filed).is_ok());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test]
async fn an_edit_raced_against_a_commit_never_files_anything_but_what_was_confirmed() {
    let sandbox = SandboxServer::start().await;
    let app = app_with(&sandbox, &[]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let (mut edits_won, mut commits_won) = (0, 0);
    for round in 0..12 {
        let original = jpeg(40 + round, 30);
        let id = add(&app, &desktop, "image/jpeg", original.clone()).await;
        let edit = add(&app, &desktop, "image/jpeg", jpeg(20, 20)).await;
        let confirmed = revision(&app, &desktop, &id).await;
        let commit = app.post(
            "/api/medtech/attachments/commit",
            json!({"imageIds": [id], "revisions": {id.clone(): confirmed}}),
            &desktop,
        );
        let replace = async {
            // Half the rounds give the commit a head start.
            tokio::time::sleep(Duration::from_millis(if round % 2 == 0 { 0 } else { 3 })).await;
            app.post(
                "/api/medtech/session/images/version",
                json!({"imageId": id, "replacementId": edit}),
                &desktop,
            )
            .await
        };
        let ((_, report), (edit_status, _)) = tokio::join!(commit, replace);
        let result = &report["results"][0];
        match (result["status"].as_str(), edit_status) {
            (Some("committed"), 200) => {
                panic!("round {round}: both the edit and the commit went through: {report}")
            }
            (Some("committed"), _) => {
                commits_won += 1;
                let (filed, _) = filed_bytes(&sandbox, result["resourceId"].as_str().unwrap()).await;
                let (a, b) =
                    (image::load_from_memory(&original).unwrap(), image::load_from_memory(&filed).unwrap());
                assert_eq!(
                    (a.width(), a.height()),
                    (b.width(), b.height()),
                    "round {round}: not the confirmed photo"
                );
                assert_eq!(a.to_rgb8(), b.to_rgb8());
            }
            // The edit landed first: the commit refused the changed photo,
            // or met the edit's claim and filed nothing.
            (Some("failed" | "skipped"), 200) => {
                edits_won += 1;
                let message = result["message"].as_str().unwrap();
                assert!(
                    message.contains("changed after you reviewed") || message.contains("being changed"),
                    "{report}"
                );
            }
            other => panic!("round {round}: {other:?} {report}"),
        }
    }
    let inbox = sandbox.json("/inbox.json").await;
    assert_eq!(inbox.as_array().unwrap().len(), commits_won, "one filing per commit that won");
    assert_eq!(edits_won + commits_won, 12);
}

#[tokio::test]
async fn a_commit_stretched_past_its_claims_lifetime_by_a_slow_alex_files_once() {
    let sandbox = SandboxServer::start().await;
    // A 2-second claim; the sandbox holds the POST for 5 seconds.
    let app = app_with(&sandbox, &[("COMMIT_CLAIM_TTL_SECS", "2"), ("ALEX_COMMIT_BUDGET_SECS", "30")]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let id = add(&app, &desktop, "image/jpeg", jpeg(24, 24)).await;
    sandbox.fault(json!({"count": 1, "delayMs": 5000, "path": "/Media"})).await;
    let first = app.post("/api/medtech/attachments/commit", json!({"imageIds": [id]}), &desktop);
    let second = async {
        tokio::time::sleep(Duration::from_millis(3000)).await;
        app.post("/api/medtech/attachments/commit", json!({"imageIds": [id]}), &desktop).await
    };
    let ((_, first), (_, second)) = tokio::join!(first, second);
    assert_eq!(first["results"][0]["status"], "committed", "{first}");
    assert_eq!(second["results"][0]["status"], "skipped", "the first still holds the claim: {second}");
    let inbox = sandbox.json("/inbox.json").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1, "exactly one filing");
}
