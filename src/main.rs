//! The server binary. All of its logic lives in `clinical_images::server`.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    clinical_images::server::run().await
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build is a library (see `hydrate()` in lib.rs); this binary
    // exists only with the `ssr` feature.
}
