//! The integration tests: one binary, so the `ssr` crate and its heavy
//! dependencies (aws-sdk-s3, redis, image, lopdf, heifer) are linked once,
//! not once per suite. Each suite is a module; run one with a filter, e.g.
//! `cargo test --no-default-features --features ssr --test it -- cluster::`.

mod common;

mod alex;
mod alex_strict;
mod assets;
mod attacks;
mod cluster;
mod consent;
mod earlier;
mod events;
mod filing;
mod fuzz;
mod healthz;
mod launch;
mod limits;
mod pipeline_photos;
mod redis_restart;
mod redis_tls;
mod sessions_api;
mod store_contract;
mod uploads;
mod windows;
