# Shared by scripts/run.sh and scripts/test.sh: paths and idempotent installers.
# Each installer checks first and returns at once when its tool is present.
# Everything comes from Debian apt, crates.io, PyPI or npm; nothing from GitHub.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${CLINICAL_IMAGES_CACHE:-$HOME/.cache/clinical-images}"
# Cargo's build output lives outside the checkout, so fresh clones (and CI) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
# Tools built from source get their own target dir, so app builds never evict them.
TOOLS_TARGET_DIR="$CACHE_DIR/tools-target"
CARGO_LEPTOS_VERSION="0.3.11"
MINISTACK_VERSION="1.5.33"
MINISTACK_VENV="$CACHE_DIR/ministack-$MINISTACK_VERSION"
mkdir -p "$CACHE_DIR"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$ROOT/end2end/node_modules/.bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

# step NAME COMMAND...: runs one step and prints its elapsed time, so a long
# cold run shows progress; the times are summed up by `step_summary`.
SCRIPT_START=$SECONDS
STEP_TIMES=()
step() {
  local name="$1"; shift
  local start=$SECONDS
  log "[$(elapsed_since "$SCRIPT_START")] $name"
  "$@"
  local took
  took="$(elapsed_since "$start")"
  STEP_TIMES+=("$took  $name")
  log "$name: done in $took"
}
elapsed_since() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
step_summary() {
  log "step times (total $(elapsed_since "$SCRIPT_START")):"
  printf '    %s\n' "${STEP_TIMES[@]}"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PACKAGE...: installs the Debian packages that are missing.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_base() {
  apt_install ca-certificates curl gcc g++ make pkg-config git
  command -v npm >/dev/null || apt_install nodejs npm
  command -v cargo >/dev/null || { echo "Rust (rustup) is required: https://rustup.rs" >&2; exit 1; }
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    log "rustup: adding wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  }
}

# The tools only orchestrate builds, so their own speed hardly matters: build
# them with a quick release profile (cargo-leptos asks for fat LTO and one
# codegen unit, which alone took ~26 min on 2 cores). Environment overrides
# win over the crate's own [profile.release].
quick_tool_profile() {
  env CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_INCREMENTAL=false CARGO_TARGET_DIR="$TOOLS_TARGET_DIR" "$@"
}

# cargo-leptos 0.3.11's lockfile pins cargo-util-schemas 0.14.2, which needs a
# newer rustc than 1.95. Build it from the crates.io source with 0.14.1 instead.
# Feature `no_downloads`: it must find wasm-bindgen and wasm-opt on PATH and
# can never fetch a binary from GitHub.
install_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then return 0; fi
  log "cargo-leptos $CARGO_LEPTOS_VERSION: building from crates.io source (once per machine, a few minutes)"
  local src="$CACHE_DIR/src/cargo-leptos-$CARGO_LEPTOS_VERSION"
  if [ ! -f "$src/Cargo.toml" ]; then
    mkdir -p "$CACHE_DIR/src"
    curl -fsSL "https://static.crates.io/crates/cargo-leptos/cargo-leptos-$CARGO_LEPTOS_VERSION.crate" \
      | tar xz -C "$CACHE_DIR/src"
  fi
  (
    cd "$src"
    rm -f rust-toolchain.toml
    cargo update -p cargo-util-schemas --precise 0.14.1
    quick_tool_profile cargo install --locked --path . --force --features no_downloads
  )
}

# cargo-leptos would download wasm-bindgen from GitHub; install the CLI whose
# version matches the wasm-bindgen in Cargo.lock (pinned with = in Cargo.toml).
install_wasm_bindgen() {
  local want
  want="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' "$ROOT/Cargo.lock")"
  if wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then return 0; fi
  log "wasm-bindgen-cli $want: building from crates.io"
  # No --locked: the CLI's own lockfile pins a crate the registry no longer has.
  quick_tool_profile cargo install wasm-bindgen-cli --version "$want" --force
}

# npm: Playwright (driving Debian's Chromium) and binaryen's wasm-opt (Debian's
# binaryen 108 silently breaks release WASM).
install_npm_deps() {
  local stamp="$ROOT/end2end/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$ROOT/end2end/package-lock.json" ]; then return 0; fi
  log "npm: installing end2end dependencies"
  (cd "$ROOT/end2end" && npm ci --no-audit --no-fund)
}

install_ministack() {
  if [ -x "$MINISTACK_VENV/bin/ministack" ]; then return 0; fi
  log "PyPI: ministack $MINISTACK_VERSION in $MINISTACK_VENV"
  python3 -m venv "$MINISTACK_VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$MINISTACK_VENV"; }
  "$MINISTACK_VENV/bin/pip" install -q "ministack==$MINISTACK_VERSION"
}

# Background services a script starts: each is recorded with `track $!`, and
# all stop (and the scratch dir goes) when the script exits.
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/clinical-images.XXXXXX")"
PIDS=()
track() { PIDS+=("$1"); }
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT

# wait_for NAME COMMAND...: retries COMMAND for up to 60 s, then shows NAME's log.
wait_for() {
  local name="$1"; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "$name did not become ready; its log:" >&2
  cat "$RUN_DIR/$name.log" >&2 || true
  exit 1
}

# Real photos for the pipeline tests and benchmarks, fetched once into the
# cache (never committed): JPEGs of 8–20 MP from Debian's wallpaper packages,
# and real phone HEICs from the pillow-heif source package on PyPI.
FIXTURE_DIR="$CACHE_DIR/fixtures"
PHOTO_DIR="$FIXTURE_DIR/photos"
HEIC_DIR="$FIXTURE_DIR/heic"
PILLOW_HEIF_VERSION="1.8.1"
export FIXTURE_PHOTO_DIR="$PHOTO_DIR" FIXTURE_HEIC_DIR="$HEIC_DIR"
fetch_fixtures() {
  if [ -f "$FIXTURE_DIR/.complete" ]; then return 0; fi
  log "fixtures: Debian wallpapers and pillow-heif $PILLOW_HEIF_VERSION samples into $FIXTURE_DIR"
  local work="$FIXTURE_DIR/download"
  rm -rf "$work" && mkdir -p "$work" "$PHOTO_DIR" "$HEIC_DIR"
  (
    cd "$work"
    apt-get download lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds 2>/dev/null \
      || { as_root apt-get update -qq; apt-get download lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds; }
    for deb in *.deb; do dpkg-deb -x "$deb" extracted; done
    # 8–20 MP photographs (camera JPEGs with real sensor noise and detail).
    for name in Bridge_by_Sander_Klootwijk Dragonfly_by_Bolly Kleiber_by_Lukas_Baubkus \
      seeding_by_Clements_Engelhardt sunset_by_Aitzol_Berasategi picosdeeuropa_by_Aitzol_Berasategi \
      umang_by_Abhishek_Mudgal; do
      cp "extracted/usr/share/backgrounds/$name.jpg" "$PHOTO_DIR/"
    done
    python3 -m pip download -q --no-deps --no-binary :all: "pillow-heif==$PILLOW_HEIF_VERSION" -d .
    tar xzf "pillow_heif-$PILLOW_HEIF_VERSION.tar.gz"
    find "pillow_heif-$PILLOW_HEIF_VERSION/tests/images/heif_other" -maxdepth 1 -type f \
      \( -iname '*.heic' -o -iname '*.heif' \) -exec cp {} "$HEIC_DIR/" \;
    cp "pillow_heif-$PILLOW_HEIF_VERSION/tests/images/heif_special/xiaomi.heic" \
      "pillow_heif-$PILLOW_HEIF_VERSION/tests/images/heif_corrupted/corrupted.heic" "$HEIC_DIR/"
  )
  rm -rf "$work"
  touch "$FIXTURE_DIR/.complete"
}

# build_pipeline_worker [--release]: the image pipeline's Web Worker module,
# a second WASM build of this crate (feature `worker`), into public/pipeline/
# (generated, git-ignored), which cargo-leptos then copies into the site like
# any asset. Run it before `cargo leptos build` or `serve`. The page loads the
# module lazily, so neither the worker nor its HEIC decoder weighs on the
# page's own bundle.
build_pipeline_worker() {
  local release="${1:-}"
  local out="$ROOT/public/pipeline"
  mkdir -p "$out"
  # The worker's module (small: the page waits for it), then the HEIC module
  # it imports on demand (fast: opt-level 3 and WASM SIMD, which every
  # current browser runs). Each has its own target dir, since RUSTFLAGS
  # differ and would otherwise rebuild the other every time.
  local module feature name profile dev_profile dir flags wasm_opt
  for module in "worker pipeline wasm-release dev -Oz" "heif heif heif-release heif-dev -O3"; do
    read -r feature name profile dev_profile wasm_opt <<<"$module"
    [ "$release" = "--release" ] || profile="$dev_profile"
    dir="$profile" flags=""
    [ "$profile" = "dev" ] && dir="debug"
    [ "$feature" = "heif" ] && flags="-C target-feature=+simd128"
    log "pipeline $feature module: cargo build --features $feature ($profile), wasm-bindgen"
    (cd "$ROOT" && RUSTFLAGS="$flags" cargo build --lib --target wasm32-unknown-unknown --no-default-features \
      --features "$feature" --profile "$profile" --target-dir "$CARGO_TARGET_DIR/$feature")
    wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name "$name" \
      "$CARGO_TARGET_DIR/$feature/wasm32-unknown-unknown/$dir/clinical_images.wasm"
    if [ "$release" = "--release" ]; then
      wasm-opt "$wasm_opt" --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd \
        "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
    fi
  done
}
