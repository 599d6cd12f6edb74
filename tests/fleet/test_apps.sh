#!/usr/bin/env bash
# The applications docs/deploy.md §4 documents besides nginx and haproxy
# (which the e2e and fleet suites run): Debian's Apache httpd, lighttpd,
# stunnel and python3, and Node.js when installed, each unchanged, with a key
# reference as its key and the provider loaded through OPENSSL_CONF. For each:
#   - TLS 1.3 and TLS 1.2 handshakes succeed and are signed by lurkd;
#   - with lurkd stopped, the failure shows where deploy.md says it does
#     (the application's log, or the provider's lurk-log);
#   - without OPENSSL_CONF, the start fails with the text of deploy.md's
#     troubleshooting table.
# An application that is not installed is reported and left out; the test
# fails when none is installed.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

chmod 755 "$E2E_DIR" # the applications' workers run as nobody
P1=$(free_port)
start_lurkd lurkd1 "$P1"
make_keyrefs
write_openssl_cnf "tls://127.0.0.1:$P1"
echo "lurk-log = $E2E_DIR/lurk.log" >> "$E2E_DIR/openssl.cnf"
touch "$E2E_DIR/lurk.log"
chmod 600 "$E2E_DIR/ecdsa.keyref.pem" # stunnel warns about any other mode
echo ok > "$E2E_DIR/index.html"
app_pids=()
apps_stop() {
    local f
    for p in "${app_pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for f in "$E2E_DIR"/*.pid "$E2E_DIR"/run/*.pid; do
        [ -f "$f" ] && { kill "$(head -1 "$f")" 2> /dev/null || true; }
    done
    return 0
}
E2E_CLEANUP_HOOK=apps_stop
tested=()

# check_app NAME PORT START_FN STOP_FN ERRLOG PATTERN
# Handshakes with lurkd up, then a failed one with lurkd down: PATTERN must
# appear in ERRLOG. lurkd is started again at the end.
check_app() {
    local name=$1 port=$2 start=$3 stop=$4 errlog=$5 pattern=$6 before after out tls
    $start
    wait_for 10 port_open "$port" || fail "$name is not listening"
    for tls in 1.3 1.2; do
        before=$(wc -l < "$E2E_DIR/lurkd1-audit.log")
        out=$(load "https://localhost:$port/index.html" $tls 40 4 --show) || fail "$name TLS $tls: $out"
        grep -q "ok=40 failed=0" <<< "$out" || fail "$name TLS $tls: $out"
        grep -q "signature=ECDSA+SHA256" <<< "$out" || fail "$name TLS $tls: not signed by the P-256 key: $out"
        sleep 0.3
        after=$(wc -l < "$E2E_DIR/lurkd1-audit.log")
        [ $((after - before)) -ge 40 ] || fail "$name TLS $tls: lurkd signed $((after - before)) of 40"
    done
    stop_lurkd lurkd1
    out=$(load "https://localhost:$port/index.html" 1.3 1 1) && fail "$name served with lurkd down: $out"
    wait_for 5 grep -q -- "$pattern" "$errlog" ||
        fail "$name: '$pattern' not in $errlog: $(tail -5 "$errlog")"
    log "$name: TLS 1.3 and 1.2 through lurkd; with lurkd down: $(grep -m1 -o -- "$pattern.\{0,60\}" "$errlog")"
    $stop
    start_lurkd lurkd1 "$P1"
}

# not_loaded NAME PATTERN CMD...: CMD (a start or a check) without OPENSSL_CONF
# fails and prints PATTERN (deploy.md, "Troubleshooting").
not_loaded() {
    local name=$1 pattern=$2 out
    shift 2
    out=$(env -u OPENSSL_CONF "$@" 2>&1) && fail "$name started without the provider"
    grep -qF -- "$pattern" <<< "$out" || fail "$name without the provider: expected '$pattern' in: $out"
    log "$name without the provider: $(grep -m1 -oF -- "$pattern" <<< "$out")"
}

# ---- Apache httpd: OPENSSL_CONF in its environment; errors at LogLevel ssl:info.
if command -v apache2 > /dev/null; then
    AP=$(free_port)
    cat > "$E2E_DIR/httpd.conf" << EOF
ServerRoot $E2E_DIR
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
PidFile $E2E_DIR/httpd.pid
ErrorLog $E2E_DIR/httpd-error.log
LogLevel warn ssl:info
User nobody
Group nogroup
ServerName localhost
Listen 127.0.0.1:$AP
DocumentRoot $E2E_DIR
<VirtualHost 127.0.0.1:$AP>
    SSLEngine on
    SSLCertificateFile $E2E_DIR/ecdsa.crt
    SSLCertificateKeyFile $E2E_DIR/ecdsa.keyref.pem
</VirtualHost>
EOF
    apache_start() { OPENSSL_CONF=$E2E_DIR/openssl.cnf apache2 -f "$E2E_DIR/httpd.conf" -k start; }
    apache_stop() {
        apache2 -f "$E2E_DIR/httpd.conf" -k stop
        wait_for 10 test ! -f "$E2E_DIR/httpd.pid" || true
    }
    check_app apache "$AP" apache_start apache_stop "$E2E_DIR/httpd-error.log" \
        "SSL Library Error: error:4080000C:lurk::cannot reach lurkd (server tls://127.0.0.1:$P1, key id"
    # apache2 -k start returns before the failure: the foreground start shows it.
    not_loaded apache "error:068000A8:asn1 encoding routines::wrong tag" \
        bash -c "apache2 -f '$E2E_DIR/httpd.conf' -DFOREGROUND; e=\$?; cat '$E2E_DIR/httpd-error.log'; exit \$e"
    tested+=(apache)
else
    log "apache2 is not installed: Apache httpd left out"
fi

# ---- lighttpd (with lighttpd-mod-openssl): the reason only in its log.
if command -v lighttpd > /dev/null && [ -f /usr/lib/lighttpd/mod_openssl.so ]; then
    LP=$(free_port)
    cat > "$E2E_DIR/lighttpd.conf" << EOF
server.modules = ("mod_openssl")
server.document-root = "$E2E_DIR"
server.bind = "127.0.0.1"
server.port = $LP
server.pid-file = "$E2E_DIR/lighttpd.pid"
server.errorlog = "$E2E_DIR/lighttpd-error.log"
server.username = "nobody"
server.groupname = "nogroup"
ssl.engine = "enable"
ssl.pemfile = "$E2E_DIR/ecdsa.crt"
ssl.privkey = "$E2E_DIR/ecdsa.keyref.pem"
EOF
    touch "$E2E_DIR/lighttpd-error.log"
    chown nobody "$E2E_DIR/lighttpd-error.log" # opened after the privilege drop
    lighttpd_start() { OPENSSL_CONF=$E2E_DIR/openssl.cnf lighttpd -f "$E2E_DIR/lighttpd.conf"; }
    lighttpd_stop() { kill "$(cat "$E2E_DIR/lighttpd.pid")"; }
    OPENSSL_CONF=$E2E_DIR/openssl.cnf lighttpd -tt -f "$E2E_DIR/lighttpd.conf" ||
        fail "lighttpd -tt failed with the provider"
    check_app lighttpd "$LP" lighttpd_start lighttpd_stop "$E2E_DIR/lighttpd-error.log" \
        "SSL: 1 error:4080000C:lurk::cannot reach lurkd"
    not_loaded lighttpd "SSL: couldn't read private key from '$E2E_DIR/ecdsa.keyref.pem'" \
        lighttpd -tt -f "$E2E_DIR/lighttpd.conf"
    tested+=(lighttpd)
else
    log "lighttpd or lighttpd-mod-openssl is not installed: lighttpd left out"
fi

# Plain HTTP backend for stunnel (Debian's python3).
PY=/usr/bin/python3
BP=$(free_port)
"$PY" -m http.server "$BP" --bind 127.0.0.1 --directory "$E2E_DIR" > /dev/null 2>&1 &
app_pids+=($!)

# ---- stunnel: the reason only in its log (debug 3 and above).
if command -v stunnel > /dev/null; then
    SP=$(free_port)
    mkdir -p "$E2E_DIR/run"
    chown nobody "$E2E_DIR/run" # the pid file is written after setuid
    touch "$E2E_DIR/stunnel.log"
    chmod 666 "$E2E_DIR/stunnel.log"
    cat > "$E2E_DIR/stunnel.conf" << EOF
foreground = no
pid = $E2E_DIR/run/stunnel.pid
output = $E2E_DIR/stunnel.log
debug = 3
setuid = nobody
setgid = nogroup
[https]
accept = 127.0.0.1:$SP
connect = 127.0.0.1:$BP
cert = $E2E_DIR/ecdsa.crt
key = $E2E_DIR/ecdsa.keyref.pem
EOF
    sed 's/^foreground = no/foreground = yes/' "$E2E_DIR/stunnel.conf" > "$E2E_DIR/stunnel-fg.conf"
    stunnel_start() { OPENSSL_CONF=$E2E_DIR/openssl.cnf stunnel "$E2E_DIR/stunnel.conf"; }
    stunnel_stop() { kill "$(cat "$E2E_DIR/run/stunnel.pid")"; }
    check_app stunnel "$SP" stunnel_start stunnel_stop "$E2E_DIR/stunnel.log" \
        "error:4080000C:lurk::cannot reach lurkd"
    not_loaded stunnel "error:0A080009:SSL routines::PEM lib" \
        bash -c "stunnel '$E2E_DIR/stunnel-fg.conf'; e=\$?; cat '$E2E_DIR/stunnel.log'; exit \$e"
    tested+=(stunnel)
else
    log "stunnel4 is not installed: stunnel left out"
fi

# ---- Python's ssl module: nothing useful from Python; the provider's log has it.
if [ -x "$PY" ]; then
    YP=$(free_port)
    cat > "$E2E_DIR/pyserver.py" << EOF
import http.server, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("$E2E_DIR/ecdsa.crt", "$E2E_DIR/ecdsa.keyref.pem")
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
srv = http.server.HTTPServer(("127.0.0.1", $YP), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
    python_start() {
        (cd "$E2E_DIR" && exec env OPENSSL_CONF="$E2E_DIR/openssl.cnf" "$PY" pyserver.py > py.log 2>&1) &
        python_pid=$!
    }
    python_stop() { kill "$python_pid"; }
    check_app python "$YP" python_start python_stop "$E2E_DIR/lurk.log" \
        "server tls://127.0.0.1:$P1 down: connect: Connection refused"
    not_loaded python "ssl.SSLError: [SSL] PEM lib" "$PY" "$E2E_DIR/pyserver.py"
    tested+=(python)
fi

# ---- Node.js with --openssl-shared-config: the full text in tlsClientError.
if command -v node > /dev/null; then
    NP=$(free_port)
    cat > "$E2E_DIR/nodeserver.js" << EOF
const https = require('https'), fs = require('fs');
const srv = https.createServer({cert: fs.readFileSync('$E2E_DIR/ecdsa.crt'),
                                key: fs.readFileSync('$E2E_DIR/ecdsa.keyref.pem')},
                               (req, res) => res.end('ok\n'));
srv.on('tlsClientError', (err) => console.error('tlsClientError:', err.message, err.code));
srv.listen($NP, '127.0.0.1');
EOF
    node_start() {
        OPENSSL_CONF=$E2E_DIR/openssl.cnf node --openssl-shared-config "$E2E_DIR/nodeserver.js" \
            > "$E2E_DIR/node.log" 2>&1 &
        node_pid=$!
    }
    node_stop() { kill "$node_pid"; }
    check_app node "$NP" node_start node_stop "$E2E_DIR/node.log" \
        "cannot reach lurkd:.*server tls://127.0.0.1:$P1, key id"
    # Without the flag node reads only its own section: the provider is not loaded.
    out=$(OPENSSL_CONF=$E2E_DIR/openssl.cnf node "$E2E_DIR/nodeserver.js" 2>&1) &&
        fail "node started without --openssl-shared-config"
    grep -qF "DECODER routines::unsupported" <<< "$out" || fail "node without the flag: $out"
    log "node without --openssl-shared-config: DECODER routines::unsupported"
    tested+=(node)
else
    log "node is not installed: Node.js left out"
fi

[ ${#tested[@]} -gt 0 ] || fail "none of the applications is installed"
log "PASS: ${tested[*]}"
