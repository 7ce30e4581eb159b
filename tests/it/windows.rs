//! One patient per window (issue 27, items 1 and 2), over HTTP against real
//! Redis and S3 and the ALEX sandbox: one browser holding two capture
//! sessions, each page naming its own; every endpoint and the event stream
//! refusing a page that names another session or none; a phone token never
//! mixed with a desktop session.

use crate::common::{as_desktop, events_path, jpeg, service_vars, session_of, Auth, TestApp};
use serde_json::{json, Value};

const PATIENT_A: &str = "14e52e16edb7a435bfa05e307afd008b";
const PATIENT_B: &str = "5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65";

/// Launches `patient` in a browser that already holds `jar` (its cookies),
/// as a second tab does. Returns the new session's cookie and what the
/// launch set.
async fn launch_in(app: &TestApp, jar: &str, patient: &str) -> (String, Vec<String>) {
    let url = app.url(&format!("/medtech-images?patientId={patient}&facilityId=F2N060-E"));
    let mut req = app.http.get(url);
    if !jar.is_empty() {
        req = req.header("cookie", jar);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let set: Vec<String> =
        res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let cookie = set[0].split(';').next().unwrap().to_owned();
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("/medtech-images?session={}", session_of(&cookie))
    );
    (cookie, set)
}

/// A request from a page of a browser with cookie jar `jar`, naming `name`.
fn page(req: reqwest::RequestBuilder, jar: &str, name: Option<&str>) -> reqwest::RequestBuilder {
    let req = req.header("cookie", jar).header("sec-fetch-site", "same-origin");
    match name {
        Some(n) => req.header("x-capture-session", n),
        None => req,
    }
}

async fn post_as(app: &TestApp, jar: &str, name: &str, path: &str, body: Value) -> (u16, Value) {
    let res = page(app.http.post(app.url(path)), jar, Some(name)).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Adds, describes and commits one photo from the page of `name`; returns the commit report.
async fn add_and_commit(app: &TestApp, jar: &str, name: &str) -> Value {
    let request = json!({"contentType": "image/jpeg", "size": jpeg(24, 24).len()});
    let (status, ticket) = post_as(app, jar, name, "/api/medtech/session/presigned-url", request).await;
    assert_eq!(status, 200, "{ticket}");
    app.put_to(&ticket, jpeg(24, 24)).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    let (status, _) = post_as(app, jar, name, "/api/medtech/session/images", json!({"imageId": id})).await;
    assert_eq!(status, 200);
    let metadata = json!({"imageId": id, "metadata": {"bodySite": "39937001", "laterality": "left"}});
    let (status, body) = post_as(app, jar, name, "/api/medtech/session/images/metadata", metadata).await;
    assert_eq!(status, 200, "{body}");
    let (status, report) = post_as(app, jar, name, "/api/medtech/attachments/commit", json!({})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["results"][0]["status"], "committed", "{report}");
    report
}

#[tokio::test]
async fn two_windows_in_one_browser_each_file_into_their_own_patient() {
    let app = TestApp::start(service_vars()).await;
    // Tab 1 opens patient A; then tab 2, in the same browser, opens patient B.
    let (a, _) = launch_in(&app, "", PATIENT_A).await;
    let (b, set) = launch_in(&app, &a, PATIENT_B).await;
    assert_eq!(set.len(), 1, "the second launch leaves the first session's cookie alone: {set:?}");
    assert_ne!(session_of(&a), session_of(&b));
    let jar = format!("{a}; {b}");

    // Each tab still sees its own patient.
    for (cookie, label) in [(&a, "···008b"), (&b, "···7a65")] {
        let body = json!({"session": session_of(cookie)});
        let (status, view) = post_as(&app, &jar, session_of(cookie), "/api/medtech/session", body).await;
        assert_eq!((status, view["state"].as_str()), (200, Some("active")), "{view}");
        assert!(view["patientLabel"].as_str().unwrap().contains(label), "{view}");
    }
    // Tab 1, after tab 2 opened, adds and commits: it lands in A's record.
    let report_a = add_and_commit(&app, &jar, session_of(&a)).await;
    let report_b = add_and_commit(&app, &jar, session_of(&b)).await;
    let inbox: Value =
        app.http.get(app.url("/sandbox/alex/inbox.json")).send().await.unwrap().json().await.unwrap();
    let patient_of = |report: &Value| {
        let id = report["results"][0]["resourceId"].as_str().unwrap().to_owned();
        inbox.as_array().unwrap().iter().find(|e| e["id"] == id.as_str()).unwrap()["patientId"].clone()
    };
    assert_eq!(patient_of(&report_a), PATIENT_A);
    assert_eq!(patient_of(&report_b), PATIENT_B);
    assert_eq!(inbox.as_array().unwrap().len(), 2);
    // Each window's list holds only its own photo.
    for cookie in [&a, &b] {
        let res = page(app.http.get(app.url("/api/medtech/session/images")), &jar, Some(session_of(cookie)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.json::<Value>().await.unwrap().as_array().unwrap().len(), 1);
    }
}

/// Every desktop endpoint, with a body good enough to reach the credential check.
fn desktop_endpoints(image_id: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("/api/medtech/session/end", json!({})),
        ("/api/medtech/session/presigned-url", json!({"contentType": "image/jpeg", "size": 100})),
        ("/api/medtech/session/images", json!({"imageId": image_id})),
        ("/api/medtech/session/images/metadata", json!({"imageId": image_id, "metadata": {}})),
        ("/api/medtech/session/images/delete", json!({"imageId": image_id})),
        ("/api/medtech/session/images/version", json!({"imageId": image_id, "replacementId": image_id})),
        ("/api/medtech/session/images/revert", json!({"imageId": image_id})),
        ("/api/medtech/session/mobile-token", json!({})),
        ("/api/medtech/attachments/commit", json!({})),
        ("/api/medtech/attachments/audit", json!({})),
    ]
}

#[tokio::test]
async fn a_page_naming_another_session_or_none_is_refused_everywhere() {
    let app = TestApp::start(service_vars()).await;
    let (a, _) = launch_in(&app, "", PATIENT_A).await;
    let (b, _) = launch_in(&app, &a, PATIENT_B).await;
    let desktop_a = Auth::Cookie(a.clone());
    let ticket = app.upload(&desktop_a, "image/jpeg", jpeg(20, 20)).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    assert_eq!(app.register(&desktop_a, &id).await.0, 200);

    // A's cookie; the page names B (whose cookie it does not carry), a
    // made-up session, A's name with B's cookie value under it, or nothing.
    let b_value = b.split_once('=').unwrap().1;
    let swapped = format!("ci_session_{}={b_value}", session_of(&a));
    let cases: Vec<(String, Option<String>)> = vec![
        (a.clone(), Some(session_of(&b).to_owned())),
        (a.clone(), Some("0123456789abcdef".into())),
        (a.clone(), Some("not a name".into())),
        (swapped.clone(), Some(session_of(&a).to_owned())),
        (format!("{a}; {b}"), None),
    ];
    for (jar, name) in &cases {
        for (path, body) in desktop_endpoints(&id) {
            let res =
                page(app.http.post(app.url(path)), jar, name.as_deref()).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            let err: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 401, "{path} with {name:?}: {err}");
            assert_eq!(err["kind"], "noSession", "{path}: {err}");
        }
        let res = page(app.http.get(app.url("/api/medtech/session/images")), jar, name.as_deref())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401, "list with {name:?}");
        let stream = match name {
            Some(n) => format!("/api/medtech/session/events?session={}", urlencode(n)),
            None => "/api/medtech/session/events".to_owned(),
        };
        let res = app.http.get(app.url(&stream)).header("cookie", jar).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "event stream with {name:?}");
    }
    // Nothing happened to A's photo or session.
    let (_, list) = app.get("/api/medtech/session/images", &desktop_a).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, view) = app.session_view(&a).await;
    assert_eq!(view["state"], "active");
    // And the page that names its own session is served, stream included.
    let res =
        app.http.get(app.url(&events_path(&a))).header("cookie", format!("{a}; {b}")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

fn urlencode(s: &str) -> String {
    s.replace(' ', "%20")
}

#[tokio::test]
async fn a_phone_token_with_a_desktop_session_is_refused() {
    let app = TestApp::start(service_vars()).await;
    let a = app.launch(PATIENT_A).await;
    let (b, _) = launch_in(&app, &a, PATIENT_B).await;
    let (status, grant) =
        app.post("/api/medtech/session/mobile-token", json!({}), &Auth::Cookie(a.clone())).await;
    assert_eq!(status, 200);
    let token = grant["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned();
    let phone = Auth::Bearer(token.clone());
    assert_eq!(app.post("/api/medtech/session/token", json!({}), &phone).await.0, 200);

    // A's phone link left in a tab that then opens B's desktop: the token
    // with B's cookie, with B's name, or with both.
    let bearer = format!("Bearer {token}");
    let with =
        |req: reqwest::RequestBuilder| req.header("authorization", &bearer).header("origin", &app.base);
    let mixed: Vec<Box<dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder>> = vec![
        Box::new(|r| with(r).header("cookie", &b)),
        Box::new(|r| with(r).header("x-capture-session", session_of(&b))),
        Box::new(|r| as_desktop(with(r), &b)),
    ];
    for add in &mixed {
        for path in [
            "/api/medtech/session/presigned-url",
            "/api/medtech/session/images",
            "/api/medtech/session/token",
        ] {
            let body = json!({"contentType": "image/jpeg", "size": 100, "imageId": "x"});
            let res = add(app.http.post(app.url(path))).json(&body).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 400, "{path}");
            let err: Value = res.json().await.unwrap();
            assert!(err["detail"].as_str().unwrap().contains("phone link"), "{err}");
        }
        let res = add(app.http.get(app.url("/api/medtech/session/images"))).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 400, "list");
    }
    // Nothing was reserved in either session.
    for cookie in [&a, &b] {
        let (_, list) = app.get("/api/medtech/session/images", &Auth::Cookie(cookie.clone())).await;
        assert_eq!(list.as_array().unwrap().len(), 0);
    }
}

#[tokio::test]
async fn a_launch_removes_the_cookies_of_sessions_that_are_gone_and_an_end_removes_its_own() {
    let app = TestApp::start(service_vars()).await;
    let a = app.launch(PATIENT_A).await;
    let (b, _) = launch_in(&app, &a, PATIENT_B).await;
    let res = as_desktop(app.http.post(app.url("/api/medtech/session/end")), &a)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with(&format!("{}=;", a.split('=').next().unwrap())), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // A later launch in a browser still holding A's (ended) cookie, B's
    // (live) one and one of the old single-cookie design removes the dead two.
    let jar = format!("{a}; {b}; ci_session=legacy");
    let (_, set) = launch_in(&app, &jar, PATIENT_A).await;
    let removed: Vec<&str> =
        set[1..].iter().filter(|c| c.contains("Max-Age=0")).map(|c| c.split('=').next().unwrap()).collect();
    assert_eq!(removed.len(), 2, "{set:?}");
    assert!(removed.contains(&a.split('=').next().unwrap()) && removed.contains(&"ci_session"), "{set:?}");
    let (_, view) = app.session_view(&b).await;
    assert_eq!(view["state"], "active", "B's window still works");
}
