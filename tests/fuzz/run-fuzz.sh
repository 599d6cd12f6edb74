#!/bin/sh
# run-fuzz.sh TARGET SECONDS [CORPUS_DIR SEED_DIR]: one libFuzzer run,
# creating the corpus directory it writes to. CI runs 10 s per target;
# docs/security.md records the 30-minute campaigns (same script, 1800).
set -eu
target=$1 seconds=$2
shift 2
[ $# -gt 0 ] && mkdir -p "$1"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$@"
