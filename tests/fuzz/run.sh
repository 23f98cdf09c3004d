#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS
#
# Runs every libFuzzer target built in BUILD_DIR/tests/fuzz/ (the `fuzz`
# preset) for SECONDS each, one after the other, on its committed seed corpus
# tests/fuzz/corpus/<name>/ (gguf_fuzz -> corpus/gguf), and prints one summary
# line per target. Exits non-zero if any target crashed, hung (-timeout),
# leaked or ran out of memory (-rss_limit_mb).
#
# The committed corpus is only read. New inputs go to a scratch corpus,
# BUILD_DIR/fuzz-work/<name>/corpus/, kept between runs; reproducers of
# failures go to BUILD_DIR/fuzz-work/<name>/artifacts/. With FUZZ_MERGE=1 the
# inputs of the scratch corpus that add coverage are merged (-merge=1, which
# minimises) into the committed corpus; keep that under 2 MB.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build_dir=$1
seconds=$2
source_dir=$(cd "$(dirname "$0")" && pwd)

shopt -s nullglob
targets=("$build_dir"/tests/fuzz/*_fuzz)
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "$0: no fuzz targets in $build_dir/tests/fuzz (build the fuzz preset first)" >&2
    exit 2
fi

failed=0
summary=()
for target in "${targets[@]}"; do
    name=$(basename "$target" _fuzz)
    seeds=$source_dir/corpus/$name
    work=$build_dir/fuzz-work/$name
    rm -rf "$work/artifacts"
    mkdir -p "$work/corpus" "$work/artifacts" "$seeds"
    log=$work/fuzz.log

    echo "== $(basename "$target"): ${seconds}s on $seeds (log: $log)"
    # The first corpus folder receives new inputs; the seeds are only read.
    rc=0
    "$target" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" "$seeds" >"$log" 2>&1 || rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    artifacts=("$work"/artifacts/*)
    n_corpus=$(find "$work/corpus" -type f | wc -l)
    if [[ $rc -ne 0 || ${#artifacts[@]} -ne 0 ]]; then
        failed=1
        echo "-- last lines of $log:"
        tail -n 40 "$log"
    fi
    line=$(printf '%-20s execs %-10s crashes %d  exit %d  scratch corpus %d inputs' \
        "$(basename "$target")" "${execs:-?}" "${#artifacts[@]}" "$rc" "$n_corpus")
    for a in "${artifacts[@]}"; do line+=$'\n'"    reproducer: $a"; done
    summary+=("$line")

    if [[ ${FUZZ_MERGE:-0} == 1 && $rc -eq 0 ]]; then
        "$target" -merge=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
            "$seeds" "$work/corpus" >>"$log" 2>&1
        echo "merged into $seeds: $(find "$seeds" -type f | wc -l) files, $(du -sh --apparent-size "$seeds" | cut -f1)"
    fi
done

echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
