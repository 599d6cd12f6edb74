#!/usr/bin/env bash
# The packaged unit (dist/lurkd.service, as meson configured it):
# `systemd-analyze verify` says nothing, `systemd-analyze security` rates its
# exposure at 2.0 or below (docs/deploy.md §3), and RestartPreventExitStatus=
# names the status lurkd really exits with on a configuration error.
# Exit 77 (skipped, with a message) where systemd-analyze is missing.
set -euo pipefail

unit_in=$1
lurkd=$2
max_exposure=2.0

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# verify wants every Exec*= program to exist: point them at the lurkd under test.
sed -E "s#^(Exec[A-Za-z]*=)[^ ]*/lurkd #\1$lurkd #" "$unit_in" >"$work/lurkd.service"
grep -q "^ExecStart=$lurkd --foreground" "$work/lurkd.service" || {
    echo "FAIL: no ExecStart=.../lurkd --foreground in $unit_in"
    exit 1
}

if ! out=$(systemd-analyze verify "$work/lurkd.service" 2>&1) || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify:"
    echo "$out"
    exit 1
fi
echo "systemd-analyze verify: clean"

sec=$(systemd-analyze security --offline=yes "$work/lurkd.service" 2>&1) || true
level=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for lurkd.service: \([0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
    echo "FAIL: no exposure level in:"
    echo "$sec"
    exit 1
fi
echo "systemd-analyze security: exposure $level (at most $max_exposure)"
awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l <= m) }' || {
    printf '%s\n' "$sec" | grep -v '^✓' || true
    echo "FAIL: exposure $level is above $max_exposure"
    exit 1
}

# The unit and lurkd agree on the configuration-error status.
grep -q '^Type=notify$' "$work/lurkd.service" || { echo "FAIL: not Type=notify"; exit 1; }
prevent=$(sed -n 's/^RestartPreventExitStatus=//p' "$work/lurkd.service")
printf '[lurkd]\nworkers = many\n' >"$work/bad.conf"
set +e
"$lurkd" --check -c "$work/bad.conf" >"$work/out" 2>&1
st=$?
set -e
if [ "$st" != "$prevent" ]; then
    echo "FAIL: lurkd exits $st on a configuration error, the unit prevents restarts on $prevent"
    cat "$work/out"
    exit 1
fi
grep -q "bad.conf:2: " "$work/out" || { echo "FAIL: no file:line in:"; cat "$work/out"; exit 1; }
echo "configuration error: exit status $st, RestartPreventExitStatus=$prevent"
