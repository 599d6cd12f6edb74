#!/usr/bin/env bash
# scripts/demo run while a --keep-running demo is up: it must refuse and
# leave that demo alone (its processes running, its record in .demo/pids,
# so that `scripts/demo --stop` still stops it). The refusal comes before
# any build or bootstrap step, so a copy of the script in a scratch tree
# with stand-in processes is enough.
set -euo pipefail

demo_script=$(cd "$(dirname "$0")/../.." && pwd)/scripts/demo
tree=$(mktemp -d /tmp/lurk-demo-refusal-XXXXXX)
sleep 300 &
lurkd_standin=$!
# Background jobs of a script ignore SIGQUIT; nginx does not (it stops on QUIT).
env --default-signal=QUIT sleep 300 &
nginx_standin=$!
cleanup() {
    kill "$lurkd_standin" "$nginx_standin" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tree"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}
# Running, not a zombie: the stand-ins are this shell's children, reaped only by wait.
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }

mkdir -p "$tree/scripts" "$tree/.demo"
cp "$demo_script" "$tree/scripts/demo"
printf '%s\n' "$lurkd_standin" "$nginx_standin" > "$tree/.demo/pids"
echo "$nginx_standin" > "$tree/.demo/nginx.pid"

if out=$("$tree/scripts/demo" 2>&1); then
    fail "a second demo ran: $out"
fi
grep -q "a demo is still running" <<< "$out" || fail "not refused for the running demo: $out"
alive "$lurkd_standin" || fail "the refused run stopped the running demo's lurkd"
alive "$nginx_standin" || fail "the refused run stopped the running demo's nginx"
[ -f "$tree/.demo/pids" ] || fail "the refused run removed .demo/pids"

out=$("$tree/scripts/demo" --stop 2>&1) || fail "--stop failed: $out"
grep -q "demo: stopped" <<< "$out" || fail "--stop did not find the demo: $out"
wait "$lurkd_standin" "$nginx_standin" 2>/dev/null || true
! alive "$lurkd_standin" || fail "--stop left lurkd running"
! alive "$nginx_standin" || fail "--stop left nginx running"
echo "PASS"
