#!/usr/bin/env bash
# The tools refuse malformed numeric and enumerated options with exit status 2
# and a message naming the option, instead of running with a silent default.
set -uo pipefail
lurkctl=$1 bench=$2 load=$3 timing=$4
failures=0
expect_usage_error() { # WANT_MESSAGE COMMAND...
    local want=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -ne 2 ] || ! grep -qF -- "$want" <<< "$out"; then
        echo "FAIL: $* -> exit $rc, output: $out (wanted exit 2 and \"$want\")"
        failures=$((failures + 1))
    fi
}
for bad in 5x -1 0 "" 99999999999; do
    expect_usage_error "--timeout wants a number" "$lurkctl" -s unix:/nonexistent --timeout "$bad" ping
done
expect_usage_error "--key-id wants" "$bench" -s unix:/nonexistent
expect_usage_error "--key-id wants" "$bench" -s unix:/nonexistent --key-id 0102
expect_usage_error "-d wants a number" "$bench" -s unix:/nonexistent --key-id 01020304 -d 0
expect_usage_error "-c wants a number" "$bench" -s unix:/nonexistent --key-id 01020304 -c two
expect_usage_error "--scheme wants a number" "$bench" -s unix:/nonexistent --key-id 01020304 --scheme 0x10000
expect_usage_error "-n wants a number" "$bench" -s unix:/nonexistent --key-id 01020304 -n 0
expect_usage_error "-n must be at least -c" "$bench" -s unix:/nonexistent --key-id 01020304 -c 4 -n 2
expect_usage_error "--server-pid wants a number" "$bench" -s unix:/nonexistent --key-id 01020304 --server-pid me
for bad in -5 1ms 10000001; do
    expect_usage_error "--interval-us wants a number" "$bench" -s unix:/nonexistent --key-id 01020304 --interval-us "$bad"
done
expect_usage_error "--interval-us applies to closed-loop runs" "$bench" --local /dev/null --interval-us 50
expect_usage_error "--interval-us applies to closed-loop runs" "$bench" -s unix:/nonexistent --key-id 01020304 --flood 10 --interval-us 50
expect_usage_error "--busy-poll applies to closed-loop runs" "$bench" --local /dev/null --busy-poll
expect_usage_error "--busy-poll needs a unix: or tcp:// address" "$bench" -s tls://127.0.0.1:1 --key-id 01020304 --busy-poll
for bad in -1 50us 100001 ""; do
    expect_usage_error "--poll-us wants a number" "$bench" -s unix:/nonexistent --key-id 01020304 --poll-us "$bad"
done
expect_usage_error "--poll-sleep is on or off" "$bench" -s unix:/nonexistent --key-id 01020304 --poll-sleep yes
expect_usage_error "--poll-us and --poll-sleep apply to closed-loop runs" "$bench" --local /dev/null --poll-us 50
expect_usage_error "--poll-us and --poll-sleep apply to closed-loop runs" "$bench" -s unix:/nonexistent --key-id 01020304 --flood 10 --poll-sleep off
expect_usage_error "no --poll-us or --poll-sleep with it" "$bench" -s unix:/nonexistent --key-id 01020304 --busy-poll --poll-us 50
expect_usage_error "--tls is 1.2 or 1.3" "$load" --url https://127.0.0.1:1/ --cacert /dev/null --tls 1.1
expect_usage_error "--parallel wants a number" "$load" --url https://127.0.0.1:1/ --cacert /dev/null --parallel 0
expect_usage_error "--requests wants a number" "$load" --url https://127.0.0.1:1/ --cacert /dev/null --requests 10k
expect_usage_error "--rounds wants a number" "$timing" -s unix:/nonexistent --pubkey /dev/null --rounds 5x
expect_usage_error "--exchange is premaster or master" "$timing" -s unix:/nonexistent --pubkey /dev/null --exchange rsa
expect_usage_error "holds no RSA public key" "$timing" -s unix:/nonexistent --pubkey /dev/null
[ "$failures" -eq 0 ] && echo PASS
exit $((failures > 0))
