#!/usr/bin/env bash
# Builds and serves Clinical Images in embedded mode: sessions in memory,
# images on local disk, the ALEX sandbox mounted in the app. No Redis, S3 or
# ALEX needed. Installs what is missing first. Extra arguments go to
# `cargo leptos serve` (e.g. --release). Each step prints its elapsed time.
source "$(dirname "$0")/common.sh"

step "base: apt basics, wasm32 target" install_base
step "npm: wasm-opt and the test tools (background)" true
install_npm_deps >"$RUN_DIR/npm.log" 2>&1 &
NPM_PID=$!
step "tools: cargo-leptos $CARGO_LEPTOS_VERSION" install_cargo_leptos
step "tools: wasm-bindgen-cli" install_wasm_bindgen
wait_npm() { wait "$NPM_PID" || { cat "$RUN_DIR/npm.log" >&2; exit 1; }; }
step "npm: done" wait_npm

cd "$ROOT"
step "pipeline worker and HEIC modules" build_pipeline_worker "$@"
step_summary
log "Building, then serving at http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000} (Ctrl-C to stop)"
trap - EXIT
rm -rf "$RUN_DIR"
exec cargo leptos serve --split "$@"
