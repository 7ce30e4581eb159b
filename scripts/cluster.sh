#!/usr/bin/env bash
# The cluster test alone: Debian's nginx (TLS, deploy/nginx/) in front of
# three app instances, Redis with AOF (deploy/redis/), ministack S3 and a
# standalone ALEX sandbox; tests/it/cluster.rs starts and stops them and runs
# the scenarios (instance killed mid-stream, rolling restart, S3 and ALEX
# outages; tests/it/cluster/failover.rs: a Redis restart mid-burst, a Sentinel
# failover, an instance killed mid-commit, a demoted primary).
# The README's test command runs the same tests with the others.
#   ./scripts/cluster.sh                the scenarios, seconds each (as in CI)
#   ./scripts/cluster.sh soak           release build: the rolling restart for
#                                       CLUSTER_SOAK_SECS (120) under 20 sessions,
#                                       the real-time path with 5,000 sessions,
#                                       30,000 streams; figures in BENCHMARKS.md
#   ./scripts/cluster.sh soak-failover  WAIT's cost per registration, then
#                                       CLUSTER_SOAK_SECS (120) of load with the
#                                       Redis primary SIGKILLed every
#                                       CLUSTER_FAILOVER_EVERY_SECS (20) under
#                                       Sentinel; figures in BENCHMARKS.md
source "$(dirname "$0")/common.sh"

S3_PORT="${TEST_S3_PORT:-4599}"
install_base
apt_install redis-server redis-sentinel nginx openssl
install_ministack

export TEST_S3_ACCESS_KEY="ci-test-key" TEST_S3_SECRET_KEY="ci-test-secret-$RANDOM$RANDOM"
BIND_HOST=127.0.0.1 GATEWAY_PORT="$S3_PORT" AUTH=true SERVICES=s3 \
  AWS_ACCESS_KEY_ID="$TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$TEST_S3_SECRET_KEY" \
  S3_DATA_DIR="$RUN_DIR/s3" "$MINISTACK_VENV/bin/ministack" >"$RUN_DIR/ministack.log" 2>&1 &
track $!
wait_for ministack curl -fsS "http://127.0.0.1:$S3_PORT/_ministack/health"
export TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"

cd "$ROOT"
if [ "${1:-}" = soak ]; then
  ulimit -n "$(ulimit -Hn)"
  cargo build --release --no-default-features --features ssr --example bench_events
  log "cluster soak: nginx (TLS) + 3 release instances + Redis (AOF) + S3 + ALEX sandbox"
  BENCH_EVENTS_BIN="$CARGO_TARGET_DIR/release/examples/bench_events" \
    cargo test --release --no-default-features --features ssr --test it -- --ignored --exact cluster::soak --nocapture
  exit 0
fi
if [ "${1:-}" = soak-failover ]; then
  log "failover soak: nginx (TLS) + 3 instances + Redis primary, replica and 3 Sentinels + S3 + ALEX sandbox"
  cargo test --no-default-features --features ssr --test it -- --ignored --exact cluster::failover::soak_failover --nocapture
  exit 0
fi
log "cluster test: nginx (TLS) + 3 instances + Redis (AOF, and Sentinel) + S3 + ALEX sandbox"
cargo test --no-default-features --features ssr --test it -- cluster:: --nocapture
