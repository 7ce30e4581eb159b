//! Redis failing over under the cluster, every request through nginx:
//! - **Sentinel** (one primary, one replica, three Sentinels, Debian's
//!   `redis-server` in Sentinel mode): the primary SIGKILLed while phones
//!   upload and desktops stream. Sentinel promotes the replica; every
//!   instance follows; no registered photo is lost, no event is missing
//!   from a desktop's stream, nothing is filed twice.
//! - **An instance SIGKILLed mid-commit:** the photo it was filing is
//!   filable again within the claim's lifetime (15 s), and filed once.
//! - **Redis restarted during a burst of registrations** (AOF, no replica):
//!   503, not a hang, while it is down; sessions and tokens survive; every
//!   open stream, through nginx or on each instance, ends with every event
//!   (checked against the replay from `0-0`). Then an idle restart: the
//!   first request on each instance succeeds.
//! - **A primary demoted** without Sentinel: a plain `REDIS_URL` through a
//!   gate that moves to the new primary, the old one made its replica with
//!   the instances' connections still open. Every instance writes to the
//!   new primary within 10 s.

use super::*;
use std::collections::BTreeSet;

/// The Redis servers and Sentinels of one test, stopped when dropped.
struct RedisSet {
    dir: PathBuf,
    procs: Vec<(u16, Child)>,
}

const SERVICE: &str = "ci";

impl RedisSet {
    fn new() -> RedisSet {
        let dir = std::env::temp_dir().join(common::unique("redis-set"));
        std::fs::create_dir_all(&dir).unwrap();
        RedisSet { dir, procs: Vec::new() }
    }

    /// A data server on `port`, a replica of `primary` if given.
    fn server(&mut self, port: u16, primary: Option<u16>) {
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
    fn sentinel(&mut self, port: u16, primary: u16) {
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

    fn kill(&mut self, port: u16) {
        let (_, child) = self.procs.iter_mut().find(|(p, _)| *p == port).expect("a server on that port");
        let _ = child.kill();
        let _ = child.wait();
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

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn wait_for(what: &str, patience: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + patience;
    while !ok() {
        assert!(Instant::now() < until, "{what} did not happen in {patience:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn replica_in_sync(replica: u16) {
    wait_for("the replica's sync", Duration::from_secs(20), || {
        cli(replica, &["info", "replication"]).contains("master_link_status:up")
    })
    .await;
}

/// A TCP gate to Redis whose target can move: new connections go to the
/// port last sent, open ones stay where they are (as a managed endpoint's
/// name moving to a new primary looks to clients).
async fn moving_gate(first: u16) -> (u16, tokio::sync::watch::Sender<u16>) {
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
async fn until_ok(patience: Duration, make: impl Fn() -> reqwest::RequestBuilder) -> Option<Value> {
    let until = Instant::now() + patience;
    while Instant::now() < until {
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
async fn upload_via(front: &Front, base: &str, auth: &Credential) -> Option<(String, Instant)> {
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
struct Following {
    /// `(event id, image id)` of each `image-added`, in arrival order.
    added: Arc<Mutex<Vec<(String, String)>>>,
    reconnects: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Following {
    fn open(front: &Front, cookie: &str) -> Following {
        Following::open_at(&front.http, &front.base, cookie)
    }

    /// From `base`: nginx, or one instance directly.
    fn open_at(http: &reqwest::Client, base: &str, cookie: &str) -> Following {
        let (added, reconnects, stop) = (Arc::default(), Arc::new(AtomicUsize::new(0)), Arc::default());
        let following = Following { added, reconnects, stop };
        let (added, reconnects, stop) =
            (following.added.clone(), following.reconnects.clone(), following.stop.clone());
        let (http, url, cookie) =
            (http.clone(), format!("{base}{}", common::events_path(cookie)), cookie.to_owned());
        tokio::spawn(async move {
            let mut last: Option<String> = None;
            while !stop.load(Ordering::SeqCst) {
                let mut req = http.get(&url).header("cookie", &cookie);
                if let Some(id) = &last {
                    req = req.header("last-event-id", id);
                }
                if let Ok(mut res) = req.send().await {
                    if res.status().as_u16() == 200 {
                        let (mut buffer, mut id, mut name, mut data) =
                            (String::new(), String::new(), String::new(), String::new());
                        while let Ok(Some(chunk)) = res.chunk().await {
                            buffer.push_str(&String::from_utf8_lossy(&chunk));
                            while let Some(at) = buffer.find('\n') {
                                let line = buffer[..at].trim_end_matches('\r').to_owned();
                                buffer.drain(..=at);
                                if let Some(v) = line.strip_prefix("id:") {
                                    id = v.trim().to_owned();
                                } else if let Some(v) = line.strip_prefix("event:") {
                                    name = v.trim().to_owned();
                                } else if let Some(v) = line.strip_prefix("data:") {
                                    data.push_str(v.trim());
                                } else if line.is_empty() {
                                    if !id.is_empty() {
                                        last = Some(id.clone());
                                    }
                                    if name == "image-added" {
                                        let image: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                                        let image =
                                            image["data"]["imageId"].as_str().unwrap_or_default().to_owned();
                                        added.lock().unwrap().push((id.clone(), image));
                                    }
                                    (id, name, data) = (String::new(), String::new(), String::new());
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

    fn images(&self) -> Vec<String> {
        self.added.lock().unwrap().iter().map(|(_, image)| image.clone()).collect()
    }

    /// Waits until every one of `ids` has arrived; the ones still missing.
    async fn wait_for_all(&self, ids: &[String]) -> Vec<String> {
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
async fn replayed_from_start(front: &Front, cookie: &str) -> Vec<String> {
    let res = front
        .http
        .get(front.url(&common::events_path(cookie)))
        .header("cookie", cookie)
        .header("last-event-id", "0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let mut res = res;
    let mut text = String::new();
    // The replay comes first, at once; then the stream waits for live events.
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_millis(1500), res.chunk()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.split("\n\n")
        .filter(|block| {
            block.lines().any(|l| l.strip_prefix("event:").is_some_and(|n| n.trim() == "image-added"))
        })
        .filter_map(|block| {
            let data = block.lines().find_map(|l| l.strip_prefix("data:"))?;
            serde_json::from_str::<Value>(data.trim()).ok()?["data"]["imageId"].as_str().map(str::to_owned)
        })
        .collect()
}

/// Commits every photo of the session through nginx until each is filed.
async fn commit_all(front: &Front, desktop: &Credential) {
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
async fn filings(front: &Front, ids: &[String]) -> Vec<usize> {
    let inbox = front.inbox().await;
    ids.iter()
        .map(|id| inbox.iter().filter(|e| e["resource"]["identifier"][0]["value"] == id.as_str()).count())
        .collect()
}

/// A desktop with its phone and its following stream, and what the phone
/// has registered (id, when its registration was sent, when answered).
struct Session {
    cookie: String,
    desktop: Credential,
    stream: Following,
    registered: Arc<Mutex<Vec<(String, Instant, Instant)>>>,
}

async fn sessions(front: &Front, n: usize) -> Vec<Session> {
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
async fn phones_upload(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_sentinel_a_killed_primary_is_followed_and_nothing_is_lost_or_filed_twice() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut set = RedisSet::new();
    let (primary, replica) = (free_port(), free_port());
    set.server(primary, None);
    set.server(replica, Some(primary));
    replica_in_sync(replica).await;
    let sentinels: Vec<u16> = (0..3).map(|_| free_port()).collect();
    for s in &sentinels {
        set.sentinel(*s, primary);
    }
    // Each Sentinel knows the other two (they find each other through the primary).
    for s in &sentinels {
        wait_for("the Sentinels to find each other", Duration::from_secs(20), || {
            let master: Vec<String> =
                cli(*s, &["sentinel", "master", SERVICE]).lines().map(str::to_owned).collect();
            master.windows(2).any(|w| w[0] == "num-other-sentinels" && w[1] == "2")
        })
        .await;
    }
    let list: Vec<String> = sentinels.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let vars = vec![
        ("REDIS_SENTINELS".to_owned(), list.join(",")),
        ("REDIS_SENTINEL_SERVICE".to_owned(), SERVICE.to_owned()),
        ("REDIS_WAIT_REPLICAS".to_owned(), "1".to_owned()),
        ("REDIS_WAIT_TIMEOUT_MS".to_owned(), "2000".to_owned()),
        ("MAX_IMAGES_PER_SESSION".to_owned(), "1000".to_owned()),
    ];
    let mut cluster = Cluster::start_with(TEST_SHAPE, Some(vars)).await;
    let front = cluster.front.clone();

    // --- The primary SIGKILLed while three phones upload and their desktops stream. ---
    let sessions = sessions(&front, 3).await;
    let stop = Arc::new(AtomicBool::new(false));
    let loaders = phones_upload(&front, &sessions, &stop).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    set.kill(primary);
    let killed = Instant::now();
    let first_after = || {
        sessions
            .iter()
            .flat_map(|s| s.registered.lock().unwrap().clone())
            .filter(|(_, sent, _)| *sent > killed)
            .map(|(_, _, done)| done)
            .min()
    };
    let until = killed + Duration::from_secs(30);
    while first_after().is_none() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovery = first_after().expect("a registration after the failover").duration_since(killed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        l.await.expect("a phone's uploads");
    }
    let promoted = cli(sentinels[0], &["sentinel", "get-master-addr-by-name", SERVICE]);
    assert!(promoted.ends_with(&replica.to_string()), "Sentinel promoted the replica: {promoted}");

    let (mut registered, mut lost, mut missing, mut duplicated) = (0, 0, 0, 0);
    for s in &sessions {
        let ids: Vec<String> = s.registered.lock().unwrap().iter().map(|(id, ..)| id.clone()).collect();
        registered += ids.len();
        let listed = until_ok(Duration::from_secs(10), || {
            common::as_desktop(front.http.get(front.url("/api/medtech/session/images")), &s.cookie)
        })
        .await
        .expect("the session's list");
        let listed: BTreeSet<&str> =
            listed.as_array().unwrap().iter().filter_map(|i| i["imageId"].as_str()).collect();
        lost += ids.iter().filter(|id| !listed.contains(id.as_str())).count();
        missing += s.stream.wait_for_all(&ids).await.len();
        let streamed = s.stream.images();
        duplicated += streamed.len() - streamed.iter().collect::<BTreeSet<_>>().len();
        // What the stream delivered is the session's history, in order.
        assert_eq!(streamed, replayed_from_start(&front, &s.cookie).await, "the stream against its history");
        commit_all(&front, &s.desktop).await;
        let filed = filings(&front, &ids).await;
        assert!(filed.iter().all(|n| *n == 1), "each photo filed once: {filed:?}");
    }
    let reconnects: usize = sessions.iter().map(|s| s.stream.reconnects.load(Ordering::Relaxed)).sum();
    println!(
        "Sentinel failover: first registration {:.1} s after the kill; {registered} registered, {lost} lost, \
         {missing} events missing, {duplicated} duplicated; {reconnects} stream reconnects",
        recovery.as_secs_f64()
    );
    // (A duplicate is possible, not a failure: a publish whose answer was
    // lost to the kill is sent again, and the desktop takes both as one.)
    assert_eq!((lost, missing), (0, 0));
    assert!(recovery <= Duration::from_secs(10), "recovered in {recovery:?}");

    // --- An instance SIGKILLed in the middle of a commit. ---
    let cookie = front.launch().await;
    let desktop = Credential::Cookie(cookie.clone());
    let photos = [front.upload(&desktop).await, front.upload(&desktop).await];
    // The sandbox holds the first POST, so the commit is mid-filing when its instance dies.
    let res = front
        .http
        .post(format!("{}/faults", front.sandbox))
        .json(&json!({"count": 1, "delayMs": 3000, "path": "/Media"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let direct = format!("http://127.0.0.1:{}/api/medtech/attachments/commit", cluster.app_ports[0]);
    let interrupted = tokio::spawn(desktop.apply(front.http.post(&direct).json(&json!({}))).send());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cluster.signal_app(0, "-KILL");
    let killed = Instant::now();
    assert!(interrupted.await.unwrap().is_err(), "the commit's instance died before answering");
    let url = front.url("/api/medtech/attachments/commit");
    let freed = loop {
        let report =
            until_ok(Duration::from_secs(10), || desktop.apply(front.http.post(&url).json(&json!({}))))
                .await
                .expect("a commit's answer");
        let results = report["results"].as_array().unwrap();
        if results.iter().all(|r| r["status"] == "committed") {
            break killed.elapsed();
        }
        for r in results.iter().filter(|r| r["status"] == "skipped") {
            let message = r["message"].as_str().unwrap_or_default();
            assert!(message.contains("Try again in 15 seconds"), "says when to retry: {message}");
        }
        assert!(killed.elapsed() < Duration::from_secs(40), "still held: {report}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    println!("instance killed mid-commit: its photo filable and filed {:.1} s later", freed.as_secs_f64());
    assert!(freed <= Duration::from_secs(22), "freed within about 20 s: {freed:?}");
    assert_eq!(filings(&front, &photos).await, [1, 1], "each filed exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_sentinel_a_demoted_primary_is_left_for_the_new_one_within_seconds() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut set = RedisSet::new();
    let (old, new) = (free_port(), free_port());
    set.server(old, None);
    set.server(new, Some(old));
    replica_in_sync(new).await;
    let (gate, moved_to) = moving_gate(old).await;
    let vars = vec![("REDIS_URL".to_owned(), format!("redis://127.0.0.1:{gate}/0"))];
    let cluster = Cluster::start_with(TEST_SHAPE, Some(vars)).await;
    let front = cluster.front.clone();
    let sessions = sessions(&front, 1).await;
    let session = &sessions[0];
    let phone = phone(&front, &session.desktop).await;
    let before = upload_via(&front, &front.base, &phone).await.expect("an upload before the switch").0;
    assert!(session.stream.wait_for_all(std::slice::from_ref(&before)).await.is_empty());

    // The switch, with every instance's connections to the old primary open.
    moved_to.send_replace(new);
    assert_eq!(cli(new, &["replicaof", "no", "one"]), "OK");
    assert_eq!(cli(old, &["replicaof", "127.0.0.1", &new.to_string()]), "OK");
    let switched = Instant::now();
    let images_key = format!("cluster:images:{}", common::session_key(&session.cookie));
    let mut after = vec![before];
    for port in cluster.app_ports.clone() {
        let base = format!("http://127.0.0.1:{port}");
        let (id, _) = upload_via(&front, &base, &phone).await.expect("a registration on each instance");
        let took = switched.elapsed();
        println!(
            "demoted primary: instance on {port} writes to the new primary {:.1} s after the switch",
            took.as_secs_f64()
        );
        assert!(took <= Duration::from_secs(10), "within 10 s: {took:?}");
        assert!(cli(new, &["hexists", &images_key, &id]) == "1", "registered on the new primary");
        after.push(id);
    }
    assert!(cli(old, &["role"]).starts_with("slave"), "the old primary is a replica now");
    assert_eq!(
        session.stream.wait_for_all(&after).await,
        Vec::<String>::new(),
        "every event reached the stream"
    );
    assert_eq!(session.stream.images(), replayed_from_start(&front, &session.cookie).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_mid_burst_loses_no_event_and_the_first_request_after_it_succeeds() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut cluster = Cluster::start().await;
    let front = cluster.front.clone();
    let (dir, port) = (cluster.dir.clone(), cluster.redis_port);
    // A phone whose token must survive the restart (its own session: a
    // second QR code for a session revokes the first).
    let kept = Credential::Cookie(front.launch().await);
    let kept_phone = phone(&front, &kept).await;
    let sessions = sessions(&front, 2).await;
    let instances: Vec<String> = cluster.app_ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let direct: Vec<Following> =
        instances.iter().map(|base| Following::open_at(&front.http, base, &sessions[0].cookie)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let loaders = phones_upload(&front, &sessions, &stop).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // --- Redis shut down mid-burst, then started again (AOF). ---
    let _ = Command::new("redis-cli").args(["-p", &port.to_string(), "shutdown"]).status();
    let _ = cluster.redis.wait();
    let asked = Instant::now();
    let during =
        common::as_desktop(front.http.get(front.url("/api/medtech/session/images")), &sessions[0].cookie)
            .send()
            .await
            .unwrap();
    assert!(matches!(during.status().as_u16(), 502..=503), "{}", during.status());
    assert!(asked.elapsed() < Duration::from_secs(12), "an answer, not a hang");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.redis = spawn_redis(&dir, port);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        l.await.expect("a phone's uploads");
    }
    let token = kept_phone.apply(front.http.post(front.url("/api/medtech/session/token")).json(&json!({})));
    assert_eq!(token.send().await.unwrap().status().as_u16(), 200, "the phone's token survived");
    let mut registered = 0;
    for (n, s) in sessions.iter().enumerate() {
        let ids: Vec<String> = s.registered.lock().unwrap().iter().map(|(id, ..)| id.clone()).collect();
        registered += ids.len();
        let history = replayed_from_start(&front, &s.cookie).await;
        let mut streams = vec![&s.stream];
        if n == 0 {
            streams.extend(&direct);
        }
        for stream in streams {
            assert_eq!(stream.wait_for_all(&ids).await, Vec::<String>::new(), "events missing from a stream");
            assert_eq!(stream.images(), history, "a stream against the session's history");
        }
    }
    println!("Redis restarted mid-burst: {registered} registered, every stream has every event");
    drop((sessions, direct));

    // --- An idle restart: the first request on each instance succeeds. ---
    let _ = Command::new("redis-cli").args(["-p", &port.to_string(), "shutdown"]).status();
    let _ = cluster.redis.wait();
    cluster.redis = spawn_redis(&dir, port);
    wait_for("Redis back", Duration::from_secs(20), || cli(port, &["ping"]) == "PONG").await;
    let Credential::Cookie(cookie) = &kept else { unreachable!("a desktop holds a cookie") };
    for base in &instances {
        let first = common::as_desktop(front.http.get(format!("{base}/api/medtech/session/images")), cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status().as_u16(), 200, "the first request on {base} after the restart");
    }
}
