//! Fuzzing, bounded so it runs in the test command:
//! - property tests (proptest) of the parsers that read untrusted bytes: the
//!   registration verifier, the EXIF reader, the JPEG metadata stripper and
//!   the HEIC container parser: no panic, and what `strip` returns is clean;
//! - 10,000 generated bodies (malformed JSON, wrong types, huge strings,
//!   unicode) sent to every `/api` endpoint of a running instance: no 5xx.
//!
//! `FUZZ_CASES` and `FUZZ_BODIES` scale the runs (BENCHMARKS.md, "Fuzzing").

use crate::common;
use crate::common::{jpeg, Auth, TestApp};
use clinical_images::pipeline::exif::{jpeg_exif, parse};
use clinical_images::pipeline::strip::{has_metadata, strip};
use clinical_images::server::services::verify::inspect;
use proptest::prelude::*;
use serde_json::{json, Value};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

/// A real JPEG with EXIF, so mutations explore the interesting structure.
fn seed_jpeg() -> Vec<u8> {
    let photo = jpeg(24, 16);
    let exif = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((exif.len() + 8) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&exif);
    [&photo[..2], &app1, &photo[2..]].concat()
}

/// A HEIF-looking prefix, so mutations reach the container parser.
fn seed_heic() -> Vec<u8> {
    let mut h = vec![0, 0, 0, 24];
    h.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    h.extend_from_slice(&[0, 0, 0, 40]);
    h.extend_from_slice(b"meta\0\0\0\0\0\0\0\x21hdlr\0\0\0\0\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
    h
}

/// The seed with a few bytes overwritten, inserted or cut.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    (
        proptest::collection::vec((0..len, any::<u8>()), 0..12),
        0..len + 1,
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(move |(writes, cut, tail)| {
            let mut b = seed.clone();
            for (at, v) in writes {
                b[at] = v;
            }
            b.truncate(cut.max(2));
            b.extend(tail);
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_stripper_never_panics_and_its_output_is_clean(bytes in prop_oneof![mutated(seed_jpeg()), any::<Vec<u8>>()]) {
        let _ = has_metadata(&bytes);
        if let Some(clean) = strip(&bytes) {
            prop_assert!(!has_metadata(&clean), "strip left metadata");
            prop_assert_eq!(strip(&clean), Some(clean.clone()), "strip is idempotent");
            prop_assert!(jpeg_exif(&clean).is_none());
        }
    }

    #[test]
    fn the_exif_reader_never_panics(bytes in prop_oneof![mutated(seed_jpeg()), any::<Vec<u8>>()]) {
        if let Some(exif) = jpeg_exif(&bytes) {
            let info = parse(exif);
            prop_assert!(info.orientation.is_none_or(|o| (1..=8).contains(&o)));
        }
        let _ = parse(&bytes);
    }

    #[test]
    fn the_registration_verifier_never_panics(
        bytes in prop_oneof![mutated(seed_jpeg()), mutated(seed_heic()), any::<Vec<u8>>()],
        declared in prop_oneof![Just("image/jpeg"), Just("image/png"), Just("image/webp"), Just("image/heic")],
    ) {
        if let Ok(found) = inspect(&bytes, declared, 10_000_000) {
            let pixels = u64::from(found.width.unwrap_or(0)) * u64::from(found.height.unwrap_or(0));
            prop_assert!(pixels <= 10_000_000);
        }
    }
}

fn bodies_wanted() -> usize {
    std::env::var("FUZZ_BODIES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// A small deterministic generator (xorshift), so a failure names its seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn value(&mut self, depth: u32) -> Value {
        let strings = ["", "x", "🙂 Ngāti", "\u{0}\u{202e}", "14975008", "image/jpeg", "left", "'; DROP --"];
        match self.next() % if depth > 2 { 6 } else { 8 } {
            0 => Value::Null,
            1 => json!(self.next().is_multiple_of(3)),
            2 => json!((self.next() as i64) >> (self.next() % 64)),
            3 => json!(f64::from_bits(self.next() & 0x7FEF_FFFF_FFFF_FFFF)),
            4 => json!(self.pick(&strings).to_string()),
            5 => json!("é".repeat((self.next() % 20_000) as usize)),
            6 => Value::Array((0..self.next() % 5).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let keys = [
                    "imageId",
                    "replacementId",
                    "metadata",
                    "contentType",
                    "size",
                    "sha256",
                    "imageIds",
                    "phoneId",
                    "capturedAt",
                    "bodySite",
                    "laterality",
                    "description",
                    "view",
                    "type",
                    "zzz",
                ];
                Value::Object(
                    (0..self.next() % 6)
                        .map(|_| (self.pick(&keys).to_string(), self.value(depth + 1)))
                        .collect(),
                )
            }
        }
    }

    fn body(&mut self) -> String {
        match self.next() % 10 {
            0 => String::new(),
            1 => "{".repeat((self.next() % 300) as usize),
            2 => {
                let s = self.value(0).to_string();
                let mut cut = (self.next() as usize) % (s.len() + 1);
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s[..cut].to_owned()
            }
            3 => {
                String::from_utf8_lossy(&(0..self.next() % 64).map(|_| self.next() as u8).collect::<Vec<_>>())
                    .into()
            }
            4 => format!("{{\"imageId\": \"{}\"}}", "a".repeat((self.next() % 70_000) as usize)),
            _ => self.value(0).to_string(),
        }
    }
}

#[tokio::test]
async fn ten_thousand_generated_bodies_get_no_5xx_from_any_endpoint() {
    let app = TestApp::start(vec![
        ("RATE_LIMIT_ADDRESS_BURST".into(), "1000000".into()),
        ("RATE_LIMIT_ADDRESS_PER_SECOND".into(), "1000000".into()),
        ("RATE_LIMIT_BURST".into(), "1000000".into()),
        ("RATE_LIMIT_PER_SECOND".into(), "1000000".into()),
    ])
    .await;
    let cookie = app.launch("14e52e16edb7a435bfa05e307afd008b").await;
    let (_, grant) =
        app.post("/api/medtech/session/mobile-token", json!({}), &Auth::Cookie(cookie.clone())).await;
    let token = grant["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned();
    let endpoints = [
        "/api/medtech/attachments/commit",
        "/api/medtech/attachments/audit",
        "/api/medtech/session/presigned-url",
        "/api/medtech/session/images",
        "/api/medtech/session/images/metadata",
        "/api/medtech/session/images/delete",
        "/api/medtech/session/images/version",
        "/api/medtech/session/images/revert",
        "/api/info",
        "/api/status",
        "/api/medtech/session/mobile-token",
        "/api/medtech/session/token",
        "/api/medtech/session",
        // The end last in each round would end the session; it is sent with
        // a wrong credential only (below).
    ];
    let mut gen = Gen(0x9E37_79B9_7F4A_7C15);
    let wanted = bodies_wanted();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut failures = Vec::new();
    let mut sent = 0;
    while sent < wanted {
        let batch: Vec<_> = (0..16)
            .map(|_| {
                let path = *gen.pick(&endpoints);
                let body = gen.body();
                let auth = gen.next() % 4;
                let content_type =
                    if gen.next().is_multiple_of(10) { "text/plain" } else { "application/json" };
                let mut req =
                    app.http.post(app.url(path)).header("content-type", content_type).body(body.clone());
                req = match auth {
                    0 => common::as_desktop(req, &cookie),
                    1 => req.header("authorization", format!("Bearer {token}")),
                    2 => req.header("authorization", format!("Bearer {}", gen.next())),
                    _ => req,
                };
                async move {
                    let res = req.send().await.expect("the server answers");
                    (path, body, res.status().as_u16())
                }
            })
            .collect();
        for (path, body, status) in futures::future::join_all(batch).await {
            *statuses.entry(status).or_default() += 1;
            if status >= 500 && failures.len() < 5 {
                failures.push(format!("{status} {path} {:.200}", body));
            }
        }
        sent += 16;
    }
    // And the end of the session, with a wrong credential and odd bodies.
    for _ in 0..50 {
        let res = app
            .http
            .post(app.url("/api/medtech/session/end"))
            .header("content-type", "application/json")
            .header("cookie", "ci_session=forged")
            .body(gen.body())
            .send()
            .await
            .unwrap();
        *statuses.entry(res.status().as_u16()).or_default() += 1;
        sent += 1;
    }
    println!("fuzzed {sent} bodies: statuses {statuses:?}");
    let server_errors: usize = statuses.range(500..).map(|(_, n)| n).sum();
    assert_eq!(server_errors, 0, "5xx answers, e.g. {failures:?}");
}
