#!/usr/bin/env bash
# Run the cargo-fuzz targets of fuzz/ (the protocol crate's decoders, policy parser,
# SEV-SNP verifier and RFB client messages; the console session's state driven by
# operation sequences), one after the other, each for SECONDS. One libFuzzer process
# at a time unless FUZZ_JOBS says otherwise.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60, every target)
#
# Environment:
#   FUZZ_SANITIZER  address (default) or none (faster; the code fuzzed has no unsafe)
#   FUZZ_JOBS       libFuzzer processes per target (default 1; more uses -fork=N)
#
# Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags. New
# inputs go to fuzz/target/corpus/<target> (not committed); the seeds in
# fuzz/corpus/<target> (committed) are only read; crash inputs land in
# fuzz/artifacts/<target>/. Exits non-zero if any target crashed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${1:-60}"
shift || true
SANITIZER="${FUZZ_SANITIZER:-address}"
JOBS="${FUZZ_JOBS:-1}"

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$ROOT/fuzz/target"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

cd "$ROOT"
if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list)
fi

# -a: debug assertions and overflow checks, so arithmetic overflow is a crash too.
BUILD_FLAGS=(-a -s "$SANITIZER")
cargo fuzz build "${BUILD_FLAGS[@]}"

LOGS="$CARGO_TARGET_DIR/fuzz-logs"
mkdir -p "$LOGS"
failed=()
summary=()
for t in "${TARGETS[@]}"; do
    work="$CARGO_TARGET_DIR/corpus/$t"
    seeds="$ROOT/fuzz/corpus/$t"
    mkdir -p "$work" "$seeds"
    log="$LOGS/$t.log"
    echo "== $t: ${SECONDS_PER_TARGET}s, log $log" >&2
    extra=()
    if [ "$JOBS" -gt 1 ]; then extra+=(-fork="$JOBS"); fi
    # Whole Evidence messages (report and certificates) run to about 6 KiB; operation
    # sequences get room for a few hundred steps.
    case "$t" in handshake_decode | evidence_verify | console_session_ops) extra+=(-max_len=16384) ;; esac
    # The HTTP client resolves each address on a short-lived thread; glibc's 32-byte
    # thread-exit record of one still running when libFuzzer checks is reported as a
    # leak (LeakSanitizer, __cxa_thread_atexit_impl). Memory growth still shows in
    # -rss_limit_mb.
    case "$t" in kds_http_answers) extra+=(-detect_leaks=0) ;; esac
    status=0
    cargo fuzz run "${BUILD_FLAGS[@]}" "$t" "$work" "$seeds" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -print_final_stats=1 "${extra[@]}" \
        >"$log" 2>&1 || status=$?
    last="$(grep -hE '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)"
    execs="$(grep -h '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -n 1 || true)"
    [ -n "$execs" ] || execs="$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")"
    rate="$(grep -h '^stat::average_exec_per_sec' "$log" | awk '{print $2}' | tail -n 1 || true)"
    [ -n "$rate" ] || rate="$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$last")"
    cov="$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")"
    corp="$(find "$work" -type f | wc -l)"
    crash="$(grep -hoE '(Test unit|artifact) written to [^ ]+' "$log" | sed -E 's/.* written to //' | head -n 1 || true)"
    if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
        failed+=("$t")
        result="CRASH ${crash:-exit $status}"
    else
        result="ok"
    fi
    line="$(printf '%-16s %6ss execs=%-10s exec/s=%-7s cov=%-5s ft=%-6s corpus=%-5s %s' \
        "$t" "$SECONDS_PER_TARGET" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$result")"
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (sanitizer $SANITIZER)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: crashed: ${failed[*]} (inputs under fuzz/artifacts/; reproduce with" \
        "RUSTC_BOOTSTRAP=1 cargo fuzz run -a -s $SANITIZER TARGET INPUT)" >&2
    exit 1
fi
