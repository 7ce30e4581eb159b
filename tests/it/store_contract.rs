//! One contract per store trait, run against both backends: memory and real
//! Redis for sessions; local disk and real S3 (ministack, AUTH=true) for blobs.

use crate::common;
use std::time::Duration;

use clinical_images::model::{ImageMetadata, ImageSource, ImageStatus};
use clinical_images::server::config::S3Config;
use clinical_images::server::stores::blob::{BlobStore, LocalBlobStore, S3BlobStore};
use clinical_images::server::stores::session_store::{
    ImageRecord, MemorySessionStore, RedisSessionStore, Reserve, ReserveLimits, SessionRecord, SessionStore,
    TokenRecord, Updated,
};
use clinical_images::server::support::clock::{unix_now, unix_now_ms};

/// A session key, as the stores take one.
fn sk(key: &str) -> clinical_images::server::stores::session_store::SessionKey {
    clinical_images::server::stores::session_store::SessionKey::new(key)
}

const LONG: Duration = Duration::from_secs(600);

fn record(hard_in_secs: u64) -> SessionRecord {
    SessionRecord {
        patient_id: "14e52e16edb7a435bfa05e307afd008b".into(),
        facility_id: "F2N060-E".into(),
        provider_id: Some("prov-1".into()),
        dev_launch: false,
        created_at: unix_now(),
        hard_expires_at: unix_now() + hard_in_secs,
        patient_name: None,
        nhi: None,
    }
}

async fn session_contract(store: &dyn SessionStore) {
    store.ping().await.expect("ping");

    // Phones joining a link: ids are the server's, counted once each, per
    // link, and bounded per link.
    use clinical_images::server::stores::session_store::PhoneJoin;
    let link = format!("link-{}-{}", std::process::id(), common::unique("l"));
    let join = |presented: Option<&'static str>, fresh: &'static str| {
        let link = link.clone();
        async move { store.join_phone(&link, presented, fresh, 2, LONG).await.unwrap() }
    };
    assert_eq!(join(None, "phone-1").await, PhoneJoin::Joined { phones: 1 });
    assert_eq!(
        join(Some("phone-1"), "unused").await,
        PhoneJoin::Known { phones: 1 },
        "a reload is not a new phone"
    );
    assert_eq!(
        join(Some("made-up"), "phone-2").await,
        PhoneJoin::Joined { phones: 2 },
        "an unknown id is a new phone"
    );
    assert_eq!(join(Some("made-up"), "phone-3").await, PhoneJoin::Full, "no third phone");
    assert_eq!(join(None, "phone-3").await, PhoneJoin::Full);
    assert_eq!(
        join(Some("phone-2"), "unused").await,
        PhoneJoin::Known { phones: 2 },
        "a joined phone still opens it"
    );
    assert_eq!(
        store.join_phone(&format!("{link}-new"), Some("phone-1"), "phone-9", 2, LONG).await.unwrap(),
        PhoneJoin::Joined { phones: 1 },
        "another link's id is not this link's"
    );

    // Create, read back, and keys are independent.
    let a = record(3600);
    store.create("key-a", &a, LONG).await.unwrap();
    assert_eq!(store.touch("key-a", LONG).await.unwrap(), Some(a.clone()));
    assert_eq!(store.touch("key-b", LONG).await.unwrap(), None);

    // Delete ends it.
    store.delete("key-a").await.unwrap();
    assert_eq!(store.touch("key-a", LONG).await.unwrap(), None);
    store.delete("never-existed").await.unwrap();

    // A record already past its hard expiry is never stored.
    let mut dead = record(0);
    dead.hard_expires_at = unix_now().saturating_sub(1);
    store.create("key-dead", &dead, LONG).await.unwrap();
    assert_eq!(store.touch("key-dead", LONG).await.unwrap(), None);

    // The idle timeout is enforced by the store, and touching slides it.
    // Windows of seconds, not milliseconds: a slow machine cannot flip them.
    let idle = Duration::from_secs(3);
    store.create("key-idle", &record(3600), idle).await.unwrap();
    assert!(store.exists("key-idle").await.unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(store.touch("key-idle", idle).await.unwrap().is_some(), "alive within idle");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(store.exists("key-idle").await.unwrap(), "exists does not need a touch");
    assert!(store.touch("key-idle", idle).await.unwrap().is_some(), "touch slid the deadline");
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert!(!store.exists("key-idle").await.unwrap());
    assert_eq!(store.touch("key-idle", idle).await.unwrap(), None, "gone after idle");

    // The hard expiry caps the idle timeout.
    store.create("key-hard", &record(1), LONG).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(store.touch("key-hard", LONG).await.unwrap(), None, "gone after hard expiry");

    // Mobile tokens: stored, slid, expired.
    let token = TokenRecord { session_key: sk("key-s"), created_at: unix_now(), revoked: false };
    store.put_token("tok-1", &token, Duration::from_secs(1)).await.unwrap();
    assert_eq!(store.touch_token("tok-1", Duration::from_secs(1)).await.unwrap(), Some(token));
    assert_eq!(store.touch_token("tok-2", LONG).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(store.touch_token("tok-1", LONG).await.unwrap(), None, "token gone after its TTL");
}

fn image(id: &str, created_at: u64) -> ImageRecord {
    ImageRecord {
        original: None,
        image_id: id.into(),
        source: ImageSource::Desktop,
        uploader: None,
        content_type: "image/jpeg".into(),
        size: 10,
        width: None,
        height: None,
        created_at,
        created_ms: created_at * 1000,
        picked_ms: None,
        uploaded_at: None,
        metadata: ImageMetadata::default(),
        status: ImageStatus::Uploaded,
        blob_key: format!("s/{id}"),
        captured_at: None,
        sha256: None,
        version: 0,
    }
}

fn limits(max_images: usize) -> ReserveLimits {
    ReserveLimits { max_images, max_pending: 100, reservation_ttl: LONG }
}

async fn image_contract(store: &dyn SessionStore) {
    // The current token swaps atomically and returns the previous one.
    assert_eq!(store.swap_current_token("sess", "t1", LONG).await.unwrap(), None);
    assert_eq!(store.swap_current_token("sess", "t2", LONG).await.unwrap(), Some("t1".into()));

    // Reservations stop at the limit; order is oldest first.
    for (i, id) in ["b", "a", "c"].iter().enumerate() {
        let r = store
            .reserve_image(&sk("sess"), &image(id, unix_now() + i as u64), limits(3), LONG)
            .await
            .unwrap();
        assert_eq!(r, Reserve::Reserved);
    }
    assert_eq!(
        store.reserve_image(&sk("sess"), &image("d", unix_now() + 9), limits(3), LONG).await.unwrap(),
        Reserve::LimitReached
    );
    let ids: Vec<String> = store.images(&sk("sess")).await.unwrap().into_iter().map(|r| r.image_id).collect();
    assert_eq!(ids, ["b", "a", "c"]);
    assert!(store.images(&sk("other-sess")).await.unwrap().is_empty());
    assert!(store.image(&sk("other-sess"), "a").await.unwrap().is_none());

    // A device's photos list in the order they were picked, not reserved:
    // a phone picked p1..p3 (clock 5 s behind) but reserved p2, p3, p1; the
    // desktop's d1 was picked and reserved between them.
    let now = unix_now();
    let picked = |id: &str, uploader: Option<&str>, picked_ms: u64, created_ms: u64| ImageRecord {
        uploader: uploader.map(Into::into),
        picked_ms: Some(picked_ms),
        created_ms,
        ..image(id, now)
    };
    let base = now * 1000;
    for r in [
        picked("p2", Some("phone-a"), base - 4_999, base + 300),
        picked("d1", None, base + 100, base + 200),
        picked("p3", Some("phone-a"), base - 4_998, base + 350),
        picked("p1", Some("phone-a"), base - 5_000, base + 1_200),
    ] {
        assert_eq!(store.reserve_image(&sk("pick"), &r, limits(10), LONG).await.unwrap(), Reserve::Reserved);
    }
    let ids: Vec<String> = store.images(&sk("pick")).await.unwrap().into_iter().map(|r| r.image_id).collect();
    assert_eq!(ids, ["d1", "p1", "p2", "p3"]);

    // Compare-and-set: a stale writer loses.
    let current = store.image(&sk("sess"), "a").await.unwrap().unwrap();
    let first = ImageRecord { width: Some(1), ..current.clone() };
    let stale = ImageRecord { width: Some(2), ..current.clone() };
    assert!(store.replace_image(&sk("sess"), &current, &first).await.unwrap());
    assert!(!store.replace_image(&sk("sess"), &current, &stale).await.unwrap());
    assert_eq!(store.image(&sk("sess"), "a").await.unwrap().unwrap().width, Some(1));

    assert!(store.remove_image(&sk("sess"), "a").await.unwrap());
    assert!(!store.remove_image(&sk("sess"), "a").await.unwrap());
    assert_eq!(store.images(&sk("sess")).await.unwrap().len(), 2);

    // Twenty concurrent reservations against a limit of 20 all land, once.
    let records: Vec<ImageRecord> = (0..21).map(|i| image(&format!("p{i}"), unix_now() + i)).collect();
    let par = sk("par");
    let results =
        futures::future::join_all(records.iter().map(|r| store.reserve_image(&par, r, limits(20), LONG)))
            .await;
    let reserved = results.iter().filter(|r| matches!(r, Ok(Reserve::Reserved))).count();
    assert_eq!(reserved, 20);
    assert_eq!(store.images(&sk("par")).await.unwrap().len(), 20);

    // Unregistered reservations: capped per uploader, reclaimed once stale.
    let short = ReserveLimits { max_images: 5, max_pending: 2, reservation_ttl: Duration::from_secs(2) };
    let from_phone = |id: &str| ImageRecord {
        uploader: Some("phone-a".into()),
        created_ms: unix_now_ms(),
        ..image(id, unix_now())
    };
    for id in ["r1", "r2"] {
        assert_eq!(
            store.reserve_image(&sk("res"), &from_phone(id), short, LONG).await.unwrap(),
            Reserve::Reserved
        );
    }
    assert_eq!(
        store.reserve_image(&sk("res"), &from_phone("r3"), short, LONG).await.unwrap(),
        Reserve::TooManyPending
    );
    let other_phone = ImageRecord { uploader: Some("phone-b".into()), ..from_phone("b1") };
    assert_eq!(store.reserve_image(&sk("res"), &other_phone, short, LONG).await.unwrap(), Reserve::Reserved);
    let registered = ImageRecord {
        uploaded_at: Some(unix_now()),
        created_ms: unix_now_ms(),
        ..image(&sk("done"), unix_now())
    };
    assert_eq!(store.reserve_image(&sk("res"), &registered, short, LONG).await.unwrap(), Reserve::Reserved);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    // The stale ones are reclaimed; the registered one stays.
    assert_eq!(
        store.reserve_image(&sk("res"), &from_phone("r4"), short, LONG).await.unwrap(),
        Reserve::Reserved
    );
    let mut ids: Vec<String> =
        store.images(&sk("res")).await.unwrap().into_iter().map(|r| r.image_id).collect();
    ids.sort();
    assert_eq!(ids, ["done", "r4"]);

    // update_image: applies the change, retries past a concurrent writer, declines, misses.
    let rec = store.image(&sk("res"), "done").await.unwrap().unwrap();
    let widen = |r: &ImageRecord| Some(ImageRecord { width: Some(r.width.unwrap_or(0) + 1), ..r.clone() });
    let Updated::Done(after) = store.update_image(&sk("res"), "done", &widen).await.unwrap() else {
        panic!()
    };
    assert_eq!(after.width, Some(1));
    assert!(after.version > rec.version, "each write bumps the version");
    assert!(!store.replace_image(&sk("res"), &rec, &rec).await.unwrap(), "a stale version loses");
    let decline = |_: &ImageRecord| None;
    assert!(matches!(store.update_image(&sk("res"), "done", &decline).await.unwrap(), Updated::Refused(_)));
    assert_eq!(store.update_image(&sk("res"), "nope", &widen).await.unwrap(), Updated::Missing);

    // Claims: one holder at a time, released, and gone after their TTL.
    assert!(store.try_claim("claim-x", "owner-1", LONG).await.unwrap());
    assert!(!store.try_claim("claim-x", "owner-2", LONG).await.unwrap());
    // Only the holder renews or releases it.
    assert!(!store.renew_claim("claim-x", "owner-2", LONG).await.unwrap());
    store.release("claim-x", "owner-2").await.unwrap();
    assert!(!store.try_claim("claim-x", "owner-2", LONG).await.unwrap(), "another's release is ignored");
    assert!(store.renew_claim("claim-x", "owner-1", LONG).await.unwrap());
    store.release("claim-x", "owner-1").await.unwrap();
    assert!(store.try_claim("claim-x", "owner-3", Duration::from_secs(1)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(!store.renew_claim("claim-x", "owner-3", LONG).await.unwrap(), "a lapsed claim is not renewed");
    assert!(store.try_claim("claim-x", "owner-4", LONG).await.unwrap(), "a claim expires by itself");
    store.release("claim-x", "owner-3").await.unwrap();
    assert!(!store.try_claim("claim-x", "owner-5", LONG).await.unwrap(), "the lapsed holder cannot free it");

    // Audit: oldest first, and records past the retention are dropped.
    let tag = unix_now_ms().to_string();
    store.append_audit(&serde_json::json!({"n": 1, "tag": tag}), Duration::from_secs(2)).await.unwrap();
    store.append_audit(&serde_json::json!({"n": 2, "tag": tag}), Duration::from_secs(2)).await.unwrap();
    let recent = store.recent_audit(2).await.unwrap();
    assert_eq!(recent.iter().map(|r| r["n"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    store.append_audit(&serde_json::json!({"n": 3, "tag": tag}), Duration::from_secs(2)).await.unwrap();
    let recent = store.recent_audit(10).await.unwrap();
    assert_eq!(
        recent.iter().map(|r| r["n"].as_i64().unwrap()).collect::<Vec<_>>(),
        [3],
        "older records dropped"
    );

    // A flood of refusals from one session never pushes out another's filing:
    // refusals of one photo are one record, counting its attempts.
    let since = unix_now_ms();
    let tag = format!("{tag}-flood");
    let filing = serde_json::json!({"at": "t0", "session": "s-files", "imageId": "kept", "outcome": "committed", "tag": tag});
    store.append_audit(&filing, LONG).await.unwrap();
    let attempt = |i: u32| {
        serde_json::json!({"at": format!("t{i}"), "session": "s-floods", "imageId": "refused",
            "outcome": "failed", "attempts": 1, "firstAt": format!("t{i}"), "tag": tag})
    };
    let flood = 10_100;
    for i in 1..=flood {
        store.append_refusal(&format!("s-floods:refused-{tag}"), &attempt(i), LONG).await.unwrap();
    }
    let audit = store.audit_since(since, 10_000).await.unwrap();
    let ours: Vec<_> = audit.iter().filter(|r| r["tag"] == tag.as_str()).collect();
    assert_eq!(ours.len(), 2, "one filing and one aggregate: {} records", audit.len());
    assert_eq!(ours[0]["imageId"], "kept", "the filing is still there, and first");
    assert_eq!(ours[1]["attempts"], flood, "every attempt counted");
    assert_eq!(ours[1]["firstAt"], "t1");
    assert_eq!(ours[1]["at"], format!("t{flood}"), "the latest attempt's record");
    assert_eq!(store.recent_audit(1).await.unwrap()[0]["imageId"], "kept", "filings are apart from refusals");
}

#[tokio::test]
async fn memory_session_store_meets_the_contract() {
    session_contract(&MemorySessionStore::new()).await;
}

#[tokio::test]
async fn memory_image_store_meets_the_contract() {
    image_contract(&MemorySessionStore::new()).await;
}

async fn redis_store() -> RedisSessionStore {
    let prefix = format!("{}:", common::unique("contract"));
    RedisSessionStore::connect(&common::redis_url(), prefix).await.unwrap()
}

#[tokio::test]
async fn redis_session_store_meets_the_contract() {
    session_contract(&redis_store().await).await;
}

#[tokio::test]
async fn redis_image_store_meets_the_contract() {
    image_contract(&redis_store().await).await;
}

#[tokio::test]
async fn a_record_written_by_another_version_can_still_be_updated() {
    let url = common::redis_url();
    let prefix = format!("{}:", common::unique("oldfmt"));
    let store = RedisSessionStore::connect(&url, prefix.clone()).await.unwrap();
    // As an older release wrote it: no `version`, other field order, a field
    // this release does not know, and compact spacing of its own.
    let old = r#"{"status":{"state":"uploaded"},"metadata":{},"image_id":"old-1","source":"desktop","uploader":null,"content_type":"image/jpeg","size":10,"width":4,"height":3,"created_at":1,"created_ms":1000,"uploaded_at":2,"blob_key":"s/old-1","legacy_flag":true}"#;
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}images:sess"))
        .arg("old-1")
        .arg(old)
        .query_async(&mut conn)
        .await
        .unwrap();
    let set_site = |r: &ImageRecord| {
        let mut next = r.clone();
        next.metadata.body_site = Some("14975008".into());
        Some(next)
    };
    let Updated::Done(updated) = store.update_image(&sk("sess"), "old-1", &set_site).await.unwrap() else {
        panic!("an old-format record must stay updatable");
    };
    assert_eq!(updated.metadata.body_site.as_deref(), Some("14975008"));
    assert_eq!(
        store.image(&sk("sess"), "old-1").await.unwrap().unwrap().metadata.body_site.as_deref(),
        Some("14975008")
    );
}

#[tokio::test]
async fn redis_keys_stay_under_their_prefix() {
    let url = common::redis_url();
    let prefix = format!("{}:", common::unique("prefix"));
    let store = RedisSessionStore::connect(&url, prefix.clone()).await.unwrap();
    store.create("k", &record(3600), LONG).await.unwrap();
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    assert_eq!(keys, vec![format!("{prefix}session:k")]);
    let ttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0 && ttl <= 600_000, "Redis holds the TTL itself: {ttl}");
}

async fn blob_contract(store: &dyn BlobStore) {
    store.ping().await.expect("ping");

    // Listing a folder: every blob under it, nothing beside it.
    let dir = format!("list-{}", common::unique("d"));
    for key in ["a", "upload-a", "b"] {
        store.put(&format!("{dir}/{key}"), "image/jpeg", b"x".to_vec()).await.unwrap();
    }
    store.put(&format!("{dir}-other/a"), "image/jpeg", b"x".to_vec()).await.unwrap();
    let mut listed = store.list(&dir).await.unwrap();
    listed.sort();
    assert_eq!(listed, [format!("{dir}/a"), format!("{dir}/b"), format!("{dir}/upload-a")]);
    store.delete(&format!("{dir}/a")).await.unwrap();
    assert_eq!(store.list(&dir).await.unwrap().len(), 2, "a deleted blob is not listed");
    assert!(store.list("list-none-here").await.unwrap().is_empty());

    let jpeg = std::iter::repeat_n(0xABu8, 2 * 1024 * 1024 + 7).collect::<Vec<_>>();
    store.put("s1/img-1", "image/jpeg", jpeg.clone()).await.unwrap();
    let meta = store.head("s1/img-1").await.unwrap().expect("head");
    assert_eq!((meta.size, meta.content_type.as_str()), (jpeg.len() as u64, "image/jpeg"));
    let (meta, bytes) = store.get("s1/img-1").await.unwrap().expect("get");
    assert_eq!(meta.size, jpeg.len() as u64);
    assert!(bytes == jpeg, "bytes round-trip");

    // Overwrite replaces bytes and type.
    store.put("s1/img-1", "image/png", b"png".to_vec()).await.unwrap();
    let (meta, bytes) = store.get("s1/img-1").await.unwrap().unwrap();
    assert_eq!((meta.content_type.as_str(), bytes.as_slice()), ("image/png", &b"png"[..]));

    // Missing blobs are None, deleting them is fine, and delete removes.
    assert!(store.get("s1/none").await.unwrap().is_none());
    assert!(store.head("s1/none").await.unwrap().is_none());
    store.delete("s1/none").await.unwrap();
    store.delete("s1/img-1").await.unwrap();
    assert!(store.get("s1/img-1").await.unwrap().is_none());

    // Keys that could escape their prefix are refused outright.
    for bad in ["../etc/passwd", "/abs", "a//b"] {
        assert!(store.put(bad, "image/jpeg", vec![1]).await.is_err(), "{bad}");
    }
}

#[tokio::test]
async fn local_disk_blobs_expire_by_sweep() {
    let dir = std::env::temp_dir().join(common::unique("sweep"));
    let signer = std::sync::Arc::new(clinical_images::server::stores::blob::signed_url::UrlSigner::new(
        "http://127.0.0.1:1",
    ));
    let store = LocalBlobStore::open(&dir, signer).await.unwrap();
    store.put("s/old", "image/jpeg", vec![1]).await.unwrap();
    store.put("s/new", "image/jpeg", vec![2]).await.unwrap();
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::options().write(true).open(dir.join("s/old")).unwrap().set_modified(two_days_ago).unwrap();
    assert_eq!(store.sweep(std::time::Duration::from_secs(86_400)).await.unwrap(), 1);
    assert!(store.head("s/old").await.unwrap().is_none());
    assert!(store.head("s/new").await.unwrap().is_some());
    assert!(!dir.join("s/old.type").exists(), "its content-type sidecar went with it");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn local_disk_blob_store_meets_the_contract() {
    let dir = std::env::temp_dir().join(common::unique("blobs"));
    let signer = std::sync::Arc::new(clinical_images::server::stores::blob::signed_url::UrlSigner::new(
        "http://127.0.0.1:1",
    ));
    let store = LocalBlobStore::open(&dir, signer).await.unwrap();
    blob_contract(&store).await;
    let _ = std::fs::remove_dir_all(dir);
}

fn s3_config(secret: Option<&str>) -> S3Config {
    let vars: std::collections::HashMap<_, _> = common::s3_vars().into_iter().collect();
    S3Config {
        bucket: vars["S3_BUCKET"].clone(),
        endpoint: Some(vars["S3_ENDPOINT"].parse().unwrap()),
        region: "us-east-1".into(),
        force_path_style: true,
        access_key_id: vars["AWS_ACCESS_KEY_ID"].clone(),
        secret_access_key: secret
            .map(str::to_owned)
            .unwrap_or_else(|| vars["AWS_SECRET_ACCESS_KEY"].clone())
            .into(),
        key_prefix: format!("{}/", common::unique("p")),
        create_bucket: true,
    }
}

#[tokio::test]
async fn s3_blob_store_meets_the_contract() {
    let store = S3BlobStore::new(&s3_config(None));
    store.ensure_bucket().await.unwrap();
    blob_contract(&store).await;
}

#[tokio::test]
async fn s3_refuses_a_wrong_secret() {
    // ministack runs with AUTH=true: a bad signature must fail, or the S3
    // tests above would prove nothing about signing.
    let store = S3BlobStore::new(&s3_config(Some("wrong-secret")));
    assert!(store.put("k", "image/jpeg", vec![1, 2, 3]).await.is_err());
}
