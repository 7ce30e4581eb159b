#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md. Needs ./scripts/test.sh's tools
# installed first.
#   ./scripts/bench.sh events    real-time path: release server, Redis, and
#                                examples/bench_events.rs (latency, then streams)
#   ./scripts/bench.sh pipeline  image pipeline vs browser-image-compression and
#                                heic2any, in headless Chromium, release build
#   ./scripts/bench.sh bundle    gzip sizes of the release WASM and JS
#   ./scripts/bench.sh batch     5 photos phone → desktop over emulated 4G, vs
#                                the seed's browser-image-compression + heic2any
#   ./scripts/bench.sh heif      the HEIC module's decode per build: as shipped
#                                (opt-level 3, SIMD) vs opt-level z, vs no SIMD
#   ./scripts/bench.sh jpeg-scale  a DCT-scaled JPEG decode in WASM vs the
#                                browser's decode and resize, 20 and 50 MP
#   ./scripts/bench.sh mozjpeg   mozjpeg-rs in WASM vs the browser's JPEG encoder
#                                at equal SSIM, on the batch's 5 photos
#   ./scripts/bench.sh commit    P6: 10 photos of about 1 MB committed over HTTP
#                                to a standalone ALEX sandbox; time and RSS growth
source "$(dirname "$0")/common.sh"

WHAT="${1:-events}"

release_site() {
  cd "$ROOT"
  build_pipeline_worker --release
  # Content-hashed names (Cargo.toml hash-files) and .br/.gz siblings of
  # every site file, which the server sends by Accept-Encoding.
  cargo leptos build --release --split --precompress
}

bundle_sizes() {
  local site="$ROOT/target/site"
  printf '%-52s %10s %10s %10s\n' file bytes gzip-9 brotli
  cd "$site"
  for f in pkg/clinical-images.*.wasm pkg/clinical-images.*.js pkg/clinical-images.*.css \
    pipeline/pipeline_bg.wasm pipeline/pipeline.js pipeline/heif_bg.wasm pipeline/heif.js pipeline-worker.js; do
    printf '%-52s %10s %10s %10s\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)" \
      "$(stat -c %s "$f.br" 2>/dev/null || echo -)"
  done
  cd "$ROOT"
}

# heif_variant NAME OPT_LEVEL RUSTFLAGS: the HEIC module built another way,
# into $RUN_DIR/heif-variants/NAME (its own target dir, kept for next time).
heif_variant() {
  local out="$RUN_DIR/heif-variants/$1" target="$CARGO_TARGET_DIR/heif-variant-$1"
  log "HEIC module variant $1: opt-level $2, RUSTFLAGS '$3'"
  (cd "$ROOT" && CARGO_PROFILE_HEIF_RELEASE_OPT_LEVEL="$2" RUSTFLAGS="$3" cargo build --lib \
    --target wasm32-unknown-unknown --no-default-features --features heif --profile heif-release --target-dir "$target")
  wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name heif \
    "$target/wasm32-unknown-unknown/heif-release/clinical_images.wasm"
  wasm-opt "$4" --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd \
    "$out/heif_bg.wasm" -o "$out/heif_bg.wasm"
}

case "$WHAT" in
  jpeg-scale)
    fetch_fixtures
    tool="$ROOT/end2end/bench/jpeg-scale" target="$CARGO_TARGET_DIR/jpeg-scale"
    (cd "$tool" && cargo build --release --target wasm32-unknown-unknown --target-dir "$target")
    wasm-bindgen --target web --no-typescript --out-dir "$RUN_DIR/jpeg-scale" \
      "$target/wasm32-unknown-unknown/release/jpeg_scale_bench.wasm"
    # Every request is answered by the spec itself: no server is needed.
    (cd "$ROOT/end2end" && BENCH_JPEG_SCALE_PKG="$RUN_DIR/jpeg-scale" BASE_URL="http://127.0.0.1:9" \
      npx playwright test -c bench.config.ts jpeg-scale.bench.ts)
    exit 0
    ;;
  mozjpeg)
    fetch_fixtures
    tool="$ROOT/end2end/bench/mozjpeg" target="$CARGO_TARGET_DIR/mozjpeg"
    (cd "$tool" && RUSTFLAGS="-C target-feature=+simd128" \
      cargo build --release --target wasm32-unknown-unknown --target-dir "$target")
    wasm-bindgen --target web --no-typescript --out-dir "$RUN_DIR/mozjpeg" \
      "$target/wasm32-unknown-unknown/release/mozjpeg_bench.wasm"
    cargo build --no-default-features --features ssr --example heic_reference
    "$CARGO_TARGET_DIR/debug/examples/heic_reference" "$RUN_DIR/heic-reference" \
      "$FIXTURE_HEIC_DIR/pug.heic" "$FIXTURE_HEIC_DIR/arrow.heic"
    (cd "$ROOT/end2end" && BENCH_MOZJPEG_PKG="$RUN_DIR/mozjpeg" BENCH_HEIC_REFERENCE="$RUN_DIR/heic-reference" \
      BASE_URL="http://127.0.0.1:9" npx playwright test -c bench.config.ts mozjpeg.bench.ts)
    exit 0
    ;;
  bundle)
    release_site
    bundle_sizes
    exit 0
    ;;
  pipeline | batch | heif)
    fetch_fixtures
    release_site
    if [ "$WHAT" = batch ]; then
      cargo build --no-default-features --features ssr --example heic_reference
      export BENCH_HEIC_REFERENCE="$RUN_DIR/heic-reference"
      "$CARGO_TARGET_DIR/debug/examples/heic_reference" "$BENCH_HEIC_REFERENCE" \
        "$FIXTURE_HEIC_DIR/pug.heic" "$FIXTURE_HEIC_DIR/arrow.heic"
    fi
    if [ "$WHAT" = heif ]; then
      rm -rf "$RUN_DIR/heif-variants"
      heif_variant opt-z z "" -Oz
      heif_variant opt-3-no-simd 3 "" -O3
      export BENCH_HEIF_VARIANTS="$RUN_DIR/heif-variants"
    fi
    bundle_sizes
    APP_PORT="${BENCH_APP_PORT:-3951}"
    LEPTOS_SITE_ADDR="127.0.0.1:$APP_PORT" LEPTOS_SITE_ROOT="$ROOT/target/site" BLOB_DIR="$RUN_DIR/blobs" \
      LEPTOS_HASH_FILES=true \
      RUST_LOG=warn "$CARGO_TARGET_DIR/release/clinical-images" >"$RUN_DIR/app.log" 2>&1 &
    track $!
    wait_for app curl -fsS "http://127.0.0.1:$APP_PORT/healthz"
    case "$WHAT" in
      batch) specs=(batch.bench.ts bundle.bench.ts) ;;
      heif) specs=(heif.bench.ts) ;;
      *) specs=(pipeline.bench.ts bundle.bench.ts) ;;
    esac
    (cd end2end && BASE_URL="http://127.0.0.1:$APP_PORT" npx playwright test -c bench.config.ts "${specs[@]}")
    exit 0
    ;;
  events | commit) ;;
  *)
    echo "usage: $0 [events|pipeline|batch|heif|jpeg-scale|mozjpeg|bundle|commit]" >&2
    exit 2
    ;;
esac

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
    ALEX_SANDBOX=true PUBLIC_BASE_URL="http://127.0.0.1:$APP_PORT" \
    RATE_LIMIT_ADDRESS_BURST=1000000 RATE_LIMIT_ADDRESS_PER_SECOND=1000000 \
    "$CARGO_TARGET_DIR/release/clinical-images" >"$RUN_DIR/app.log" 2>&1 &
  APP_PID=$!
  track $APP_PID
  wait_for app curl -fsS "http://127.0.0.1:$APP_PORT/healthz"
}

if [ "$WHAT" = commit ]; then
  SANDBOX_PORT="${BENCH_SANDBOX_PORT:-3952}"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$RUN_DIR/redis.log" 2>&1 &
  track $!
  wait_for redis redis-cli -p "$REDIS_PORT" ping
  # The sandbox in a process of its own, so the app's RSS is the app's.
  ALEX_SANDBOX_ADDR="127.0.0.1:$SANDBOX_PORT" RUST_LOG=warn \
    "$CARGO_TARGET_DIR/release/clinical-images" alex-sandbox >"$RUN_DIR/sandbox.log" 2>&1 &
  track $!
  SANDBOX="http://127.0.0.1:$SANDBOX_PORT/sandbox/alex"
  wait_for sandbox curl -fsS "$SANDBOX/stats"
  LEPTOS_OUTPUT_NAME=clinical-images LEPTOS_SITE_ADDR="127.0.0.1:$APP_PORT" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
    REDIS_KEY_PREFIX="bench-commit:" BLOB_DIR="$RUN_DIR/blobs" RUST_LOG=warn COMMIT_RULE=nothing \
    PUBLIC_BASE_URL="http://127.0.0.1:$APP_PORT" ALEX_BASE_URL="$SANDBOX/FHIR" \
    ALEX_TOKEN_URL="$SANDBOX/oauth2/v2.0/token" ALEX_CLIENT_ID=sandbox-client ALEX_CLIENT_SECRET=sandbox-secret \
    ALEX_SCOPE=api://sandbox/.default ALEX_FACILITY_ID=F2N060-E \
    "$CARGO_TARGET_DIR/release/clinical-images" >"$RUN_DIR/app.log" 2>&1 &
  APP_PID=$!
  track $APP_PID
  wait_for app curl -fsS "http://127.0.0.1:$APP_PORT/readyz"
  log "commit: ${BENCH_PHOTOS:-10} photos of about 1 MB, ${BENCH_RUNS:-3} runs"
  BENCH_BASE_URL="http://127.0.0.1:$APP_PORT" BENCH_SANDBOX_URL="$SANDBOX" BENCH_PIDS="$APP_PID" \
    "$CARGO_TARGET_DIR/release/examples/bench_events" commit
  exit 0
fi

start_app
export BENCH_BASE_URL="http://127.0.0.1:$APP_PORT"
log "latency: ${BENCH_SESSIONS:-1000} sessions with open streams"
"$CARGO_TARGET_DIR/release/examples/bench_events" latency
log "streams: ${BENCH_STREAMS:-10000} open streams on one fresh instance"
start_app
BENCH_PIDS="$APP_PID" "$CARGO_TARGET_DIR/release/examples/bench_events" streams
