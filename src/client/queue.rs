//! The phone's unsent photos, kept in IndexedDB so that a reload, a tab the
//! OS killed, or a call that evicted the page does not lose them.
//!
//! Only the pipeline's output is kept (already stripped of EXIF and GPS, and
//! compressed), never the photo as picked. Entries are keyed to the phone
//! link by a hash of its token (the token itself is never written here), and
//! go away:
//! - the moment each upload is registered ([`forget`]);
//! - when the link is dead (expired, revoked, unknown), when a newer link is
//!   opened on this phone (a new QR code revokes the old one), or when the
//!   link's expiry has passed ([`forget_link`], [`keep_only`]);
//! - when the GP taps "Discard" ([`forget_link`]).
//!
//! Two object stores: `photo-bytes` (the JPEG, written once) and
//! `photo-entries` (a small JSON record: order, summary, body site and side,
//! whether sending had started, the upload ticket), rewritten as the GP
//! edits. Without IndexedDB (a private window that refuses it), every call
//! fails quietly and the queue lives in memory only, as before.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::model::{ImageMetadata, UploadTicket};
use crate::pipeline::Summary;

const DB_NAME: &str = "clinical-images";
const DB_VERSION: u32 = 1;
const BYTES: &str = "photo-bytes";
const ENTRIES: &str = "photo-entries";

/// One unsent photo's record (without its bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `<link>/<random>`: unique across reloads.
    pub key: String,
    /// [`link_key`] of the phone link it belongs to.
    pub link: String,
    /// Its place in the batch.
    pub order: u32,
    /// When the GP picked it ([`super::pick_time`]), so a resumed send
    /// keeps its place on the desktop. Absent in entries from before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picked_at: Option<u64>,
    pub summary: Summary,
    pub metadata: ImageMetadata,
    /// The GP had tapped "Send": a reopened link resumes sending at once.
    pub queued: bool,
    /// The upload ticket, once asked for: a resumed send reuses its image id,
    /// so a photo whose registration landed just before the page died is
    /// recognised as sent, not sent twice.
    pub ticket: Option<UploadTicket>,
    /// Its bytes were uploaded under `ticket` while the GP reviewed: "Send"
    /// only registers them. Absent in entries from before.
    #[serde(default)]
    pub uploaded: bool,
    /// The link's expiry (RFC 3339): past it, the entry is deleted unread.
    pub link_expires_at: String,
}

/// A restored photo: its record and its bytes.
pub struct Restored {
    pub entry: Entry,
    pub blob: Blob,
}

/// The key a link's photos are stored under: a hash of its token, so the
/// credential itself is not kept on the phone beyond the tab.
pub fn link_key(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh entry key for a photo of `link`.
pub fn new_key(link: &str) -> String {
    format!("{link}/{}", super::random_hex(2))
}

/// Resolves with the request's result once it succeeds.
async fn request(req: IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(promise).await?;
    req.result()
}

/// Resolves once the transaction has committed (so the data is durable).
async fn committed(tx: &IdbTransaction) -> Result<(), JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    JsFuture::from(promise).await.map(|_| ())
}

async fn open() -> Result<IdbDatabase, JsValue> {
    let factory = web_sys::window().ok_or(JsValue::NULL)?.indexed_db()?.ok_or(JsValue::NULL)?;
    let req = factory.open_with_u32(DB_NAME, DB_VERSION)?;
    let upgrade =
        wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let Some(db) = e
                .target()
                .and_then(|t| t.dyn_into::<IdbRequest>().ok())
                .and_then(|r| r.result().ok())
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
            else {
                return;
            };
            let names = db.object_store_names();
            for name in [BYTES, ENTRIES] {
                if !names.contains(name) {
                    let params = web_sys::IdbObjectStoreParameters::new();
                    params.set_key_path(&JsValue::from_str("key"));
                    let _ = db.create_object_store_with_optional_parameters(name, &params);
                }
            }
        });
    req.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = request(req.into()).await;
    drop(upgrade);
    db?.dyn_into::<IdbDatabase>()
}

fn stores(db: &IdbDatabase, names: &[&str]) -> Result<(IdbTransaction, Vec<IdbObjectStore>), JsValue> {
    let list = Array::new();
    for n in names {
        list.push(&JsValue::from_str(n));
    }
    let tx = db.transaction_with_str_sequence_and_mode(&list, IdbTransactionMode::Readwrite)?;
    let stores = names.iter().map(|n| tx.object_store(n)).collect::<Result<Vec<_>, _>>()?;
    Ok((tx, stores))
}

fn record(key: &str, field: &str, value: &JsValue) -> Result<JsValue, JsValue> {
    let o = Object::new();
    Reflect::set(&o, &"key".into(), &key.into())?;
    Reflect::set(&o, &field.into(), value)?;
    Ok(o.into())
}

fn entry_record(entry: &Entry) -> Result<JsValue, JsValue> {
    let json = serde_json::to_string(entry).map_err(|_| JsValue::NULL)?;
    record(&entry.key, "json", &json.into())
}

/// Keeps a processed photo and its record. The bytes are written once.
pub async fn save(entry: &Entry, blob: &Blob) -> Result<(), JsValue> {
    let bytes = JsFuture::from(blob.array_buffer()).await?;
    let db = open().await?;
    let (tx, stores) = stores(&db, &[BYTES, ENTRIES])?;
    stores[0].put(&record(&entry.key, "bytes", &bytes)?)?;
    stores[1].put(&entry_record(entry)?)?;
    committed(&tx).await
}

/// Rewrites a photo's record (not its bytes), if the photo is still kept.
pub async fn update(entry: &Entry) -> Result<(), JsValue> {
    let db = open().await?;
    let (tx, stores) = stores(&db, &[ENTRIES])?;
    // Only if present: a photo registered meanwhile must not come back.
    let existing = request(stores[0].count_with_key(&JsValue::from_str(&entry.key))?).await?;
    if existing.as_f64().unwrap_or(0.0) > 0.0 {
        stores[0].put(&entry_record(entry)?)?;
    }
    committed(&tx).await
}

/// Deletes one photo (its upload was registered, or the GP removed it).
pub async fn forget(key: &str) -> Result<(), JsValue> {
    let db = open().await?;
    let (tx, stores) = stores(&db, &[BYTES, ENTRIES])?;
    for store in &stores {
        store.delete(&JsValue::from_str(key))?;
    }
    committed(&tx).await
}

async fn all_entries(store: &IdbObjectStore) -> Result<Vec<Entry>, JsValue> {
    let all = request(store.get_all()?).await?;
    Ok(Array::from(&all)
        .iter()
        .filter_map(|r| Reflect::get(&r, &"json".into()).ok())
        .filter_map(|j| j.as_string())
        .filter_map(|j| serde_json::from_str::<Entry>(&j).ok())
        .collect())
}

/// Deletes every entry `doomed` picks, with its bytes.
async fn forget_where(doomed: impl Fn(&Entry) -> bool) -> Result<(), JsValue> {
    let db = open().await?;
    let (tx, stores) = stores(&db, &[BYTES, ENTRIES])?;
    for entry in all_entries(&stores[1]).await?.iter().filter(|e| doomed(e)) {
        for store in &stores {
            store.delete(&JsValue::from_str(&entry.key))?;
        }
    }
    committed(&tx).await
}

/// Deletes every photo of a link (it is dead, or the GP discarded them).
pub async fn forget_link(link: &str) -> Result<(), JsValue> {
    forget_where(|e| e.link == link).await
}

/// Deletes the photos of every other link (a new QR code revoked them, or
/// they belong to another desktop session) and of any expired link.
pub async fn keep_only(link: &str) -> Result<(), JsValue> {
    let now = js_sys::Date::now();
    forget_where(|e| e.link != link || js_sys::Date::parse(&e.link_expires_at) <= now).await
}

/// This link's kept photos, in batch order, with their bytes.
pub async fn restore(link: &str) -> Result<Vec<Restored>, JsValue> {
    let db = open().await?;
    let (tx, stores) = stores(&db, &[BYTES, ENTRIES])?;
    let mut entries: Vec<Entry> =
        all_entries(&stores[1]).await?.into_iter().filter(|e| e.link == link).collect();
    entries.sort_by_key(|e| e.order);
    let mut restored = Vec::new();
    for entry in entries {
        let rec = request(stores[0].get(&JsValue::from_str(&entry.key))?).await?;
        let Ok(bytes) = Reflect::get(&rec, &"bytes".into()) else { continue };
        if bytes.is_undefined() {
            continue;
        }
        let parts = Array::of1(&Uint8Array::new(&bytes));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(&entry.summary.content_type);
        let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
        restored.push(Restored { entry, blob });
    }
    committed(&tx).await?;
    Ok(restored)
}
