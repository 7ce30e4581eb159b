//! The patient's earlier photos (issue 29): read from ALEX by the
//! documented search, newest first, with thumbnails made on the server;
//! `content.url` followed on ALEX's own host only; a refused search gives
//! the unavailable state; nothing read from ALEX outlives the session.

use serde_json::{json, Value};

use crate::common::{self, Auth, SandboxServer, TestApp};

/// Mere Example, whose earlier photos the sandbox holds from the start.
const MERE: &str = "c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8";
/// Where the phone asks for a retake's guide.
const GUIDE: &str = "/api/medtech/session/retake-guide";
/// Baby Unregistered: no NHI.
const NO_NHI: &str = "0a9b8c7d6e5f40312f1e0d9c8b7a6f5e";

async fn app_and_sandbox(extra: &[(&str, &str)]) -> (TestApp, SandboxServer) {
    let sandbox = SandboxServer::start().await;
    let mut vars = sandbox.vars();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    (TestApp::start(vars).await, sandbox)
}

async fn earlier(app: &TestApp, desktop: &Auth) -> (u16, Value) {
    app.get("/api/medtech/session/earlier-photos", desktop).await
}

async fn picture(url: &str) -> image::DynamicImage {
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    image::load_from_memory(&bytes).unwrap()
}

#[tokio::test]
async fn earlier_photos_come_newest_first_with_thumbnails_and_open_in_full_on_demand() {
    let (app, _sandbox) = app_and_sandbox(&[]).await;
    let desktop = Auth::Cookie(app.launch(MERE).await);
    let (status, list) = earlier(&app, &desktop).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|p| p["resourceId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["earlier-4", "earlier-3", "earlier-2", "earlier-1"], "newest first");
    let newest = &list[0];
    assert_eq!(newest["resourceType"], "Media");
    assert_eq!(newest["bodySite"], "14975008");
    assert_eq!(newest["laterality"], "left");
    assert_eq!(newest["siteText"], "Left forearm");
    assert_eq!(newest["description"], "Eczema, almost clear");
    assert_eq!(list[2]["laterality"], "right");
    // Every one has a thumbnail, the one filed by URL too: made here, small.
    for photo in list {
        let url = photo["thumbnailUrl"].as_str().unwrap_or_else(|| panic!("no thumbnail: {photo}"));
        let thumb = picture(url).await;
        assert!(thumb.width().max(thumb.height()) <= 320, "{}x{}", thumb.width(), thumb.height());
    }

    // The full picture only when opened, and only of a photo listed here.
    let open = |id: &str| json!({"resourceType": "Media", "resourceId": id});
    let (status, url) =
        app.post("/api/medtech/session/earlier-photos/open", open("earlier-3"), &desktop).await;
    assert_eq!(status, 200, "{url}");
    let full = picture(url.as_str().unwrap()).await;
    assert!(full.width().max(full.height()) > 320, "the full picture, not the thumbnail");
    let (status, _) =
        app.post("/api/medtech/session/earlier-photos/open", open("earlier-99"), &desktop).await;
    assert_eq!(status, 404);

    // Another patient's window sees none of them.
    let other = Auth::Cookie(app.launch("14e52e16edb7a435bfa05e307afd008b").await);
    let (status, theirs) = earlier(&app, &other).await;
    assert_eq!((status, theirs.as_array().unwrap().len()), (200, 0), "{theirs}");
    let (status, _) = app.post("/api/medtech/session/earlier-photos/open", open("earlier-3"), &other).await;
    assert_eq!(status, 404, "a photo listed for one session cannot be opened from another");

    // A phone's link may not list them.
    let (_, grant) = app.post("/api/medtech/session/mobile-token", json!({}), &desktop).await;
    let token = grant["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned();
    assert_eq!(earlier(&app, &Auth::Bearer(token)).await.0, 403);
}

#[tokio::test]
async fn a_content_url_on_another_host_is_never_followed() {
    let (app, sandbox) = app_and_sandbox(&[]).await;
    // A server elsewhere that counts who connects.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = elsewhere.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((_conn, _)) = elsewhere.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let filing = json!({"patientId": MERE, "resource": {
        "resourceType": "Media", "status": "completed",
        "subject": {"reference": format!("Patient/{MERE}")},
        "createdDateTime": "2026-12-01T09:00:00Z",
        "content": {"contentType": "image/jpeg", "url": format!("http://127.0.0.1:{port}/FHIR/Binary/1")}
    }});
    let res =
        reqwest::Client::new().post(format!("{}/earlier", sandbox.base)).json(&filing).send().await.unwrap();
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let desktop = Auth::Cookie(app.launch(MERE).await);
    let (status, list) = earlier(&app, &desktop).await;
    assert_eq!(status, 200, "{list}");
    let listed = list.as_array().unwrap().iter().find(|p| p["resourceId"] == id.as_str()).unwrap().clone();
    assert_eq!(listed["thumbnailUrl"], Value::Null, "listed, without a picture");
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0, "our token never went elsewhere");
}

#[tokio::test]
async fn a_refused_search_or_a_patient_without_an_nhi_gives_the_unavailable_state() {
    let (app, sandbox) = app_and_sandbox(&[]).await;
    let desktop = Auth::Cookie(app.launch(MERE).await);
    sandbox.fault(json!({"count": 1, "status": 403, "path": "/Media"})).await;
    let (status, body) = earlier(&app, &desktop).await;
    assert_eq!((status, body), (503, json!({"kind": "unavailable"})));
    // Capture and filing go on meanwhile.
    let id = app.add_photo(&desktop, 64).await;
    assert_eq!(common::statuses(&app.commit(&desktop, Some(vec![&id])).await), ["committed"]);
    assert_eq!(earlier(&app, &desktop).await.0, 200, "the fault spent, it answers");

    let unregistered = Auth::Cookie(app.launch(NO_NHI).await);
    let (status, body) = earlier(&app, &unregistered).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("no NHI"), "{body}");
}

#[tokio::test]
async fn nothing_read_from_alex_outlives_the_session() {
    let (app, _sandbox) = app_and_sandbox(&[]).await;
    let cookie = app.launch(MERE).await;
    let desktop = Auth::Cookie(cookie.clone());
    assert_eq!(earlier(&app, &desktop).await.0, 200);
    let key = clinical_images::server::stores::session_store::SessionKey::new(
        clinical_images::server::support::ids::hash_credential(cookie.split_once('=').unwrap().1),
    );
    let dir = clinical_images::server::services::earlier::cache_dir(&key);
    assert_eq!(
        app.state.blobs.list(&dir).await.unwrap().len(),
        12,
        "a thumbnail, the picture and its facts each"
    );
    // The sweep keeps them while the session lives.
    clinical_images::server::services::sweep::sweep_session(&app.state, &key).await.unwrap();
    assert_eq!(app.state.blobs.list(&dir).await.unwrap().len(), 12);
    assert_eq!(app.post("/api/medtech/session/end", json!({}), &desktop).await.0, 200);
    assert!(app.state.blobs.list(&dir).await.unwrap().is_empty(), "gone with the session");
}

#[tokio::test]
async fn in_scan_mode_the_photographs_filed_as_documents_are_listed_too() {
    let (app, _sandbox) = app_and_sandbox(&[("ALEX_COMMIT_MODE", "scan")]).await;
    let desktop = Auth::Cookie(app.launch(MERE).await);
    let id = app.add_photo(&desktop, 400).await;
    assert_eq!(common::statuses(&app.commit(&desktop, Some(vec![&id])).await), ["committed"]);
    let (status, list) = earlier(&app, &desktop).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 5, "{list:?}");
    let scan = &list[0];
    assert_eq!(scan["resourceType"], "DocumentReference", "today's filing is the newest");
    let thumb = picture(scan["thumbnailUrl"].as_str().expect("the PDF's photo, pictured")).await;
    assert_eq!((thumb.width(), thumb.height()), (320, 320));
}

#[tokio::test]
async fn a_retake_guide_reaches_only_the_phone_with_a_url_that_expires_in_minutes() {
    let (app, _sandbox) = app_and_sandbox(&[]).await;
    let desktop = Auth::Cookie(app.launch(MERE).await);
    let phone = app.phone(&desktop).await;
    assert_eq!(app.get(GUIDE, &phone).await, (200, Value::Null), "no retake asked for");

    let ask = |id: &str| json!({"resourceType": "Media", "resourceId": id});
    // Only a photo this session listed can be asked for.
    assert_eq!(app.post("/api/medtech/session/retake", ask("earlier-3"), &desktop).await.0, 404);
    assert_eq!(earlier(&app, &desktop).await.0, 200);
    assert_eq!(app.post("/api/medtech/session/retake", ask("earlier-3"), &desktop).await.0, 200);
    assert_eq!(
        app.post("/api/medtech/session/retake", ask("earlier-3"), &phone).await.0,
        403,
        "the phone cannot ask"
    );

    let (status, got) = app.get(GUIDE, &phone).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["bodySite"], "14975008");
    assert_eq!(got["laterality"], "left");
    assert_eq!(got["siteText"], "Left forearm");
    let url = reqwest::Url::parse(got["url"].as_str().unwrap()).unwrap();
    let expires: u64 = url.query_pairs().find(|(k, _)| k == "exp").unwrap().1.parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(expires <= now + 125, "the guide's URL works for minutes: {}", expires - now);
    let res = reqwest::get(url.as_str()).await.unwrap();
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("no-store"), "the phone keeps no copy: {cache}");
    assert!(image::load_from_memory(&res.bytes().await.unwrap()).unwrap().width() > 320);

    // The guide goes to the phone's link only.
    assert_eq!(app.get(GUIDE, &desktop).await.0, 403);
}
