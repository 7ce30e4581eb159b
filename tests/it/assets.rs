//! The built site as a browser fetches it: content-hashed bundle names in
//! the pages, precompressed files chosen by `Accept-Encoding`, a year's
//! `immutable` caching for hashed files and revalidation for the rest.

use crate::common;
use crate::common::TestApp;

const JS: &[u8] = b"export default function init() {}\n";
const JS_BR: &[u8] = b"\x1b\x21\x00brotli-stand-in";
const JS_GZ: &[u8] = b"\x1f\x8bgzip-stand-in";

/// A site as `cargo leptos build --release --precompress` lays it out, with
/// `hash-files`: returns the vars that point the app at it.
fn built_site() -> Vec<(String, String)> {
    let root = std::env::temp_dir().join(common::unique("site"));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("clinical-images.Jh4sh.js"), JS).unwrap();
    std::fs::write(pkg.join("clinical-images.Jh4sh.js.br"), JS_BR).unwrap();
    std::fs::write(pkg.join("clinical-images.Jh4sh.js.gz"), JS_GZ).unwrap();
    std::fs::write(pkg.join("clinical-images.Wh4sh.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("clinical-images.Ch4sh.css"), b"body{}").unwrap();
    std::fs::write(root.join("pipeline-worker.js"), b"self.onmessage = () => {};").unwrap();
    let hashes = root.join("hash.txt");
    std::fs::write(&hashes, "js: Jh4sh\nwasm: Wh4sh\ncss: Ch4sh\n").unwrap();
    vec![
        ("ALEX_SANDBOX".into(), "true".into()),
        ("LEPTOS_SITE_ROOT".into(), root.display().to_string()),
        ("LEPTOS_HASH_FILES".into(), "true".into()),
        // Absolute: read from there rather than beside the binary.
        ("LEPTOS_HASH_FILE_NAME".into(), hashes.display().to_string()),
    ]
}

#[tokio::test]
async fn pages_name_the_hashed_bundle_and_hashed_files_are_served_precompressed_and_immutable() {
    let app = TestApp::start(built_site()).await;

    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.headers()["cache-control"], "no-store", "pages show patient details");
    let html = page.text().await.unwrap();
    assert!(html.contains("/pkg/clinical-images.Jh4sh.js"), "the hashed script: {html}");
    assert!(html.contains("/pkg/clinical-images.Wh4sh.wasm"), "the hashed module");
    assert!(html.contains("href=\"/pkg/clinical-images.Ch4sh.css\""), "the hashed stylesheet");
    assert!(!html.contains("clinical-images.css"), "no unhashed name");

    let url = app.url("/pkg/clinical-images.Jh4sh.js");
    let br = app.http.get(&url).header("accept-encoding", "gzip, deflate, br").send().await.unwrap();
    assert_eq!(br.status().as_u16(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(br.headers()["vary"].to_str().unwrap().contains("accept-encoding"), "caches keep each encoding");
    assert_eq!(br.bytes().await.unwrap().as_ref(), JS_BR, "the precompressed file, not compressed again");
    let gz = app.http.get(&url).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.bytes().await.unwrap().as_ref(), JS_GZ);
    let plain = app.http.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.bytes().await.unwrap().as_ref(), JS);

    // Fixed names (the worker loads its modules by them): kept, revalidated.
    let worker = app.http.get(app.url("/pipeline-worker.js")).send().await.unwrap();
    assert_eq!(worker.status().as_u16(), 200);
    assert_eq!(worker.headers()["cache-control"], "no-cache");
    let missing = app.http.get(app.url("/pkg/clinical-images.0ld.js")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert_ne!(
        missing.headers()["cache-control"],
        "public, max-age=31536000, immutable",
        "a miss is not kept"
    );

    // A page the server writes itself uses the hashed stylesheet too.
    let refused =
        app.http.get(app.url("/medtech-images?patientId=%3C&facilityId=F2N060-E")).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().await.unwrap().contains("/pkg/clinical-images.Ch4sh.css"));
}

#[tokio::test]
async fn hashed_names_without_their_hash_file_stop_start_up() {
    let mut vars = built_site();
    for (k, v) in &mut vars {
        if k == "LEPTOS_HASH_FILE_NAME" {
            *v = "/nonexistent/hash.txt".into();
        }
    }
    let err = TestApp::try_start(vars).await.err().expect("start-up must fail");
    assert!(err.contains("/nonexistent/hash.txt"), "{err}");
}
