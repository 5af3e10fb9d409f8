#!/usr/bin/env bash
# The fuzz targets of fuzz/ (cargo-fuzz, libFuzzer; see the README's "Fuzzing" section).
#
#   scripts/fuzz.sh --smoke [SECONDS]     CI: build every target, run each over its committed
#                                         seeds (fuzz/seeds/<target>) then SECONDS more (default
#                                         5); fails on a build error or any crash.
#   scripts/fuzz.sh --campaign [N] [T..]  each target (or the targets T..) until N executions
#                                         (default 10,000,000): prints executions, exec/s, corpus
#                                         size, coverage and crashes per target, and appends a
#                                         line per target to fuzz/CAMPAIGN.md.
#   scripts/fuzz.sh --record T..          append the CAMPAIGN.md line of targets whose campaign
#                                         run was stopped by hand (SIGINT to the fuzzer, which
#                                         prints its final stats): executions so far, "stopped";
#                                         FUZZ_COMMIT=<the campaign's commit> for its column.
#   scripts/fuzz.sh --list                the targets, in campaign order.
#
# Everything runs under `nice -n 19`. cargo-fuzz is installed when missing. The build stays
# in fuzz/target (fuzz/ is its own cargo workspace), never the main workspace's target dir.
# On stable Rust, RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags; `-s none`: no
# sanitizer (the code under test is safe Rust; libFuzzer still catches panics, aborts,
# timeouts and out-of-memory).
#
# The campaign keeps its growing corpus in fuzz/campaign/corpus/<target> and any crashing
# input in fuzz/campaign/artifacts/<target>/ (both git-ignored); the committed seeds are read,
# never written. Minimise a crash with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> -minimize_crash=1 -runs=100000 <file>
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../fuzz"

export RUSTC_BOOTSTRAP=1
unset CARGO_TARGET_DIR
NICE=(nice -n 19)

# Campaign order: the fast targets first (measured exec/s, most to least).
TARGETS=(
  status_list_decode jws_parse oid4vp_request_url oid4vci_messages oid4vp_dcql sd_jwt_parse
  oid4vp_request_object jwe_decrypt oid4vp_response entity_statement status_list_token
  access_token dpop_proof sd_jwt_one_pass key_proof attestation_request key_attestation
)

check_targets() {
  local t missing=0
  for f in fuzz_targets/*.rs; do
    t=$(basename "$f" .rs)
    if [[ ! " ${TARGETS[*]} " == *" $t "* ]]; then
      echo "fuzz.sh: target $t is not in TARGETS" >&2
      missing=1
    fi
    if [[ ! -d seeds/$t ]] || [[ -z "$(ls -A "seeds/$t")" ]]; then
      echo "fuzz.sh: target $t has no seeds in fuzz/seeds/$t" >&2
      missing=1
    fi
  done
  return $missing
}

ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    "${NICE[@]}" cargo install cargo-fuzz --locked
  fi
}

# The dictionary for a target, if any: fuzz/<target>.dict or fuzz/dicts/<target>.dict.
dict_args() {
  local t=$1
  for d in "$t.dict" "dicts/$t.dict"; do
    if [[ -f $d ]]; then
      echo "-dict=$d"
      return
    fi
  done
}

BIN=target/x86_64-unknown-linux-gnu/release

build() {
  echo "== building the fuzz targets (release, fuzz/target)"
  "${NICE[@]}" cargo fuzz build -s none -O
}

smoke() {
  local secs=${1:-5} t tmp rc failed=()
  check_targets
  ensure_cargo_fuzz
  build
  tmp=$(mktemp -d)
  SMOKE_TMP=$tmp
  trap 'rm -rf "$SMOKE_TMP"' EXIT
  for t in "${TARGETS[@]}"; do
    mkdir -p "$tmp/$t/corpus" "$tmp/$t/artifacts"
    rc=0
    # shellcheck disable=SC2046
    "${NICE[@]}" "$BIN/$t" "$tmp/$t/corpus" "seeds/$t" $(dict_args "$t") -max_total_time="$secs" -timeout=30 \
      -artifact_prefix="$tmp/$t/artifacts/" -print_final_stats=1 >"$tmp/$t/log" 2>&1 || rc=$?
    local runs cov
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$tmp/$t/log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$tmp/$t/log" | tail -1 | grep -o '[0-9]*' || echo '?')
    if [[ $rc -ne 0 ]]; then
      echo "FAIL  $t (exit $rc): last lines of its log:"
      tail -30 "$tmp/$t/log"
      ls "$tmp/$t/artifacts"
      failed+=("$t")
    else
      printf 'ok    %-22s %9s executions, coverage %s\n' "$t" "$runs" "$cov"
    fi
  done
  if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz smoke: ${#failed[@]} target(s) failed: ${failed[*]}"
    return 1
  fi
  echo "fuzz smoke: ${#TARGETS[@]} targets built and ran their seeds + ${secs} s, no crash"
}

# CAMPAIGN.md's header, when the file is missing.
campaign_md() {
  [[ -f CAMPAIGN.md ]] || printf '%s\n\n%s\n%s\n' \
    "# Fuzz campaign log (appended by scripts/fuzz.sh --campaign)" \
    "| date (UTC) | commit | target | executions | seconds | exec/s | corpus (files) | coverage (edges) | features | crashes |" \
    "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" > CAMPAIGN.md
}

# record TARGET RC COMMIT [SECONDS]: reads the target's campaign log, prints its figures and
# appends its line to CAMPAIGN.md. A run stopped by SIGINT (libFuzzer: "run interrupted")
# is marked "stopped"; any other non-zero exit without a crashing input is reported as such.
record() {
  local t=$1 rc=$2 commit=$3 secs=${4:-} log runs eps cov ft corp crashes today
  log="campaign/logs/$t.log"
  [[ -f $log ]] || { echo "fuzz.sh: no campaign log $log" >&2; return 1; }
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  [[ -n $secs ]] || secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || true)
  # Stopped by hand: executions / exec/s (libFuzzer prints no elapsed time then).
  if [[ -z $secs ]]; then
    if [[ $eps -gt 0 ]]; then secs=$((runs / eps)); else secs='?'; fi
  fi
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  corp=$(find "campaign/corpus/$t" -type f | wc -l)
  crashes=$(find "campaign/artifacts/$t" -type f | wc -l)
  if [[ $crashes -eq 0 ]] && grep -q 'libFuzzer: run interrupted' "$log"; then
    crashes="0 (stopped)"
  elif [[ $rc -ne 0 ]] && [[ $crashes -eq 0 ]]; then
    crashes="exit $rc"
  fi
  today=$(date -u +%Y-%m-%d)
  printf '%-22s executions %s  exec/s %s  corpus %s  coverage %s  crashes %s\n' "$t" "$runs" "$eps" "$corp" "$cov" "$crashes"
  echo "| $today | $commit | $t | $runs | $secs | $eps | $corp | $cov | $ft | $crashes |" >> CAMPAIGN.md
}

campaign() {
  local n=${1:-10000000}
  shift || true
  local targets=("$@") t rc log commit start
  [[ ${#targets[@]} -gt 0 ]] || targets=("${TARGETS[@]}")
  check_targets
  ensure_cargo_fuzz
  build
  commit=$(git rev-parse --short HEAD)
  campaign_md
  for t in "${targets[@]}"; do
    mkdir -p "campaign/corpus/$t" "campaign/artifacts/$t" "campaign/logs"
    log="campaign/logs/$t.log"
    echo "== $t: until $n executions (log: fuzz/$log)"
    rc=0
    start=$(date +%s)
    # shellcheck disable=SC2046
    "${NICE[@]}" "$BIN/$t" "campaign/corpus/$t" "seeds/$t" $(dict_args "$t") -runs="$n" -timeout=30 \
      -artifact_prefix="campaign/artifacts/$t/" -print_final_stats=1 -print_pcs=0 >"$log" 2>&1 || rc=$?
    record "$t" "$rc" "$commit" "$(( $(date +%s) - start ))"
  done
}

# The lines of targets whose campaign run was stopped by hand; the commit column is
# $FUZZ_COMMIT (the commit the campaign was built from), else HEAD.
record_stopped() {
  local t commit
  commit=${FUZZ_COMMIT:-$(git rev-parse --short HEAD)}
  campaign_md
  for t in "$@"; do
    record "$t" 0 "$commit"
  done
}

case "${1:-}" in
  --smoke) shift; smoke "$@" ;;
  --campaign) shift; campaign "$@" ;;
  --record) shift; record_stopped "$@" ;;
  --list) printf '%s\n' "${TARGETS[@]}" ;;
  *) sed -n '2,16p' "$SELF"; exit 2 ;;
esac
