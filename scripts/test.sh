#!/usr/bin/env bash
# Installs what the tests need, starts Redis and ministack (S3, AUTH=true) on
# non-default loopback ports, runs every test, and stops what it started:
#   1. cargo fmt --check and clippy -D warnings (ssr and hydrate);
#   2. cargo leptos test: unit tests, store contract suites against memory,
#      local disk, real Redis and real S3, and server integration tests;
#   3. Playwright end-to-end in Debian's Chromium (desktop, Pixel 7, no-JS),
#      and the phone flow in WebKit (MiniBrowser through WebKitWebDriver,
#      under Xvfb) and Firefox ESR (WebDriver BiDi), against the built app
#      wired to the same Redis and S3.
# Each step prints its elapsed time; a summary closes the run.
source "$(dirname "$0")/common.sh"

REDIS_PORT="${TEST_REDIS_PORT:-6391}"
S3_PORT="${TEST_S3_PORT:-4599}"
APP_PORT="${TEST_APP_PORT:-3917}"
METRICS_PORT="${TEST_METRICS_PORT:-3918}"

step "base: apt basics, wasm32 target" install_base

# What only downloads (apt, npm, PyPI, fixtures) runs in the background while
# the tools compile; its log is shown if it fails.
downloads() {
  apt_install redis-server redis-sentinel chromium fonts-dejavu-core poppler-utils nginx openssl \
    xvfb webkit2gtk-driver firefox-esr
  install_npm_deps
  install_ministack
  fetch_fixtures
}
downloads >"$RUN_DIR/downloads.log" 2>&1 &
DOWNLOADS_PID=$!
step "tools: cargo-leptos $CARGO_LEPTOS_VERSION" install_cargo_leptos
step "tools: wasm-bindgen-cli" install_wasm_bindgen
wait_downloads() {
  wait "$DOWNLOADS_PID" || { echo "downloads failed; their log:" >&2; cat "$RUN_DIR/downloads.log" >&2; exit 1; }
  grep -F '==>' "$RUN_DIR/downloads.log" || true
}
step "downloads: apt (redis, chromium), npm, ministack, fixtures" wait_downloads

cd "$ROOT"
lint() {
  cargo fmt --check
  cargo clippy --all-targets --no-default-features --features ssr -- -D warnings
  cargo clippy --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings
  for module in worker heif; do
    cargo clippy --lib --no-default-features --features "$module" --target wasm32-unknown-unknown \
      --target-dir "$CARGO_TARGET_DIR/worker" -- -D warnings
  done
}
step "lint: cargo fmt --check, clippy (ssr, hydrate, worker, heif)" lint

start_services() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >"$RUN_DIR/redis.log" 2>&1 &
  track $!
  export TEST_S3_ACCESS_KEY="ci-test-key" TEST_S3_SECRET_KEY="ci-test-secret-$RANDOM$RANDOM"
  BIND_HOST=127.0.0.1 GATEWAY_PORT="$S3_PORT" AUTH=true SERVICES=s3 \
    AWS_ACCESS_KEY_ID="$TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$TEST_S3_SECRET_KEY" \
    S3_DATA_DIR="$RUN_DIR/s3" "$MINISTACK_VENV/bin/ministack" >"$RUN_DIR/ministack.log" 2>&1 &
  track $!
  wait_for redis redis-cli -p "$REDIS_PORT" ping
  wait_for ministack curl -fsS "http://127.0.0.1:$S3_PORT/_ministack/health"
  export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  export TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
}
step "services: redis on $REDIS_PORT, ministack (S3, AUTH=true) on $S3_PORT" start_services

step "pipeline worker and HEIC modules" build_pipeline_worker
step "cargo leptos test" cargo leptos test
# The commit and fault suites again, against sandboxes that refuse search
# parameters ALEX does not document, as a strict FHIR server would.
step "commit and fault tests against a strict ALEX" env TEST_ALEX_STRICT_SEARCH=true \
  cargo test --no-default-features --features ssr --test it -- alex:: filing:: alex_strict::
step "cargo leptos build --split (lazily loaded route chunks)" cargo leptos build --split

e2e() {
  local site_root="$ROOT/target/site"
  # WebKit's MiniBrowser needs an X display; Chromium and Firefox run headless.
  local display="${TEST_DISPLAY:-97}"
  Xvfb ":$display" -screen 0 1600x1200x24 -nolisten tcp >"$RUN_DIR/xvfb.log" 2>&1 &
  track $!
  wait_for xvfb test -S "/tmp/.X11-unix/X$display"
  export DISPLAY=":$display"
  # Every browser shares one loopback address, so the per-address limit is
  # lifted here; the Rust suite tests the limits themselves. Consent is
  # optional here, as most specs file photos without it; consent.spec.ts
  # records it through both pages, and tests/it/consent.rs proves the rule.
  LEPTOS_SITE_ADDR="127.0.0.1:$APP_PORT" LEPTOS_SITE_ROOT="$site_root" LEPTOS_HASH_FILES=true \
    PUBLIC_BASE_URL="http://127.0.0.1:$APP_PORT" ALEX_SANDBOX=true ALEX_SANDBOX_STRICT_SEARCH=true \
    METRICS_ADDR="127.0.0.1:$METRICS_PORT" \
    CONSENT_RULE=optional \
    RATE_LIMIT_ADDRESS_BURST=100000 RATE_LIMIT_ADDRESS_PER_SECOND=10000 \
    REDIS_URL="$TEST_REDIS_URL" REDIS_KEY_PREFIX="e2e-$$:" \
    S3_BUCKET="e2e-$$" S3_ENDPOINT="$TEST_S3_ENDPOINT" S3_REGION=us-east-1 S3_FORCE_PATH_STYLE=true \
    S3_CREATE_BUCKET=true AWS_ACCESS_KEY_ID="$TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$TEST_S3_SECRET_KEY" \
    RUST_LOG="${RUST_LOG:-info}" \
    "$CARGO_TARGET_DIR/debug/clinical-images" >"$RUN_DIR/app.log" 2>&1 &
  track $!
  wait_for app curl -fsS "http://127.0.0.1:$APP_PORT/readyz"
  (cd end2end && BASE_URL="http://127.0.0.1:$APP_PORT" METRICS_URL="http://127.0.0.1:$METRICS_PORT" \
    npx playwright test) || {
    echo "end-to-end failed; app log:" >&2
    tail -n 80 "$RUN_DIR/app.log" >&2
    exit 1
  }
}
step "end-to-end: app on $APP_PORT with Redis, S3 and the ALEX sandbox" e2e
step_summary
log "all tests passed"
