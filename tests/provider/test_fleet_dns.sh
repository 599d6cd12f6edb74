#!/usr/bin/env bash
# A host name that resolves to several addresses is several servers (issue
# 12; docs/provider.md §4 "Balancing and health"): in a private mount
# namespace /etc/hosts gives "localhost" both 127.0.0.1 and ::1, one lurkd
# listens on each with the same port, and `openssl s_server` with
# lurk-server = tls://localhost:PORT sends handshakes to both (lurkd's
# certificate names localhost: checked against the name, not the address).
# The counters file lists both addresses under the name. Then /etc/hosts is
# rewritten during the run (127.0.0.1 out, 127.0.0.2 in): after the next
# resolution (lurk-resolve-ms) the new address gets traffic and the removed
# one none, and the counters file shows it gone. Skipped (exit 77)
# where mount namespaces or IPv6 loopback are not available.
if [ -z "${LURK_IN_MNTNS:-}" ]; then
    if ! unshare -m true 2>/dev/null; then
        echo "SKIP: no mount namespace here (unshare -m refused)"
        exit 77
    fi
    if ! python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
        echo "SKIP: no IPv6 loopback"
        exit 77
    fi
    exec env LURK_IN_MNTNS=1 unshare -m "$0" "$@"
fi
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

RUN=(env)
if [ -n "${LURK_ASAN_PRELOAD:-}" ]; then
    RUN=(env "LD_PRELOAD=$LURK_ASAN_PRELOAD" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
fi
OPENSSL_BIN=${OPENSSL:-openssl}

printf '127.0.0.1 localhost\n::1 localhost\n' > "$E2E_DIR/hosts"
mount --bind "$E2E_DIR/hosts" /etc/hosts || fail "cannot bind-mount /etc/hosts in the namespace"
[ "$(getent ahosts localhost | awk '/STREAM/ {print $1}' | sort | tr '\n' ' ')" = "127.0.0.1 ::1 " ] ||
    fail "localhost does not resolve to both loopback addresses: $(getent ahosts localhost)"

P=$(free_port)
start_lurkd v4 "$P"
sed -e "s|tls://127.0.0.1:$P|tls://[::1]:$P|" -e "s|v4-audit.log|v6-audit.log|" \
    "$E2E_DIR/v4.conf" > "$E2E_DIR/v6.conf"
"$LURKD" -f -c "$E2E_DIR/v6.conf" >> "$E2E_DIR/v6.log" 2>&1 &
e2e_pids+=($!)
wait_for 10 grep -q " started:" "$E2E_DIR/v6.log" || fail "lurkd on ::1 did not start"
# A third one on 127.0.0.2, which the name resolves to only later.
sed -e "s|tls://127.0.0.1:$P|tls://127.0.0.2:$P|" -e "s|v4-audit.log|v2-audit.log|" \
    "$E2E_DIR/v4.conf" > "$E2E_DIR/v2.conf"
"$LURKD" -f -c "$E2E_DIR/v2.conf" >> "$E2E_DIR/v2.log" 2>&1 &
e2e_pids+=($!)
wait_for 10 grep -q " started:" "$E2E_DIR/v2.log" || fail "lurkd on 127.0.0.2 did not start"

make_keyrefs
write_openssl_cnf "tls://localhost:$P"
cat >> "$E2E_DIR/openssl.cnf" <<EOF
lurk-log = $E2E_DIR/provider.log
lurk-stats = $E2E_DIR/stats
lurk-stats-ms = 200
lurk-resolve-ms = 1000
EOF

SP=$(free_port)
OPENSSL_CONF=$E2E_DIR/openssl.cnf "${RUN[@]}" "$OPENSSL_BIN" s_server -accept "127.0.0.1:$SP" \
    -cert "$E2E_DIR/ecdsa.crt" -key "$E2E_DIR/ecdsa.keyref.pem" -tls1_3 -www -quiet \
    > "$E2E_DIR/s_server.log" 2>&1 &
SPID=$!
e2e_pids+=("$SPID")
wait_for 10 port_open "$SP" || fail "s_server did not start"

N=40
ok=0
for _ in $(seq $N); do
    if "$OPENSSL_BIN" s_client -connect "127.0.0.1:$SP" -CAfile "$PKI/ca.crt" -tls1_3 \
        < /dev/null > "$E2E_DIR/s_client.out" 2>&1 && grep -q "Verify return code: 0" "$E2E_DIR/s_client.out"; then
        ok=$((ok + 1))
    fi
done
[ $ok -eq $N ] || fail "$ok of $N handshakes succeeded"
sleep 0.5 # audit lines are flushed every 100 ms
v4=$(grep -c sign_certificate_verify "$E2E_DIR/v4-audit.log" || true)
v6=$(grep -c sign_certificate_verify "$E2E_DIR/v6-audit.log" || true)
log "127.0.0.1 answered $v4, ::1 answered $v6 of $N"
[ $((v4 + v6)) -eq $N ] || fail "lurkd answered $((v4 + v6)) operations for $N handshakes"
if [ "$v4" -lt 5 ] || [ "$v6" -lt 5 ]; then
    fail "one address got (almost) nothing: $v4 / $v6"
fi

wait_for 5 grep -q "(::1)" "$E2E_DIR/stats.$SPID" || fail "no counters file line for ::1: $(cat "$E2E_DIR/stats.$SPID" 2>&1)"
grep -q "server=\"tls://localhost:$P (127.0.0.1)\" state=up" "$E2E_DIR/stats.$SPID" ||
    fail "no counters line for 127.0.0.1: $(cat "$E2E_DIR/stats.$SPID")"
log "counters: $(tr '\n' ' ' < "$E2E_DIR/stats.$SPID")"

# ---- re-resolution: the name moves from 127.0.0.1 to 127.0.0.2 during the run.
# Rewritten in place: the bind mount follows the file, not its name.
printf '::1 localhost\n127.0.0.2 localhost\n' > "$E2E_DIR/hosts"
wait_for 10 grep -q "server=\"tls://localhost:$P (127.0.0.1)\" state=gone" "$E2E_DIR/stats.$SPID" ||
    fail "127.0.0.1 is not gone after the next resolution: $(cat "$E2E_DIR/stats.$SPID")"
grep -q "server=\"tls://localhost:$P (127.0.0.2)\" state=up" "$E2E_DIR/stats.$SPID" ||
    fail "no counters line for the new address 127.0.0.2: $(cat "$E2E_DIR/stats.$SPID")"
sleep 0.3
v4a=$(grep -c sign_certificate_verify "$E2E_DIR/v4-audit.log" || true)
v6a=$(grep -c sign_certificate_verify "$E2E_DIR/v6-audit.log" || true)
v2a=$(grep -c sign_certificate_verify "$E2E_DIR/v2-audit.log" || true)
ok=0
for _ in $(seq $N); do
    if "$OPENSSL_BIN" s_client -connect "127.0.0.1:$SP" -CAfile "$PKI/ca.crt" -tls1_3 \
        < /dev/null > "$E2E_DIR/s_client.out" 2>&1 && grep -q "Verify return code: 0" "$E2E_DIR/s_client.out"; then
        ok=$((ok + 1))
    fi
done
[ $ok -eq $N ] || fail "after re-resolution, $ok of $N handshakes succeeded"
sleep 0.5
v4=$(($(grep -c sign_certificate_verify "$E2E_DIR/v4-audit.log" || true) - v4a))
v6=$(($(grep -c sign_certificate_verify "$E2E_DIR/v6-audit.log" || true) - v6a))
v2=$(($(grep -c sign_certificate_verify "$E2E_DIR/v2-audit.log" || true) - v2a))
log "after re-resolution: 127.0.0.1 answered $v4, ::1 $v6, 127.0.0.2 $v2 of $N"
[ "$v4" -eq 0 ] || fail "the removed address 127.0.0.1 still got $v4 operations"
[ $((v6 + v2)) -eq $N ] || fail "lurkd answered $((v6 + v2)) operations for $N handshakes"
[ "$v2" -ge 5 ] || fail "the new address 127.0.0.2 got (almost) nothing: $v2"
log "PASS"
