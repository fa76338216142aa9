#!/usr/bin/env bash
# Reliability checks (issue #5): fuzz the parsers that read user files (cargo-fuzz, libFuzzer)
# and run the core's unit tests under Miri. Installs what it needs, idempotently. Fails on any
# fuzzer crash, leak, timeout or oversized allocation, and on any Miri error.
#
#   bash .ci/reliability.sh                 # everything (about 10 minutes on 2 cores, cold)
#   FUZZ_SECONDS=300 bash .ci/reliability.sh fuzz
#   bash .ci/reliability.sh miri
#
# Environment: FUZZ_SECONDS (per target, default 60), MIRI_TIMEOUT (seconds, default 1200).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n=== %s ===\n' "$*"; }

what=${1:-all}
case "$what" in
  all | fuzz | miri) ;;
  *) echo "usage: $0 [all|fuzz|miri]" >&2; exit 2 ;;
esac
fuzz_seconds=${FUZZ_SECONDS:-60}
miri_timeout=${MIRI_TIMEOUT:-1200}

step "reliability: toolchain (nightly, miri, cargo-fuzz)"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
rustup component add miri rust-src --toolchain nightly >/dev/null
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
rustup run nightly rustc --version
cargo +nightly fuzz --version

if [ "$what" = all ] || [ "$what" = fuzz ]; then
  # Seeds live in fuzz/seeds/<target> (small, committed); what the fuzzer finds goes to a temp
  # corpus (first directory), so the tree is never touched except for crash artifacts.
  step "fuzz: build"
  # (No --locked: fuzz/Cargo.lock follows the workspace's dependencies as they change.)
  cargo +nightly fuzz build
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  failed=0
  for target in idx model_file image; do
    step "fuzz: $target for ${fuzz_seconds}s"
    mkdir -p "$corpus/$target"
    # -malloc_limit_mb: any single allocation over 64 MB is a failure (no parser may allocate
    # for a size a header claims); -timeout: any input taking over 10 s is one (no hangs).
    if ! (cargo +nightly fuzz run "$target" "$corpus/$target" "fuzz/seeds/$target" -- \
          -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64 \
          -print_final_stats=1 2>&1 | grep -v -E '^(#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|[[:space:]]+NEW_FUNC|")'); then
      echo "fuzz: $target FAILED; reproduce with: cargo +nightly fuzz run $target fuzz/artifacts/$target/<file>"
      failed=$((failed + 1))
    fi
  done
  if [ "$failed" -ne 0 ]; then
    echo "fuzz: $failed target(s) failed; crashing inputs are in $root/fuzz/artifacts/"
    exit 1
  fi
fi

if [ "$what" = all ] || [ "$what" = miri ]; then
  # The core's unit tests, interpreted. libm's x86 sqrt is inline assembly, which Miri cannot
  # run: its software fallback is selected for this build only (same IEEE results). Under Miri
  # no SIMD path is detected, so the kernels take their portable path; tests scale themselves
  # down under cfg(miri). Isolation stays on (deterministic); operations it forbids, such as
  # proptest looking for its regression files, fail softly with a warning.
  #
  # Skipped: tests that take minutes each even scaled down, all of them safe code that `cargo
  # test` runs natively (oracle comparisons on 785-wide shapes, a 4-million-value sweep, passes
  # through the full-size tutorial model, and SIMD-vs-portable checks that compare portable
  # with itself here). Drop an entry once its
  # test caps its sizes under cfg(miri).
  skip=(
    tests::kernels::matmul_bias_matches_nalgebra
    tests::kernels::matmul_nt_matches_nalgebra
    tests::kernels::matmul_tn_matches_nalgebra
    tests::kernels::column_sums_match_nalgebra
    tests::simd::matmul_
    tests::simd::dense_blocks_
    tests::simd::expf_matches_libm_bitwise
    quant::tests::portable_kernel_matches_reference_on_odd_shapes
    quant::tests::tutorial_model_matches_reference
    quant::tests::tutorial_model_check
    quant::tests::rounding_divide_by_pot_is_round_half_away_from_zero
    quant::tests::quantize_multiplier_is_accurate
    quant::tests::rdbpot_matches_reference
    quant::tests::srdhm_matches_reference
    quant::tests::mbqm_matches_f64
    tests::tutorial::dropout_is_the_identity_at_inference
    tests::tutorial::one_training_step_on_the_full_trainer
  )
  skip_args=()
  for t in "${skip[@]}"; do skip_args+=(--skip "$t"); done
  step "miri: cargo miri test -p flashnet (timeout ${miri_timeout}s, ${#skip[@]} slow tests skipped)"
  started=$(date +%s)
  MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-isolation-error=warn-nobacktrace" \
    timeout "$miri_timeout" cargo +nightly miri test --locked -p flashnet --lib \
    --features libm/force-soft-floats -- "${skip_args[@]}"
  echo "miri: $(( $(date +%s) - started ))s"
fi
echo "reliability checks passed"
