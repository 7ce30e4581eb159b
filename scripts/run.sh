#!/usr/bin/env bash
# Builds and serves Clinical Images in embedded mode: sessions in memory,
# images on local disk, the ALEX sandbox mounted in the app. No Redis, S3 or
# ALEX needed. Installs what is missing first. Extra arguments go to
# `cargo leptos serve` (e.g. --release).
source "$(dirname "$0")/common.sh"

install_base
install_cargo_leptos
install_wasm_bindgen
install_npm_deps

cd "$ROOT"
build_pipeline_worker "$@"
log "Serving at http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000} (Ctrl-C to stop)"
trap - EXIT
rm -rf "$RUN_DIR"
exec cargo leptos serve --split "$@"
