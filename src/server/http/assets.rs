//! The site's static files: the content-hashed names cargo-leptos gives the
//! bundle (`hash-files` in Cargo.toml, `LEPTOS_HASH_FILES` at run time), and
//! how long a browser may keep each file.
//!
//! A hashed file never changes under its name, so it is cached for a year
//! as `immutable`: a phone that opened the capture page once downloads none
//! of its WASM again until a deploy changes it. Every other static file (the
//! pipeline worker and its modules, which the worker loads by fixed names)
//! is `no-cache`: kept, but revalidated (a 304 when unchanged). The files
//! themselves are served precompressed when the build made `.br`/`.gz`
//! siblings (`cargo leptos build --release --precompress`, and
//! `build_pipeline_worker --release` for the worker's modules).

use std::collections::HashMap;
use std::path::PathBuf;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use leptos::config::LeptosOptions;

use crate::server::app_state::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// What the server needs to know of the built site.
#[derive(Debug, Clone)]
pub struct Assets {
    /// `/pkg/clinical-images[.HASH].css`: for pages Leptos does not render.
    pub css_href: String,
    /// `/pkg/`: every file under it is hashed when `hashed` is set.
    pkg_prefix: String,
    hashed: bool,
}

/// Where Leptos reads the hash file: `LEPTOS_HASH_FILE_NAME` (default
/// `hash.txt`) beside the server binary, or that path if it is absolute.
pub fn hash_file_path(options: &LeptosOptions) -> PathBuf {
    let beside = std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_default();
    beside.join(options.hash_file.as_ref())
}

/// `name: HASH` lines, as cargo-leptos writes them.
fn parse_hashes(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect()
}

impl Assets {
    /// Reads the hash file when the options ask for hashed names. Missing or
    /// incomplete, it is a start-up error naming the file: Leptos would
    /// otherwise panic on the first page.
    pub fn load(options: &LeptosOptions) -> Result<Assets, String> {
        let pkg_prefix = format!("/{}/", options.site_pkg_dir);
        let output = options.output_name.as_ref();
        if !options.hash_files {
            return Ok(Assets { css_href: format!("{pkg_prefix}{output}.css"), pkg_prefix, hashed: false });
        }
        let path = hash_file_path(options);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "LEPTOS_HASH_FILES=true, but the hash file {} cannot be read ({e}); copy the build's hash.txt \
                 beside the binary or name it in LEPTOS_HASH_FILE_NAME",
                path.display()
            )
        })?;
        let hashes = parse_hashes(&text);
        for part in ["js", "wasm", "css"] {
            if !hashes.contains_key(part) {
                return Err(format!("the hash file {} has no `{part}:` line", path.display()));
            }
        }
        Ok(Assets {
            css_href: format!("{pkg_prefix}{output}.{}.css", hashes["css"]),
            pkg_prefix,
            hashed: true,
        })
    }

    /// The `Cache-Control` for a successful GET of `path`, if the response
    /// set none itself.
    fn cache_control(&self, path: &str) -> &'static str {
        if self.hashed && path.starts_with(&self.pkg_prefix) {
            IMMUTABLE
        } else {
            REVALIDATE
        }
    }
}

/// Middleware: a `Cache-Control` on every response that has none (pages and
/// the API set their own `no-store`).
pub async fn cache_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    if res.headers().contains_key(header::CACHE_CONTROL) {
        return res;
    }
    let ok = matches!(res.status(), StatusCode::OK | StatusCode::NOT_MODIFIED | StatusCode::PARTIAL_CONTENT);
    let value = if get && ok { state.assets.cache_control(&path) } else { REVALIDATE };
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    // The same URL is served as Brotli, gzip or plain: a shared cache must
    // key on what the browser accepts.
    if !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_file_is_read_as_cargo_leptos_writes_it() {
        let h = parse_hashes("js: abc\nwasm: def\ncss: X-y_1\nmanifest: m\n\n");
        assert_eq!(h["css"], "X-y_1");
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn only_hashed_bundle_files_are_immutable() {
        let hashed = Assets { css_href: String::new(), pkg_prefix: "/pkg/".into(), hashed: true };
        assert_eq!(hashed.cache_control("/pkg/clinical-images.abc.wasm"), IMMUTABLE);
        assert_eq!(hashed.cache_control("/pipeline/pipeline_bg.wasm"), REVALIDATE);
        assert_eq!(hashed.cache_control("/pipeline-worker.js"), REVALIDATE);
        let plain = Assets { hashed: false, ..hashed };
        assert_eq!(plain.cache_control("/pkg/clinical-images.wasm"), REVALIDATE);
    }

    #[test]
    fn hashed_names_without_a_hash_file_stop_start_up_with_a_plain_reason() {
        let options = LeptosOptions::builder()
            .output_name("clinical-images")
            .hash_files(true)
            .hash_file(std::sync::Arc::from("/nonexistent/hash.txt"))
            .build();
        let err = Assets::load(&options).expect_err("no hash file");
        assert!(err.contains("/nonexistent/hash.txt") && err.contains("LEPTOS_HASH_FILE_NAME"), "{err}");
    }
}
