# shellcheck shell=bash
# Shared by the end-to-end tests (sourced, not run): a private directory, real
# lurkd processes holding the server keys, key references, an openssl.cnf
# that loads the lurk provider, free loopback ports, the libcurl load client.
#
# The caller sets BUILD (the meson build dir) and PKI (the test PKI) through
# meson's test environment.

set -euo pipefail

: "${BUILD:?BUILD must point at the build directory}"
: "${PKI:?PKI must point at the test PKI}"

E2E_DIR=$(mktemp -d /tmp/lurk-e2e-XXXXXX)
LURKD=$BUILD/lurkd/lurkd
LURKCTL=$BUILD/tools/lurkctl
LOAD=$BUILD/tools/lurk-https-load
PROVIDER=$BUILD/provider/lurk.so
e2e_pids=()

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
fail() {
    log "FAIL: $*"
    for f in "$E2E_DIR"/*.log; do
        [ -f "$f" ] || continue
        echo "---- $f (last 30 lines)"
        tail -n 30 "$f"
    done
    exit 1
}

e2e_cleanup() {
    local rc=$?
    for p in "${e2e_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "${E2E_CLEANUP_HOOK:-}" ] && $E2E_CLEANUP_HOOK
    sleep 0.2
    for p in "${e2e_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${LURK_TEST_KEEP:-}" ] || rm -rf "$E2E_DIR"
    exit $rc
}
trap e2e_cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # wait_for SECONDS COMMAND...: poll until the command succeeds
    local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $(($(date +%s%N) / 1000000)) -lt $deadline ] || return 1
        sleep 0.05
    done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_lurkd NAME PORT: lurkd on tls://127.0.0.1:PORT holding the RSA-2048
# and P-256 server keys, for client1 (the front ends' mTLS identity).
start_lurkd() {
    local name=$1 port=$2 conf=$E2E_DIR/$1.conf
    cat > "$conf" <<EOF
[lurkd]
workers = 2
$([ "$(id -u)" -eq 0 ] && printf 'user = nobody\ngroup = nogroup\n')
audit_log = $E2E_DIR/$name-audit.log
log_level = info
[listener.tls]
address = tls://127.0.0.1:$port
certificate = $PKI/lurkd.crt
private_key = $PKI/lurkd.key
client_ca = $PKI/ca.crt
[client.frontend]
identity = spki-sha256:$(cat "$PKI/client1.spki")
[key.rsa]
source = $PKI/server-rsa2048.key
certificate = $PKI/server-rsa2048.crt
clients = frontend
exchanges = ecdhe, rsa_premaster, sign_certificate_verify
null_freshness = yes
check_time = no
[key.ecdsa]
source = $PKI/server-p256.key
certificate = $PKI/server-p256.crt
clients = frontend
exchanges = ecdhe, sign_certificate_verify
null_freshness = yes
check_time = no
EOF
    "$LURKD" -f -c "$conf" >> "$E2E_DIR/$name.log" 2>&1 &
    local pid=$!
    e2e_pids+=("$pid")
    eval "LURKD_PID_$name=$pid"
    # The log is appended to across restarts: wait for this process's own line.
    wait_for 10 grep -q "lurkd\[$pid\] \[notice\] lurkd .* started:" "$E2E_DIR/$name.log" ||
        fail "lurkd $name did not start"
}

stop_lurkd() { # stop_lurkd NAME
    local var=LURKD_PID_$1
    kill "${!var}" 2>/dev/null || true
    wait "${!var}" 2>/dev/null || true
}

# make_keyrefs: key references (public key + key id, no private key) for
# the RSA and ECDSA server certificates.
make_keyrefs() {
    "$LURKCTL" keyref --cert "$PKI/server-rsa2048.crt" -o "$E2E_DIR/rsa.keyref.pem"
    "$LURKCTL" keyref --cert "$PKI/server-p256.crt" -o "$E2E_DIR/ecdsa.keyref.pem"
    cp "$PKI/server-rsa2048.crt" "$E2E_DIR/rsa.crt"
    cp "$PKI/server-p256.crt" "$E2E_DIR/ecdsa.crt"
}

# write_openssl_cnf SERVERS [FILE [CERT KEY [TIMEOUT_MS [EXTRA]]]]: the
# provider section a front end loads through OPENSSL_CONF (default first,
# then lurk; docs/deploy.md), written to FILE ($E2E_DIR/openssl.cnf), with
# CERT and KEY as the link credentials (client1's) and EXTRA as more lurk-*
# lines.
write_openssl_cnf() {
    cat > "${2:-$E2E_DIR/openssl.cnf}" <<EOF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
lurk = lurk_sect
[default_sect]
activate = 1
[lurk_sect]
module = $PROVIDER
activate = 1
lurk-server = $1
lurk-ca = $PKI/ca.crt
lurk-cert = ${3:-$PKI/client1.crt}
lurk-key = ${4:-$PKI/client1.key}
lurk-timeout-ms = ${5:-2000}
${6:-}
EOF
}

# nginx_conf_head [WORKER_CONNECTIONS]: the start of a test nginx.conf, up
# to the open http block (daemon, 2 workers, files in $E2E_DIR).
nginx_conf_head() {
    mkdir -p "$E2E_DIR/nginx-tmp"
    if [ "$(id -u)" -eq 0 ]; then echo "user nobody nogroup;"; fi
    cat <<EOF
master_process on;
worker_processes 2;
daemon on;
pid $E2E_DIR/nginx.pid;
error_log $E2E_DIR/nginx-error.log info;
events { worker_connections ${1:-512}; }
http {
    access_log off;
    client_body_temp_path $E2E_DIR/nginx-tmp/body;
    proxy_temp_path $E2E_DIR/nginx-tmp/proxy;
    fastcgi_temp_path $E2E_DIR/nginx-tmp/fastcgi;
    uwsgi_temp_path $E2E_DIR/nginx-tmp/uwsgi;
    scgi_temp_path $E2E_DIR/nginx-tmp/scgi;
EOF
}

# Runs a front end's config check (nginx -t, haproxy -c: they load every
# certificate and key like a start does) under strace and checks every file
# it opened: none holds a private key, except the mTLS client key of the link
# to lurkd (lurk-key), which authenticates the front end and signs nothing
# for TLS clients.
assert_reads_no_private_key() { # CMD...
    local trace=$E2E_DIR/strace.out f n=0
    OPENSSL_CONF=$E2E_DIR/openssl.cnf strace -f -qq -e trace=open,openat -o "$trace" "$@" \
        > "$E2E_DIR/check.log" 2>&1 || fail "config check failed: $*"
    while IFS= read -r f; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        grep -qI -- "-----BEGIN .*PRIVATE KEY-----" "$f" || continue
        [ "$(readlink -f "$f")" = "$(readlink -f "$PKI/client1.key")" ] && continue
        fail "$1 read a private key: $f"
    done < <(grep -v ' = -1 ' "$trace" | grep -o 'open[a-z]*([^"]*"[^"]*"' | sed 's/.*"\(.*\)"/\1/' | sort -u)
    [ $n -gt 0 ] || fail "strace saw no file opened by $1"
    log "$1 read $n files, none with a TLS server private key"
}

# load URL TLS REQUESTS PARALLEL [extra args]: runs the libcurl client, prints its summary.
load() {
    local url=$1 tls=$2 n=$3 p=$4
    shift 4
    "$LOAD" --url "$url" --cacert "$PKI/ca.crt" --tls "$tls" --requests "$n" --parallel "$p" "$@"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Every request of the matrix succeeds, over TLS 1.2 and 1.3 in turn, and
# the handshakes really went through lurkd (its audit log grew).
scenario_all_requests_succeed() { # NAME:PORT:SIGNATURE...
    local spec name port want out before after
    for spec in "$@"; do
        IFS=: read -r name port want <<< "$spec"
        for tls in 1.2 1.3; do
            before=$(wc -l 2>/dev/null < "$E2E_DIR/lurkd1-audit.log" || echo 0)
            out=$(load "https://localhost:$port/" $tls 300 8 --show) ||
                fail "$name TLS $tls: $out"
            log "$name TLS $tls: $(echo "$out" | tr '\n' ' ')"
            grep -q "ok=300 failed=0" <<< "$out" || fail "$name TLS $tls: not all 300 requests succeeded"
            grep -q "protocol=TLSv$tls " <<< "$out" || fail "$name: expected TLS $tls"
            grep -q "signature=$want" <<< "$out" || fail "$name: expected a $want signature"
            sleep 0.3 # audit lines are flushed every 100 ms
            after=$(wc -l < "$E2E_DIR/lurkd1-audit.log")
            [ $((after - before)) -ge 300 ] || fail "$name TLS $tls: only $((after - before)) lurkd operations for 300 handshakes"
        done
    done
}

# A reload of the front end during the load loses no request.
scenario_reload_under_load() { # PORT RELOAD_FUNCTION
    local out
    load "https://localhost:$1/" 1.3 100000 8 --duration 4 > "$E2E_DIR/reload.out" 2>&1 &
    local lp=$!
    sleep 1
    $2
    log "reloaded the front end"
    wait $lp || true
    out=$(cat "$E2E_DIR/reload.out")
    log "reload: $out"
    grep -q " failed=0 " <<< "$out" || fail "requests failed during the reload"
}

# lurkd stopped for 2 s: requests fail only during the outage, then all
# succeed again, without restarting the front end.
scenario_lurkd_outage() { # PORT LURKD_PORT
    local t0 t_stop t_start
    t0=$(now_ms)
    load "https://localhost:$1/" 1.3 100000 8 --duration 6 --log "$E2E_DIR/outage.log" \
        > "$E2E_DIR/outage.out" 2>&1 &
    local lp=$!
    sleep 1
    t_stop=$(($(now_ms) - t0))
    stop_lurkd lurkd1
    sleep 2
    t_start=$(($(now_ms) - t0))
    start_lurkd lurkd1 "$2"
    t_start=$(($(now_ms) - t0))
    wait $lp || true
    log "outage: lurkd down from ${t_stop} ms to ${t_start} ms: $(tail -1 "$E2E_DIR/outage.out")"
    # Requests that ended before the stop, or began well after the restart, all succeeded.
    awk -v stop="$t_stop" -v start="$t_start" '
        $3 == "fail" && ($2 < stop - 200 || $1 > start + 1000) { bad++; print "failed outside the outage:", $0 }
        $3 == "fail" { failed++ }
        $1 > start + 1000 && $3 == "ok" { after++ }
        END {
            printf "failed during the outage: %d, succeeded after it: %d\n", failed, after
            exit (bad > 0 || after == 0) ? 1 : 0
        }' "$E2E_DIR/outage.log" || fail "requests failed outside the lurkd outage"
}

# Two lurkd in lurk-server and the first one killed: no request fails.
scenario_failover() { # PORT
    load "https://localhost:$1/" 1.3 100000 8 --duration 4 > "$E2E_DIR/failover.out" 2>&1 &
    local lp=$!
    sleep 1
    # shellcheck disable=SC2154 # set by start_lurkd through eval
    kill -9 "$LURKD_PID_lurkd1"
    log "killed lurkd1"
    wait $lp || true
    log "failover: $(cat "$E2E_DIR/failover.out")"
    grep -q " failed=0 " "$E2E_DIR/failover.out" || fail "requests failed when lurkd1 died"
    grep -q "sign_certificate_verify" "$E2E_DIR/lurkd2-audit.log" ||
        fail "lurkd2 served nothing"
}
