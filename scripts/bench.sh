#!/usr/bin/env bash
# Reproduces the real-time figures in BENCHMARKS.md: builds the release
# server, starts Redis and one app instance on loopback, and runs
# examples/bench_events.rs (latency, then streams). Needs ./scripts/test.sh's
# tools installed first.
source "$(dirname "$0")/common.sh"

REDIS_PORT="${BENCH_REDIS_PORT:-6393}"
APP_PORT="${BENCH_APP_PORT:-3950}"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cd "$ROOT"
cargo build --release --no-default-features --features ssr --bin clinical-images --example bench_events

start_app() {
  stop_all
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$RUN_DIR/redis.log" 2>&1 &
  track $!
  wait_for redis redis-cli -p "$REDIS_PORT" ping
  LEPTOS_OUTPUT_NAME=clinical-images LEPTOS_SITE_ADDR="127.0.0.1:$APP_PORT" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
    REDIS_KEY_PREFIX="bench:" BLOB_DIR="$RUN_DIR/blobs" DEV_LAUNCH=true RUST_LOG=warn \
    "$CARGO_TARGET_DIR/release/clinical-images" >"$RUN_DIR/app.log" 2>&1 &
  APP_PID=$!
  track $APP_PID
  wait_for app curl -fsS "http://127.0.0.1:$APP_PORT/healthz"
}

start_app
export BENCH_BASE_URL="http://127.0.0.1:$APP_PORT"
log "latency: ${BENCH_SESSIONS:-1000} sessions with open streams"
"$CARGO_TARGET_DIR/release/examples/bench_events" latency
log "streams: ${BENCH_STREAMS:-10000} open streams on one fresh instance"
start_app
BENCH_PID="$APP_PID" "$CARGO_TARGET_DIR/release/examples/bench_events" streams
