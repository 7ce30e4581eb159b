#!/usr/bin/env bash
# Reproduces the real-time figures in BENCHMARKS.md: builds the release
# server, starts Redis and one app instance on loopback, and runs
# examples/bench_events.rs (latency, then streams). Needs ./scripts/test.sh's
# tools installed first.
source "$(dirname "$0")/common.sh"

REDIS_PORT="${BENCH_REDIS_PORT:-6393}"
APP_PORT="${BENCH_APP_PORT:-3950}"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/clinical-images-bench.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cd "$ROOT"
cargo build --release --no-default-features --features ssr --bin clinical-images --example bench_events

start_app() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$RUN_DIR/redis.log" 2>&1 &
  PIDS+=($!)
  sleep 0.5
  LEPTOS_OUTPUT_NAME=clinical-images LEPTOS_SITE_ADDR="127.0.0.1:$APP_PORT" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
    REDIS_KEY_PREFIX="bench:" BLOB_DIR="$RUN_DIR/blobs" DEV_LAUNCH=true RUST_LOG=warn \
    "$CARGO_TARGET_DIR/release/clinical-images" >"$RUN_DIR/app.log" 2>&1 &
  APP_PID=$!
  PIDS+=($APP_PID)
  for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:$APP_PORT/healthz" >/dev/null 2>&1 && return 0; sleep 0.5; done
  cat "$RUN_DIR/app.log" >&2
  exit 1
}

start_app
export BENCH_BASE_URL="http://127.0.0.1:$APP_PORT"
log "latency: ${BENCH_SESSIONS:-1000} sessions with open streams"
"$CARGO_TARGET_DIR/release/examples/bench_events" latency
log "streams: ${BENCH_STREAMS:-10000} open streams on one fresh instance"
start_app
BENCH_PID="$APP_PID" "$CARGO_TARGET_DIR/release/examples/bench_events" streams
