//! Session events: the event-bus contract on memory and Redis, and the SSE
//! stream across two app instances sharing one Redis.

use crate::common;
use std::time::Duration;

use crate::common::{jpeg, service_vars, unique, Auth, TestApp};
use clinical_images::model::SessionEvent;
use clinical_images::server::stores::events::{EventBus, MemoryEventBus, RedisEventBus};
use serde_json::{json, Value};

const TTL: Duration = Duration::from_secs(600);
const WAIT: Duration = Duration::from_secs(10);

fn removed(n: u32) -> SessionEvent {
    SessionEvent::ImageRemoved { image_id: format!("img-{n}") }
}

async fn bus_contract(publisher: &dyn EventBus, subscriber: &dyn EventBus) {
    let session = unique("s");
    let first = publisher.publish(&session, &removed(1), TTL).await.unwrap();
    let second = publisher.publish(&session, &removed(2), TTL).await.unwrap();
    assert!(
        clinical_images::server::stores::events::compare_ids(&first, &second).is_lt(),
        "{first} < {second}"
    );

    // Replay returns exactly what followed the given id.
    let mut sub = subscriber.subscribe(&session, Some(&first)).await.unwrap();
    let replayed: Vec<_> = sub.replay.iter().map(|e| e.event.clone()).collect();
    assert_eq!(replayed, vec![removed(2)]);
    let none = subscriber.subscribe(&session, None).await.unwrap();
    assert!(none.replay.is_empty());

    // Live delivery, on the subscriber's side. An event published just
    // before the subscription may also arrive live (it was in flight on the
    // subscriber's connection): like the stream handler, skip what the
    // replay already had.
    let third = publisher.publish(&session, &removed(3), TTL).await.unwrap();
    let live = loop {
        let ev = tokio::time::timeout(WAIT, sub.live.recv()).await.expect("live event").unwrap();
        if clinical_images::server::stores::events::compare_ids(&ev.id, &second).is_gt() {
            break ev;
        }
    };
    assert_eq!((live.id.clone(), live.event.clone()), (third, removed(3)));

    // Other sessions' events never arrive.
    publisher.publish(&unique("other"), &removed(9), TTL).await.unwrap();
    publisher.publish(&session, &removed(4), TTL).await.unwrap();
    let next = tokio::time::timeout(WAIT, sub.live.recv()).await.unwrap().unwrap();
    assert_eq!(next.event, removed(4));

    // An ended session's history goes with it.
    publisher.forget(&session).await.unwrap();
    let after = subscriber.subscribe(&session, Some(&first)).await.unwrap();
    assert!(after.replay.is_empty(), "nothing replays after the session is forgotten");
}

#[tokio::test]
async fn memory_event_bus_meets_the_contract() {
    let bus = MemoryEventBus::new();
    bus_contract(&bus, &bus).await;
}

#[tokio::test]
async fn redis_event_bus_meets_the_contract_across_instances() {
    let prefix = format!("{}:", unique("bus"));
    let a = RedisEventBus::connect(&common::redis_url(), prefix.clone()).await.unwrap();
    let b = RedisEventBus::connect(&common::redis_url(), prefix).await.unwrap();
    bus_contract(&a, &b).await;
}

/// A minimal SSE reader over a streaming response.
struct SseClient {
    res: reqwest::Response,
    buf: String,
}

#[derive(Debug)]
struct Sse {
    id: String,
    event: String,
    data: Value,
}

impl SseClient {
    async fn connect(app: &TestApp, cookie: &str, last_event_id: Option<&str>) -> SseClient {
        let mut req = app.http.get(app.url(&common::events_path(cookie))).header("cookie", cookie);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        SseClient { res, buf: String::new() }
    }

    /// The next event (heartbeat comments are skipped).
    async fn next(&mut self) -> Sse {
        self.next_or_end().await.expect("stream open")
    }

    /// The next event, or `None` once the server ends the stream.
    async fn next_or_end(&mut self) -> Option<Sse> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim());
                        }
                    }
                    if !event.is_empty() {
                        return Some(Sse { id, event, data: serde_json::from_str(&data).unwrap() });
                    }
                    continue;
                }
                let chunk = self.res.chunk().await.unwrap()?;
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event within the wait")
    }
}

async fn add_image(app: &TestApp, auth: &Auth) -> String {
    let ticket = app.upload(auth, "image/jpeg", jpeg(12, 12)).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    let (s, body) = app.register(auth, &id).await;
    assert_eq!(s, 200, "{body}");
    id
}

#[tokio::test]
async fn a_registration_on_instance_a_reaches_an_sse_client_on_instance_b() {
    let vars = service_vars();
    let a = TestApp::start(vars.clone()).await;
    let b = TestApp::start(vars).await;
    let cookie = a.launch("14e52e16edb7a435bfa05e307afd008b").await;
    let mut stream = SseClient::connect(&b, &cookie, None).await;

    let id = add_image(&a, &Auth::Cookie(cookie.clone())).await;
    let ev = stream.next().await;
    assert_eq!(ev.event, "image-added");
    assert_eq!(ev.data["type"], "image-added");
    assert_eq!(ev.data["data"]["imageId"], id.as_str());
}

#[tokio::test]
async fn when_the_subscription_drops_open_streams_catch_up_and_miss_nothing() {
    let (mut redis, url) = common::private_redis().await;
    let app =
        TestApp::start(vec![("REDIS_URL".into(), url.clone()), ("ALEX_SANDBOX".into(), "true".into())]).await;
    let cookie = app.launch("14e52e16edb7a435bfa05e307afd008b").await;
    let desktop = Auth::Cookie(cookie.clone());
    let mut stream = SseClient::connect(&app, &cookie, None).await;
    add_image(&app, &desktop).await;
    let mut last = stream.next().await.id;

    // Redis drops the instance's subscriber connection (a restart, a
    // failover, a proxy cutting idle connections), and photos keep coming:
    // some are published before the instance has subscribed again.
    let mut conn =
        redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let killed: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut conn).await.unwrap();
    assert_eq!(killed, 1, "the instance's one subscriber");
    let mut added = std::collections::BTreeSet::new();
    for _ in 0..6 {
        added.insert(add_image(&app, &desktop).await);
    }

    // The open stream delivers what it has, then is told to reconnect; from
    // its last id the replay brings the rest. Nothing is missing.
    let mut seen = std::collections::BTreeSet::new();
    while let Some(ev) = stream.next_or_end().await {
        seen.insert(ev.data["data"]["imageId"].as_str().unwrap().to_owned());
        last = ev.id;
    }
    let mut again = SseClient::connect(&app, &cookie, Some(&last)).await;
    while seen.len() < added.len() {
        let ev = again.next().await;
        assert_eq!(ev.event, "image-added");
        seen.insert(ev.data["data"]["imageId"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, added);
    let _ = redis.kill();
}

#[tokio::test]
async fn reconnecting_with_last_event_id_replays_exactly_what_was_missed() {
    for vars in [service_vars(), vec![]] {
        let app = TestApp::start(vars).await;
        let cookie = app.launch("14e52e16edb7a435bfa05e307afd008b").await;
        let desktop = Auth::Cookie(cookie.clone());
        let mut stream = SseClient::connect(&app, &cookie, None).await;
        let image = add_image(&app, &desktop).await;
        let seen = stream.next().await;
        assert_eq!(seen.event, "image-added");
        drop(stream);

        // Two events while disconnected.
        for text in ["first", "second"] {
            let body = json!({"imageId": image, "metadata": {"description": text}});
            let (s, _) = app.post("/api/medtech/session/images/metadata", body, &desktop).await;
            assert_eq!(s, 200);
        }
        let mut stream = SseClient::connect(&app, &cookie, Some(&seen.id)).await;
        let one = stream.next().await;
        let two = stream.next().await;
        assert_eq!(one.data["data"]["metadata"]["description"], "first");
        assert_eq!(two.data["data"]["metadata"]["description"], "second");
        // Then live again, with nothing replayed twice.
        let (s, _) =
            app.post("/api/medtech/session/images/delete", json!({"imageId": image}), &desktop).await;
        assert_eq!(s, 200);
        let three = stream.next().await;
        assert_eq!(three.event, "image-removed");
    }
}

#[tokio::test]
async fn the_event_stream_needs_a_desktop_session() {
    let app = TestApp::start(vec![]).await;
    let res = app.http.get(app.url("/api/medtech/session/events")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

#[tokio::test]
async fn the_stream_warns_before_the_session_ends() {
    // Hard expiry in 302 s: the warning is due five minutes before, so in 2 s.
    let vars = vec![
        ("SESSION_MAX_TTL_SECS".to_owned(), "302".to_owned()),
        ("SESSION_IDLE_TTL_SECS".to_owned(), "302".to_owned()),
    ];
    let app = TestApp::start(vars).await;
    let cookie = app.launch("14e52e16edb7a435bfa05e307afd008b").await;
    let mut stream = SseClient::connect(&app, &cookie, None).await;
    let ev = stream.next().await;
    assert_eq!(ev.event, "session-expiring");
    assert!(ev.data["data"]["expiresAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn one_session_holds_at_most_its_cap_of_streams() {
    let app = TestApp::start(vec![("EVENT_STREAMS_PER_SESSION".into(), "3".into())]).await;
    let cookie = app.launch("14e52e16edb7a435bfa05e307afd008b").await;
    let open = || app.http.get(app.url(&common::events_path(&cookie))).header("cookie", &cookie).send();
    let mut held = Vec::new();
    for _ in 0..3 {
        let res = open().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        held.push(res);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status().as_u16(), 429, "a fourth stream on one session");
    let rendered = clinical_images::server::http::metrics::handle().render();
    assert!(rendered.contains("event_streams_refused_total"), "refusals are counted");
    // Another session is not affected; and a closed stream frees its place.
    let other = app.launch("5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65").await;
    let res =
        app.http.get(app.url(&common::events_path(&other))).header("cookie", &other).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    drop(held.pop());
    let mut again = None;
    for _ in 0..50 {
        let res = open().await.unwrap();
        if res.status().as_u16() == 200 {
            again = Some(res);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "the place of a closed stream is given back");
}
