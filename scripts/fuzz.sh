#!/usr/bin/env bash
# Runs libFuzzer targets until they plateau, one at a time, and optionally minimizes what they
# grew back into the repository's corpora.
#
#   scripts/fuzz.sh [target...]            # default: every src/*/*_fuzz.cc
#   MERGE=1 scripts/fuzz.sh [target...]    # afterwards, minimize into src/<dir>/fuzz_corpus/<name>
#
# Each target runs in chunks of CHUNK_SECONDS (-max_total_time), resuming from its working
# corpus (FUZZ_BUILD/fuzz-work/<name>, seeded from the repo corpus). After every chunk the
# best cov/ft seen so far is logged to FUZZ_BUILD/fuzz-logs/<name>.tsv; the target stops when
# neither has grown for PLATEAU_SECONDS, or after MAX_SECONDS in all. A crash stops the target
# and the script (exit 1); the input is in FUZZ_BUILD/fuzz-artifacts/<name>/.
#
# Corpus files named regress-* (inputs that once crashed) survive minimization. A dictionary
# src/<dir>/fuzz_corpus/<name>.dict, if present, is passed with -dict.
# Build first: cmake -B build-fuzz -DFLIN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ...; ninja.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
CHUNK_SECONDS=${CHUNK_SECONDS:-60}
PLATEAU_SECONDS=${PLATEAU_SECONDS:-600}
MAX_SECONDS=${MAX_SECONDS:-1500}
MERGE=${MERGE:-0}
FUZZ_FLAGS=${FUZZ_FLAGS:-"-timeout=10 -rss_limit_mb=3072"}
# Undefined behaviour is a finding too: stop at the first report.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in src/*/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
fi

# "cov ft" of the last libFuzzer status line in a log ("0 0" if none).
last_cov_ft() {
  grep -aE '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$1" | tail -1 |
    sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/\1 \2/' || true
}

for t in "${targets[@]}"; do
  name=${t%_fuzz}
  src=$(ls src/*/"$t".cc | head -1)
  repo_corpus=$(dirname "$src")/fuzz_corpus/$name
  # A libFuzzer dictionary beside the corpus, if the target has one (tokens it would not find
  # by mutation alone: boundary numbers, option names).
  dict=()
  [ -f "$repo_corpus.dict" ] && dict=(-dict="$repo_corpus.dict")
  bin=$FUZZ_BUILD/$(dirname "$src")/$t
  [ -x "$bin" ] || { echo "no $bin: build it first" >&2; exit 2; }
  work=$FUZZ_BUILD/fuzz-work/$name
  artifacts=$FUZZ_BUILD/fuzz-artifacts/$name
  logs=$FUZZ_BUILD/fuzz-logs
  mkdir -p "$work" "$artifacts" "$logs" "$repo_corpus"
  tsv=$logs/$name.tsv
  [ -f "$tsv" ] || printf 'elapsed_s\texecs_total\tcov\tft\tcorpus_files\tcov_grew_at_s\n' > "$tsv"
  # Resume the counters of an earlier run of this script.
  read -r elapsed execs best_cov best_ft grew_at < <(
    awk -F'\t' 'NR > 1 { e=$1; x=$2; c=$3; f=$4; g=$6 } END { print e+0, x+0, c+0, f+0, g+0 }' "$tsv")
  echo "== $t: elapsed ${elapsed}s, cov $best_cov ft $best_ft (last grew at ${grew_at}s)"
  while [ "$elapsed" -lt "$MAX_SECONDS" ] && [ $((elapsed - grew_at)) -lt "$PLATEAU_SECONDS" ]; do
    chunk=$CHUNK_SECONDS
    [ $((elapsed + chunk)) -le "$MAX_SECONDS" ] || chunk=$((MAX_SECONDS - elapsed))
    log=$logs/$name.chunk.log
    start=$(date +%s)
    rc=0
    # shellcheck disable=SC2086
    nice -n 19 "$bin" -max_total_time="$chunk" -print_final_stats=1 $FUZZ_FLAGS "${dict[@]}" \
      -artifact_prefix="$artifacts/" "$work" "$repo_corpus" > "$log" 2>&1 || rc=$?
    elapsed=$((elapsed + $(date +%s) - start))
    n=$(grep -a 'stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    execs=$((execs + ${n:-0}))
    read -r cov ft < <(last_cov_ft "$log"; echo "0 0")
    if [ "${cov:-0}" -gt "$best_cov" ] || [ "${ft:-0}" -gt "$best_ft" ]; then
      [ "${cov:-0}" -gt "$best_cov" ] && best_cov=$cov
      [ "${ft:-0}" -gt "$best_ft" ] && best_ft=$ft
      grew_at=$elapsed
    fi
    files=$(find "$work" -type f | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$elapsed" "$execs" "$best_cov" "$best_ft" "$files" "$grew_at" >> "$tsv"
    echo "$t: ${elapsed}s execs $execs cov $best_cov ft $best_ft corpus $files (grew at ${grew_at}s)"
    if [ "$rc" -ne 0 ]; then
      echo "$t: fuzzer exited $rc; see $log and $artifacts/" >&2
      grep -aE 'ERROR|SUMMARY|runtime error' "$log" | head -5 >&2 || true
      exit 1
    fi
  done
  if [ "$MERGE" = 1 ]; then
    fresh=$FUZZ_BUILD/fuzz-merged/$name
    rm -rf "$fresh" && mkdir -p "$fresh"
    nice -n 19 "$bin" -merge=1 $FUZZ_FLAGS "$fresh" "$work" "$repo_corpus" > "$logs/$name.merge.log" 2>&1
    find "$repo_corpus" -maxdepth 1 -type f -name 'regress-*' -exec cp {} "$fresh/" \;
    rm -rf "$repo_corpus" && mkdir -p "$repo_corpus" && cp "$fresh"/* "$repo_corpus/"
    echo "$t: corpus $(find "$repo_corpus" -type f | wc -l) files, $(du -sh "$repo_corpus" | cut -f1)"
  fi
done
