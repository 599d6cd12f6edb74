#!/usr/bin/env bash
# Settings checked when the key is loaded (issue 12; docs/provider.md §1):
# Debian's nginx -t and haproxy -c, and openssl pkey, with lurk.so loaded
# through OPENSSL_CONF and no lurkd at all. A good configuration passes
# (start-up never depends on lurkd); an unknown lurk-* setting, a bad value
# and a link key that does not match its certificate each fail the check,
# naming the setting. openssl pkey -text -noout says where the private key
# is; -out fails with the reason instead of silently.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

# Under -Dsanitizers=true lurk.so is instrumented and the applications are
# not: the ASan runtime is preloaded into them (as test_matrix.sh does).
RUN=(env)
if [ -n "${LURK_ASAN_PRELOAD:-}" ]; then
    RUN=(env "LD_PRELOAD=$LURK_ASAN_PRELOAD" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
fi
OPENSSL_BIN=${OPENSSL:-openssl}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

"$LURKCTL" keyref --cert "$PKI/server-p256.crt" -o "$E2E_DIR/www.keyref.pem" 2>/dev/null
cp "$PKI/server-p256.crt" "$E2E_DIR/www.crt"
cat "$E2E_DIR/www.keyref.pem" "$E2E_DIR/www.crt" > "$E2E_DIR/www.bundle.pem"

# write_cnf EXTRA_LINES: lurkd "unreachable" on a port nothing listens on.
write_cnf() {
    write_openssl_cnf "tls://127.0.0.1:$(free_port)"
    printf '%b' "$1" >> "$E2E_DIR/openssl.cnf"
}

cat > "$E2E_DIR/nginx.conf" <<EOF
pid $E2E_DIR/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    client_body_temp_path $E2E_DIR/nginx-body;
    proxy_temp_path $E2E_DIR/nginx-proxy;
    fastcgi_temp_path $E2E_DIR/nginx-fastcgi;
    uwsgi_temp_path $E2E_DIR/nginx-uwsgi;
    scgi_temp_path $E2E_DIR/nginx-scgi;
    server {
        listen 127.0.0.1:$(free_port) ssl;
        ssl_certificate $E2E_DIR/www.crt;
        ssl_certificate_key $E2E_DIR/www.keyref.pem;
    }
}
EOF

cat > "$E2E_DIR/haproxy.cfg" <<EOF
global
    log stderr local0
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend www
    bind 127.0.0.1:$(free_port) ssl crt $E2E_DIR/www.bundle.pem
    default_backend none
backend none
    server s 127.0.0.1:9
EOF

# check NAME EXPECT(ok|fail) NEEDLE CMD...: runs a config check, looks for NEEDLE in its output.
check() {
    local name=$1 want=$2 needle=$3 out rc=0
    shift 3
    out=$(OPENSSL_CONF=$E2E_DIR/openssl.cnf "${RUN[@]}" "$@" 2>&1) || rc=$?
    if [ "$want" = ok ] && [ $rc -ne 0 ]; then
        fail "$name: expected success, got $rc: $out"
    fi
    if [ "$want" = fail ] && [ $rc -eq 0 ]; then
        fail "$name: expected a failure: $out"
    fi
    if [ -n "$needle" ] && ! grep -qF -- "$needle" <<< "$out"; then
        fail "$name: \"$needle\" not in: $out"
    fi
    log "$name: $want$( [ -n "$needle" ] && echo " ($needle)")"
}

apps=()
[ -x "$NGINX" ] && apps+=(nginx)
[ -x "$HAPROXY" ] && apps+=(haproxy)
[ ${#apps[@]} -gt 0 ] || log "neither nginx nor haproxy installed: only openssl is checked"

run_app() { # APP EXPECT NEEDLE
    case $1 in
    nginx) check "nginx -t $4" "$2" "$3" "$NGINX" -t -p "$E2E_DIR" -c "$E2E_DIR/nginx.conf" ;;
    haproxy) check "haproxy -c $4" "$2" "$3" "$HAPROXY" -c -f "$E2E_DIR/haproxy.cfg" ;;
    esac
}

# A good configuration with lurkd unreachable passes.
write_cnf "lurk-log = stderr\n"
for a in "${apps[@]}"; do run_app "$a" ok "" "(lurkd unreachable)"; done
check "pkey -text -noout" ok "Private key: held by lurkd" \
    "$OPENSSL_BIN" pkey -in "$E2E_DIR/www.keyref.pem" -text -noout
check "pkey -out" fail "the private key is held by lurkd and is never exported" \
    "$OPENSSL_BIN" pkey -in "$E2E_DIR/www.keyref.pem" -out "$E2E_DIR/copy.pem"

# Each bad setting fails the check and is named. nginx prints OpenSSL's error
# data; haproxy prints only that the key did not load (which is still a
# failure), as does Python ("PEM lib"), and openssl pkey drops the error data
# of a key that did not load (OSSL_STORE): for those the provider's own log
# line (lurk-log = stderr here) says why, and is checked in their output.
bad_case() { # LINES NEEDLE
    write_cnf "$1"
    local own_log=yes
    if grep -q "^lurk-log" <<< "$(printf '%b' "$1")"; then
        own_log=no # the bad setting is the log itself: only nginx's error text names it
    else
        printf 'lurk-log = stderr\n' >> "$E2E_DIR/openssl.cnf"
    fi
    for a in "${apps[@]}"; do
        if [ "$a" = nginx ]; then
            run_app nginx fail "$2" "($2)"
        elif [ $own_log = yes ]; then
            run_app "$a" fail "bad lurk provider setting: $2" "($2)"
        else
            run_app "$a" fail "" "($2)"
        fi
    done
    if [ $own_log = yes ]; then
        check "pkey ($2)" fail "bad lurk provider setting: $2" \
            "$OPENSSL_BIN" pkey -in "$E2E_DIR/www.keyref.pem" -pubout
        if command -v python3 > /dev/null; then
            check "python load_cert_chain ($2)" fail "bad lurk provider setting: $2" \
                python3 -c "import ssl, sys; ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(sys.argv[1], sys.argv[2])" \
                "$E2E_DIR/www.crt" "$E2E_DIR/www.keyref.pem"
        fi
    fi
}
bad_case "lurk-timeout = 500\n" "unknown setting lurk-timeout"
bad_case "lurk-connections = lots\n" "lurk-connections = lots"
bad_case "lurk-poll-us = fast\n" "lurk-poll-us = fast"
bad_case "lurk-log = /nonexistent/dir/lurk.log\n" "lurk-log /nonexistent/dir/lurk.log"
# client2's key behind client1's certificate.
write_cnf "lurk-log = stderr\n"
sed -i "s|^lurk-key = .*|lurk-key = $PKI/client2.key|" "$E2E_DIR/openssl.cnf"
for a in "${apps[@]}"; do
    if [ "$a" = nginx ]; then run_app nginx fail "matching lurk-cert" "(mismatched key)"; else
        run_app "$a" fail "bad lurk provider setting: lurk-key $PKI/client2.key" "(mismatched key)"
    fi
done
log "PASS"
