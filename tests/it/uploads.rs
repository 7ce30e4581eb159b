//! The upload flow over HTTP against real Redis and S3 (ministack,
//! AUTH=true), and against the embedded backends: presign, PUT, register,
//! list, metadata, delete, phone tokens, limits and isolation.

use crate::common;
use crate::common::{jpeg, service_vars, Auth, TestApp};
use serde_json::{json, Value};

const PATIENT_A: &str = "14e52e16edb7a435bfa05e307afd008b";
const PATIENT_B: &str = "aaaabbbbccccdddd0000111122223333";

async fn upload(app: &TestApp, auth: &Auth, content_type: &str, body: Vec<u8>) -> Value {
    app.upload(auth, content_type, body).await
}

async fn register(app: &TestApp, auth: &Auth, image_id: &str) -> (u16, Value) {
    app.register(auth, image_id).await
}

async fn full_flow(app: TestApp) {
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let photo = jpeg(64, 48);
    let ticket = upload(&app, &desktop, "image/jpeg", photo.clone()).await;
    let id = ticket["imageId"].as_str().unwrap();

    let (status, image) = register(&app, &desktop, id).await;
    assert_eq!(status, 200, "{image}");
    assert_eq!(image["width"], 64);
    assert_eq!(image["height"], 48);
    assert_eq!(image["source"], "desktop");
    assert_eq!(image["status"], json!({"state": "uploaded"}));

    // Registering again (a client retry) changes nothing.
    let (status, again) = register(&app, &desktop, id).await;
    assert_eq!(status, 200);
    assert_eq!(again["imageId"], image["imageId"]);

    let (status, list) = app.get("/api/medtech/session/images", &desktop).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let preview = list[0]["previewUrl"].as_str().unwrap();
    let fetched = app.http.get(preview).send().await.unwrap().bytes().await.unwrap();
    assert!(fetched.as_ref() == photo.as_slice(), "preview URL serves the uploaded bytes");

    let metadata = json!({"laterality": "left", "bodySite": "14975008", "view": "closeUp", "type": "rash", "description": "Itchy for 2 weeks"});
    let (status, updated) = app
        .post("/api/medtech/session/images/metadata", json!({"imageId": id, "metadata": metadata}), &desktop)
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["metadata"], metadata);

    let bad = json!({"imageId": id, "metadata": {"bodySite": "43799004x"}});
    let (status, _) = app.post("/api/medtech/session/images/metadata", bad, &desktop).await;
    assert_eq!(status, 400, "unknown SNOMED codes are refused");

    let (status, _) = app.post("/api/medtech/session/images/delete", json!({"imageId": id}), &desktop).await;
    assert_eq!(status, 200);
    let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
    assert_eq!(list, json!([]));
    let (status, _) = register(&app, &desktop, id).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn upload_flow_with_redis_and_s3() {
    full_flow(TestApp::start(service_vars()).await).await;
}

#[tokio::test]
async fn upload_flow_embedded() {
    full_flow(TestApp::start(vec![]).await).await;
}

#[tokio::test]
async fn a_non_image_is_rejected_and_its_blob_deleted() {
    for vars in [service_vars(), vec![]] {
        let app = TestApp::start(vars).await;
        let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
        let ticket = upload(&app, &desktop, "image/jpeg", b"%PDF-1.7 this is not a photo".to_vec()).await;
        let id = ticket["imageId"].as_str().unwrap();
        let (status, body) = register(&app, &desktop, id).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body, json!({"kind": "upload", "detail": "notAnImage"}));
        let key = session_key(&desktop);
        assert!(app.state.sessions.exists(&key).await.unwrap(), "the session's key");
        let records = app.state.sessions.images(&key).await.unwrap();
        assert!(records.is_empty(), "the record is gone");
        let key = format!("{}/{id}", &key[..32]);
        assert_eq!(app.state.blobs.head(&key).await.unwrap(), None, "the blob is gone");
    }
}

fn session_key(auth: &Auth) -> clinical_images::server::stores::session_store::SessionKey {
    let Auth::Cookie(c) = auth else { panic!("desktop cookie expected") };
    common::session_key(c)
}

#[tokio::test]
async fn presigned_put_refuses_wrong_type_length_and_expiry() {
    let mut vars = service_vars();
    vars.push(("UPLOAD_URL_TTL_SECS".into(), "1".into()));
    for vars in [vars, vec![("UPLOAD_URL_TTL_SECS".into(), "1".into())]] {
        let app = TestApp::start(vars).await;
        let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
        let photo = jpeg(32, 32);
        let (_, ticket) = app
            .post(
                "/api/medtech/session/presigned-url",
                json!({"contentType": "image/jpeg", "size": photo.len()}),
                &desktop,
            )
            .await;
        let url = ticket["uploadUrl"].as_str().unwrap().to_owned();

        let wrong_type =
            app.http.put(&url).header("content-type", "image/png").body(photo.clone()).send().await.unwrap();
        assert!(wrong_type.status().is_client_error(), "wrong type: {}", wrong_type.status());
        let mut longer = photo.clone();
        longer.push(0);
        let wrong_len =
            app.http.put(&url).header("content-type", "image/jpeg").body(longer).send().await.unwrap();
        assert!(wrong_len.status().is_client_error(), "wrong length: {}", wrong_len.status());

        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let late =
            app.http.put(&url).header("content-type", "image/jpeg").body(photo.clone()).send().await.unwrap();
        assert!(late.status().is_client_error(), "expired: {}", late.status());
    }
}

#[tokio::test]
async fn refusals_are_typed() {
    let mut vars = service_vars();
    vars.push(("MAX_IMAGES_PER_SESSION".into(), "2".into()));
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let presign = |ct: &'static str, size: u64| {
        let app = &app;
        let desktop = &desktop;
        async move {
            app.post("/api/medtech/session/presigned-url", json!({"contentType": ct, "size": size}), desktop)
                .await
        }
    };
    assert_eq!(
        presign("application/pdf", 10).await,
        (415, json!({"kind": "upload", "detail": "unsupportedType"}))
    );
    assert_eq!(
        presign("image/jpeg", 9_000_000).await,
        (413, json!({"kind": "upload", "detail": "tooLarge"}))
    );
    assert_eq!(presign("image/jpeg", 0).await.0, 413);
    assert_eq!(presign("image/heic", 10).await.0, 200);
    assert_eq!(presign("image/png", 10).await.0, 200);
    assert_eq!(presign("image/webp", 10).await, (409, json!({"kind": "upload", "detail": "tooManyImages"})));
}

#[tokio::test]
async fn twenty_parallel_registrations_all_appear_once() {
    let app = TestApp::start(service_vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let photo = jpeg(16, 16);
    let mut tickets = Vec::new();
    for _ in 0..20 {
        tickets.push(upload(&app, &desktop, "image/jpeg", photo.clone()).await);
    }
    let results = futures::future::join_all(
        tickets.iter().map(|t| register(&app, &desktop, t["imageId"].as_str().unwrap())),
    )
    .await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
    let mut ids: Vec<&str> =
        list.as_array().unwrap().iter().map(|i| i["imageId"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}

#[tokio::test]
async fn phones_upload_and_see_only_their_own() {
    let app = TestApp::start(service_vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let (status, grant) = app.post("/api/medtech/session/mobile-token", json!({}), &desktop).await;
    assert_eq!(status, 200, "{grant}");
    let url = grant["mobileUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/medtech-images/mobile?t=", app.base)), "{url}");
    assert!(grant["qrSvg"].as_str().unwrap().contains("<svg"));
    let phone = Auth::Bearer(url.split("t=").nth(1).unwrap().to_owned());

    let (status, link) = app.post("/api/medtech/session/token", json!({}), &phone).await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["patientBanner"], "Patient ···08b · F2N060-E");

    let mine = upload(&app, &phone, "image/jpeg", jpeg(20, 10)).await;
    let (status, image) = register(&app, &phone, mine["imageId"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{image}");
    assert_eq!(image["source"], "mobile");
    let desktops = upload(&app, &desktop, "image/jpeg", jpeg(10, 10)).await;
    register(&app, &desktop, desktops["imageId"].as_str().unwrap()).await;

    let (_, phone_list) = app.get("/api/medtech/session/images", &phone).await;
    assert_eq!(phone_list.as_array().unwrap().len(), 1, "a phone lists only its uploads");
    let (_, desktop_list) = app.get("/api/medtech/session/images", &desktop).await;
    assert_eq!(desktop_list.as_array().unwrap().len(), 2);

    // A phone may not edit, delete, register the desktop's upload, or mint.
    let id = desktops["imageId"].as_str().unwrap();
    let (s, _) = app
        .post("/api/medtech/session/images/metadata", json!({"imageId": id, "metadata": {}}), &phone)
        .await;
    assert_eq!(s, 403);
    let (s, _) = app.post("/api/medtech/session/images/delete", json!({"imageId": id}), &phone).await;
    assert_eq!(s, 403);
    let (s, _) = register(&app, &phone, id).await;
    assert_eq!(s, 404);
    // Every desktop-only endpoint refuses a phone's link the same way: it is
    // a credential, but not one that may do this (403).
    for (path, body) in [
        ("/api/medtech/session/mobile-token", json!({})),
        ("/api/medtech/session/images/version", json!({"imageId": id, "replacementId": id})),
        ("/api/medtech/session/images/revert", json!({"imageId": id})),
        ("/api/medtech/attachments/commit", json!({})),
        ("/api/medtech/attachments/audit", json!({})),
        ("/api/medtech/session/end", json!({})),
    ] {
        let (s, body) = app.post(path, body, &phone).await;
        assert_eq!((s, body), (403, json!({"kind": "forbidden"})), "{path}");
    }

    // A new QR code revokes the old token.
    let (_, second) = app.post("/api/medtech/session/mobile-token", json!({}), &desktop).await;
    assert_ne!(second["mobileUrl"], grant["mobileUrl"]);
    let (s, body) = app.post("/api/medtech/session/token", json!({}), &phone).await;
    assert_eq!((s, body), (401, json!({"kind": "token", "detail": "revoked"})));
    let (s, _) = app
        .post("/api/medtech/session/presigned-url", json!({"contentType": "image/jpeg", "size": 10}), &phone)
        .await;
    assert_eq!(s, 401, "a revoked token can no longer upload");
}

#[tokio::test]
async fn an_idle_token_expires() {
    let mut vars = service_vars();
    vars.push(("MOBILE_TOKEN_TTL_SECS".into(), "1".into()));
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let phone = app.phone(&desktop).await;
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let (s, body) = app.post("/api/medtech/session/token", json!({}), &phone).await;
    assert_eq!((s, body), (401, json!({"kind": "token", "detail": "notFound"})));
}

#[tokio::test]
async fn session_a_credentials_cannot_touch_session_b() {
    let app = TestApp::start(service_vars()).await;
    let a = Auth::Cookie(app.launch(PATIENT_A).await);
    let b = Auth::Cookie(app.launch(PATIENT_B).await);
    let (_, grant_a) = app.post("/api/medtech/session/mobile-token", json!({}), &a).await;
    let phone_a = Auth::Bearer(grant_a["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned());
    let ticket_b = upload(&app, &b, "image/jpeg", jpeg(8, 8)).await;
    let id_b = ticket_b["imageId"].as_str().unwrap();
    let (s, _) = register(&app, &b, id_b).await;
    assert_eq!(s, 200);

    for intruder in [&a, &phone_a] {
        let (s, _) = register(&app, intruder, id_b).await;
        assert!(s == 403 || s == 404, "register: {s}");
        let (s, _) = app
            .post("/api/medtech/session/images/metadata", json!({"imageId": id_b, "metadata": {}}), intruder)
            .await;
        assert!(s == 403 || s == 404, "metadata: {s}");
        let (s, _) = app.post("/api/medtech/session/images/delete", json!({"imageId": id_b}), intruder).await;
        assert!(s == 403 || s == 404, "delete: {s}");
        let (_, list) = app.get("/api/medtech/session/images", intruder).await;
        assert!(!list.to_string().contains(id_b), "list leaks B's image");
    }
    let (_, list_b) = app.get("/api/medtech/session/images", &b).await;
    assert_eq!(list_b.as_array().unwrap().len(), 1, "B's image survived");
}

#[tokio::test]
async fn the_bucket_lets_only_the_app_origin_upload_from_a_browser() {
    let vars = service_vars();
    let bucket = vars.iter().find(|(k, _)| k == "S3_BUCKET").unwrap().1.clone();
    let endpoint = vars.iter().find(|(k, _)| k == "S3_ENDPOINT").unwrap().1.clone();
    let app = TestApp::start(vars).await;
    let preflight = |origin: String| {
        let http = app.http.clone();
        let url = format!("{endpoint}/{bucket}/sessions/x");
        async move {
            http.request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "PUT")
                .header("access-control-request-headers", "content-type")
                .send()
                .await
                .unwrap()
        }
    };
    let ours = preflight(app.base.clone()).await;
    assert!(ours.status().is_success(), "{}", ours.status());
    assert_eq!(ours.headers()["access-control-allow-origin"], app.base.as_str());
    let theirs = preflight("https://evil.example".into()).await;
    assert!(theirs.headers().get("access-control-allow-origin").is_none_or(|v| v != "https://evil.example"));

    let store = s3_store(&app);
    let rules = store.client().get_bucket_lifecycle_configuration().bucket(&bucket).send().await.unwrap();
    let rule = &rules.rules()[0];
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(1), "lifecycle backstop of one day");
}

/// A second client on the app's bucket, to inspect its configuration.
fn s3_store(app: &TestApp) -> clinical_images::server::stores::blob::S3BlobStore {
    let clinical_images::server::config::BlobBackend::S3(cfg) = &app.state.config.blobs else {
        panic!("S3 configured")
    };
    clinical_images::server::stores::blob::S3BlobStore::new(cfg)
}

#[tokio::test]
async fn a_declared_sha256_must_match_the_bytes() {
    use sha2::Digest;
    let app = TestApp::start(service_vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    for (photo, declared, expected) in [
        (jpeg(9, 9), hex::encode(sha2::Sha256::digest(jpeg(9, 9))), 200),
        (jpeg(9, 9), hex::encode(sha2::Sha256::digest(b"other bytes")), 422),
    ] {
        let body = json!({"contentType": "image/jpeg", "size": photo.len(), "sha256": declared});
        let (_, ticket) = app.post("/api/medtech/session/presigned-url", body, &desktop).await;
        let put = app.http.put(ticket["uploadUrl"].as_str().unwrap()).header("content-type", "image/jpeg");
        assert!(put.body(photo).send().await.unwrap().status().is_success());
        let (status, body) = register(&app, &desktop, ticket["imageId"].as_str().unwrap()).await;
        assert_eq!(status, expected, "{body}");
    }
    let bad = json!({"contentType": "image/jpeg", "size": 10, "sha256": "zz"});
    assert_eq!(app.post("/api/medtech/session/presigned-url", bad, &desktop).await.0, 400);
}

#[tokio::test]
async fn phone_requests_are_rate_limited_per_token() {
    let app = TestApp::start(vec![
        ("RATE_LIMIT_BURST".into(), "3".into()),
        ("RATE_LIMIT_PER_SECOND".into(), "1".into()),
    ])
    .await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let phone = app.phone(&desktop).await;
    for _ in 0..3 {
        assert_eq!(app.post("/api/medtech/session/token", json!({}), &phone).await.0, 200);
    }
    // One token a second refills: ten more calls cannot all fit unless the
    // machine takes over seven seconds for them, so no timing margin matters.
    let mut refusal = None;
    for _ in 0..10 {
        let (s, body) = app.post("/api/medtech/session/token", json!({}), &phone).await;
        if s == 429 {
            refusal = Some(body);
            break;
        }
    }
    assert_eq!(refusal, Some(json!({"kind": "rateLimited"})));
    // The desktop (cookie) is not limited by the phone's bucket.
    assert_eq!(app.get("/api/medtech/session/images", &desktop).await.0, 200);
}

#[tokio::test]
async fn images_list_in_the_order_they_were_added() {
    let app = TestApp::start(service_vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let ticket = upload(&app, &desktop, "image/jpeg", jpeg(8, 8)).await;
        let id = ticket["imageId"].as_str().unwrap().to_owned();
        assert_eq!(register(&app, &desktop, &id).await.0, 200);
        ids.push(id);
    }
    let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
    let listed: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["imageId"].as_str().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
}

/// Presigns with a pick time, PUTs and registers; returns the image id.
async fn upload_picked(app: &TestApp, auth: &Auth, picked_at: u64) -> String {
    let photo = jpeg(8, 8);
    let request = json!({"contentType": "image/jpeg", "size": photo.len(), "pickedAt": picked_at});
    let (status, ticket) = app.post("/api/medtech/session/presigned-url", request, auth).await;
    assert_eq!(status, 200, "{ticket}");
    app.put_to(&ticket, photo).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    assert_eq!(register(app, auth, &id).await.0, 200);
    id
}

#[tokio::test]
async fn a_phones_photos_list_in_the_order_they_were_picked_not_sent() {
    for vars in [service_vars(), vec![]] {
        let app = TestApp::start(vars).await;
        let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
        let phone = app.phone(&desktop).await;
        assert_eq!(app.post("/api/medtech/session/token", json!({}), &phone).await.0, 200);

        // The phone's clock is an hour behind; it picked three photos within
        // 2 ms and its uploads finished third, first, second.
        let phone_clock = clinical_images::server::support::clock::unix_now_ms() - 3_600_000;
        let third = upload_picked(&app, &phone, phone_clock + 2).await;
        let first = upload_picked(&app, &phone, phone_clock).await;
        // The desktop's own photo, picked and sent while the phone's went.
        let on_desktop = upload(&app, &desktop, "image/jpeg", jpeg(8, 8)).await;
        let on_desktop = on_desktop["imageId"].as_str().unwrap().to_owned();
        assert_eq!(register(&app, &desktop, &on_desktop).await.0, 200);
        let second = upload_picked(&app, &phone, phone_clock + 1).await;

        let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
        let listed: Vec<&str> =
            list.as_array().unwrap().iter().map(|i| i["imageId"].as_str().unwrap()).collect();
        // The phone's three in pick order, placed on the server's clock at
        // the first of them to arrive; the desktop's after.
        assert_eq!(listed, [&first, &second, &third, &on_desktop]);
    }
}

#[tokio::test]
async fn forty_registrations_of_one_image_verify_it_once() {
    let app = TestApp::start(vec![]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let ticket = app.upload(&desktop, "image/jpeg", jpeg(640, 480)).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    let before = app.state.verifications.load(std::sync::atomic::Ordering::SeqCst);
    let all = futures::future::join_all((0..40).map(|_| app.register(&desktop, &id))).await;
    for (status, body) in &all {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["imageId"], id.as_str());
        assert_eq!(body["width"], 640);
    }
    let after = app.state.verifications.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(after - before, 1, "one registration did the work; the others waited for it");
}

#[tokio::test]
async fn a_registration_that_waits_too_long_for_verification_is_told_to_come_back() {
    let app = TestApp::start(vec![
        ("VERIFY_CONCURRENCY".into(), "1".into()),
        ("VERIFY_QUEUE_SECS".into(), "1".into()),
    ])
    .await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let ticket = app.upload(&desktop, "image/jpeg", jpeg(32, 32)).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    // Every verification place is busy.
    let held = app.state.verify_slots.clone().acquire_owned().await.unwrap();
    let res =
        common::as_desktop(app.http.post(app.url("/api/medtech/session/images")), desktop_cookie(&desktop))
            .json(&serde_json::json!({"imageId": id}))
            .send()
            .await
            .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    assert!(res.headers().get("retry-after").is_some(), "503 says when to come back");
    drop(held);
    // Nothing was lost: the retry registers it.
    assert_eq!(app.register(&desktop, &id).await.0, 200);
}

fn desktop_cookie(auth: &Auth) -> &str {
    match auth {
        Auth::Cookie(c) => c,
        _ => unreachable!(),
    }
}

/// A slot registered, refused or filed takes no more bytes where it can
/// refuse them (local disk: 410), and in S3, which cannot revoke a signed
/// URL, what lands there is never shown or filed and is swept.
async fn late_uploads_are_refused_or_swept(mut vars: Vec<(String, String)>, s3: bool) {
    use clinical_images::server::services::upload_slots::blob_dir;
    vars.push(("BLOB_SWEEP_SECS".into(), "1".into()));
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let late = |ticket: Value, bytes: Vec<u8>| {
        let http = app.http.clone();
        async move { common::signed_put_status(&http, &ticket, bytes).await }
    };
    let expected = if s3 { 200 } else { 410 };
    let junk = b"not a photo at all, just some text".repeat(20);

    // Refused at registration.
    let refused = app.upload(&desktop, "image/jpeg", junk.clone()).await;
    let (status, _) = app.register(&desktop, refused["imageId"].as_str().unwrap()).await;
    assert_eq!(status, 422);
    assert_eq!(late(refused.clone(), junk.clone()).await, expected, "after a refusal");

    // Registered, then PUT again: the stored photo is what was verified.
    let photo = jpeg(40, 30);
    let ticket = app.upload(&desktop, "image/jpeg", photo.clone()).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    assert_eq!(app.register(&desktop, &id).await.0, 200);
    // The same length (the URL is signed for it), other bytes.
    let mut swapped = photo.clone();
    let middle = swapped.len() / 2;
    swapped[middle] ^= 0xff;
    assert_eq!(late(ticket.clone(), swapped.clone()).await, expected, "after registration");
    let key = session_key(&desktop);
    let record = app.state.sessions.image(&key, &id).await.unwrap().unwrap();
    let (_, stored) = app.state.blobs.get(&record.blob_key).await.unwrap().unwrap();
    assert_eq!(stored, photo, "a late PUT never changes the stored photo");

    // Filed, then PUT again.
    let report = app.commit(&desktop, Some(vec![id.as_str()])).await;
    assert_eq!(common::statuses(&report), ["committed"], "{report}");
    assert_eq!(late(ticket.clone(), swapped).await, expected, "after the commit");

    // What is left in the session's folder is swept within a few passes.
    let dir = blob_dir(&key).to_owned();
    let listed = app.state.blobs.list(&dir).await.unwrap();
    if s3 {
        assert_eq!(listed.len(), 2, "two late PUTs left orphans: {listed:?}");
    }
    until_swept(&app, &dir, 10).await;
}

/// Waits up to `secs` for the sweep to empty the session's folder.
async fn until_swept(app: &TestApp, dir: &str, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let left = app.state.blobs.list(dir).await.unwrap();
        if left.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not swept: {left:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn on_local_disk_a_closed_slot_refuses_late_uploads() {
    late_uploads_are_refused_or_swept(vec![], false).await;
}

#[tokio::test]
async fn in_s3_late_uploads_are_never_used_and_are_swept() {
    late_uploads_are_refused_or_swept(service_vars(), true).await;
}

#[tokio::test]
async fn a_live_photo_and_an_open_slot_are_never_swept() {
    use clinical_images::server::services::{sweep::sweep_session, upload_slots::blob_dir};
    let app = TestApp::start(service_vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let key = session_key(&desktop);
    let registered = app.upload(&desktop, "image/jpeg", jpeg(20, 20)).await;
    assert_eq!(app.register(&desktop, registered["imageId"].as_str().unwrap()).await.0, 200);
    // Uploaded, not yet registered: its slot is open.
    let pending = app.upload(&desktop, "image/jpeg", jpeg(22, 20)).await;
    assert_eq!(sweep_session(&app.state, &key).await.unwrap(), 0);
    assert_eq!(app.state.blobs.list(blob_dir(&key)).await.unwrap().len(), 2);
    assert_eq!(app.register(&desktop, pending["imageId"].as_str().unwrap()).await.0, 200);
    // Ending the session takes its whole folder.
    let (status, _) = app.post("/api/medtech/session/end", json!({}), &desktop).await;
    assert_eq!(status, 200);
    assert!(app.state.blobs.list(blob_dir(&key)).await.unwrap().is_empty());
}

/// A photo removed or discarded on the phone before it was sent: its upload
/// is cancelled. The bytes already in the blob store go at once (not when
/// the reservation lapses), its place among the phone's reservations is
/// freed, and the desktop never saw it. Only that phone's unregistered
/// uploads can be cancelled.
async fn a_cancelled_upload_leaves_nothing_and_frees_its_place(mut vars: Vec<(String, String)>) {
    use clinical_images::server::services::upload_slots::blob_dir;
    vars.push(("MAX_PENDING_UPLOADS_PER_PHONE".into(), "2".into()));
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let phone = app.phone(&desktop).await;
    let dir = blob_dir(&session_key(&desktop)).to_owned();
    let cancel = |id: String, auth: &Auth| {
        let auth = match auth {
            Auth::Bearer(t) => Auth::Bearer(t.clone()),
            Auth::Cookie(c) => Auth::Cookie(c.clone()),
            Auth::None => Auth::None,
        };
        let app = &app;
        async move { app.post("/api/medtech/session/uploads/cancel", json!({ "imageId": id }), &auth).await }
    };

    // Two photos uploaded during review, not sent: the phone's two places.
    let first = upload(&app, &phone, "image/jpeg", jpeg(30, 20)).await;
    let second = upload(&app, &phone, "image/jpeg", jpeg(20, 30)).await;
    let first_id = first["imageId"].as_str().unwrap().to_owned();
    assert_eq!(app.state.blobs.list(&dir).await.unwrap().len(), 2, "both uploads are in the blob store");
    let ask = json!({"contentType": "image/jpeg", "size": 100});
    let (status, _) = app.post("/api/medtech/session/presigned-url", ask.clone(), &phone).await;
    assert_eq!(status, 429, "the phone's places are taken");

    // Removed at review: its bytes are gone at once.
    let (status, body) = cancel(first_id.clone(), &phone).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.state.blobs.list(&dir).await.unwrap().len(),
        1,
        "the cancelled upload's bytes are deleted"
    );
    assert!(app.state.sessions.image(&session_key(&desktop), &first_id).await.unwrap().is_none());
    assert_eq!(register(&app, &phone, &first_id).await.0, 404, "a cancelled upload cannot be registered");
    assert_eq!(cancel(first_id.clone(), &phone).await.0, 200, "cancelling again is harmless");
    // Removed while its bytes were on their way: the phone cancels at once,
    // and again when the PUT ends. Local disk refuses the late PUT (the slot
    // is closed); S3 takes it, and the second cancel deletes it there and then.
    let ticket = upload(&app, &phone, "image/jpeg", jpeg(28, 20)).await;
    let late_id = ticket["imageId"].as_str().unwrap().to_owned();
    assert_eq!(cancel(late_id.clone(), &phone).await.0, 200);
    let landed = common::signed_put_status(&app.http, &ticket, jpeg(28, 20)).await;
    assert!(landed == 200 || landed == 410, "{landed}");
    assert_eq!(cancel(late_id.clone(), &phone).await.0, 200);
    let left = app.state.blobs.list(&dir).await.unwrap();
    assert!(!left.iter().any(|k| k.contains(late_id.as_str())), "the late PUT's bytes are deleted: {left:?}");
    // An id that is no image id, or another spelling of a live one (here
    // the desktop's pending upload, upper-cased), touches nothing.
    let desktops_pending = upload(&app, &desktop, "image/jpeg", jpeg(18, 18)).await;
    let pending_id = desktops_pending["imageId"].as_str().unwrap().to_owned();
    let before = app.state.blobs.list(&dir).await.unwrap();
    for other in ["../../elsewhere".to_owned(), pending_id.to_uppercase(), pending_id.replace('-', "")] {
        assert_eq!(cancel(other.clone(), &phone).await.0, 200, "{other}");
        assert_eq!(app.state.blobs.list(&dir).await.unwrap(), before, "{other} touched nothing");
    }
    assert_eq!(cancel(pending_id, &desktop).await.0, 200);
    // Its place is free again.
    let third = upload(&app, &phone, "image/jpeg", jpeg(24, 24)).await;

    // Another phone's upload, or the desktop's, is not this phone's to cancel.
    let desktops = upload(&app, &desktop, "image/jpeg", jpeg(16, 16)).await;
    let desktops_id = desktops["imageId"].as_str().unwrap().to_owned();
    assert_eq!(cancel(desktops_id.clone(), &phone).await.0, 404);
    assert_eq!(app.state.blobs.list(&dir).await.unwrap().len(), 3);
    // A registered photo is not cancelled: it stays, for the desktop to delete.
    let third_id = third["imageId"].as_str().unwrap().to_owned();
    assert_eq!(register(&app, &phone, &third_id).await.0, 200);
    assert_eq!(cancel(third_id.clone(), &phone).await.0, 403);
    // The desktop may cancel its own unregistered upload.
    assert_eq!(cancel(desktops_id, &desktop).await.0, 200);

    // The desktop only ever saw the photo that was sent.
    let (_, listed) = app.get("/api/medtech/session/images", &desktop).await;
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|i| i["imageId"].as_str().unwrap()).collect();
    assert_eq!(ids, [third_id.as_str()]);
    // Left: the sent photo, and the second upload, never sent nor
    // cancelled, which lapses with its URL and is swept.
    let left = app.state.blobs.list(&dir).await.unwrap();
    assert_eq!(left.len(), 2, "{left:?}");
    let second_id = second["imageId"].as_str().unwrap();
    assert!(left.iter().any(|k| k.ends_with(&format!("upload-{second_id}"))), "{left:?}");
    assert!(!left.iter().any(|k| k.contains(first_id.as_str())), "nothing of the cancelled upload: {left:?}");
}

#[tokio::test]
async fn a_cancelled_upload_leaves_nothing_in_s3_and_frees_its_place() {
    a_cancelled_upload_leaves_nothing_and_frees_its_place(service_vars()).await;
}

#[tokio::test]
async fn a_cancelled_upload_leaves_nothing_on_local_disk_and_frees_its_place() {
    a_cancelled_upload_leaves_nothing_and_frees_its_place(vec![]).await;
}

/// A review abandoned without a word (the page closed, the phone put away):
/// its uploads were never registered nor cancelled. Once their reservations
/// lapse (the URL's 2 s here, plus the minute's grace to register), the
/// sweep deletes the bytes; nothing was ever listed. (About a minute long.)
#[tokio::test]
async fn an_abandoned_review_leaves_no_bytes_once_its_uploads_expire() {
    use clinical_images::server::services::upload_slots::blob_dir;
    let mut vars = service_vars();
    vars.push(("UPLOAD_URL_TTL_SECS".into(), "2".into()));
    vars.push(("BLOB_SWEEP_SECS".into(), "1".into()));
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT_A).await);
    let phone = app.phone(&desktop).await;
    let dir = blob_dir(&session_key(&desktop)).to_owned();
    for size in [20, 24, 28] {
        upload(&app, &phone, "image/jpeg", jpeg(size, size)).await;
    }
    assert_eq!(app.state.blobs.list(&dir).await.unwrap().len(), 3, "uploaded during the review");
    until_swept(&app, &dir, 90).await;
    let (_, listed) = app.get("/api/medtech/session/images", &desktop).await;
    assert_eq!(listed, json!([]), "the desktop never saw them");
}
