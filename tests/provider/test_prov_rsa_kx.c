/*
 * TLS 1.2 RSA key exchange through lurk.so, against Bleichenbacher (issue
 * 4, "Tests"): `openssl s_server` holds only a key reference to an RSA key
 * lurkd holds; a test client, libssl driven over a BIO pair whose records
 * this file intercepts, replaces the ClientKeyExchange's encrypted
 * premaster with ciphertexts of malformed blocks (raw RSA on the public
 * key: no 0x00 separator, block type 1, wrong version, 47-byte premaster,
 * a random integer below n) and of a well-formed but foreign premaster.
 *
 * Each must fail exactly like a genuine ClientKeyExchange followed by a
 * corrupted Finished: the server reads the ClientKeyExchange, the
 * ChangeCipherSpec and the Finished record, then sends bad_record_mac; the
 * same OpenSSL error; no error from lurk.so; lurkd answered success. And
 * each fails exactly as it does with the private key in s_server itself
 * (stock OpenSSL's implicit rejection). A control shows that an early
 * failure is seen when there is one: with its lurkd unreachable (a failure
 * that does not depend on the ciphertext) the server sends decrypt_error
 * right after the ClientKeyExchange, before reading the ChangeCipherSpec.
 * The one early failure a ciphertext can cause, a value not below the
 * modulus (a public check), is the same with the key in s_server. Both
 * an AEAD and a CBC suite.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include "check_run.h"
#include "prov_lurkd.h"
#include "prov_test_util.h"

/* An AEAD suite and a CBC one (encrypt-then-MAC): the Finished record fails differently inside. */
static const char *const ciphers[] = {"AES128-GCM-SHA256", "AES128-SHA256"};
#define N_CIPHERS    (sizeof(ciphers) / sizeof(ciphers[0]))
#define EX_PREMASTER "tls12/rsa_premaster"
#define IO_TIMEOUT   10000

static struct prov_lurkd lurkd;
static char lurk_keyref[600];   /* key reference, lurk-server from the openssl.cnf */
static char absent_keyref[600]; /* key reference naming a lurkd that is not there */
static EVP_PKEY *pub;           /* server-rsa2048.crt's key, default provider */

static void start(void)
{
    static const char *const keys[] = {"rsa2048", NULL};
    char absent[400];
    char *pem;

    prov_lurkd_start(&lurkd, keys, NULL);
    pem = prov_keyref_for_cert("server-rsa2048.crt", NULL);
    snprintf(lurk_keyref, sizeof(lurk_keyref), "%s", prov_write(&lurkd, "rsa.keyref.pem", pem));
    free(pem);
    snprintf(absent, sizeof(absent), "unix:%s/absent.sock", lurkd.proc.dir);
    pem = prov_keyref_for_cert("server-rsa2048.crt", absent);
    snprintf(absent_keyref, sizeof(absent_keyref), "%s",
             prov_write(&lurkd, "absent.keyref.pem", pem));
    free(pem);
    pub = prov_cert_pubkey("server-rsa2048.crt");
}

static void stop(void)
{
    EVP_PKEY_free(pub);
    prov_lurkd_stop(&lurkd);
}

/* ---- s_server ---- */

enum server_key {
    KEY_LURK,   /* the key reference, lurk.so, lurkd */
    KEY_LOCAL,  /* the private key file: stock OpenSSL */
    KEY_ABSENT, /* a key reference whose lurkd is not there */
};

static const char *const server_key_names[] = {"lurk", "local", "absent"};

struct server {
    pid_t pid;
    char sock[400];
    char out[400];
};

/*
 * One-connection s_server (TLS 1.2, the given cipher list: RSA key exchange
 * unless said otherwise) on a unix socket in lurkd's directory, with -trace;
 * waits until it accepts.
 */
static void server_start_ciphers(struct server *s, enum server_key key, const char *cipher_list)
{
    static int serial;
    const char *keyfile = key == KEY_LURK     ? lurk_keyref
                          : key == KEY_ABSENT ? absent_keyref
                                              : lurk_test_pki("server-rsa2048.key");

    serial++;
    snprintf(s->sock, sizeof(s->sock), "%s/s%d.sock", lurkd.proc.dir, serial);
    snprintf(s->out, sizeof(s->out), "%s/s%d-%s.out", lurkd.proc.dir, serial,
             server_key_names[key]);
    /* clang-format off */
    const char *const args[] = {
        "-unix", s->sock,
        "-cert", lurk_test_pki("server-rsa2048.crt"), "-key", keyfile,
        "-naccept", "1", "-tls1_2", "-cipher", cipher_list, "-trace", "-www", NULL,
    };
    /* clang-format on */
    /* The private key file is read by stock OpenSSL, without lurk.so. */
    s->pid = prov_s_server_start(key == KEY_LOCAL ? NULL : lurkd.provider_conf, s->out, args,
                                 IO_TIMEOUT);
}

static void server_start(struct server *s, enum server_key key)
{
    server_start_ciphers(s, key, "kRSA");
}

/* Waits for the one-connection server to exit (killing it after a while). */
static void server_wait(struct server *s)
{
    prov_s_server_wait(s->pid, IO_TIMEOUT);
}

/* ---- the test client ---- */

enum cke {
    CKE_GENUINE,         /* as libssl made it */
    CKE_NO_SEPARATOR,    /* 00 02, no 0x00 after the padding */
    CKE_BLOCK_TYPE_1,    /* 00 01 FF..FF 00 premaster: a signature block */
    CKE_WRONG_VERSION,   /* PKCS#1 well formed, premaster version 0x0300 */
    CKE_SHORT,           /* PKCS#1 well formed, 47-byte premaster */
    CKE_RANDOM,          /* a random integer below n */
    CKE_OTHER_PREMASTER, /* PKCS#1 well formed, right version: not the client's premaster */
    CKE_SHORT_ZEROS,     /* k - 1 zero bytes: shorter than the modulus (tlsfuzzer) */
    CKE_TRUNCATED,       /* the genuine ciphertext without its last byte */
    CKE_ABOVE_MODULUS,   /* FF..FF: not below n, refused before decrypting (a public check) */
    CKE_LONGER,          /* k + 1 bytes: longer than the modulus (a public check) */
};

static const char *const cke_names[] = {
    "genuine",
    "no 0x00 separator",
    "block type 1",
    "premaster version 0x0300",
    "47-byte premaster",
    "random integer < n",
    "a foreign well-formed premaster",
    "k - 1 zero bytes",
    "genuine ciphertext less its last byte",
    "ciphertext above the modulus",
    "ciphertext of k + 1 bytes",
};

struct outcome {
    bool completed;         /* the client's handshake completed */
    int client_alert;       /* alert description the client received, -1 for none */
    char received[64];      /* record types the server read before its alert: "22,22,20,22" */
    char server_alert[96];  /* "Level=fatal(2), description=bad record mac(20)" */
    char server_error[160]; /* the SSL routines error s_server printed: "function:reason" */
    bool lurk_error;        /* s_server printed an error from lurk.so */
    bool sanitizer_report;  /* an ASan/UBSan report from lurk.so inside s_server */
};

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct outcome *o = SSL_get_app_data(ssl);

    if ((where & SSL_CB_READ_ALERT) && o->client_alert < 0)
        o->client_alert = ret & 0xff;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "connect %s: %s", path,
                  strerror(errno));
    return fd;
}

static void send_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        buf += n;
        len -= (size_t)n;
    }
}

/* Bytes from the server; 0 at EOF (or reset). Fails the test after IO_TIMEOUT of silence. */
static size_t recv_some(int fd, uint8_t *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;
    int rc;

    do {
        rc = poll(&p, 1, IO_TIMEOUT);
    } while (rc < 0 && errno == EINTR);
    ck_assert_msg(rc == 1, "the server said nothing for %d ms", IO_TIMEOUT);
    do {
        n = recv(fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? (size_t)n : 0;
}

/* Moves what libssl wrote into the pair to out (appending); its length. */
static size_t drain(BIO *net, uint8_t *out, size_t cap)
{
    size_t len = 0;

    while (BIO_ctrl_pending(net) > 0) {
        int n = BIO_read(net, out + len, (int)(cap - len));
        ck_assert_int_gt(n, 0);
        len += (size_t)n;
    }
    return len;
}

/* A well-formed PKCS#1 v1.5 type 2 block: 00 02 PS(nonzero) 00 body. */
static void pkcs1_block(uint8_t *block, size_t k, const uint8_t *body, size_t body_len)
{
    size_t ps = k - 3 - body_len;

    block[0] = 0x00;
    block[1] = 0x02;
    ck_assert_int_eq(RAND_bytes(block + 2, (int)ps), 1);
    for (size_t i = 2; i < 2 + ps; i++)
        if (block[i] == 0)
            block[i] = 0x5a;
    block[2 + ps] = 0x00;
    memcpy(block + 3 + ps, body, body_len);
}

/* The RSA block the case encrypts (k bytes, below n: it starts with 0x00). */
static void make_block(enum cke cke, uint8_t *block, size_t k)
{
    uint8_t pm[48];

    ck_assert_int_eq(RAND_bytes(pm, sizeof(pm)), 1);
    pm[0] = 0x03;
    pm[1] = 0x03; /* ClientHello.client_version, TLS 1.2 */
    switch (cke) {
    case CKE_NO_SEPARATOR:
        pkcs1_block(block, k, pm, sizeof(pm));
        for (size_t i = 2; i < k; i++)
            if (block[i] == 0)
                block[i] = 0xa5;
        break;
    case CKE_BLOCK_TYPE_1:
        block[0] = 0x00;
        block[1] = 0x01;
        memset(block + 2, 0xff, k - 3 - sizeof(pm));
        block[k - 1 - sizeof(pm)] = 0x00;
        memcpy(block + k - sizeof(pm), pm, sizeof(pm));
        break;
    case CKE_WRONG_VERSION:
        pm[1] = 0x00;
        pkcs1_block(block, k, pm, sizeof(pm));
        break;
    case CKE_SHORT:
        pkcs1_block(block, k, pm, sizeof(pm) - 1);
        break;
    case CKE_RANDOM:
        ck_assert_int_eq(RAND_bytes(block, (int)k), 1);
        block[0] = 0x00;
        break;
    case CKE_OTHER_PREMASTER:
        pkcs1_block(block, k, pm, sizeof(pm));
        break;
    default:
        ck_abort_msg("no block for %d", cke);
    }
}

/* Raw RSA on the public key (no padding: the block is the padding under test). */
static void raw_encrypt(const uint8_t *block, uint8_t *out, size_t k)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    size_t out_len = k;

    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_PKEY_encrypt_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
    ck_assert_int_eq(EVP_PKEY_encrypt(ctx, out, &out_len, block, k), 1);
    ck_assert_uint_eq(out_len, k);
    EVP_PKEY_CTX_free(ctx);
}

/*
 * The client's second flight is ClientKeyExchange, ChangeCipherSpec,
 * Finished (encrypted), one record each. Rewrites the encrypted premaster
 * (in place, or with another length: the record and message lengths
 * follow), or corrupts the Finished record's last byte (its GCM tag).
 * Returns the flight's new length.
 */
static size_t rewrite_flight(uint8_t *flight, size_t len, enum cke cke, bool corrupt_finished)
{
    size_t k = (size_t)EVP_PKEY_get_size(pub), off = 0, rec = 0;
    uint8_t *records[3];
    size_t rec_len[3];

    while (off < len) {
        ck_assert_msg(off + 5 <= len && rec < 3, "unexpected client flight");
        records[rec] = flight + off;
        rec_len[rec] = (size_t)flight[off + 3] << 8 | flight[off + 4];
        off += 5 + rec_len[rec];
        rec++;
    }
    ck_assert_uint_eq(off, len);
    ck_assert_uint_eq(rec, 3);
    ck_assert_int_eq(records[0][0], 22); /* handshake: ClientKeyExchange */
    ck_assert_int_eq(records[0][5], 16);
    ck_assert_uint_eq(rec_len[0], 4 + 2 + k);
    ck_assert_uint_eq((size_t)records[0][9] << 8 | records[0][10], k);
    ck_assert_int_eq(records[1][0], 20); /* ChangeCipherSpec */
    ck_assert_int_eq(records[2][0], 22); /* Finished, encrypted */
    if (corrupt_finished)
        records[2][5 + rec_len[2] - 1] ^= 0x01;
    if (cke == CKE_ABOVE_MODULUS) {
        memset(records[0] + 11, 0xff, k);
    } else if (cke == CKE_SHORT_ZEROS || cke == CKE_TRUNCATED || cke == CKE_LONGER) {
        /* A ClientKeyExchange of another length, then the other two records unchanged. */
        size_t n = cke == CKE_LONGER ? k + 1 : k - 1, rest = len - (5 + rec_len[0]);
        uint8_t out[8192], *cke_rec = out;
        ck_assert_uint_le(5 + 6 + n + rest, sizeof(out));
        memcpy(cke_rec, records[0], 5 + 4 + 2);
        cke_rec[3] = (uint8_t)((4 + 2 + n) >> 8);
        cke_rec[4] = (uint8_t)(4 + 2 + n);
        cke_rec[6] = 0;
        cke_rec[7] = (uint8_t)((2 + n) >> 8);
        cke_rec[8] = (uint8_t)(2 + n);
        cke_rec[9] = (uint8_t)(n >> 8);
        cke_rec[10] = (uint8_t)n;
        if (cke == CKE_SHORT_ZEROS)
            memset(cke_rec + 11, 0, n);
        else if (cke == CKE_TRUNCATED)
            memcpy(cke_rec + 11, records[0] + 11, n);
        else
            ck_assert_int_eq(RAND_bytes(cke_rec + 11, (int)n), 1);
        memcpy(out + 11 + n, records[1], rest);
        memcpy(flight, out, 11 + n + rest);
        return 11 + n + rest;
    } else if (cke != CKE_GENUINE) {
        uint8_t block[1024];
        make_block(cke, block, k);
        raw_encrypt(block, records[0] + 11, k);
    }
    return len;
}

/* Reads s_server's -trace and error output after it exited. */
static void read_server_side(const struct server *s, struct outcome *o)
{
    char *text = lurk_test_read_file(s->out, NULL), *save = NULL;
    bool received = false, sent = false, alert_sent = false;
    size_t used = 0;

    ck_assert_ptr_nonnull(text);
    o->lurk_error = strstr(text, ":lurk:") != NULL;
    o->sanitizer_report = strstr(text, "Sanitizer") != NULL || strstr(text, "runtime error:");
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        int type;
        char *at;
        /* "Received Record" (OpenSSL 3.0), "Received TLS Record" (3.5). */
        if (strcmp(line, "Received Record") == 0 || strcmp(line, "Received TLS Record") == 0) {
            received = true;
            sent = false;
        } else if (strcmp(line, "Sent Record") == 0 || strcmp(line, "Sent TLS Record") == 0) {
            received = false;
            sent = true;
        } else if (sscanf(line, "  Content Type = %*s (%d)", &type) == 1) {
            if (received && !alert_sent && used + 4 < sizeof(o->received))
                used += (size_t)snprintf(o->received + used, sizeof(o->received) - used, "%s%d",
                                         used > 0 ? "," : "", type);
            if (sent && type == 21)
                alert_sent = true;
        } else if (alert_sent && o->server_alert[0] == '\0' &&
                   (at = strstr(line, "Level=")) != NULL) {
            snprintf(o->server_alert, sizeof(o->server_alert), "%s", at);
        } else if (o->server_error[0] == '\0' && (at = strstr(line, ":SSL routines:")) != NULL) {
            /* "...:error:0A000119:SSL routines:ssl3_get_record:decryption failed...:file:line:" */
            at += strlen(":SSL routines:");
            char *end = strstr(at, ":../");
            size_t n = end != NULL ? (size_t)(end - at) : strlen(at);
            snprintf(o->server_error, sizeof(o->server_error), "%.*s", (int)n, at);
        }
    }
    free(text);
}

static void run(enum server_key key, const char *cipher, enum cke cke, bool corrupt_finished,
                struct outcome *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    uint8_t buf[16384], flight[8192];
    BIO *inner = NULL, *net = NULL;
    struct server s;
    size_t len;
    SSL *ssl;
    int fd, r;

    memset(o, 0, sizeof(*o));
    o->client_alert = -1;
    server_start(&s, key);

    ck_assert_ptr_nonnull(ctx);
    ck_assert(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION));
    ck_assert(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION));
    ck_assert(SSL_CTX_set_cipher_list(ctx, cipher));
    ck_assert(SSL_CTX_load_verify_locations(ctx, lurk_test_pki("ca.crt"), NULL));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    ssl = SSL_new(ctx);
    ck_assert_ptr_nonnull(ssl);
    ck_assert(SSL_set1_host(ssl, "localhost"));
    SSL_set_app_data(ssl, o);
    SSL_set_info_callback(ssl, info_cb);
    ck_assert(BIO_new_bio_pair(&inner, 0, &net, 0));
    SSL_set_bio(ssl, inner, inner);
    SSL_set_connect_state(ssl);
    fd = connect_unix(s.sock);

    /* ClientHello */
    r = SSL_do_handshake(ssl);
    ck_assert_int_eq(SSL_get_error(ssl, r), SSL_ERROR_WANT_READ);
    len = drain(net, flight, sizeof(flight));
    send_all(fd, flight, len);
    /* ServerHello .. ServerHelloDone in, until libssl has written its second flight. */
    for (;;) {
        size_t n = recv_some(fd, buf, sizeof(buf));
        ck_assert_msg(n > 0, "the server closed before ServerHelloDone");
        ck_assert_int_eq(BIO_write(net, buf, (int)n), (int)n);
        r = SSL_do_handshake(ssl);
        if (BIO_ctrl_pending(net) > 0)
            break;
        ck_assert_int_eq(SSL_get_error(ssl, r), SSL_ERROR_WANT_READ);
    }
    ck_assert_ptr_nonnull(SSL_get_pending_cipher(ssl));
    ck_assert_str_eq(SSL_CIPHER_get_name(SSL_get_pending_cipher(ssl)), cipher);
    len = drain(net, flight, sizeof(flight));
    len = rewrite_flight(flight, len, cke, corrupt_finished);
    send_all(fd, flight, len);
    /* The server's answer: its Finished, or an alert. */
    for (;;) {
        size_t n = recv_some(fd, buf, sizeof(buf));
        if (n == 0)
            break;
        ck_assert_int_eq(BIO_write(net, buf, (int)n), (int)n);
        r = SSL_do_handshake(ssl);
        if (r == 1) {
            o->completed = true;
            break;
        }
        if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
            break;
    }
    close(fd);
    SSL_free(ssl); /* frees inner, not its peer */
    BIO_free(net);
    SSL_CTX_free(ctx);
    ERR_clear_error();

    server_wait(&s);
    read_server_side(&s, o);
}

static void describe(const char *label, const struct outcome *o, char *buf, size_t len)
{
    snprintf(buf, len,
             "%s: completed=%d client_alert=%d server read [%s] then sent [%s], error [%s], "
             "lurk error %d",
             label, o->completed, o->client_alert, o->received, o->server_alert, o->server_error,
             o->lurk_error);
}

static void assert_same(const struct outcome *a, const char *la, const struct outcome *b,
                        const char *lb)
{
    char da[600], db[600];

    describe(la, a, da, sizeof(da));
    describe(lb, b, db, sizeof(db));
    ck_assert_msg(a->completed == b->completed && a->client_alert == b->client_alert &&
                      strcmp(a->received, b->received) == 0 &&
                      strcmp(a->server_alert, b->server_alert) == 0 &&
                      strcmp(a->server_error, b->server_error) == 0 &&
                      a->lurk_error == b->lurk_error,
                  "different failures:\n  %s\n  %s", da, db);
}

/* rsa_premaster operations lurkd audited: successful ones, and all. */
struct audited {
    int success, all;
};

static struct audited audited_now(void)
{
    struct audited a = {
        prov_count(lurkd.proc.audit, prov_audit_needle("rsa2048", EX_PREMASTER, "success")),
        prov_count(lurkd.proc.audit, "\"exchange\":\"" EX_PREMASTER "\""),
    };
    return a;
}

/* n more operations since before, all successful. */
static void assert_audited(struct audited before, int n)
{
    const char *needle = prov_audit_needle("rsa2048", EX_PREMASTER, "success");
    struct audited now;

    ck_assert_msg(prov_wait_count(lurkd.proc.audit, needle, before.success + n, 10000),
                  "lurkd audited %d successful rsa_premaster, expected %d",
                  audited_now().success - before.success, n);
    /* And no other status: lurkd's answer does not depend on the ciphertext. */
    now = audited_now();
    ck_assert_int_eq(now.success, before.success + n);
    ck_assert_int_eq(now.all, before.all + n);
}

/*
 * ClientHello, ClientKeyExchange, ChangeCipherSpec, Finished: the failure is
 * at Finished (a server cannot tell a bad Finished before reading it). The
 * alerts are not written here: each case compares lurk with stock OpenSSL
 * holding the key, on the OpenSSL version under test (docs/provider.md §7).
 */
#define READ_UP_TO_FINISHED "22,22,20,22"
/* ClientHello, ClientKeyExchange: an early failure, before the ChangeCipherSpec. */
#define READ_UP_TO_CKE "22,22"

/* ---- tests ---- */

START_TEST(genuine_handshake_completes)
{
    const char *cipher = ciphers[_i];
    struct audited audited = audited_now();
    struct outcome lurk, local;
    char d[600];

    run(KEY_LURK, cipher, CKE_GENUINE, false, &lurk);
    describe("lurk", &lurk, d, sizeof(d));
    ck_assert_msg(lurk.completed && lurk.client_alert < 0 && !lurk.lurk_error, "%s", d);
    ck_assert(!lurk.sanitizer_report);
    assert_audited(audited, 1);
    run(KEY_LOCAL, cipher, CKE_GENUINE, false, &local);
    describe("local", &local, d, sizeof(d));
    ck_assert_msg(local.completed, "%s", d);
}
END_TEST

/* The reference: a good ClientKeyExchange, then a Finished that does not check. */
START_TEST(corrupted_finished_fails_at_finished)
{
    const char *cipher = ciphers[_i];
    struct audited audited = audited_now();
    struct outcome lurk, local;
    char d[600];

    run(KEY_LURK, cipher, CKE_GENUINE, true, &lurk);
    describe("lurk", &lurk, d, sizeof(d));
    ck_assert_msg(!lurk.completed && lurk.client_alert >= 0, "%s", d);
    ck_assert_msg(strcmp(lurk.received, READ_UP_TO_FINISHED) == 0, "%s", d);
    ck_assert_msg(strstr(lurk.server_alert, "fatal") != NULL, "%s", d);
    ck_assert_msg(!lurk.lurk_error && !lurk.sanitizer_report, "%s", d);
    assert_audited(audited, 1);
    run(KEY_LOCAL, cipher, CKE_GENUINE, true, &local);
    assert_same(&lurk, "lurk", &local, "local key");
}
END_TEST

static const enum cke bad[] = {CKE_NO_SEPARATOR, CKE_BLOCK_TYPE_1, CKE_WRONG_VERSION,
                               CKE_SHORT,        CKE_RANDOM,       CKE_OTHER_PREMASTER,
                               CKE_SHORT_ZEROS,  CKE_TRUNCATED};

#define N_BAD (sizeof(bad) / sizeof(bad[0]))

START_TEST(bad_client_key_exchange_fails_like_a_bad_finished)
{
    enum cke cke = bad[(size_t)_i % N_BAD];
    const char *cipher = ciphers[(size_t)_i / N_BAD];
    struct audited audited = audited_now();
    struct outcome reference, lurk, local;
    char label[160];

    run(KEY_LURK, cipher, CKE_GENUINE, true, &reference);
    run(KEY_LURK, cipher, cke, false, &lurk);
    snprintf(label, sizeof(label), "lurk, %s, %s", cipher, cke_names[cke]);
    assert_same(&lurk, label, &reference, "lurk, genuine + corrupted Finished");
    ck_assert(!lurk.sanitizer_report);
    /* lurkd decrypted both and answered success both times. */
    assert_audited(audited, 2);
    run(KEY_LOCAL, cipher, cke, false, &local);
    snprintf(label, sizeof(label), "local key, %s, %s", cipher, cke_names[cke]);
    assert_same(&lurk, "lurk", &local, label);
}
END_TEST

/*
 * The comparison above can see an early failure: this one does not depend
 * on the ciphertext. It fails as stock OpenSSL fails early with a local key
 * (a ciphertext above the modulus): same alert, nothing read after the
 * ClientKeyExchange.
 */
START_TEST(unreachable_lurkd_fails_early)
{
    struct outcome o, local;
    char d[600], dk[600];

    run(KEY_ABSENT, ciphers[0], CKE_GENUINE, false, &o);
    run(KEY_LOCAL, ciphers[0], CKE_ABOVE_MODULUS, false, &local);
    describe("absent", &o, d, sizeof(d));
    describe("local key, ciphertext above the modulus", &local, dk, sizeof(dk));
    ck_assert_msg(!o.completed && !local.completed && local.client_alert >= 0 &&
                      o.client_alert == local.client_alert,
                  "%s\n%s", d, dk);
    ck_assert_msg(strcmp(o.received, READ_UP_TO_CKE) == 0 &&
                      strcmp(local.received, READ_UP_TO_CKE) == 0,
                  "%s\n%s", d, dk);
    ck_assert_msg(o.lurk_error && strstr(o.server_error, "tls_process_cke_rsa") != NULL, "%s", d);
    ck_assert(!o.sanitizer_report);
}
END_TEST

/*
 * A ciphertext not below the modulus, or longer than it, is refused before
 * any private-key operation, by stock OpenSSL as by lurkd (a public check,
 * no oracle): an early failure, the same alert in both cases (decrypt_error
 * on 3.0 and 3.5).
 */
static const enum cke public_faults[] = {CKE_ABOVE_MODULUS, CKE_LONGER};

START_TEST(ciphertext_above_modulus_fails_early_like_stock_openssl)
{
    enum cke cke = public_faults[_i];
    struct audited audited = audited_now();
    struct outcome lurk, local;
    char dl[600], dk[600];

    run(KEY_LURK, ciphers[0], cke, false, &lurk);
    run(KEY_LOCAL, ciphers[0], cke, false, &local);
    describe("lurk", &lurk, dl, sizeof(dl));
    describe("local", &local, dk, sizeof(dk));
    ck_assert_msg(!lurk.completed && local.client_alert >= 0 &&
                      lurk.client_alert == local.client_alert,
                  "%s\n%s", dl, dk);
    ck_assert_msg(strcmp(lurk.received, READ_UP_TO_CKE) == 0 &&
                      strcmp(local.received, READ_UP_TO_CKE) == 0,
                  "%s\n%s", dl, dk);
    ck_assert_msg(strcmp(lurk.server_error, local.server_error) == 0, "%s\n%s", dl, dk);
    ck_assert(!lurk.sanitizer_report);
    /* lurkd said why (in its audit line), not success. */
    ck_assert(prov_wait_count(lurkd.proc.audit, "\"exchange\":\"" EX_PREMASTER "\"",
                              audited.all + 1, 10000));
    ck_assert_int_eq(audited_now().success, audited.success);
}
END_TEST

/*
 * A TLS 1.2 client that sends no signature_algorithms (RFC 5246 §7.4.1.4.1:
 * the server must then sign with SHA-1), to a server at security level 0,
 * the only level that allows it. With a local key the server signs its
 * ServerKeyExchange with SHA-1; lurk refuses (docs/security.md): libssl's
 * probe of the key (digest_sign_init with SHA-1, whose error names SHA-1,
 * test_provider) fails, so the server answers handshake_failure, "wrong
 * signature type", before any signature. The ClientHello is built here:
 * libssl always sends the extension.
 */
START_TEST(no_signature_algorithms_is_refused_by_name)
{
    static const uint8_t client_hello_body_tail[] = {
        0x00,                                           /* session_id */
        0x00, 0x02, 0xc0, 0x2f,                         /* ECDHE-RSA-AES128-GCM-SHA256 */
        0x01, 0x00,                                     /* null compression */
        0x00, 0x0e,                                     /* extensions: */
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, /* supported_groups: secp256r1 */
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,             /* ec_point_formats: uncompressed */
    };
    const enum server_key keys[] = {KEY_LOCAL, KEY_LURK};
    bool saw_server_key_exchange[2] = {false, false};
    char *text[2];

    for (int i = 0; i < 2; i++) {
        uint8_t hello[128], buf[16384];
        size_t body = 2 + 32 + sizeof(client_hello_body_tail), n = 0, got = 0;
        struct server s;
        int fd;

        server_start_ciphers(&s, keys[i], "ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0");
        /* record header, handshake header, client_version, random, the rest */
        uint8_t head[] = {22, 3, 1, 0, (uint8_t)(4 + body), 1, 0, 0, (uint8_t)body, 3, 3};
        memcpy(hello, head, sizeof(head));
        n = sizeof(head);
        ck_assert_int_eq(RAND_bytes(hello + n, 32), 1);
        n += 32;
        memcpy(hello + n, client_hello_body_tail, sizeof(client_hello_body_tail));
        n += sizeof(client_hello_body_tail);
        fd = connect_unix(s.sock);
        send_all(fd, hello, n);
        /*
         * The server's flight, record by record, up to its ServerHelloDone (14)
         * or an alert (record type 21), or until it closes.
         */
        for (size_t off = 0, r; (r = recv_some(fd, buf + got, sizeof(buf) - got)) > 0;) {
            bool done = false;
            got += r;
            while (off + 5 <= got && off + 5 + ((size_t)buf[off + 3] << 8 | buf[off + 4]) <= got) {
                size_t len = (size_t)buf[off + 3] << 8 | buf[off + 4];
                done |= buf[off] == 21;
                for (size_t m = off + 5; buf[off] == 22 && m + 4 <= off + 5 + len;
                     m += 4 + ((size_t)buf[m + 1] << 16 | (size_t)buf[m + 2] << 8 | buf[m + 3])) {
                    saw_server_key_exchange[i] |= buf[m] == 12;
                    done |= buf[m] == 14;
                }
                off += 5 + len;
            }
            if (done)
                break;
        }
        close(fd);
        server_wait(&s);
        text[i] = lurk_test_read_file(s.out, NULL);
        ck_assert_ptr_nonnull(text[i]);
    }
    ck_assert_msg(saw_server_key_exchange[0], "stock OpenSSL did not sign with SHA-1:\n%s",
                  text[0]);
    ck_assert_msg(!saw_server_key_exchange[1], "lurk signed a ServerKeyExchange with SHA-1");
    ck_assert_msg(strstr(text[1], "tls_choose_sigalg:wrong signature type") != NULL &&
                      strstr(text[1], "handshake failure(40)") != NULL,
                  "lurk's refusal is not libssl's \"wrong signature type\":\n%s", text[1]);
    free(text[0]);
    free(text[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prov_rsa_kx");
    TCase *tc = tcase_create("rsa_kx");

    tcase_add_unchecked_fixture(tc, start, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, genuine_handshake_completes, 0, N_CIPHERS);
    tcase_add_loop_test(tc, corrupted_finished_fails_at_finished, 0, N_CIPHERS);
    tcase_add_loop_test(tc, bad_client_key_exchange_fails_like_a_bad_finished, 0,
                        N_BAD * N_CIPHERS);
    tcase_add_test(tc, unreachable_lurkd_fails_early);
    tcase_add_loop_test(tc, ciphertext_above_modulus_fails_early_like_stock_openssl, 0,
                        sizeof(public_faults) / sizeof(public_faults[0]));
    tcase_add_test(tc, no_signature_algorithms_is_refused_by_name);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
