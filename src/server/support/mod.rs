//! Small pieces the rest share.

pub mod clock; // wall-clock seconds and RFC 3339
pub mod decode; // decoding untrusted image bytes within a pixel bound
pub mod ids; // random tokens, credential hashes, log-safe ids
pub mod telemetry; // tracing set-up
