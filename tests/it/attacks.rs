//! The security review's attacks, each performed against a running app (on
//! real Redis and S3 where the hole involved them). Each test failed before
//! its fix.

use crate::common;
use std::time::Duration;

use crate::common::{jpeg, service_vars, unique, Auth, SandboxServer, TestApp};
use serde_json::{json, Value};

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";

/// A phone's bearer token for the desktop's session.
async fn phone(app: &TestApp, desktop: &Auth) -> Auth {
    let (status, grant) = app.post("/api/medtech/session/mobile-token", json!({}), desktop).await;
    assert_eq!(status, 200, "{grant}");
    Auth::Bearer(grant["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned())
}

async fn commit(app: &TestApp, desktop: &Auth) -> Value {
    let (status, report) = app.post("/api/medtech/attachments/commit", json!({}), desktop).await;
    assert_eq!(status, 200, "{report}");
    report
}

/// Same length, other pixels: what an attacker holding the upload URL sends.
fn swapped(photo: &[u8]) -> Vec<u8> {
    let mut other = photo.to_vec();
    let mid = other.len() / 2;
    for b in &mut other[mid..mid + 32] {
        *b ^= 0x5A;
    }
    other
}

async fn swap_after_registration(
    app: &TestApp,
    inbox: &dyn Fn() -> futures::future::BoxFuture<'static, Value>,
    s3: bool,
) {
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let photo = jpeg(96, 64);
    let ticket = app.upload(&desktop, "image/jpeg", photo.clone()).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    let (status, image) = app.register(&desktop, &id).await;
    assert_eq!(status, 200, "{image}");
    // The signed URL has not expired. On local disk the closed slot refuses
    // it; S3 cannot revoke it, but it writes where nothing reads.
    let late = common::signed_put_status(&app.http, &ticket, swapped(&photo)).await;
    assert_eq!(late, if s3 { 200 } else { 410 });
    // Bytes changed in storage itself (not through any URL) are still caught.
    let Auth::Cookie(cookie) = &desktop else { unreachable!() };
    let key = common::session_key(cookie);
    let record = app.state.sessions.image(&key, &id).await.unwrap().unwrap();
    let (_, stored) = app.state.blobs.get(&record.blob_key).await.unwrap().unwrap();
    assert_eq!(stored, photo, "the stored photo is the verified one");
    app.state.blobs.put(&record.blob_key, "image/jpeg", swapped(&photo)).await.unwrap();
    let report = commit(app, &desktop).await;
    let result = &report["results"][0];
    assert_eq!(result["status"], "failed", "{report}");
    assert!(result["message"].as_str().unwrap().contains("changed after it was checked"), "{result}");
    assert_eq!(inbox().await, json!([]), "nothing reached the record");
}

#[tokio::test]
async fn bytes_written_after_registration_never_reach_the_record_on_s3() {
    let sandbox = SandboxServer::start().await;
    let mut vars = service_vars();
    vars.extend(sandbox.vars());
    let app = TestApp::start(vars).await;
    let base = sandbox.base.clone();
    let inbox = move || -> futures::future::BoxFuture<'static, Value> {
        let url = format!("{base}/inbox.json");
        Box::pin(async move { reqwest::get(url).await.unwrap().json().await.unwrap() })
    };
    swap_after_registration(&app, &inbox, true).await;
}

#[tokio::test]
async fn bytes_written_after_registration_never_reach_the_record_on_local_disk() {
    let app = TestApp::start(vec![]).await;
    let url = app.url("/sandbox/alex/inbox.json");
    let inbox = move || -> futures::future::BoxFuture<'static, Value> {
        let url = url.clone();
        Box::pin(async move { reqwest::get(url).await.unwrap().json().await.unwrap() })
    };
    swap_after_registration(&app, &inbox, false).await;
}

#[tokio::test]
async fn a_development_launch_cannot_start_against_a_real_alex() {
    let sandbox = SandboxServer::start().await;
    let mut vars = sandbox.vars();
    vars.push(("DEV_LAUNCH".into(), "true".into()));
    let err = TestApp::try_start(vars).await.err().expect("start-up refused");
    assert!(err.contains("DEV_LAUNCH") && err.contains("ALEX_BASE_URL"), "{err}");

    // Without it, a development launch link is refused outright.
    let app = TestApp::start(sandbox.vars()).await;
    let url = app.url(&format!("/medtech-images?patientId={PATIENT}&facilityId=F2N060-E"));
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn stores_without_alex_never_mount_the_sandbox_by_accident() {
    let mut vars = service_vars();
    vars.retain(|(k, _)| k != "ALEX_SANDBOX");
    let err = TestApp::try_start(vars.clone()).await.err().expect("start-up refused");
    assert!(err.contains("ALEX_BASE_URL") && err.contains("ALEX_SANDBOX"), "{err}");

    // Against a real ALEX, the sandbox's public inbox is not there.
    let sandbox = SandboxServer::start().await;
    let mut real = vars.clone();
    real.extend(sandbox.vars());
    let app = TestApp::start(real).await;
    assert_eq!(app.http.get(app.url("/sandbox/alex/inbox.json")).send().await.unwrap().status(), 404);

    // Asked for explicitly, it is.
    vars.push(("ALEX_SANDBOX".into(), "true".into()));
    let app = TestApp::start(vars).await;
    assert_eq!(app.http.get(app.url("/sandbox/alex/inbox.json")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_phone_cannot_lock_a_session_with_reservations_it_never_uses() {
    let app = TestApp::start(service_vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let phone = phone(&app, &desktop).await;
    let ask = json!({"contentType": "image/jpeg", "size": 1000});
    let mut granted = 0;
    let mut refused = 0;
    for _ in 0..45 {
        match app.post("/api/medtech/session/presigned-url", ask.clone(), &phone).await {
            (200, _) => granted += 1,
            (429, body) => {
                assert_eq!(body, json!({"kind": "upload", "detail": "tooManyPending"}));
                refused += 1;
            }
            (status, body) => panic!("{status} {body}"),
        }
    }
    assert_eq!((granted, refused), (6, 39), "a phone holds at most a few unregistered slots");
    // The desktop can still add photos.
    for _ in 0..3 {
        let ticket = app.upload(&desktop, "image/jpeg", jpeg(20, 20)).await;
        assert_eq!(app.register(&desktop, ticket["imageId"].as_str().unwrap()).await.0, 200);
    }
}

#[tokio::test]
async fn a_cross_site_post_with_the_cookie_is_refused() {
    let app = TestApp::start(service_vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let ticket = app.upload(&desktop, "image/jpeg", jpeg(20, 20)).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    assert_eq!(app.register(&desktop, &id).await.0, 200);
    let Auth::Cookie(cookie) = &desktop else { unreachable!() };
    let delete = || common::as_desktop(app.http.post(app.url("/api/medtech/session/images/delete")), cookie);
    let body = json!({"imageId": id}).to_string();

    // The classic form post: text/plain, from another site.
    let res = delete()
        .header("content-type", "text/plain")
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    // JSON, but from another origin, or a cross-site fetch without Origin.
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let res = delete()
            .header("content-type", "application/json")
            .header(name, value)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{name}: {value}");
    }
    let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "the photo is still there");

    // The app's own origin may.
    let res = delete()
        .header("content-type", "application/json")
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

/// GETs a page: it must have `status`, not be cached, and carry a CSP whose
/// nonce every one of its scripts has. Returns the nonce.
async fn nonce_policy(app: &TestApp, path: &str, cookie: &str, status: u16) -> String {
    let res = common::as_desktop(app.http.get(app.url(path)), cookie).send().await.unwrap();
    assert_eq!(res.status().as_u16(), status, "{path}");
    let headers = res.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap().to_owned();
    assert_eq!(headers["cache-control"], "no-store", "{path}");
    let script_src = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
    assert!(!script_src.contains("unsafe-inline"), "{csp}");
    let bare = |scheme: &str| csp.split([' ', ';']).any(|t| t == scheme);
    assert!(!bare("https:") && !bare("wss:"), "no whole-scheme sources: {csp}");
    let nonce = script_src
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("{path}: no nonce in {csp}"))
        .to_owned();
    let html = res.text().await.unwrap();
    let tags: Vec<&str> = html.split("<script").skip(1).map(|t| t.split('>').next().unwrap()).collect();
    assert!(!tags.is_empty(), "{path}");
    for tag in tags {
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "{path}: a script without the nonce: <script{tag}>"
        );
    }
    nonce
}

#[tokio::test]
async fn pages_get_a_nonce_policy_and_nothing_with_patient_data_is_cached() {
    let app = TestApp::start(vec![]).await;
    let cookie = app.launch(PATIENT).await;
    let page = format!("/medtech-images?session={}", common::session_of(&cookie));
    let nonce = nonce_policy(&app, &page, &cookie, 200).await;
    // The not-found page is a page too: without its nonce it would never hydrate.
    nonce_policy(&app, "/medtech-images/no-such-page", &cookie, 404).await;
    nonce_policy(&app, "/no-such-page", "", 404).await;

    // Another response, another nonce.
    let again = app.http.get(app.url(&page)).header("cookie", &cookie).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"].to_str().unwrap().contains(&nonce));

    let (_, _) = app.get("/api/medtech/session/images", &Auth::Cookie(cookie.clone())).await;
    let api = common::as_desktop(app.http.get(app.url("/api/medtech/session/images")), &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(api.headers()["cache-control"], "no-store");
    assert!(api.headers().get("strict-transport-security").is_none(), "plain HTTP: no HSTS");
}

#[tokio::test]
async fn over_https_the_cookie_is_host_prefixed_and_secure_with_hsts() {
    let app = TestApp::start(vec![("PUBLIC_BASE_URL".into(), "https://images.example.nz".into())]).await;
    let url = app.url(&format!("/medtech-images?patientId={PATIENT}&facilityId=F2N060-E"));
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("__Host-ci_session_"), "{set_cookie}");
    assert!(
        set_cookie.contains("; Secure") && set_cookie.contains("Path=/") && !set_cookie.contains("Domain")
    );
    assert!(res.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    // A cookie without the prefix (which any subdomain could set) is not the session.
    let cookie = set_cookie.split(';').next().unwrap();
    let (name, value) = cookie.split_once('=').unwrap();
    let unprefixed = format!("{}={value}", name.trim_start_matches("__Host-"));
    let (_, session) = app.session_view(&unprefixed).await;
    assert_eq!(session["state"], "missing");
    let (_, session) = app.session_view(cookie).await;
    assert_eq!(session["state"], "active");
}

#[tokio::test]
async fn random_bearers_and_unauthenticated_routes_are_limited_across_instances() {
    let mut vars = service_vars();
    vars.push(("RATE_LIMIT_ADDRESS_BURST".into(), "20".into()));
    vars.push(("RATE_LIMIT_ADDRESS_PER_SECOND".into(), "1".into()));
    let a = TestApp::start(vars.clone()).await;
    let b = TestApp::start(vars).await;
    let mut refused = 0;
    for i in 0..30 {
        let app = if i % 2 == 0 { &a } else { &b };
        // A fresh random bearer each time: no per-token bucket can catch it.
        let (status, _) =
            app.post("/api/medtech/session/token", json!({}), &Auth::Bearer(unique("tok"))).await;
        match status {
            401 => {}
            429 => refused += 1,
            other => panic!("{other}"),
        }
    }
    assert!(refused >= 5, "the address limit holds across both instances (refused {refused} of 30)");
    // Unauthenticated routes that cost a store write or an ALEX call count too.
    let (status, _) = a.post("/api/status", json!({}), &Auth::None).await;
    assert_eq!(status, 429);
    let res = b.http.get(b.url("/medtech-images/launch?context=x&signature=y")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 429);
}

#[tokio::test]
async fn images_over_the_pixel_bound_and_fake_heics_are_refused_at_registration() {
    let app = TestApp::start(service_vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    // 12 MP of flat colour: a small PNG over the default bound (1.5 × 2560²).
    let mut big = Vec::new();
    image::RgbImage::from_pixel(4000, 3000, image::Rgb([200, 120, 90]))
        .write_to(&mut std::io::Cursor::new(&mut big), image::ImageFormat::Png)
        .unwrap();
    let ticket = app.upload(&desktop, "image/png", big).await;
    let (status, body) = app.register(&desktop, ticket["imageId"].as_str().unwrap()).await;
    assert_eq!((status, body), (422, json!({"kind": "upload", "detail": "tooManyPixels"})));

    // The first bytes of a HEIC and an `ispe` box, then nothing decodable.
    let mut fake = vec![0, 0, 0, 24];
    fake.extend_from_slice(b"ftypheic\0\0\0\0mif1heic....ispe\0\0\0\0");
    fake.extend_from_slice(&4032u32.to_be_bytes());
    fake.extend_from_slice(&3024u32.to_be_bytes());
    fake.extend(std::iter::repeat_n(0x42, 2048));
    let ticket = app.upload(&desktop, "image/heic", fake).await;
    let (status, body) = app.register(&desktop, ticket["imageId"].as_str().unwrap()).await;
    assert_eq!((status, body), (422, json!({"kind": "upload", "detail": "notAnImage"})));
    let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn malformed_and_oversized_json_is_a_400_or_413_never_a_500() {
    let app = TestApp::start(vec![]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let Auth::Cookie(cookie) = &desktop else { unreachable!() };
    let send = |path: &'static str, body: String| {
        common::as_desktop(app.http.post(app.url(path)), cookie)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(&str, String, u16)> = vec![
        ("/api/medtech/session/images/metadata", "{not json".into(), 400),
        ("/api/medtech/session/images/metadata", json!({"imageId": 5, "metadata": []}).to_string(), 400),
        ("/api/medtech/session/images/delete", json!({}).to_string(), 400),
        ("/api/medtech/session/presigned-url", json!({"contentType": ["x"], "size": "big"}).to_string(), 400),
        ("/api/medtech/attachments/commit", json!({"imageIds": "all"}).to_string(), 400),
        ("/api/medtech/session/images/delete", format!("{{\"imageId\": \"{}\"}}", "x".repeat(100_000)), 413),
    ];
    for (path, body, expected) in cases {
        let res = send(path, body).await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(status, expected, "{path}: {text}");
        let err: Value = serde_json::from_str(&text).expect("a JSON error");
        assert_eq!(err["kind"], "badRequest", "{text}");
    }
    // Not found is a 404.
    let (status, body) =
        app.post("/api/medtech/session/images/delete", json!({"imageId": "no-such-image"}), &desktop).await;
    assert_eq!((status, body["kind"].as_str()), (404, Some("notFound")));
}

#[tokio::test]
async fn a_session_store_that_goes_away_answers_503_not_500() {
    // A Redis of this test's own, so it can be stopped.
    let (mut redis, url) = common::private_redis().await;
    let vars = common::service_vars_with_redis(&url);
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    assert_eq!(app.get("/api/medtech/session/images", &desktop).await.0, 200);
    redis.kill().unwrap();
    let _ = redis.wait();
    let (status, body) = app.get("/api/medtech/session/images", &desktop).await;
    assert_eq!((status, body["kind"].as_str()), (503, Some("unavailable")), "{body}");
}

#[tokio::test]
async fn a_phone_token_ends_at_its_absolute_cap_however_busy() {
    let app = TestApp::start(vec![
        ("MOBILE_TOKEN_TTL_SECS".into(), "4".into()),
        ("MOBILE_TOKEN_MAX_TTL_SECS".into(), "4".into()),
    ])
    .await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let phone = phone(&app, &desktop).await;
    // Each call slides the idle timeout to 4 s from now...
    let (_, first) = app.post("/api/medtech/session/token", json!({}), &phone).await;
    let cap = first["expiresAt"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (status, link) = app.post("/api/medtech/session/token", json!({}), &phone).await;
        assert_eq!(status, 200);
        // ...but the phone is told the cap, which does not move.
        assert_eq!(link["expiresAt"], cap.as_str(), "the countdown shows the absolute cap");
    }
    // ...so without the cap the token would live until 6.4 s.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (status, body) = app.post("/api/medtech/session/token", json!({}), &phone).await;
    assert_eq!((status, body), (401, json!({"kind": "token", "detail": "expired"})));
}

#[tokio::test]
async fn delete_and_end_session_cannot_race_a_commit() {
    let sandbox = SandboxServer::start().await;
    let mut vars = service_vars();
    vars.extend(sandbox.vars());
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let ticket = app.upload(&desktop, "image/jpeg", jpeg(30, 30)).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    assert_eq!(app.register(&desktop, &id).await.0, 200);
    // ALEX is slow: the commit holds the image's claim for 1.5 s.
    sandbox.fault(json!({"count": 1, "delayMs": 1500, "path": "/Media"})).await;
    let committing = commit(&app, &desktop);
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let delete = app.post("/api/medtech/session/images/delete", json!({"imageId": id}), &desktop).await;
        let end = app.post("/api/medtech/session/end", json!({}), &desktop).await;
        (delete, end)
    };
    let (report, ((delete_status, _), (end_status, end_body))) = tokio::join!(committing, meanwhile);
    assert_eq!(delete_status, 403, "the photo may be reaching the record");
    assert_eq!(end_status, 400, "{end_body}");
    assert_eq!(report["results"][0]["status"], "committed");
    let Auth::Cookie(cookie) = &desktop else { unreachable!() };
    let (status, session) = app.session_view(cookie).await;
    assert_eq!((status, session["state"].as_str()), (200, Some("active")));
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_edit_is_refused_once_a_commit_may_have_landed() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..2 {
            let ticket = app.upload(&desktop, "image/jpeg", jpeg(40, 30)).await;
            let id = ticket["imageId"].as_str().unwrap().to_owned();
            assert_eq!(app.register(&desktop, &id).await.0, 200);
            ids.push(id);
        }
        ids
    };
    // Filed, but the answer is lost and the retry waits past the budget.
    sandbox
        .fault(json!({"count": 1, "status": 503, "afterHandling": true, "retryAfter": 40, "path": "/Media"}))
        .await;
    let (status, report) =
        app.post("/api/medtech/attachments/commit", json!({"imageIds": [ids[0]]}), &desktop).await;
    assert_eq!(status, 200);
    assert_eq!(
        (report["results"][0]["status"].as_str(), report["results"][0]["retryable"].as_bool()),
        (Some("failed"), Some(true))
    );
    // Its pixels may be in the record: an edit now would never reach it.
    let edit = json!({"imageId": ids[0], "replacementId": ids[1]});
    assert_eq!(app.post("/api/medtech/session/images/version", edit, &desktop).await.0, 403);
    let (status, report) =
        app.post("/api/medtech/attachments/commit", json!({"imageIds": [ids[0]]}), &desktop).await;
    assert_eq!((status, report["results"][0]["status"].as_str()), (200, Some("committed")));
    let inbox = sandbox.json("/inbox.json").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1, "one resource, with the pixels it was filed with");
}

#[tokio::test]
async fn event_streams_close_when_the_server_stops() {
    let app = TestApp::start(vec![]).await;
    let cookie = app.launch(PATIENT).await;
    let mut res =
        app.http.get(app.url(&common::events_path(&cookie))).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    app.state.begin_shutdown();
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while res.chunk().await.unwrap().is_some() {} })
            .await;
    assert!(ended.is_ok(), "the stream ended, so a rolling deploy is never held open");
}

#[tokio::test]
async fn the_api_answers_json_and_never_redirects_whatever_the_accept_and_referer() {
    let app = TestApp::start(vec![]).await;
    let cookie = app.launch(PATIENT).await;
    let foreign = "https://evil.example/landing?x=1";
    let html = |req: reqwest::RequestBuilder| {
        req.header("accept", "text/html,application/xhtml+xml").header("referer", foreign)
    };
    let requests = vec![
        ("GET list, no session", html(app.http.get(app.url("/api/medtech/session/images")))),
        (
            "GET list, a session",
            html(common::as_desktop(app.http.get(app.url("/api/medtech/session/images")), &cookie)),
        ),
        (
            "POST end, no session",
            html(app.http.post(app.url("/api/medtech/session/end")))
                .header("content-type", "application/json")
                .header("sec-fetch-site", "same-origin")
                .body("{}"),
        ),
        (
            "POST info",
            html(app.http.post(app.url("/api/info"))).header("content-type", "application/json").body("{}"),
        ),
    ];
    for (what, req) in requests {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        assert!(!(300..400).contains(&status), "{what}: redirected ({status})");
        assert!(res.headers().get("location").is_none(), "{what}: a Location header");
        let body: serde_json::Value = res.json().await.unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
        assert!(!body.to_string().contains("evil.example"), "{what}: {body}");
    }
}

#[tokio::test]
async fn made_up_methods_add_at_most_one_metrics_series() {
    let app = TestApp::start(vec![]).await;
    let metrics_url = format!("{}/metrics", app.metrics_listener().await);
    // Other tests in this binary record into the same recorder: count only
    // what junk methods could have added.
    let series = || async {
        let text = reqwest::get(&metrics_url).await.unwrap().text().await.unwrap();
        assert!(!text.contains("JUNK"), "a raw method became a label");
        let other = text
            .lines()
            .filter(|l| l.starts_with("http_request") && l.contains("method=\"OTHER\""))
            .collect::<Vec<_>>();
        (other.len(), other.iter().map(|l| l.len()).sum::<usize>())
    };
    // One junk request first, so its series exist before the count.
    let junk = |i: usize| reqwest::Method::from_bytes(format!("JUNK{i}").as_bytes()).unwrap();
    let _ = app.http.request(junk(0), app.url("/api/medtech/session/images")).send().await;
    let (before, bytes_before) = series().await;
    for chunk in (1..1000).collect::<Vec<_>>().chunks(50) {
        let sent =
            chunk.iter().map(|i| app.http.request(junk(*i), app.url("/api/medtech/session/images")).send());
        for res in futures::future::join_all(sent).await {
            assert!(res.unwrap().status().as_u16() < 500);
        }
    }
    let (after, bytes_after) = series().await;
    assert!(after <= before + 4, "{before} → {after} series");
    assert!(bytes_after < bytes_before + 1024, "{bytes_before} → {bytes_after} bytes");
}

#[tokio::test]
async fn a_phones_id_is_the_servers_and_a_link_joins_a_bounded_number() {
    use clinical_images::model::SessionEvent;
    let app = TestApp::start(vec![("PHONES_PER_LINK".into(), "3".into())]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let phone = phone(&app, &desktop).await;
    let open = |id: Option<String>| {
        let body = match id {
            Some(id) => json!({"phoneId": id}),
            None => json!({}),
        };
        app.post("/api/medtech/session/token", body, &phone)
    };
    // The first opening is given an id; a reload presenting it is the same phone.
    let (status, first) = open(None).await;
    assert_eq!(status, 200, "{first}");
    let issued = first["phoneId"].as_str().unwrap().to_owned();
    assert!(issued.len() >= 16, "an unguessable id: {issued}");
    for _ in 0..3 {
        let (status, again) = open(Some(issued.clone())).await;
        assert_eq!((status, again["phoneId"].as_str()), (200, Some(issued.as_str())));
    }
    // Thirty made-up ids: never taken as given; two more phones join, then none.
    let mut joined = 0;
    let mut refused = 0;
    for i in 0..30 {
        let made_up = format!("made-up-phone-{i:02}");
        let (status, link) = open(Some(made_up.clone())).await;
        match status {
            200 => {
                joined += 1;
                assert_ne!(link["phoneId"], made_up.as_str(), "a made-up id is replaced");
            }
            403 => {
                refused += 1;
                assert_eq!(link, json!({"kind": "token", "detail": "tooManyPhones"}));
            }
            other => panic!("{other}: {link}"),
        }
    }
    assert_eq!((joined, refused), (2, 28));
    // The first phone still opens its link.
    assert_eq!(open(Some(issued)).await.0, 200);
    // The desktop was told of three phones, never more.
    let Auth::Cookie(cookie) = &desktop else { unreachable!() };
    let key = clinical_images::server::support::ids::hash_credential(cookie.split_once('=').unwrap().1);
    let events = app.state.events.subscribe(&key, Some("0-0")).await.unwrap().replay;
    let counts: Vec<usize> = events
        .iter()
        .filter_map(|e| match e.event {
            SessionEvent::PhoneJoined { phones } => Some(phones),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [1, 2, 3]);
}
