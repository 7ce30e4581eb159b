//! What the Redis scenarios (`failover.rs`) drive: Redis servers and
//! Sentinels, a gate whose target moves, clients that retry as phones do,
//! and desktop streams that reconnect as `EventSource` does.

use super::*;
use std::collections::BTreeSet;

/// The Redis servers and Sentinels of one test, stopped when dropped.
pub(super) struct RedisSet {
    dir: PathBuf,
    procs: Vec<(u16, Child)>,
}

pub(super) const SERVICE: &str = "ci";

impl RedisSet {
    pub(super) fn new() -> RedisSet {
        let dir = std::env::temp_dir().join(common::unique("redis-set"));
        std::fs::create_dir_all(&dir).unwrap();
        RedisSet { dir, procs: Vec::new() }
    }

    /// A data server on `port`, a replica of `primary` if given.
    pub(super) fn server(&mut self, port: u16, primary: Option<u16>) {
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null());
        if let Some(p) = primary {
            cmd.args(["--replicaof", "127.0.0.1", &p.to_string()]);
        }
        self.procs.push((port, cmd.spawn().expect("redis-server")));
    }

    /// A Sentinel on `port` watching `primary` as [`SERVICE`]: down after
    /// one second unanswered, two Sentinels agreeing.
    pub(super) fn sentinel(&mut self, port: u16, primary: u16) {
        let conf = self.dir.join(format!("sentinel-{port}.conf"));
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n\
                 sentinel down-after-milliseconds {SERVICE} 1000\nsentinel failover-timeout {SERVICE} 5000\n\
                 sentinel parallel-syncs {SERVICE} 1\n",
                self.dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel (package redis-sentinel)");
        self.procs.push((port, child));
    }

    pub(super) fn kill(&mut self, port: u16) {
        let at = self.procs.iter().position(|(p, _)| *p == port).expect("a server on that port");
        let (_, mut child) = self.procs.remove(at);
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// One primary, one replica and three Sentinels that know each other.
pub(super) struct SentinelSet {
    pub(super) set: RedisSet,
    pub(super) primary: u16,
    pub(super) replica: u16,
    pub(super) sentinels: Vec<u16>,
}

impl SentinelSet {
    pub(super) async fn start() -> SentinelSet {
        let mut set = RedisSet::new();
        let (primary, replica) = (free_port(), free_port());
        set.server(primary, None);
        set.server(replica, Some(primary));
        replica_in_sync(replica).await;
        let sentinels: Vec<u16> = (0..3).map(|_| free_port()).collect();
        for s in &sentinels {
            set.sentinel(*s, primary);
        }
        // Each knows the other two (they find each other through the primary).
        for s in &sentinels {
            wait_for("the Sentinels to find each other", Duration::from_secs(20), || {
                let master: Vec<String> =
                    cli(*s, &["sentinel", "master", SERVICE]).lines().map(str::to_owned).collect();
                master.windows(2).any(|w| w[0] == "num-other-sentinels" && w[1] == "2")
            })
            .await;
        }
        SentinelSet { set, primary, replica, sentinels }
    }

    /// The instances' variables: Sentinel, and a replica for each write
    /// that must survive a failover.
    pub(super) fn app_vars(&self) -> Vec<(String, String)> {
        let list: Vec<String> = self.sentinels.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        [
            ("REDIS_SENTINELS", list.join(",")),
            ("REDIS_SENTINEL_SERVICE", SERVICE.to_owned()),
            ("REDIS_WAIT_REPLICAS", "1".to_owned()),
            ("MAX_IMAGES_PER_SESSION", "100000".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The port of the server Sentinel names as primary now.
    pub(super) fn current_primary(&self) -> u16 {
        let named = cli(self.sentinels[0], &["sentinel", "get-master-addr-by-name", SERVICE]);
        named.lines().last().and_then(|p| p.trim().parse().ok()).expect("Sentinel names a primary")
    }
}

impl Drop for RedisSet {
    fn drop(&mut self) {
        for (_, child) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(super) async fn wait_for(what: &str, patience: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + patience;
    while !ok() {
        assert!(Instant::now() < until, "{what} did not happen in {patience:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) async fn replica_in_sync(replica: u16) {
    wait_for("the replica's sync", Duration::from_secs(20), || {
        cli(replica, &["info", "replication"]).contains("master_link_status:up")
    })
    .await;
}

/// A TCP gate to Redis whose target can move: new connections go to the
/// port last sent, open ones stay where they are (as a managed endpoint's
/// name moving to a new primary looks to clients).
pub(super) async fn moving_gate(first: u16) -> (u16, tokio::sync::watch::Sender<u16>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (target_tx, target) = tokio::sync::watch::channel(first);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = *target.borrow();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (port, target_tx)
}

/// Sends until the answer is 200, as the phone's queue does: again on a
/// 5xx, a 429 or a dropped connection; `None` on another answer, or once
/// `patience` has passed.
/// Requests [`until_ok`] sent, and how many of them it had to send again.
pub(super) static SENT: AtomicUsize = AtomicUsize::new(0);
pub(super) static SENT_AGAIN: AtomicUsize = AtomicUsize::new(0);

pub(super) async fn until_ok(
    patience: Duration,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Option<Value> {
    let until = Instant::now() + patience;
    let mut first = true;
    while Instant::now() < until {
        SENT.fetch_add(1, Ordering::Relaxed);
        if !std::mem::take(&mut first) {
            SENT_AGAIN.fetch_add(1, Ordering::Relaxed);
        }
        match make().send().await {
            Ok(res) if res.status().as_u16() == 200 => return Some(res.json().await.unwrap_or(Value::Null)),
            Ok(res) if res.status().is_server_error() || res.status().as_u16() == 429 => {}
            Ok(res) => {
                println!("  answered {}: {}", res.status(), res.text().await.unwrap_or_default());
                return None;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    None
}

/// One photo from `auth`, against `base` (nginx or one instance): presign,
/// PUT, register, each retried. The id and when its registration was first
/// sent, once registered; `None` if a step was refused (a reservation lost
/// in the failover, say: the phone starts that photo over).
pub(super) async fn upload_via(front: &Front, base: &str, auth: &Credential) -> Option<(String, Instant)> {
    let patience = Duration::from_secs(30);
    let photo = common::jpeg(32, 24);
    let body = json!({"contentType": "image/jpeg", "size": photo.len()});
    let presign = format!("{base}/api/medtech/session/presigned-url");
    let ticket = until_ok(patience, || auth.apply(front.http.post(&presign).json(&body))).await?;
    common::signed_put(&front.http, &ticket, photo).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    let register = format!("{base}/api/medtech/session/images");
    let sent = Instant::now();
    until_ok(patience, || auth.apply(front.http.post(&register).json(&json!({"imageId": id})))).await?;
    Some((id, sent))
}

/// A desktop's event stream through nginx that reconnects as the browser's
/// `EventSource` does: with `Last-Event-ID`, whenever it ends or fails.
pub(super) struct Following {
    /// `(event id, image id)` of each `image-added`, in arrival order.
    pub(super) added: Arc<Mutex<Vec<(String, String)>>>,
    pub(super) reconnects: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Following {
    pub(super) fn open(front: &Front, cookie: &str) -> Following {
        Following::open_at(&front.http, &front.base, cookie)
    }

    /// From `base`: nginx, or one instance directly.
    pub(super) fn open_at(http: &reqwest::Client, base: &str, cookie: &str) -> Following {
        let (added, reconnects, stop) = (Arc::default(), Arc::new(AtomicUsize::new(0)), Arc::default());
        let following = Following { added, reconnects, stop };
        let (added, reconnects, stop) =
            (following.added.clone(), following.reconnects.clone(), following.stop.clone());
        let (http, url, cookie) =
            (http.clone(), format!("{base}{}", common::events_path(cookie)), cookie.to_owned());
        tokio::spawn(async move {
            // From the session's start: what was registered before the
            // stream first opened is replayed too, as a desktop lists it.
            let mut last: Option<String> = Some("0-0".to_owned());
            while !stop.load(Ordering::SeqCst) {
                let mut req = http.get(&url).header("cookie", &cookie);
                if let Some(id) = &last {
                    req = req.header("last-event-id", id);
                }
                if let Ok(mut res) = req.send().await {
                    if res.status().as_u16() == 200 {
                        let mut reader = SseReader::default();
                        while let Ok(Some(chunk)) = res.chunk().await {
                            for event in reader.push(&chunk) {
                                if let Some(image) = added_image(&event) {
                                    added.lock().unwrap().push((event.id.clone(), image));
                                }
                                if !event.id.is_empty() {
                                    last = Some(event.id);
                                }
                            }
                        }
                    }
                }
                reconnects.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        following
    }

    pub(super) fn images(&self) -> Vec<String> {
        self.added.lock().unwrap().iter().map(|(_, image)| image.clone()).collect()
    }

    /// Waits until every one of `ids` has arrived; the ones still missing.
    pub(super) async fn wait_for_all(&self, ids: &[String]) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let seen: BTreeSet<String> = self.images().into_iter().collect();
            let missing: Vec<String> = ids.iter().filter(|id| !seen.contains(*id)).cloned().collect();
            if missing.is_empty() || Instant::now() > until {
                return missing;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The session's whole history, replayed from its start (`Last-Event-ID:
/// 0-0`): the image ids of its `image-added` events.
pub(super) async fn replayed_from_start(front: &Front, cookie: &str) -> Vec<String> {
    let res = front
        .http
        .get(front.url(&common::events_path(cookie)))
        .header("cookie", cookie)
        .header("last-event-id", "0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let (mut res, mut reader, mut added) = (res, SseReader::default(), Vec::new());
    // The replay comes first, at once; then the stream waits for live events.
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_millis(1500), res.chunk()).await {
        added.extend(reader.push(&chunk).iter().filter_map(added_image));
    }
    added
}

/// The photo an `image-added` event is about.
fn added_image(event: &SseEvent) -> Option<String> {
    if event.name != "image-added" {
        return None;
    }
    let event: Value = serde_json::from_str(&event.data).ok()?;
    event["data"]["imageId"].as_str().map(str::to_owned)
}

/// Commits every photo of the session through nginx until each is filed.
pub(super) async fn commit_all(front: &Front, desktop: &Credential) {
    let url = front.url("/api/medtech/attachments/commit");
    for _ in 0..40 {
        if let Some(report) =
            until_ok(Duration::from_secs(20), || desktop.apply(front.http.post(&url).json(&json!({})))).await
        {
            if report["results"].as_array().unwrap().iter().all(|r| r["status"] == "committed") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("the session's photos could not all be filed");
}

/// How many times each of `ids` is in the sandbox's inbox.
pub(super) async fn filings(front: &Front, ids: &[String]) -> Vec<usize> {
    let inbox = front.inbox().await;
    ids.iter()
        .map(|id| inbox.iter().filter(|e| e["resource"]["identifier"][0]["value"] == id.as_str()).count())
        .collect()
}

/// A desktop with its phone and its following stream, and what the phone
/// has registered (id, when its registration was sent, when answered).
pub(super) struct Session {
    pub(super) cookie: String,
    pub(super) desktop: Credential,
    pub(super) stream: Following,
    pub(super) registered: Arc<Mutex<Vec<(String, Instant, Instant)>>>,
}

pub(super) async fn sessions(front: &Front, n: usize) -> Vec<Session> {
    let mut out = Vec::new();
    for _ in 0..n {
        let cookie = front.launch().await;
        let desktop = Credential::Cookie(cookie.clone());
        let stream = Following::open(front, &cookie);
        out.push(Session { cookie, desktop, stream, registered: Arc::default() });
    }
    out
}

/// Each session's phone uploads through nginx until `stop`.
pub(super) async fn phones_upload(
    front: &Front,
    sessions: &[Session],
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut loaders = Vec::new();
    for s in sessions {
        let phone = phone(front, &s.desktop).await;
        let (front, stop, registered) = (front.clone(), stop.clone(), s.registered.clone());
        loaders.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                if let Some((id, sent)) = upload_via(&front, &front.base, &phone).await {
                    registered.lock().unwrap().push((id, sent, Instant::now()));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    loaders
}

/// How long after `killed` the first registration sent after it was
/// answered: the time to recover. Panics if none is within `patience`.
pub(super) async fn recovery_after(sessions: &[Session], killed: Instant, patience: Duration) -> Duration {
    let first = || {
        sessions
            .iter()
            .flat_map(|s| s.registered.lock().unwrap().clone())
            .filter(|(_, sent, _)| *sent > killed)
            .map(|(_, _, done)| done)
            .min()
    };
    loop {
        if let Some(done) = first() {
            return done.duration_since(killed);
        }
        assert!(killed.elapsed() < patience, "no registration within {patience:?} of the kill");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The session's photo list, asked as its desktop asks, through nginx.
pub(super) fn list(front: &Front, cookie: &str) -> reqwest::RequestBuilder {
    common::as_desktop(front.http.get(front.url("/api/medtech/session/images")), cookie)
}

/// What became of the sessions' photos after a run.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) registered: usize,
    /// Registered (answered 200) but not in the session's list.
    pub(super) lost: usize,
    /// Registered but never on the desktop's stream.
    pub(super) missing: usize,
    /// `image-added` twice for one photo on a stream.
    pub(super) repeated: usize,
    /// Streams whose events differ from the session's history replayed from `0-0`.
    pub(super) unlike_history: usize,
    /// In the sandbox's inbox more than once, after every session committed.
    pub(super) filed_twice: usize,
}

/// Checks each session's list, stream and history, then commits every photo
/// and counts the filings. A missing event is described, for the log.
pub(super) async fn tally(front: &Front, sessions: &[Session]) -> Tally {
    let mut t = Tally::default();
    for s in sessions {
        let ids: Vec<String> = s.registered.lock().unwrap().iter().map(|(id, ..)| id.clone()).collect();
        t.registered += ids.len();
        let listed =
            until_ok(Duration::from_secs(10), || list(front, &s.cookie)).await.expect("the session's list");
        let listed: BTreeSet<&str> =
            listed.as_array().unwrap().iter().filter_map(|i| i["imageId"].as_str()).collect();
        t.lost += ids.iter().filter(|id| !listed.contains(id.as_str())).count();
        let absent = s.stream.wait_for_all(&ids).await;
        let history = replayed_from_start(front, &s.cookie).await;
        for id in &absent {
            let at = history.iter().position(|h| h == id);
            println!("  missing {id}: at {at:?} of the session's {} events", history.len());
        }
        t.missing += absent.len();
        let streamed = s.stream.images();
        t.repeated += streamed.len() - streamed.iter().collect::<BTreeSet<_>>().len();
        t.unlike_history += usize::from(streamed != history);
        commit_all(front, &s.desktop).await;
        t.filed_twice += filings(front, &ids).await.iter().filter(|n| **n > 1).count();
    }
    t
}
