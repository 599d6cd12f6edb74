#!/usr/bin/env bash
# The provider with real parts (issue 4, "Tests"): a real lurkd holds every
# key, `openssl s_server` holds only a key reference (a file, or lurk:<id>
# through the store loader) and loads lurk.so through OPENSSL_CONF, and a
# plain `openssl s_client` verifies the chain. Each case checks what was
# negotiated (protocol, cipher, the SignatureScheme in the CertificateVerify
# or ServerKeyExchange from -trace, the key exchange group, EMS), that the
# application data went through, and that lurkd's audit log recorded the
# operation: TLS 1.3 with every key type, groups, client certificates with
# the client's key in lurkd too; TLS 1.2 ECDHE (PKCS#1, PSS, ECDSA, EdDSA)
# and RSA key exchange with and without EMS; s_server -async. Then the
# failures: DHE, a TLS 1.2 client certificate, lurkd stopped and restarted
# under the same s_server, a front end lurkd does not allow, and generic
# signing with openssl pkeyutl, dgst, req and x509.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

# The openssl binary, as a command (OSSL). Under -Dsanitizers=true lurk.so is
# instrumented and openssl is not: meson passes the ASan runtime, preloaded
# into every openssl process (leak checking off: the application's own
# exit-time leaks are not ours; lurk.so's are checked by the C tests).
OSSL=("${OPENSSL:-openssl}")
if [ -n "${LURK_ASAN_PRELOAD:-}" ]; then
    OSSL=(env "LD_PRELOAD=$LURK_ASAN_PRELOAD" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" "${OSSL[@]}")
fi
LURKD_PORT=$(free_port)
# What differs between the OpenSSL versions the matrix runs on
# (docs/provider.md §7): 3.5 offers the hybrid X25519MLKEM768 first, so a
# TLS 1.3 handshake with the default groups uses it; 3.0 uses X25519.
if "${OSSL[@]}" list -kem-algorithms 2> /dev/null | grep -q X25519MLKEM768; then
    HAS_MLKEM=yes
    T13_DEFAULT_GROUP=X25519MLKEM768
else
    HAS_MLKEM=no
    T13_DEFAULT_GROUP="X25519, 253 bits"
fi
AUDIT=$E2E_DIR/lurkd-audit.log
T0=$(now_ms)

# ---- lurkd and the front end's files ----

KEYS=(rsa2048 rsa3072 rsapss p256 p384 p521 ed25519 ed448)

# lurkd on tls://127.0.0.1:PORT with every server key of the test PKI, for
# client1 only; client2 is a known client that may use no key.
start_matrix_lurkd() { # NAME PORT
    local name=$1 port=$2 conf=$E2E_DIR/$1.conf k
    {
        cat <<EOF
[lurkd]
$([ "$(id -u)" -eq 0 ] && echo "run_as_root = yes")
workers = 2
audit_log = $AUDIT
log_level = info
[listener.tls]
address = tls://127.0.0.1:$port
certificate = $PKI/lurkd.crt
private_key = $PKI/lurkd.key
client_ca = $PKI/ca.crt
[client.frontend]
identity = spki-sha256:$(cat "$PKI/client1.spki")
[client.other]
identity = spki-sha256:$(cat "$PKI/client2.spki")
EOF
        for k in "${KEYS[@]}"; do
            cat <<EOF
[key.$k]
source = $PKI/server-$k.key
certificate = $PKI/server-$k.crt
clients = frontend
exchanges = all, rsa_premaster
null_freshness = yes
check_time = no
EOF
        done
    } > "$conf"
    "$LURKD" -f -c "$conf" >> "$E2E_DIR/$name.log" 2>&1 &
    local pid=$!
    e2e_pids+=("$pid")
    eval "LURKD_PID_$name=$pid"
    # This process's line: after a restart the log also holds the previous one's.
    wait_for 10 grep -q "lurkd\[$pid\] .* started:" "$E2E_DIR/$name.log" || fail "lurkd $name did not start"
}

start_matrix_lurkd lurkd1 "$LURKD_PORT"
for k in "${KEYS[@]}"; do
    "$LURKCTL" keyref --cert "$PKI/server-$k.crt" -o "$E2E_DIR/$k.keyref.pem" 2> "$E2E_DIR/$k.keyid"
    grep -q "^key id [0-9a-f]\{8\} " "$E2E_DIR/$k.keyid" || fail "lurkctl keyref $k: $(cat "$E2E_DIR/$k.keyid")"
    ! grep -q "PRIVATE KEY" "$E2E_DIR/$k.keyref.pem" || fail "$k.keyref.pem holds a private key"
done
keyid() { cut -d' ' -f3 < "$E2E_DIR/$1.keyid"; }

# The front end's openssl.cnf (lib.sh: default first, then lurk, client1's
# mTLS identity), and the same with client2's identity.
write_openssl_cnf "tls://127.0.0.1:$LURKD_PORT"
CNF=$E2E_DIR/openssl.cnf
sed -e "s|$PKI/client1\.|$PKI/client2.|g" "$CNF" > "$E2E_DIR/openssl-client2.cnf"
grep -q "client2.key" "$E2E_DIR/openssl-client2.cnf" || fail "cannot write the client2 openssl.cnf"
# A client without the provider whose "noems" SSL_CTX section turns extended
# master secret off (s_client has no switch for it in OpenSSL 3.0).
cat > "$E2E_DIR/client-noems.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
noems = noems_sect
[noems_sect]
Options = -ExtendedMasterSecret
EOF

# ---- s_server and s_client ----

SERVER_PID=
SERVER_PORT=
SERVER_LOG=
CLIENT_LOG=
TRACE_LOG=
PAGE_LOG=

accepting_or_gone() { grep -q "^ACCEPT" "$SERVER_LOG" || ! kill -0 "$SERVER_PID" 2> /dev/null; }

# server NAME CONF KEY CERT [s_server args...]: an s_server answering -www
# on a free port, started and seen waiting in accept().
server() {
    local name=$1 conf=$2 key=$3 cert=$4
    shift 4
    SERVER_LOG=$E2E_DIR/$name-server.out
    for _ in 1 2 3; do
        SERVER_PORT=$(free_port)
        OPENSSL_CONF=$conf "${OSSL[@]}" s_server -accept "127.0.0.1:$SERVER_PORT" -www \
            -key "$key" -cert "$cert" "$@" > "$SERVER_LOG" 2>&1 &
        SERVER_PID=$!
        e2e_pids+=("$SERVER_PID")
        wait_for 10 accepting_or_gone || true
        if grep -q "^ACCEPT" "$SERVER_LOG"; then
            return 0
        fi
        # Lost the free port to another process: try another one.
        grep -q -i "bind\|address already in use" "$SERVER_LOG" || break
        wait "$SERVER_PID" 2> /dev/null || true
        log "$name: port $SERVER_PORT was taken, retrying"
    done
    show "$SERVER_LOG"
    fail "$name: s_server did not start"
}

show() { # the files, for a failure message
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        echo "---- $f"
        grep -v '^ \{4,\}\|^[A-Za-z0-9+/=]\{64\}$' "$f" | tail -n 60
    done
}

# client NAME [s_client args...]: one HTTP request through s_client, which
# verifies the chain and the name. Its -brief summary of the handshake (and
# any error) goes to $E2E_DIR/NAME-client.out, the -trace of the handshake
# messages to NAME-trace.out, what it received (s_server's -www page: the
# server's view of the session) to NAME-page.out. Returns s_client's status.
client() {
    local name=$1
    shift
    CLIENT_LOG=$E2E_DIR/$name-client.out
    TRACE_LOG=$E2E_DIR/$name-trace.out
    PAGE_LOG=$E2E_DIR/$name-page.out
    printf 'GET / HTTP/1.0\r\n\r\n' |
        timeout 20 "${OSSL[@]}" s_client -connect "127.0.0.1:$SERVER_PORT" -servername localhost \
            -CAfile "$PKI/ca.crt" -verify_return_error -verify_hostname localhost -ign_eof \
            -brief -trace -msgfile "$TRACE_LOG" "$@" > "$PAGE_LOG" 2> "$CLIENT_LOG"
}

handshake() { cat "$CLIENT_LOG"; }

# The key exchange group of the handshake in -brief: "Server Temp Key: X25519,
# 253 bits" (3.0), "Peer Temp Key: ..." (3.5), or for a KEM group, which has
# no temporary key, "Negotiated TLS1.3 group: X25519MLKEM768" (3.5).
group() {
    sed -n -e 's/^\(Server\|Peer\) Temp Key: //p' -e 's/^Negotiated TLS1\.3 group: //p' "$CLIENT_LOG" |
        head -n 1
}

# "Received CertificateVerify rsa_pss_rsae_sha256" and the like: every
# signed handshake message in the -trace output, with its direction (a
# record is "Received Record" on 3.0, "Received TLS Record" or "Received
# DTLS Record" on 3.5).
signed_messages() {
    awk '
        /^(Sent|Received) (TLS |DTLS )?Record/ { dir = $1 }
        /^ *(CertificateVerify|ServerKeyExchange), Length/ { msg = $1; sub(",", "", msg) }
        /^ *Signature Algorithm: [a-z0-9_]+ \(0x/ && msg != "" { print dir, msg, $3; msg = "" }' "$TRACE_LOG"
}

audit_count() { # KEY EXCHANGE STATUS
    grep -c "\"key\":\"$1\",\"exchange\":\"$2\",\"status\":\"$3\"" "$AUDIT" 2> /dev/null || true
}
audit_grew() { [ "$(audit_count "$1" "$2" "$3")" -gt "$4" ]; }

case_fail() {
    show "$SERVER_LOG" "$CLIENT_LOG" "$PAGE_LOG" "$TRACE_LOG"
    fail "$@"
}

CASES=0
# expect_ok NAME KEY PROTOCOL CIPHER SIGNED EXCHANGE [TEMP_KEY] -- [s_client args...]
#   SIGNED: what signed_messages must print, lines joined with ';' ("" for none)
#   EXCHANGE: what lurkd must have audited for KEY (tls13/sign_certificate_verify ...)
#   TEMP_KEY: the key exchange group as -brief names it, "none" for RSA key exchange
expect_ok() {
    local name=$1 key=$2 proto=$3 cipher=$4 signed=$5 exchange=$6 temp="" before got
    shift 6
    if [ "$1" != "--" ]; then
        temp=$1
        shift
    fi
    shift
    before=$(audit_count "$key" "$exchange" success)
    client "$name" "$@" || case_fail "$name: s_client failed"
    handshake | grep -q "^Verification: OK" || case_fail "$name: the chain was not verified"
    handshake | grep -q "^Protocol version: $proto\$" ||
        case_fail "$name: expected $proto, got: $(handshake | grep '^Protocol')"
    handshake | grep -q "^Ciphersuite: $cipher\$" ||
        case_fail "$name: expected $cipher, got: $(handshake | grep '^Ciphersuite')"
    got=$(signed_messages | paste -sd';')
    [ "$got" = "$signed" ] || case_fail "$name: signed messages: expected '$signed', got '$got'"
    case $temp in
        "") ;;
        none) [ -z "$(group)" ] || case_fail "$name: ephemeral key with RSA key exchange" ;;
        *) [ "$(group)" = "$temp" ] || case_fail "$name: expected group $temp, got: '$(group)'" ;;
    esac
    grep -q "^HTTP/1.0 200 ok" "$PAGE_LOG" || case_fail "$name: no application data"
    wait_for 5 audit_grew "$key" "$exchange" success "$before" ||
        case_fail "$name: lurkd did not audit a successful $exchange with key $key"
    CASES=$((CASES + 1))
    log "ok   $name: $proto $cipher ${signed:-(no signature)} ${temp:+[$temp]}"
}

one_shot() { # NAME KEY_NAME [s_server args...]: s_server for one connection with that key's reference
    local name=$1 k=$2
    shift 2
    server "$name" "$CNF" "$E2E_DIR/$k.keyref.pem" "$PKI/server-$k.crt" -naccept 1 "$@"
}

# sig_type_is NAME TYPE_3_0 SCHEME_3_5: -brief's "Signature type" line names
# the key type on 3.0 and the SignatureScheme on 3.5.
sig_type_is() {
    handshake | grep -q -x "Signature type: \($2\|$3\)" ||
        case_fail "$1: peer signature type: $(handshake | grep '^Signature type')"
}

server_done() { # the one-connection s_server exited, successfully
    wait "$SERVER_PID" || case_fail "$1: s_server exited with status $?"
}

# ---- TLS 1.3 ----

one_shot t13-rsa2048 rsa2048
expect_ok t13-rsa2048 rsa2048 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify rsa_pss_rsae_sha256" tls13/sign_certificate_verify \
    "$T13_DEFAULT_GROUP" -- -tls1_3
sig_type_is t13-rsa2048 RSA-PSS rsa_pss_rsae_sha256
server_done t13-rsa2048

one_shot t13-rsa3072 rsa3072
expect_ok t13-rsa3072 rsa3072 TLSv1.3 TLS_AES_128_GCM_SHA256 \
    "Received CertificateVerify rsa_pss_rsae_sha384" tls13/sign_certificate_verify -- \
    -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 -sigalgs rsa_pss_rsae_sha384:rsa_pss_rsae_sha256
server_done t13-rsa3072

one_shot t13-rsapss rsapss
expect_ok t13-rsapss rsapss TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify rsa_pss_pss_sha256" tls13/sign_certificate_verify -- -tls1_3
server_done t13-rsapss

one_shot t13-p256 p256
expect_ok t13-p256 p256 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify ecdsa_secp256r1_sha256" tls13/sign_certificate_verify \
    "ECDH, prime256v1, 256 bits" -- -tls1_3 -groups P-256
sig_type_is t13-p256 ECDSA ecdsa_secp256r1_sha256
server_done t13-p256

one_shot t13-p384 p384
expect_ok t13-p384 p384 TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 \
    "Received CertificateVerify ecdsa_secp384r1_sha384" tls13/sign_certificate_verify \
    "X25519, 253 bits" -- -tls1_3 -groups X25519 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
server_done t13-p384

one_shot t13-p521 p521
expect_ok t13-p521 p521 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify ecdsa_secp521r1_sha512" tls13/sign_certificate_verify \
    "ECDH, secp384r1, 384 bits" -- -tls1_3 -groups P-384
server_done t13-p521

one_shot t13-ed25519 ed25519
expect_ok t13-ed25519 ed25519 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify ed25519" tls13/sign_certificate_verify -- -tls1_3
sig_type_is t13-ed25519 ed25519 ed25519
server_done t13-ed25519

one_shot t13-ed448 ed448
expect_ok t13-ed448 ed448 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify ed448" tls13/sign_certificate_verify -- -tls1_3
server_done t13-ed448

# The key by id through the lurk: store loader (public key from lurkd's capabilities).
server t13-store "$CNF" "lurk:$(keyid rsa2048)" "$PKI/server-rsa2048.crt" -naccept 1
expect_ok t13-store rsa2048 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify rsa_pss_rsae_sha256" tls13/sign_certificate_verify -- -tls1_3
server_done t13-store
# The certificate too: s_server reads no file of its own.
server t13-store-cert "$CNF" "lurk:$(keyid p384)" "lurk:$(keyid p384)" -naccept 1
expect_ok t13-store-cert p384 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify ecdsa_secp384r1_sha384" tls13/sign_certificate_verify -- -tls1_3
server_done t13-store-cert

# OpenSSL's ASYNC mode (haproxy ssl-mode-async): the key operation runs inside an async job.
one_shot t13-async rsa2048 -async
expect_ok t13-async rsa2048 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify rsa_pss_rsae_sha256" tls13/sign_certificate_verify -- -tls1_3
server_done t13-async

# Client certificates, both keys in lurkd: s_client signs its CertificateVerify
# with the P-384 key's reference (role client), s_server requires and verifies it.
one_shot t13-client-auth p256 -Verify 1 -verifyCAfile "$PKI/ca.crt"
before_p256=$(audit_count p256 tls13/sign_certificate_verify success)
OPENSSL_CONF=$CNF expect_ok t13-client-auth p384 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify ecdsa_secp256r1_sha256;Sent CertificateVerify ecdsa_secp384r1_sha384" \
    tls13/sign_certificate_verify -- -tls1_3 -cert "$PKI/server-p384.crt" -key "$E2E_DIR/p384.keyref.pem"
wait_for 5 audit_grew p256 tls13/sign_certificate_verify success "$before_p256" ||
    case_fail "t13-client-auth: the server's signature was not audited"
server_done t13-client-auth
# "O = lurk test, CN = localhost" (3.0), "O=lurk test, CN=localhost" (3.5).
grep -A1 -E "^depth=0 O ?= ?lurk test, CN ?= ?localhost" "$SERVER_LOG" | grep -q "^verify return:1" ||
    case_fail "t13-client-auth: s_server did not verify the client's certificate"
grep -q "^Client certificate" "$PAGE_LOG" ||
    case_fail "t13-client-auth: s_server's page shows no client certificate"

# ---- TLS 1.2 ----

one_shot t12-ecdhe-rsa-pkcs1 rsa2048
expect_ok t12-ecdhe-rsa-pkcs1 rsa2048 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 \
    "Received ServerKeyExchange rsa_pkcs1_sha256" tls12/ecdhe "X25519, 253 bits" -- \
    -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -sigalgs RSA+SHA256
sig_type_is t12-ecdhe-rsa-pkcs1 RSA rsa_pkcs1_sha256
server_done t12-ecdhe-rsa-pkcs1

one_shot t12-ecdhe-rsa-pkcs1-sha512 rsa3072
expect_ok t12-ecdhe-rsa-pkcs1-sha512 rsa3072 TLSv1.2 ECDHE-RSA-AES256-SHA384 \
    "Received ServerKeyExchange rsa_pkcs1_sha512" tls12/ecdhe "ECDH, prime256v1, 256 bits" -- \
    -tls1_2 -cipher ECDHE-RSA-AES256-SHA384 -sigalgs RSA+SHA512 -groups P-256
server_done t12-ecdhe-rsa-pkcs1-sha512

one_shot t12-ecdhe-rsa-pss rsa2048
expect_ok t12-ecdhe-rsa-pss rsa2048 TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384 \
    "Received ServerKeyExchange rsa_pss_rsae_sha256" tls12/ecdhe -- \
    -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 -sigalgs rsa_pss_rsae_sha256
sig_type_is t12-ecdhe-rsa-pss RSA-PSS rsa_pss_rsae_sha256
server_done t12-ecdhe-rsa-pss

one_shot t12-ecdhe-ecdsa-p256 p256
expect_ok t12-ecdhe-ecdsa-p256 p256 TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 \
    "Received ServerKeyExchange ecdsa_secp256r1_sha256" tls12/ecdhe -- \
    -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
server_done t12-ecdhe-ecdsa-p256

one_shot t12-ecdhe-ecdsa-p384 p384
expect_ok t12-ecdhe-ecdsa-p384 p384 TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384 \
    "Received ServerKeyExchange ecdsa_secp384r1_sha384" tls12/ecdhe -- \
    -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384 -sigalgs ECDSA+SHA384
server_done t12-ecdhe-ecdsa-p384

one_shot t12-ecdhe-ed25519 ed25519
expect_ok t12-ecdhe-ed25519 ed25519 TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305 \
    "Received ServerKeyExchange ed25519" tls12/ecdhe -- -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305
server_done t12-ecdhe-ed25519

# RSA key exchange: the ClientKeyExchange goes to lurkd as rsa_premaster,
# with extended master secret and without.
one_shot t12-rsa-kx-ems rsa2048
expect_ok t12-rsa-kx-ems rsa2048 TLSv1.2 AES128-GCM-SHA256 "" tls12/rsa_premaster none -- \
    -tls1_2 -cipher AES128-GCM-SHA256
grep -q "^ *Extended master secret: yes" "$PAGE_LOG" || case_fail "t12-rsa-kx-ems: EMS not negotiated"
server_done t12-rsa-kx-ems

one_shot t12-rsa-kx-no-ems rsa3072
OPENSSL_CONF=$E2E_DIR/client-noems.cnf expect_ok t12-rsa-kx-no-ems rsa3072 TLSv1.2 AES256-SHA256 "" \
    tls12/rsa_premaster none -- -tls1_2 -cipher AES256-SHA256 -ssl_config noems
grep -q "^ *Extended master secret: no" "$PAGE_LOG" || case_fail "t12-rsa-kx-no-ems: EMS was negotiated"
! grep -q "extension_type=extended_master_secret" "$TRACE_LOG" ||
    case_fail "t12-rsa-kx-no-ems: the extension was sent"
server_done t12-rsa-kx-no-ems

one_shot t12-rsa-kx-async rsa2048 -async
expect_ok t12-rsa-kx-async rsa2048 TLSv1.2 AES128-GCM-SHA256 "" tls12/rsa_premaster none -- \
    -tls1_2 -cipher AES128-GCM-SHA256
server_done t12-rsa-kx-async

# ---- OpenSSL 3.5's hybrid group ----

# X25519MLKEM768 (3.5's first default group): the key exchange is a KEM,
# the signature is lurk's as with any group.
if [ "$HAS_MLKEM" = yes ]; then
    one_shot t13-x25519mlkem768 p256
    expect_ok t13-x25519mlkem768 p256 TLSv1.3 TLS_AES_256_GCM_SHA384 \
        "Received CertificateVerify ecdsa_secp256r1_sha256" tls13/sign_certificate_verify \
        X25519MLKEM768 -- -tls1_3 -groups X25519MLKEM768
    server_done t13-x25519mlkem768
else
    log "skip t13-x25519mlkem768: this OpenSSL ($("${OSSL[@]}" version)) has no X25519MLKEM768"
fi

# ---- DTLS 1.2 ----

# draft-mglt-lurk-tls12 names DTLS 1.2 beside TLS 1.2: the same
# ServerKeyExchange and premaster go to lurkd (docs/provider.md §7).
# s_server cannot serve -www over DTLS: it prints what it receives, and its
# standard input (where it would read what to send) is a FIFO this script
# holds open, since s_server stops at the end of its input.
DTLS_FIFO=$E2E_DIR/dtls-stdin
mkfifo "$DTLS_FIFO"
exec 7<> "$DTLS_FIFO"
s_server_gone() { ! kill -0 "$SERVER_PID" 2> /dev/null; }

# dtls_ok NAME KEY CIPHER SIGNED EXCHANGE TEMP_KEY: one DTLS 1.2 handshake
# and one line of application data, checked as expect_ok checks TLS.
dtls_ok() {
    local name=$1 key=$2 cipher=$3 signed=$4 exchange=$5 temp=$6 before got
    before=$(audit_count "$key" "$exchange" success)
    SERVER_LOG=$E2E_DIR/$name-server.out
    CLIENT_LOG=$E2E_DIR/$name-client.out
    TRACE_LOG=$E2E_DIR/$name-trace.out
    PAGE_LOG=$SERVER_LOG
    SERVER_PORT=$(free_port) # a free TCP port: the UDP one of that number is all but always free
    OPENSSL_CONF=$CNF "${OSSL[@]}" s_server -dtls1_2 -accept "127.0.0.1:$SERVER_PORT" -naccept 1 \
        -key "$E2E_DIR/$key.keyref.pem" -cert "$PKI/server-$key.crt" < "$DTLS_FIFO" > "$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    e2e_pids+=("$SERVER_PID")
    wait_for 10 accepting_or_gone || true
    grep -q "^ACCEPT" "$SERVER_LOG" || case_fail "$name: s_server did not start"
    printf 'lurk-dtls-%s\n' "$name" |
        timeout 20 "${OSSL[@]}" s_client -dtls1_2 -connect "127.0.0.1:$SERVER_PORT" \
            -servername localhost -CAfile "$PKI/ca.crt" -verify_return_error \
            -verify_hostname localhost -brief -trace -msgfile "$TRACE_LOG" -cipher "$cipher" \
            > /dev/null 2> "$CLIENT_LOG" || case_fail "$name: s_client failed"
    handshake | grep -q "^Verification: OK" || case_fail "$name: the chain was not verified"
    handshake | grep -q "^Protocol version: DTLSv1.2\$" ||
        case_fail "$name: expected DTLSv1.2, got: $(handshake | grep '^Protocol')"
    handshake | grep -q "^Ciphersuite: $cipher\$" ||
        case_fail "$name: expected $cipher, got: $(handshake | grep '^Ciphersuite')"
    got=$(signed_messages | paste -sd';')
    [ "$got" = "$signed" ] || case_fail "$name: signed messages: expected '$signed', got '$got'"
    case $temp in
        none) [ -z "$(group)" ] || case_fail "$name: ephemeral key with RSA key exchange" ;;
        *) [ "$(group)" = "$temp" ] || case_fail "$name: expected group $temp, got: '$(group)'" ;;
    esac
    wait_for 10 s_server_gone || case_fail "$name: s_server did not stop after its one connection"
    wait "$SERVER_PID" || case_fail "$name: s_server exited with status $?"
    grep -q "^lurk-dtls-$name\$" "$SERVER_LOG" || case_fail "$name: no application data"
    wait_for 5 audit_grew "$key" "$exchange" success "$before" ||
        case_fail "$name: lurkd did not audit a successful $exchange with key $key"
    CASES=$((CASES + 1))
    log "ok   $name: DTLSv1.2 $cipher ${signed:-(no signature)} [$temp]"
}

dtls_ok d12-ecdhe-rsa rsa2048 ECDHE-RSA-AES128-GCM-SHA256 \
    "Received ServerKeyExchange rsa_pss_rsae_sha256" tls12/ecdhe "X25519, 253 bits"
dtls_ok d12-ecdhe-ecdsa p256 ECDHE-ECDSA-AES256-GCM-SHA384 \
    "Received ServerKeyExchange ecdsa_secp256r1_sha256" tls12/ecdhe "X25519, 253 bits"
dtls_ok d12-rsa-kx rsa2048 AES128-GCM-SHA256 "" tls12/rsa_premaster none
exec 7>&-

# ---- failures ----

# DHE: no LURK exchange signs ServerDHParams; s_server says so.
one_shot dhe-only rsa2048
if client dhe-only -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256; then
    case_fail "dhe-only: the handshake succeeded"
fi
grep -q "alert internal error" "$CLIENT_LOG" || case_fail "dhe-only: s_client did not get an internal_error alert"
wait "$SERVER_PID" || true
grep -q "lurk:sign_content:no LURK exchange for this content:.*key id $(keyid rsa2048): TLS 1.2 ServerKeyExchange with DHE parameters" \
    "$SERVER_LOG" || case_fail "dhe-only: s_server does not name the reason"
CASES=$((CASES + 1))
log "ok   dhe-only: refused, s_server: $(grep -o 'no LURK exchange[^(]*' "$SERVER_LOG" | head -1)"

# A TLS 1.2 client CertificateVerify goes to lurkd as tls12
# client_certificate_verify (docs/provider.md §3), which these keys' sections
# do not name ("all" is the signing set): lurkd refuses it, s_client says so,
# the server sees an alert. The signing case is tests/e2e/test_tls12_client_cert.sh.
one_shot t12-client-auth-refused p256 -Verify 1 -verifyCAfile "$PKI/ca.crt"
if OPENSSL_CONF=$CNF client t12-client-auth-refused -tls1_2 -cert "$PKI/server-p384.crt" \
    -key "$E2E_DIR/p384.keyref.pem"; then
    case_fail "t12-client-auth-refused: the handshake succeeded"
fi
grep -q "lurk:sign_content:lurkd refused the request:.*key id $(keyid p384): tls12 client_certificate_verify: invalid_key_id" "$CLIENT_LOG" ||
    case_fail "t12-client-auth-refused: s_client does not name the reason"
grep -q "tls_construct_cert_verify" "$CLIENT_LOG" ||
    case_fail "t12-client-auth-refused: s_client did not fail at CertificateVerify"
wait "$SERVER_PID" || true
CASES=$((CASES + 1))
log "ok   t12-client-auth-refused: s_client refused to sign a TLS 1.2 CertificateVerify"

# lurkd stopped: handshakes fail cleanly (TLS 1.3 signing, TLS 1.2 RSA
# decryption), the same s_server keeps accepting, and succeeds again once
# lurkd is back on its address.
server outage "$CNF" "$E2E_DIR/rsa2048.keyref.pem" "$PKI/server-rsa2048.crt"
outage_pid=$SERVER_PID
expect_ok outage-before rsa2048 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify rsa_pss_rsae_sha256" tls13/sign_certificate_verify -- -tls1_3
stop_lurkd lurkd1
# TLS 1.3 fails at CertificateVerify (internal_error), TLS 1.2 RSA key
# exchange at ClientKeyExchange (decrypt_error: lurkd's absence does not
# depend on the ciphertext); each failure is logged by the same s_server.
transport_errors_at_least() {
    [ "$(grep -c "lurk:lurk_prov_pool_call:cannot reach lurkd:" "$SERVER_LOG")" -ge "$1" ]
}
n=0
for v in tls1_3 tls1_2; do
    args=(-"$v")
    alert="alert internal error"
    if [ "$v" = tls1_2 ]; then
        args+=(-cipher AES128-GCM-SHA256)
        alert="alert decrypt error"
    fi
    if client "outage-down-$v" "${args[@]}"; then
        case_fail "outage: a $v handshake succeeded without lurkd"
    fi
    grep -q "$alert" "$CLIENT_LOG" || case_fail "outage: s_client did not get '$alert' ($v)"
    n=$((n + 1))
    wait_for 5 transport_errors_at_least $n || case_fail "outage: s_server did not log the $v failure"
    kill -0 "$outage_pid" || case_fail "outage: s_server died"
done
grep -q "lurk:lurk_prov_pool_call:cannot reach lurkd:.*:server tls://127.0.0.1:$LURKD_PORT, key id $(keyid rsa2048): .*Connection refused" \
    "$SERVER_LOG" || case_fail "outage: s_server does not say which lurkd it could not reach, and why"
grep -q "tls_construct_cert_verify" "$SERVER_LOG" || case_fail "outage: TLS 1.3 did not fail at CertificateVerify"
grep -q "tls_process_cke_rsa" "$SERVER_LOG" || case_fail "outage: TLS 1.2 did not fail at ClientKeyExchange"
start_matrix_lurkd lurkd1 "$LURKD_PORT"
expect_ok outage-after rsa2048 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify rsa_pss_rsae_sha256" tls13/sign_certificate_verify -- -tls1_3
expect_ok outage-after-rsa-kx rsa2048 TLSv1.2 AES128-GCM-SHA256 "" tls12/rsa_premaster none -- \
    -tls1_2 -cipher AES128-GCM-SHA256
# lurkd restarted between two handshakes: the kept connection is dead, the
# provider reconnects, and nothing fails.
errors=$(grep -c "error:" "$SERVER_LOG" || true)
stop_lurkd lurkd1
start_matrix_lurkd lurkd1 "$LURKD_PORT"
expect_ok restart-between rsa2048 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify rsa_pss_rsae_sha256" tls13/sign_certificate_verify -- -tls1_3
[ "$(grep -c "error:" "$SERVER_LOG" || true)" -eq "$errors" ] ||
    case_fail "restart-between: s_server logged an error"
[ "$SERVER_PID" = "$outage_pid" ] || case_fail "outage: not the same s_server"
kill -0 "$outage_pid" || case_fail "outage: s_server died"
kill "$outage_pid"
wait "$outage_pid" 2> /dev/null || true
log "ok   outage: clean failures while lurkd was down, the same s_server ($outage_pid) served again after the restart"

# A front end lurkd knows but does not allow on the key: invalid_key_id, named by s_server.
before=$(audit_count p256 tls13/sign_certificate_verify invalid_key_id)
server wrong-client "$E2E_DIR/openssl-client2.cnf" "$E2E_DIR/p256.keyref.pem" "$PKI/server-p256.crt" -naccept 1
if client wrong-client -tls1_3; then
    case_fail "wrong-client: the handshake succeeded"
fi
grep -q "alert internal error" "$CLIENT_LOG" || case_fail "wrong-client: s_client did not get an internal_error alert"
wait "$SERVER_PID" || true
grep -q "lurk:sign_content:lurkd refused the request:.*:server tls://127.0.0.1:$LURKD_PORT, key id $(keyid p256): tls13 sign_certificate_verify: invalid_key_id" \
    "$SERVER_LOG" || case_fail "wrong-client: s_server does not name invalid_key_id"
wait_for 5 audit_grew p256 tls13/sign_certificate_verify invalid_key_id "$before" ||
    case_fail "wrong-client: lurkd did not audit the refusal"
grep "\"status\":\"invalid_key_id\"" "$AUDIT" | tail -1 | grep -q "\"peer\":\"spki-sha256:$(cat "$PKI/client2.spki")\"" ||
    case_fail "wrong-client: the refusal is not client2's"
CASES=$((CASES + 1))
log "ok   wrong-client: refused with invalid_key_id for client2"

# No generic signing or decryption with a lurk key, and nothing reaches lurkd.
head -c 100 /dev/urandom > "$E2E_DIR/data.bin"
lines_before=$(wc -l < "$AUDIT")
generic() { # NAME COMMAND...: must fail with the reason, on stderr
    local name=$1
    shift
    if OPENSSL_CONF=$CNF "$@" > "$E2E_DIR/$name.out" 2>&1 < /dev/null; then
        show "$E2E_DIR/$name.out"
        fail "$name: succeeded with a lurk key"
    fi
    grep -q "lurk:[a-z_]*:no LURK exchange for this content:" "$E2E_DIR/$name.out" || {
        show "$E2E_DIR/$name.out"
        fail "$name: no 'no LURK exchange for this content' error"
    }
    CASES=$((CASES + 1))
    log "ok   $name: $(grep -o 'no LURK exchange for this content:.*' "$E2E_DIR/$name.out" | head -1 | cut -c1-120)"
}
head -c 32 "$E2E_DIR/data.bin" > "$E2E_DIR/digest.bin"
# A bare digest (EVP_PKEY_sign), then arbitrary data (EVP_DigestSign).
generic pkeyutl-sign-rsa "${OSSL[@]}" pkeyutl -sign -inkey "$E2E_DIR/rsa2048.keyref.pem" -in "$E2E_DIR/digest.bin"
generic pkeyutl-sign-rsa-rawin "${OSSL[@]}" pkeyutl -sign -rawin -digest sha256 \
    -inkey "$E2E_DIR/rsa2048.keyref.pem" -in "$E2E_DIR/data.bin"
generic pkeyutl-sign-ecdsa "${OSSL[@]}" pkeyutl -sign -inkey "$E2E_DIR/p256.keyref.pem" -in "$E2E_DIR/digest.bin"
generic pkeyutl-sign-ed25519 "${OSSL[@]}" pkeyutl -sign -rawin -inkey "$E2E_DIR/ed25519.keyref.pem" -in "$E2E_DIR/data.bin"
generic dgst-sign "${OSSL[@]}" dgst -sha256 -sign "$E2E_DIR/p384.keyref.pem" -out "$E2E_DIR/sig.bin" "$E2E_DIR/data.bin"
generic pkeyutl-decrypt "${OSSL[@]}" pkeyutl -decrypt -inkey "$E2E_DIR/rsa2048.keyref.pem" -in "$E2E_DIR/data.bin"
# X.509 signing (OpenSSL 3.0 crashed in ASN1_item_sign_ctx before the provider refused it).
generic req-new "${OSSL[@]}" req -new -key "$E2E_DIR/rsa2048.keyref.pem" -subj /CN=x -out "$E2E_DIR/x.csr"
generic req-x509 "${OSSL[@]}" req -x509 -new -key "$E2E_DIR/p256.keyref.pem" -subj /CN=x -out "$E2E_DIR/x.crt"
"${OSSL[@]}" req -new -key "$PKI/client2.key" -subj /CN=y -out "$E2E_DIR/y.csr" 2> /dev/null
generic x509-ca-sign "${OSSL[@]}" x509 -req -in "$E2E_DIR/y.csr" -CA "$PKI/server-rsapss.crt" \
    -CAkey "$E2E_DIR/rsapss.keyref.pem" -out "$E2E_DIR/y.crt"
# A handshake after them: its audit line is the only new one (lines are
# written in order, so a request sent by the commands above would show first).
one_shot marker ed448
expect_ok marker ed448 TLSv1.3 TLS_AES_256_GCM_SHA384 \
    "Received CertificateVerify ed448" tls13/sign_certificate_verify -- -tls1_3
server_done marker
[ "$(wc -l < "$AUDIT")" -eq $((lines_before + 1)) ] ||
    fail "generic signing reached lurkd: $(tail -n +$((lines_before + 1)) "$AUDIT")"

# A sanitizer report from lurk.so inside an openssl process fails the matrix
# even where the case itself passed.
if grep -l "Sanitizer\|runtime error:" "$E2E_DIR"/*.out > "$E2E_DIR/reports.txt"; then
    while IFS= read -r f; do show "$f"; done < "$E2E_DIR/reports.txt"
    fail "sanitizer reports in openssl processes"
fi

log "PASS: $CASES cases in $(($(now_ms) - T0)) ms"
