#!/usr/bin/env bash
# Debian's haproxy, unchanged, with its server keys in lurkd (issue 5):
# master-worker mode, nbthread 2, one frontend with a crt bundle (key
# reference first, then the certificate) and one with a separate .key file;
# chroot and user drop when the test runs as root.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
P1=$(free_port)
P2=$(free_port)
RSA_PORT=$(free_port)
EC_PORT=$(free_port)

start_lurkd lurkd1 "$P1"
make_keyrefs
write_openssl_cnf "tls://127.0.0.1:$P1"
# Layout 1: one file, key reference first (haproxy reads the key first).
cat "$E2E_DIR/rsa.keyref.pem" "$E2E_DIR/rsa.crt" > "$E2E_DIR/rsa-bundle.pem"
# Layout 2: the certificate, and the key reference beside it as <crt>.key.
cp "$E2E_DIR/ecdsa.crt" "$E2E_DIR/ecdsa.pem"
cp "$E2E_DIR/ecdsa.keyref.pem" "$E2E_DIR/ecdsa.pem.key"
privileges=""
if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$E2E_DIR/chroot"
    privileges="    chroot $E2E_DIR/chroot
    user nobody
    group nogroup"
fi
cat > "$E2E_DIR/haproxy.cfg" <<HAPROXY_CFG
global
    master-worker
    nbthread 2
    pidfile $E2E_DIR/haproxy.pid
$privileges
    ssl-default-bind-options ssl-min-ver TLSv1.2
    tune.ssl.cachesize 0
    # Handshakes run in OpenSSL ASYNC jobs: the provider pauses them on its
    # wait fd instead of blocking a thread for the round trip to lurkd.
    ssl-mode-async

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend rsa
    bind 127.0.0.1:$RSA_PORT ssl crt $E2E_DIR/rsa-bundle.pem no-tls-tickets
    http-request return status 200 content-type text/plain string "rsa ok"

frontend ecdsa
    bind 127.0.0.1:$EC_PORT ssl crt $E2E_DIR/ecdsa.pem no-tls-tickets
    http-request return status 200 content-type text/plain string "ecdsa ok"
HAPROXY_CFG

haproxy_stop() {
    [ -f "$E2E_DIR/haproxy.pid" ] || return 0
    local pid
    pid=$(head -1 "$E2E_DIR/haproxy.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$E2E_DIR/haproxy.pid"
}
E2E_CLEANUP_HOOK=haproxy_stop
haproxy_start() {
    OPENSSL_CONF=$E2E_DIR/openssl.cnf "$HAPROXY" -D -f "$E2E_DIR/haproxy.cfg" \
        >> "$E2E_DIR/haproxy.log" 2>&1 || fail "haproxy did not start"
    wait_for 10 port_open "$RSA_PORT" || fail "haproxy is not listening"
    wait_for 10 port_open "$EC_PORT" || fail "haproxy is not listening"
}
# Master-worker reload: SIGUSR2 to the master, which re-reads the config
# and starts new workers.
haproxy_reload() {
    kill -USR2 "$(head -1 "$E2E_DIR/haproxy.pid")"
}

assert_reads_no_private_key "$HAPROXY" -c -f "$E2E_DIR/haproxy.cfg"
haproxy_start
log "haproxy up: master $(head -1 "$E2E_DIR/haproxy.pid")"

scenario_all_requests_succeed "rsa:$RSA_PORT:RSA-PSS+SHA256" "ecdsa:$EC_PORT:ECDSA+SHA256"
scenario_reload_under_load "$RSA_PORT" haproxy_reload
scenario_lurkd_outage "$EC_PORT" "$P1"

start_lurkd lurkd2 "$P2"
write_openssl_cnf "tls://127.0.0.1:$P1, tls://127.0.0.1:$P2"
haproxy_stop
haproxy_start
scenario_failover "$RSA_PORT"
log "PASS"
