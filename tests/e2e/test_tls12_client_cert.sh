#!/usr/bin/env bash
# TLS 1.2 client certificates whose keys lurkd holds (issue 13): curl
# (--cert, --key KEYREF, --tls-max 1.2) and nginx as an mTLS upstream client
# (proxy_ssl_certificate_key KEYREF) against `openssl s_server -Verify`, each
# client CertificateVerify signed by lurkd through tls12
# client_certificate_verify (docs/protocol.md). Then what must fail: a key
# whose policy does not name the exchange, with the reason in lurkd's audit.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
P1=$(free_port)
S_PORT=$(free_port)
N_PORT=$(free_port)
AUDIT=$E2E_DIR/lurkd-audit.log

# lurkd: two client keys allowed the exchange, one server key (default exchanges) not.
cat > "$E2E_DIR/lurkd.conf" <<LURKD_CONF
[lurkd]
workers = 2
$([ "$(id -u)" -eq 0 ] && printf 'user = nobody\ngroup = nogroup\n')
audit_log = $AUDIT
log_level = info
[listener.tls]
address = tls://127.0.0.1:$P1
certificate = $PKI/lurkd.crt
private_key = $PKI/lurkd.key
client_ca = $PKI/ca.crt
[client.frontend]
identity = spki-sha256:$(cat "$PKI/client1.spki")
[key.client_ec]
source = $PKI/server-p256.key
certificate = $PKI/server-p256.crt
clients = frontend
exchanges = client_certificate_verify
[key.client_rsa]
source = $PKI/server-rsa2048.key
clients = frontend
exchanges = client_certificate_verify
[key.server_only]
source = $PKI/server-p384.key
clients = frontend
LURKD_CONF
"$LURKD" -f -c "$E2E_DIR/lurkd.conf" >> "$E2E_DIR/lurkd.log" 2>&1 &
e2e_pids+=("$!")
wait_for 10 grep -q "started:" "$E2E_DIR/lurkd.log" || fail "lurkd did not start"

for k in p256 rsa2048 p384; do
    "$LURKCTL" keyref --cert "$PKI/server-$k.crt" -o "$E2E_DIR/$k.keyref.pem"
done
write_openssl_cnf "tls://127.0.0.1:$P1"

# The TLS 1.2 server: asks for a client certificate from the test CA and refuses none.
openssl s_server -accept "127.0.0.1:$S_PORT" -tls1_2 -Verify 2 -verify_return_error \
    -CAfile "$PKI/ca.crt" -cert "$PKI/lurkd.crt" -key "$PKI/lurkd.key" -www \
    > "$E2E_DIR/s_server.log" 2>&1 &
e2e_pids+=("$!")
wait_for 10 port_open "$S_PORT" || fail "s_server is not listening"

audit_count() { grep -c "$1" "$AUDIT" 2>/dev/null || true; }

# curl_cert KEY: one request with the client certificate of KEY, its key a key reference.
curl_cert() {
    OPENSSL_CONF=$E2E_DIR/openssl.cnf curl -sS --max-time 20 --tlsv1.2 --tls-max 1.2 \
        --cacert "$PKI/ca.crt" --cert "$PKI/server-$1.crt" --key "$E2E_DIR/$1.keyref.pem" \
        "https://localhost:$S_PORT/"
}

for k in p256 rsa2048; do
    before=$(audit_count '"exchange":"tls12/client_certificate_verify","status":"success"')
    out=$(curl_cert "$k" 2>&1) || fail "curl with the $k client key: $out"
    grep -q "Protocol *: TLSv1.2" <<< "$out" || fail "curl $k: not TLS 1.2: $out"
    sleep 0.3 # audit lines are flushed every 100 ms
    after=$(audit_count '"exchange":"tls12/client_certificate_verify","status":"success"')
    [ "$after" -gt "$before" ] || fail "curl $k: lurkd signed no client CertificateVerify"
    log "curl, client key $k in lurkd: TLS 1.2 with a client certificate, signed by lurkd"
done
grep -q "CN *= *localhost" "$E2E_DIR/s_server.log" || fail "s_server saw no client certificate"

# A key lurkd holds but whose policy does not name client_certificate_verify: refused.
if out=$(curl_cert p384 2>&1); then
    fail "curl with a key not allowed client_certificate_verify succeeded: $out"
fi
sleep 0.3
grep -q '"key":"server_only","exchange":"tls12/client_certificate_verify","status":"invalid_key_id".*"note":"exchange not allowed for this key"' "$AUDIT" ||
    fail "no audited refusal for the key without the exchange"
log "curl, client key not allowed the exchange: refused ($(tail -c 160 <<< "$out" | tr '\n' ' '))"

# nginx as a TLS 1.2 mTLS client of an upstream, its client key a key reference.
{
    nginx_conf_head 128
    cat <<NGINX_CONF
    server {
        listen 127.0.0.1:$N_PORT;
        location / {
            proxy_pass https://127.0.0.1:$S_PORT;
            proxy_ssl_protocols TLSv1.2;
            proxy_ssl_certificate $PKI/server-p256.crt;
            proxy_ssl_certificate_key $E2E_DIR/p256.keyref.pem;
            proxy_ssl_trusted_certificate $PKI/ca.crt;
            proxy_ssl_verify on;
            proxy_ssl_name localhost;
            proxy_ssl_session_reuse off;
        }
    }
}
NGINX_CONF
} > "$E2E_DIR/nginx.conf"
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
OPENSSL_CONF=$E2E_DIR/openssl.cnf "$NGINX" -p "$E2E_DIR" -c "$E2E_DIR/nginx.conf" \
    -e "$E2E_DIR/nginx-error.log" || fail "nginx did not start"
wait_for 10 port_open "$N_PORT" || fail "nginx is not listening"

ok_line='"key":"client_ec","exchange":"tls12/client_certificate_verify","status":"success"'
before=$(audit_count "$ok_line")
for i in 1 2 3; do
    out=$(curl -sS --max-time 20 "http://127.0.0.1:$N_PORT/" 2>&1) || fail "nginx upstream mTLS: $out"
    grep -q "Protocol *: TLSv1.2" <<< "$out" || fail "nginx upstream $i: not TLS 1.2: $out"
done
sleep 0.3
after=$(audit_count "$ok_line")
[ $((after - before)) -ge 3 ] ||
    fail "nginx upstream: lurkd signed $((after - before)) client CertificateVerify for 3 requests"
log "nginx upstream mTLS at TLS 1.2: 3 requests, 3 client CertificateVerify signed by lurkd"
log "PASS"
