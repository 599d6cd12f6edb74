#!/usr/bin/env bash
# Debian's nginx, unchanged, with its server keys in lurkd (issue 5):
# master + 2 workers, RSA and ECDSA certificates on two server blocks whose
# ssl_certificate_key is a key reference, the provider loaded through an
# OPENSSL_CONF given to nginx only.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
P1=$(free_port)
P2=$(free_port)
RSA_PORT=$(free_port)
EC_PORT=$(free_port)

start_lurkd lurkd1 "$P1"
make_keyrefs
write_openssl_cnf "tls://127.0.0.1:$P1"
{
    nginx_conf_head 512
    cat <<NGINX_CONF
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    ssl_session_cache off;
    server {
        listen 127.0.0.1:$RSA_PORT ssl;
        ssl_certificate $E2E_DIR/rsa.crt;
        ssl_certificate_key $E2E_DIR/rsa.keyref.pem;
        location / { return 200 "rsa ok\n"; }
    }
    server {
        listen 127.0.0.1:$EC_PORT ssl;
        ssl_certificate $E2E_DIR/ecdsa.crt;
        ssl_certificate_key $E2E_DIR/ecdsa.keyref.pem;
        location / { return 200 "ecdsa ok\n"; }
    }
}
NGINX_CONF
} > "$E2E_DIR/nginx.conf"

nginx_cmd=("$NGINX" -p "$E2E_DIR" -c "$E2E_DIR/nginx.conf" -e "$E2E_DIR/nginx-error.log")
nginx_stop() {
    [ -f "$E2E_DIR/nginx.pid" ] || return 0
    local pid
    pid=$(cat "$E2E_DIR/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$E2E_DIR/nginx.pid"
}
E2E_CLEANUP_HOOK=nginx_stop
nginx_start() {
    OPENSSL_CONF=$E2E_DIR/openssl.cnf "${nginx_cmd[@]}" || fail "nginx did not start"
    wait_for 10 port_open "$RSA_PORT" || fail "nginx is not listening"
    wait_for 10 port_open "$EC_PORT" || fail "nginx is not listening"
}
nginx_reload() {
    OPENSSL_CONF=$E2E_DIR/openssl.cnf "${nginx_cmd[@]}" -s reload
}

assert_reads_no_private_key "${nginx_cmd[@]}" -t
nginx_start
log "nginx up: master $(cat "$E2E_DIR/nginx.pid"), $(pgrep -c -P "$(cat "$E2E_DIR/nginx.pid")") workers"

scenario_all_requests_succeed "rsa:$RSA_PORT:RSA-PSS+SHA256" "ecdsa:$EC_PORT:ECDSA+SHA256"
scenario_reload_under_load "$RSA_PORT" nginx_reload
scenario_lurkd_outage "$EC_PORT" "$P1"

# Failover needs the two-server list in the provider's settings, which
# nginx reads when it starts.
start_lurkd lurkd2 "$P2"
write_openssl_cnf "tls://127.0.0.1:$P1, tls://127.0.0.1:$P2"
nginx_stop
nginx_start
scenario_failover "$RSA_PORT"
log "PASS"
