/*
 * TLS 1.3 key schedule and transcript (liblurk/tls13_keysched.c,
 * tls13_transcript.c) against RFC 8448 (tests/vectors/data, see README.md):
 * rfc8448-simple-1rtt.json (§3), rfc8448-resumed-0rtt.json (§4) and every
 * HKDF step of rfc8448-all-sections.json (§3-§7, including the
 * HelloRetryRequest transcript of §5).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "check_run.h"
#include "lurk/bytes.h"
#include "lurk/hex.h"
#include "lurk/tls13_keysched.h"
#include "lurk/tls13_transcript.h"
#include "vectors.h"

static struct lurk_vectors_pool pool;

static void teardown(void)
{
    lurk_vectors_pool_free(&pool);
}

static json_t *load(const char *name)
{
    json_t *root = lurk_vectors_load(LURK_VECTORS_DIR, name);
    ck_assert_msg(root != NULL, "cannot load %s", name);
    return root;
}

/* A hex field at a dotted path; the test fails if it is missing or malformed. */
static const uint8_t *hex(const json_t *v, const char *path, size_t *len)
{
    const uint8_t *p = lurk_vectors_pool_hex(&pool, v, path, len);
    ck_assert_msg(p != NULL, "vector field %s", path);
    return p;
}

/* A hex member of object obj whose key may contain dots ("CH..SH"). */
static const uint8_t *member(const json_t *root, const char *obj, const char *key, size_t want_len)
{
    size_t len;
    const uint8_t *p =
        lurk_vectors_pool_node(&pool, json_object_get(lurk_jsondoc_path(root, obj), key), &len);
    ck_assert_msg(p != NULL, "vector field %s[\"%s\"]", obj, key);
    if (want_len != 0)
        ck_assert_uint_eq(len, want_len);
    return p;
}

/* A 32-byte (SHA-256) field. */
static const uint8_t *h32(const json_t *v, const char *path)
{
    size_t len;
    const uint8_t *p = hex(v, path, &len);
    ck_assert_msg(len == 32, "%s is %zu bytes", path, len);
    return p;
}

/* Appends the handshake message at path to the transcript. */
static void feed(struct lurk_tls13_transcript *t, const json_t *root, const char *path)
{
    size_t len;
    const uint8_t *m = hex(root, path, &len);
    ck_assert(lurk_tls13_transcript_update(t, m, len));
}

static void expect_key_iv(const EVP_MD *md, const uint8_t *secret, const uint8_t *key,
                          const uint8_t *iv)
{
    uint8_t out[16];

    /* RFC 8446 §7.3: key = HKDF-Expand-Label(secret, "key", "", 16), iv likewise with 12. */
    ck_assert(lurk_tls13_hkdf_expand_label(NULL, md, secret, 32, "key", NULL, 0, out, 16));
    ck_assert_mem_eq(out, key, 16);
    ck_assert(lurk_tls13_hkdf_expand_label(NULL, md, secret, 32, "iv", NULL, 0, out, 12));
    ck_assert_mem_eq(out, iv, 12);
}

START_TEST(simple_1rtt)
{
    json_t *r = load("rfc8448-simple-1rtt.json");
    struct lurk_tls13_keysched ks;
    struct lurk_tls13_transcript t;
    uint8_t th[32], empty[32], s[32], c_hs[32], s_hs[32], res[32];
    size_t len;

    /* TLS_AES_128_GCM_SHA256 */
    ck_assert(lurk_tls13_keysched_init_suite(&ks, NULL, 0x1301));
    ck_assert_uint_eq(lurk_tls13_keysched_hash_len(&ks), 32);
    const EVP_MD *md = lurk_tls13_keysched_md(&ks);
    ck_assert(lurk_tls13_transcript_init(&t, md));
    ck_assert(lurk_tls13_empty_hash(md, empty));

    /* Early Secret without a PSK, and "derived" from it. */
    ck_assert(lurk_tls13_keysched_extract_early(&ks, NULL, 0));
    ck_assert_int_eq(lurk_tls13_keysched_stage(&ks), LURK_TLS13_KS_EARLY);
    ck_assert_mem_eq(lurk_tls13_keysched_secret(&ks), h32(r, "secrets.early_secret"), 32);
    ck_assert(
        lurk_tls13_derive_secret(NULL, md, lurk_tls13_keysched_secret(&ks), "derived", empty, s));
    ck_assert_mem_eq(s, h32(r, "secrets.derived_for_handshake"), 32);

    /* Handshake Secret from the x25519 shared secret; CH..SH. */
    ck_assert(lurk_tls13_keysched_extract_handshake(&ks, h32(r, "ecdhe_shared_secret"), 32));
    ck_assert_mem_eq(lurk_tls13_keysched_secret(&ks), h32(r, "secrets.handshake_secret"), 32);
    feed(&t, r, "messages.client_hello");
    feed(&t, r, "messages.server_hello");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..SH", 32), 32);
    ck_assert(lurk_tls13_keysched_client_handshake_traffic(&ks, th, c_hs));
    ck_assert_mem_eq(c_hs, h32(r, "secrets.client_handshake_traffic_secret"), 32);
    ck_assert(lurk_tls13_keysched_server_handshake_traffic(&ks, th, s_hs));
    ck_assert_mem_eq(s_hs, h32(r, "secrets.server_handshake_traffic_secret"), 32);
    ck_assert(
        lurk_tls13_derive_secret(NULL, md, lurk_tls13_keysched_secret(&ks), "derived", empty, s));
    ck_assert_mem_eq(s, h32(r, "secrets.derived_for_master"), 32);

    ck_assert(lurk_tls13_keysched_extract_master(&ks));
    ck_assert_mem_eq(lurk_tls13_keysched_secret(&ks), h32(r, "secrets.master_secret"), 32);

    /* CertificateVerify input, then the server Finished over CH..CertificateVerify. */
    feed(&t, r, "messages.encrypted_extensions");
    feed(&t, r, "messages.certificate");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(
        th,
        member(r, "transcript_hashes", "CH..Certificate (input to server CertificateVerify)", 32),
        32);
    feed(&t, r, "messages.certificate_verify");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(
        th, member(r, "transcript_hashes", "CH..CertificateVerify (input to server Finished)", 32),
        32);
    ck_assert(lurk_tls13_finished_key(NULL, md, s_hs, s));
    ck_assert_mem_eq(s, h32(r, "finished.server_finished_key"), 32);
    ck_assert(lurk_tls13_finished(NULL, md, s_hs, th, s));
    ck_assert_mem_eq(s, h32(r, "finished.server_verify_data"), 32);
    const uint8_t *sfin_msg = hex(r, "messages.server_finished", &len);
    ck_assert_uint_eq(len, 36);
    ck_assert_mem_eq(s, sfin_msg + 4, 32);

    /* Application secrets and exporter over CH..server Finished. */
    feed(&t, r, "messages.server_finished");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th,
                     member(r, "transcript_hashes",
                            "CH..server Finished (c/s ap traffic, exp master, client Finished)",
                            32),
                     32);
    ck_assert(lurk_tls13_keysched_client_application_traffic(&ks, th, s));
    ck_assert_mem_eq(s, h32(r, "secrets.client_application_traffic_secret_0"), 32);
    uint8_t s_ap[32];
    ck_assert(lurk_tls13_keysched_server_application_traffic(&ks, th, s_ap));
    ck_assert_mem_eq(s_ap, h32(r, "secrets.server_application_traffic_secret_0"), 32);
    ck_assert(lurk_tls13_keysched_exporter_master(&ks, th, s));
    ck_assert_mem_eq(s, h32(r, "secrets.exporter_master_secret"), 32);

    /* Client Finished over the same hash, with the client handshake secret. */
    ck_assert(lurk_tls13_finished_key(NULL, md, c_hs, s));
    ck_assert_mem_eq(s, h32(r, "finished.client_finished_key"), 32);
    ck_assert(lurk_tls13_finished(NULL, md, c_hs, th, s));
    ck_assert_mem_eq(s, h32(r, "finished.client_verify_data"), 32);
    const uint8_t *cfin_msg = hex(r, "messages.client_finished", &len);
    ck_assert_uint_eq(len, 36);
    ck_assert_mem_eq(s, cfin_msg + 4, 32);

    /* Resumption master over CH..client Finished, then the ticket's PSK. */
    feed(&t, r, "messages.client_finished");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..client Finished (res master)", 32),
                     32);
    ck_assert(lurk_tls13_keysched_resumption_master(&ks, th, res));
    ck_assert_mem_eq(res, h32(r, "secrets.resumption_master_secret"), 32);
    const uint8_t *nonce = hex(r, "secrets.ticket_nonce", &len);
    ck_assert(lurk_tls13_resumption_psk(NULL, md, res, nonce, len, s));
    ck_assert_mem_eq(s, h32(r, "secrets.resumption_psk"), 32);

    /* Traffic keys and IVs (RFC 8446 §7.3) exercise Expand-Label with other lengths. */
    expect_key_iv(md, s_hs, hex(r, "traffic_keys.server_handshake_key", NULL),
                  hex(r, "traffic_keys.server_handshake_iv", NULL));
    expect_key_iv(md, c_hs, hex(r, "traffic_keys.client_handshake_key", NULL),
                  hex(r, "traffic_keys.client_handshake_iv", NULL));
    expect_key_iv(md, s_ap, hex(r, "traffic_keys.server_application_key", NULL),
                  hex(r, "traffic_keys.server_application_iv", NULL));

    lurk_tls13_transcript_cleanup(&t);
    lurk_tls13_keysched_cleanup(&ks);
    json_decref(r);
}
END_TEST

START_TEST(resumed_0rtt)
{
    json_t *r = load("rfc8448-resumed-0rtt.json");
    json_t *r1 = load("rfc8448-simple-1rtt.json");
    struct lurk_tls13_keysched ks;
    struct lurk_tls13_transcript t, tb;
    uint8_t th[32], s[32], binder_key[32], c_hs[32], s_hs[32], c_e[32];
    size_t len, ch_len;

    ck_assert(lurk_tls13_keysched_init(&ks, NULL, "SHA256"));
    const EVP_MD *md = lurk_tls13_keysched_md(&ks);

    /* The PSK is §3's resumption PSK. */
    const uint8_t *psk = h32(r, "psk");
    ck_assert_mem_eq(psk, h32(r1, "secrets.resumption_psk"), 32);
    ck_assert(lurk_tls13_keysched_extract_early(&ks, psk, 32));
    ck_assert_mem_eq(lurk_tls13_keysched_secret(&ks), h32(r, "secrets.early_secret"), 32);

    /* Binder: "res binder" key, its finished key, HMAC over H(truncated ClientHello). */
    ck_assert(lurk_tls13_keysched_binder_key(&ks, LURK_TLS13_BINDER_RESUMPTION, binder_key));
    ck_assert_mem_eq(binder_key, h32(r, "binder.binder_key"), 32);
    ck_assert_mem_eq(binder_key, h32(r, "secrets.binder_key"), 32);
    ck_assert(lurk_tls13_finished_key(NULL, md, binder_key, s));
    ck_assert_mem_eq(s, h32(r, "binder.binder_finished_key"), 32);
    ck_assert(lurk_tls13_transcript_init(&tb, md));
    const uint8_t *ch = hex(r, "messages.client_hello", &ch_len);
    /* The full ClientHello ends with binders<33..2^16-1> holding one 32-byte binder. */
    len = ch_len - 2 - 1 - 32;
    const uint8_t *tch = member(
        r, "messages",
        "client_hello_truncated (binder input: CH up to but excluding the binders list)", len);
    /* The truncated ClientHello is that prefix of the full one. */
    ck_assert_mem_eq(tch, ch, len);
    ck_assert(lurk_tls13_transcript_update(&tb, tch, len));
    ck_assert(lurk_tls13_transcript_hash(&tb, th));
    ck_assert_mem_eq(th, member(r, "binder", "binder_hash (H(truncated CH))", 32), 32);
    ck_assert(lurk_tls13_psk_binder(NULL, md, binder_key, th, s));
    ck_assert_mem_eq(s, h32(r, "binder.binder"), 32);
    /* It is the binder the client sent: the last 32 bytes of the full ClientHello. */
    ck_assert_mem_eq(s, ch + ch_len - 32, 32);
    /* The external-PSK label gives another key. */
    ck_assert(lurk_tls13_keysched_binder_key(&ks, LURK_TLS13_BINDER_EXTERNAL, s));
    ck_assert(memcmp(s, binder_key, 32) != 0);
    lurk_tls13_transcript_cleanup(&tb);

    /* Early traffic and early exporter over the full ClientHello. */
    ck_assert(lurk_tls13_transcript_init(&t, md));
    ck_assert(lurk_tls13_transcript_update(&t, ch, ch_len));
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH (c e traffic, e exp master)", 32), 32);
    ck_assert(lurk_tls13_keysched_client_early_traffic(&ks, th, c_e));
    ck_assert_mem_eq(c_e, h32(r, "secrets.client_early_traffic_secret"), 32);
    ck_assert(lurk_tls13_keysched_early_exporter_master(&ks, th, s));
    ck_assert_mem_eq(s, h32(r, "secrets.early_exporter_master_secret"), 32);
    expect_key_iv(md, c_e, hex(r, "traffic_keys.client_early_key", NULL),
                  hex(r, "traffic_keys.client_early_iv", NULL));

    /* psk_dhe_ke: Handshake Secret from the new x25519 exchange. */
    ck_assert(lurk_tls13_keysched_extract_handshake(&ks, h32(r, "ecdhe_shared_secret"), 32));
    ck_assert_mem_eq(lurk_tls13_keysched_secret(&ks), h32(r, "secrets.handshake_secret"), 32);
    feed(&t, r, "messages.server_hello");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..SH", 32), 32);
    ck_assert(lurk_tls13_keysched_client_handshake_traffic(&ks, th, c_hs));
    ck_assert_mem_eq(c_hs, h32(r, "secrets.client_handshake_traffic_secret"), 32);
    ck_assert(lurk_tls13_keysched_server_handshake_traffic(&ks, th, s_hs));
    ck_assert_mem_eq(s_hs, h32(r, "secrets.server_handshake_traffic_secret"), 32);
    expect_key_iv(md, s_hs, hex(r, "traffic_keys.server_handshake_key", NULL),
                  hex(r, "traffic_keys.server_handshake_iv", NULL));
    expect_key_iv(md, c_hs, hex(r, "traffic_keys.client_handshake_key", NULL),
                  hex(r, "traffic_keys.client_handshake_iv", NULL));

    ck_assert(lurk_tls13_keysched_extract_master(&ks));
    ck_assert_mem_eq(lurk_tls13_keysched_secret(&ks), h32(r, "secrets.master_secret"), 32);

    /* No Certificate with a PSK: the server Finished covers CH..EncryptedExtensions. */
    feed(&t, r, "messages.encrypted_extensions");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..EE (server Finished)", 32), 32);
    ck_assert(lurk_tls13_finished_key(NULL, md, s_hs, s));
    ck_assert_mem_eq(s, h32(r, "finished.server_finished_key"), 32);
    ck_assert(lurk_tls13_finished(NULL, md, s_hs, th, s));
    ck_assert_mem_eq(s, h32(r, "finished.server_verify_data"), 32);
    ck_assert_mem_eq(s, hex(r, "messages.server_finished", NULL) + 4, 32);

    feed(&t, r, "messages.server_finished");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..server Finished", 32), 32);
    uint8_t c_ap[32], s_ap[32];
    ck_assert(lurk_tls13_keysched_client_application_traffic(&ks, th, c_ap));
    ck_assert_mem_eq(c_ap, h32(r, "secrets.client_application_traffic_secret_0"), 32);
    ck_assert(lurk_tls13_keysched_server_application_traffic(&ks, th, s_ap));
    ck_assert_mem_eq(s_ap, h32(r, "secrets.server_application_traffic_secret_0"), 32);
    ck_assert(lurk_tls13_keysched_exporter_master(&ks, th, s));
    ck_assert_mem_eq(s, h32(r, "secrets.exporter_master_secret"), 32);
    expect_key_iv(md, c_ap, hex(r, "traffic_keys.client_application_key", NULL),
                  hex(r, "traffic_keys.client_application_iv", NULL));
    expect_key_iv(md, s_ap, hex(r, "traffic_keys.server_application_key", NULL),
                  hex(r, "traffic_keys.server_application_iv", NULL));

    /* EndOfEarlyData is in the client Finished transcript (RFC 8446 §4.4.1). */
    feed(&t, r, "messages.end_of_early_data");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..EndOfEarlyData (client Finished)", 32),
                     32);
    ck_assert(lurk_tls13_finished_key(NULL, md, c_hs, s));
    ck_assert_mem_eq(s, h32(r, "finished.client_finished_key"), 32);
    ck_assert(lurk_tls13_finished(NULL, md, c_hs, th, s));
    ck_assert_mem_eq(s, h32(r, "finished.client_verify_data"), 32);
    ck_assert_mem_eq(s, hex(r, "messages.client_finished", NULL) + 4, 32);

    feed(&t, r, "messages.client_finished");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..client Finished (res master)", 32),
                     32);
    ck_assert(lurk_tls13_keysched_resumption_master(&ks, th, s));
    ck_assert_mem_eq(s, h32(r, "secrets.resumption_master_secret"), 32);

    lurk_tls13_transcript_cleanup(&t);
    lurk_tls13_keysched_cleanup(&ks);
    json_decref(r1);
    json_decref(r);
}
END_TEST

/* The items of one step of rfc8448-all-sections.json, by label. */
static const json_t *item(const json_t *step, const char *label)
{
    const json_t *items = json_object_get(step, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        const char *l = lurk_jsondoc_path_string(it, "label");
        if (l != NULL && strcmp(l, label) == 0)
            return json_object_get(it, "hex");
    }
    return NULL;
}

static const uint8_t *item_bytes(const json_t *step, const char *label, size_t *len)
{
    const uint8_t *p = lurk_vectors_pool_node(&pool, item(step, label), len);
    ck_assert_msg(p != NULL, "step \"%s\": item %s", lurk_jsondoc_path_string(step, "title"),
                  label);
    return p;
}

/*
 * Checks expanded == HKDF-Expand-Label(PRK, label, context, length) with
 * label, context and length parsed out of the HkdfLabel the RFC prints as
 * "info". Returns the context so the caller can compare it.
 */
static lurk_cbs check_expand(const EVP_MD *md, const json_t *step, const uint8_t *prk,
                             size_t prk_len, const char *info_label, const char *expanded_label)
{
    size_t info_len, exp_len;
    const uint8_t *info = item_bytes(step, info_label, &info_len);
    const uint8_t *expanded = item_bytes(step, expanded_label, &exp_len);
    lurk_cbs cbs, label, context;
    uint16_t length;
    char label_str[256];
    uint8_t out[64];

    lurk_cbs_init(&cbs, info, info_len);
    ck_assert(lurk_cbs_get_u16(&cbs, &length));
    ck_assert(lurk_cbs_get_u8_prefixed(&cbs, &label));
    ck_assert(lurk_cbs_get_u8_prefixed(&cbs, &context));
    ck_assert_uint_eq(lurk_cbs_len(&cbs), 0);
    ck_assert_uint_eq(length, exp_len);
    ck_assert_uint_le(exp_len, sizeof(out));
    ck_assert_uint_ge(lurk_cbs_len(&label), 6);
    ck_assert_mem_eq(lurk_cbs_data(&label), "tls13 ", 6);
    memcpy(label_str, lurk_cbs_data(&label) + 6, lurk_cbs_len(&label) - 6);
    label_str[lurk_cbs_len(&label) - 6] = '\0';

    ck_assert(lurk_tls13_hkdf_expand_label(NULL, md, prk, prk_len, label_str,
                                           lurk_cbs_data(&context), lurk_cbs_len(&context), out,
                                           exp_len));
    ck_assert_mem_eq(out, expanded, exp_len);
    return context;
}

START_TEST(all_sections_hkdf_steps)
{
    json_t *root = load("rfc8448-all-sections.json");
    json_t *sections = json_object_get(root, "sections"), *steps;
    const char *section;
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    size_t n_expand = 0, n_keyiv = 0, n_extract = 0, n_binder = 0, n_derive = 0;

    ck_assert_ptr_nonnull(md);
    ck_assert_uint_eq(json_object_size(sections), 5);
    json_object_foreach(sections, section, steps)
    {
        for (size_t i = 0; i < json_array_size(steps); i++) {
            const json_t *step = json_array_get(steps, i);
            const char *title = lurk_jsondoc_path_string(step, "title");
            size_t prk_len, len;
            uint8_t out[32];

            ck_assert_ptr_nonnull(title);
            if (item(step, "IKM") != NULL) {
                /* extract secret: a missing salt is printed as "0 (all zero octets)". */
                static const uint8_t zeros[32] = {0};
                const uint8_t *salt = item_bytes(step, "salt", &len);
                size_t ikm_len;
                const uint8_t *ikm = item_bytes(step, "IKM", &ikm_len);
                ck_assert(lurk_tls13_hkdf_extract(NULL, md, len ? salt : zeros, len ? len : 32, ikm,
                                                  ikm_len, out));
                ck_assert_mem_eq(out, item_bytes(step, "secret", NULL), 32);
                if (len == 0) {
                    /* No salt at all is the same thing (RFC 5869 §2.2). */
                    ck_assert(lurk_tls13_hkdf_extract(NULL, md, NULL, 0, ikm, ikm_len, out));
                    ck_assert_mem_eq(out, item_bytes(step, "secret", NULL), 32);
                }
                n_extract++;
            }
            if (item(step, "PRK") == NULL)
                continue;
            const uint8_t *prk = item_bytes(step, "PRK", &prk_len);
            if (item(step, "info") != NULL) {
                lurk_cbs context = check_expand(md, step, prk, prk_len, "info", "expanded");
                n_expand++;
                /* The printed "hash" is the context: transcript hash, "" or ticket nonce. */
                const uint8_t *h = item_bytes(step, "hash", &len);
                ck_assert(lurk_cbs_equal(&context, h, len));
                if (strncmp(title, "derive secret", 13) == 0) {
                    /* Same through Derive-Secret, which takes the transcript hash. */
                    ck_assert_uint_eq(len, 32);
                    const char *q = strstr(title, "\"tls13 ");
                    char label[32];
                    ck_assert_ptr_nonnull(q);
                    q += 7;
                    size_t n = strcspn(q, "\"");
                    ck_assert_uint_lt(n, sizeof(label));
                    memcpy(label, q, n);
                    label[n] = '\0';
                    ck_assert(lurk_tls13_derive_secret(NULL, md, prk, label, h, out));
                    ck_assert_mem_eq(out, item_bytes(step, "expanded", NULL), 32);
                    n_derive++;
                }
                if (strncmp(title, "calculate finished", 18) == 0 ||
                    strncmp(title, "calculate PSK binder", 20) == 0) {
                    ck_assert(lurk_tls13_finished_key(NULL, md, prk, out));
                    ck_assert_mem_eq(out, item_bytes(step, "expanded", NULL), 32);
                }
            }
            if (item(step, "key info") != NULL) {
                check_expand(md, step, prk, prk_len, "key info", "key expanded");
                check_expand(md, step, prk, prk_len, "iv info", "iv expanded");
                n_keyiv += 2;
            }
            if (item(step, "binder hash") != NULL) {
                ck_assert(lurk_tls13_psk_binder(NULL, md, prk,
                                                item_bytes(step, "binder hash", NULL), out));
                ck_assert_mem_eq(out, item_bytes(step, "finished", NULL), 32);
                n_binder++;
            }
        }
    }
    /* Every step of §3-§7 that prints HKDF inputs, counted independently from the JSON. */
    ck_assert_uint_eq(n_extract, 15);
    ck_assert_uint_eq(n_expand, 59);
    ck_assert_uint_eq(n_keyiv, 42);
    ck_assert_uint_eq(n_binder, 1);
    ck_assert_uint_gt(n_derive, 30);
    EVP_MD_free(md);
    json_decref(root);
}
END_TEST

/* The n-th step of a section whose title is exactly title. */
static const json_t *find_step(const json_t *steps, const char *title, int n)
{
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const json_t *step = json_array_get(steps, i);
        const char *t = lurk_jsondoc_path_string(step, "title");
        if (t != NULL && strcmp(t, title) == 0 && n-- == 0)
            return step;
    }
    ck_abort_msg("no step \"%s\"", title);
    return NULL;
}

static void feed_step(struct lurk_tls13_transcript *t, const json_t *steps, const char *title,
                      int n, const char *label)
{
    size_t len;
    const uint8_t *m = item_bytes(find_step(steps, title, n), label, &len);
    ck_assert(lurk_tls13_transcript_update(t, m, len));
}

START_TEST(hello_retry_request_transcript)
{
    json_t *root = load("rfc8448-all-sections.json");
    json_t *sections = json_object_get(root, "sections"), *section_steps;
    const json_t *steps = NULL;
    const char *section;
    struct lurk_tls13_transcript t;
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    uint8_t th[32], vd[32];

    json_object_foreach(sections, section, section_steps) if (strncmp(section, "5.", 2) == 0)
        steps = section_steps;
    ck_assert_ptr_nonnull(steps);
    ck_assert_ptr_nonnull(md);

    /* ClientHello1, replaced by message_hash; then HelloRetryRequest, ClientHello2, ServerHello. */
    ck_assert(lurk_tls13_transcript_init(&t, md));
    feed_step(&t, steps, "construct a ClientHello handshake message", 0, "ClientHello");
    ck_assert(lurk_tls13_transcript_hello_retry(&t));
    feed_step(&t, steps, "construct a ServerHello handshake message", 0, "ServerHello");
    feed_step(&t, steps, "construct a ClientHello handshake message", 1, "ClientHello");
    feed_step(&t, steps, "construct a ServerHello handshake message", 1, "ServerHello");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    const json_t *chs = find_step(steps, "derive secret \"tls13 c hs traffic\"", 0);
    const json_t *shs = find_step(steps, "derive secret \"tls13 s hs traffic\"", 0);
    ck_assert_mem_eq(th, item_bytes(chs, "hash", NULL), 32);

    /* Server Finished over CH..CertificateVerify. */
    feed_step(&t, steps, "construct an EncryptedExtensions handshake message", 0,
              "EncryptedExtensions");
    feed_step(&t, steps, "construct a Certificate handshake message", 0, "Certificate");
    feed_step(&t, steps, "construct a CertificateVerify handshake message", 0, "CertificateVerify");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert(lurk_tls13_finished(NULL, md, item_bytes(shs, "expanded", NULL), th, vd));
    const uint8_t *sfin =
        item_bytes(find_step(steps, "construct a Finished handshake message", 0), "Finished", NULL);
    ck_assert_mem_eq(vd, sfin + 4, 32);

    /* c ap traffic over CH..server Finished; client Finished over the same. */
    feed_step(&t, steps, "construct a Finished handshake message", 0, "Finished");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(
        th, item_bytes(find_step(steps, "derive secret \"tls13 c ap traffic\"", 0), "hash", NULL),
        32);
    ck_assert(lurk_tls13_finished(NULL, md, item_bytes(chs, "expanded", NULL), th, vd));
    const uint8_t *cfin =
        item_bytes(find_step(steps, "construct a Finished handshake message", 1), "Finished", NULL);
    ck_assert_mem_eq(vd, cfin + 4, 32);
    feed_step(&t, steps, "construct a Finished handshake message", 1, "Finished");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(
        th, item_bytes(find_step(steps, "derive secret \"tls13 res master\"", 0), "hash", NULL),
        32);
    lurk_tls13_transcript_cleanup(&t);

    /* Without the message_hash substitution the transcript is wrong. */
    ck_assert(lurk_tls13_transcript_init(&t, md));
    feed_step(&t, steps, "construct a ClientHello handshake message", 0, "ClientHello");
    feed_step(&t, steps, "construct a ServerHello handshake message", 0, "ServerHello");
    feed_step(&t, steps, "construct a ClientHello handshake message", 1, "ClientHello");
    feed_step(&t, steps, "construct a ServerHello handshake message", 1, "ServerHello");
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert(memcmp(th, item_bytes(chs, "hash", NULL), 32) != 0);
    lurk_tls13_transcript_cleanup(&t);

    EVP_MD_free(md);
    json_decref(root);
}
END_TEST

/*
 * SHA-384 (TLS_AES_256_GCM_SHA384): RFC 8448 has no such trace, so these
 * values were computed independently in python3 with only hmac and hashlib
 * (HKDF-Extract = HMAC(salt, IKM), HKDF-Expand per RFC 5869 §2.3, HkdfLabel
 * per RFC 8446 §7.1), with no PSK, shared secret = bytes 00..2f, and
 * transcript hashes SHA-384 of the ASCII strings named below.
 */
#define SHA384_ES                                                                                  \
    "7ee8206f5570023e6dc7519eb1073bc4e791ad37b5c382aa10ba18e2357e716971f9362f2c2fe2a76bfd78dfec4e" \
    "a9"                                                                                           \
    "b5"
#define SHA384_HS                                                                                  \
    "deb1becd84738bdcbf73bdd28bd2209d2fe51b84986a4fbb63d7e3902c00a7d867db2d8e1af869b952dcab5d7f48" \
    "2c"                                                                                           \
    "ab"
#define SHA384_TH_SH                                                                               \
    "4ef62ccd0d5ed9d0692a313e4f320e51ea3b651b434bb6be519e9157c05ba0866fec5e69f6884e2f01ec3fd0b6c7" \
    "b1"                                                                                           \
    "fb"
#define SHA384_C_HS                                                                                \
    "8580c8768ade9fd11d76194f6e2f6c277f745f619f53bb1dfa7c60afada0584369017c4835984c5a61b5c00bc70c" \
    "e0"                                                                                           \
    "97"
#define SHA384_S_HS                                                                                \
    "3cded9ead6a16d0f10fa5832cb537062bdb0dfd5eec28872b2d75ec294a5edd9f9b1c163dce9312f049cfe40ee01" \
    "3b"                                                                                           \
    "7a"
#define SHA384_SFIN                                                                                \
    "27ca4528e37770103196294fe6d5f7f4a324ff7427b0786b3df89b491350642efee157fb2394010606f63bd6ce4b" \
    "fb"                                                                                           \
    "5d"
#define SHA384_MS                                                                                  \
    "78f71f66fe0d83f65f92e4665b4e2acccb43632e32ebf128e19b5d95c60d4990721065aea51bb55a9eb9f81cd7cb" \
    "f3"                                                                                           \
    "e1"
#define SHA384_RES                                                                                 \
    "aaf5357218435bf6d0fe65f769d77d5cdae9e6477855992a1306dfbe585aaa55c460bc6c4922d6b37e0336ae43cd" \
    "c2"                                                                                           \
    "cc"
#define SHA384_PSK                                                                                 \
    "f93000b11a46f578d8a9d71bca1c9d3d3d10edc97d821b4749ffdf053352ea445f60f6c6294c5350221d3e2c3fbc" \
    "fc"                                                                                           \
    "fc"

static void expect48(const uint8_t *got, const char *want_hex)
{
    uint8_t want[48];
    size_t len;
    ck_assert(lurk_hex_decode(want_hex, want, sizeof(want), &len));
    ck_assert_uint_eq(len, 48);
    ck_assert_mem_eq(got, want, 48);
}

static void transcript_of(const EVP_MD *md, const char *text, uint8_t *out)
{
    struct lurk_tls13_transcript t;
    ck_assert(lurk_tls13_transcript_init(&t, md));
    ck_assert_uint_eq(lurk_tls13_transcript_hash_len(&t), 48);
    ck_assert(lurk_tls13_transcript_update(&t, (const uint8_t *)text, strlen(text)));
    ck_assert(lurk_tls13_transcript_hash(&t, out));
    lurk_tls13_transcript_cleanup(&t);
}

START_TEST(sha384_schedule)
{
    struct lurk_tls13_keysched ks;
    uint8_t shared[48], th[48], s[48], s_hs[48], res[48];
    static const uint8_t nonce[] = {0x00, 0x01};

    for (size_t i = 0; i < sizeof(shared); i++)
        shared[i] = (uint8_t)i;
    ck_assert_str_eq(lurk_tls13_cipher_suite_md_name(0x1302), "SHA384");
    ck_assert(lurk_tls13_keysched_init_suite(&ks, NULL, 0x1302));
    ck_assert_uint_eq(lurk_tls13_keysched_hash_len(&ks), 48);
    const EVP_MD *md = lurk_tls13_keysched_md(&ks);

    ck_assert(lurk_tls13_keysched_extract_early(&ks, NULL, 0));
    expect48(lurk_tls13_keysched_secret(&ks), SHA384_ES);
    ck_assert(lurk_tls13_keysched_extract_handshake(&ks, shared, sizeof(shared)));
    expect48(lurk_tls13_keysched_secret(&ks), SHA384_HS);
    transcript_of(md, "ClientHello..ServerHello", th);
    expect48(th, SHA384_TH_SH);
    ck_assert(lurk_tls13_keysched_client_handshake_traffic(&ks, th, s));
    expect48(s, SHA384_C_HS);
    ck_assert(lurk_tls13_keysched_server_handshake_traffic(&ks, th, s_hs));
    expect48(s_hs, SHA384_S_HS);
    transcript_of(md, "ClientHello..CertificateVerify", th);
    ck_assert(lurk_tls13_finished(NULL, md, s_hs, th, s));
    expect48(s, SHA384_SFIN);
    ck_assert(lurk_tls13_keysched_extract_master(&ks));
    expect48(lurk_tls13_keysched_secret(&ks), SHA384_MS);
    transcript_of(md, "ClientHello..client Finished", th);
    ck_assert(lurk_tls13_keysched_resumption_master(&ks, th, res));
    expect48(res, SHA384_RES);
    ck_assert(lurk_tls13_resumption_psk(NULL, md, res, nonce, sizeof(nonce), s));
    expect48(s, SHA384_PSK);
    lurk_tls13_keysched_cleanup(&ks);
}
END_TEST

START_TEST(steps_out_of_order_refused)
{
    struct lurk_tls13_keysched ks;
    uint8_t th[32] = {0}, out[32], shared[32] = {1};

    ck_assert(!lurk_tls13_keysched_init_suite(&ks, NULL, 0x1306));
    ck_assert(!lurk_tls13_keysched_init(&ks, NULL, "SHA512")); /* 64 bytes: no TLS 1.3 suite */
    ck_assert(!lurk_tls13_keysched_init(&ks, NULL, "no-such-digest"));
    ck_assert_ptr_null(lurk_tls13_cipher_suite_md_name(0x00ff));
    ck_assert_str_eq(lurk_tls13_cipher_suite_md_name(0x1303), "SHA256");
    lurk_tls13_keysched_cleanup(&ks);

    ck_assert(lurk_tls13_keysched_init(&ks, NULL, "SHA256"));
    ck_assert_int_eq(lurk_tls13_keysched_stage(&ks), LURK_TLS13_KS_INIT);
    ck_assert_ptr_null(lurk_tls13_keysched_secret(&ks));
    ck_assert(!lurk_tls13_keysched_binder_key(&ks, LURK_TLS13_BINDER_EXTERNAL, out));
    ck_assert(!lurk_tls13_keysched_extract_handshake(&ks, shared, 32));
    ck_assert(!lurk_tls13_keysched_extract_master(&ks));

    ck_assert(lurk_tls13_keysched_extract_early(&ks, NULL, 0));
    ck_assert(!lurk_tls13_keysched_extract_early(&ks, NULL, 0));
    ck_assert(!lurk_tls13_keysched_client_handshake_traffic(&ks, th, out));
    ck_assert(!lurk_tls13_keysched_resumption_master(&ks, th, out));
    ck_assert(!lurk_tls13_keysched_binder_key(&ks, (enum lurk_tls13_binder_kind)9, out));
    ck_assert(!lurk_tls13_keysched_client_early_traffic(&ks, NULL, out));

    /* psk_ke: no (EC)DHE, IKM is zeros. */
    ck_assert(lurk_tls13_keysched_extract_handshake(&ks, NULL, 0));
    ck_assert_int_eq(lurk_tls13_keysched_stage(&ks), LURK_TLS13_KS_HANDSHAKE);
    ck_assert(!lurk_tls13_keysched_client_early_traffic(&ks, th, out));
    ck_assert(!lurk_tls13_keysched_binder_key(&ks, LURK_TLS13_BINDER_RESUMPTION, out));
    ck_assert(!lurk_tls13_keysched_client_application_traffic(&ks, th, out));
    ck_assert(lurk_tls13_keysched_client_handshake_traffic(&ks, th, out));

    ck_assert(lurk_tls13_keysched_extract_master(&ks));
    ck_assert(!lurk_tls13_keysched_extract_master(&ks));
    ck_assert(!lurk_tls13_keysched_server_handshake_traffic(&ks, th, out));
    ck_assert(lurk_tls13_keysched_exporter_master(&ks, th, out));

    lurk_tls13_keysched_cleanup(&ks);
    ck_assert_int_eq(lurk_tls13_keysched_stage(&ks), LURK_TLS13_KS_FAILED);
    ck_assert(!lurk_tls13_keysched_exporter_master(&ks, th, out));
    lurk_tls13_keysched_cleanup(&ks); /* twice is harmless */

    /* Expand-Label bounds of RFC 8446 §7.1. */
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    char long_label[251];
    uint8_t ctx[256] = {0};
    memset(long_label, 'a', sizeof(long_label) - 1);
    long_label[sizeof(long_label) - 1] = '\0';
    ck_assert(!lurk_tls13_hkdf_expand_label(NULL, md, shared, 32, long_label, NULL, 0, out, 32));
    long_label[249] = '\0'; /* "tls13 " + 249 = 255 bytes: the maximum */
    ck_assert(lurk_tls13_hkdf_expand_label(NULL, md, shared, 32, long_label, NULL, 0, out, 32));
    ck_assert(!lurk_tls13_hkdf_expand_label(NULL, md, shared, 32, "x", ctx, 256, out, 32));
    ck_assert(lurk_tls13_hkdf_expand_label(NULL, md, shared, 32, "x", ctx, 255, out, 32));
    ck_assert(!lurk_tls13_hkdf_expand_label(NULL, md, shared, 32, NULL, NULL, 0, out, 32));
    EVP_MD_free(md);
}
END_TEST

START_TEST(transcript_snapshots)
{
    json_t *r = load("rfc8448-simple-1rtt.json");
    struct lurk_tls13_transcript t, z;
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    uint8_t th[32], again[32];
    size_t ch_len, sh_len;
    const uint8_t *ch = hex(r, "messages.client_hello", &ch_len);
    const uint8_t *sh = hex(r, "messages.server_hello", &sh_len);

    /* Byte by byte, with hashes taken in between, gives the published CH..SH hash. */
    ck_assert(lurk_tls13_transcript_init(&t, md));
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert(lurk_tls13_empty_hash(md, again));
    ck_assert_mem_eq(th, again, 32);
    for (size_t i = 0; i < ch_len; i++) {
        ck_assert(lurk_tls13_transcript_update(&t, ch + i, 1));
        if (i % 50 == 0)
            ck_assert(lurk_tls13_transcript_hash(&t, th));
    }
    ck_assert(lurk_tls13_transcript_update(&t, NULL, 0));
    ck_assert(lurk_tls13_transcript_update(&t, sh, sh_len));
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert(lurk_tls13_transcript_hash(&t, again));
    ck_assert_mem_eq(th, again, 32);
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..SH", 32), 32);
    lurk_tls13_transcript_cleanup(&t);
    lurk_tls13_transcript_cleanup(&t);

    memset(&z, 0, sizeof(z));
    ck_assert(!lurk_tls13_transcript_update(&z, ch, 1));
    ck_assert(!lurk_tls13_transcript_hash(&z, th));
    ck_assert(!lurk_tls13_transcript_hello_retry(&z));
    ck_assert(!lurk_tls13_transcript_init(&z, NULL));
    EVP_MD_free(md);
    json_decref(r);
}
END_TEST

/* A copy continues on its own: the original keeps its state (lurkd forks per exchange). */
START_TEST(transcript_copy_is_independent)
{
    json_t *r = load("rfc8448-simple-1rtt.json");
    struct lurk_tls13_transcript t, c, z;
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    uint8_t th[32], th_copy[32];
    size_t ch_len, sh_len, ee_len;
    const uint8_t *ch = hex(r, "messages.client_hello", &ch_len);
    const uint8_t *sh = hex(r, "messages.server_hello", &sh_len);
    const uint8_t *ee = hex(r, "messages.encrypted_extensions", &ee_len);

    ck_assert(lurk_tls13_transcript_init(&t, md));
    ck_assert(lurk_tls13_transcript_update(&t, ch, ch_len));
    ck_assert(lurk_tls13_transcript_copy(&c, &t));
    ck_assert_uint_eq(lurk_tls13_transcript_hash_len(&c), 32);
    /* The copy gets ServerHello and EncryptedExtensions, the original only ServerHello. */
    ck_assert(lurk_tls13_transcript_update(&c, sh, sh_len));
    ck_assert(lurk_tls13_transcript_update(&c, ee, ee_len));
    ck_assert(lurk_tls13_transcript_update(&t, sh, sh_len));
    ck_assert(lurk_tls13_transcript_hash(&t, th));
    ck_assert_mem_eq(th, member(r, "transcript_hashes", "CH..SH", 32), 32);
    ck_assert(lurk_tls13_transcript_hash(&c, th_copy));
    ck_assert_mem_ne(th_copy, th, 32);
    /* Freeing the original leaves the copy usable. */
    lurk_tls13_transcript_cleanup(&t);
    ck_assert(lurk_tls13_transcript_hash(&c, th));
    ck_assert_mem_eq(th, th_copy, 32);
    lurk_tls13_transcript_cleanup(&c);

    /* Nothing to copy: refused, the destination left empty. */
    memset(&z, 0, sizeof(z));
    ck_assert(!lurk_tls13_transcript_copy(&c, &z));
    ck_assert(!lurk_tls13_transcript_hash(&c, th));
    EVP_MD_free(md);
    json_decref(r);
}
END_TEST

START_TEST(library_context_is_used)
{
    json_t *r = load("rfc8448-simple-1rtt.json");
    struct lurk_tls13_keysched ks;

    OSSL_LIB_CTX *libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *prov = OSSL_PROVIDER_load(libctx, "default");
    ck_assert_ptr_nonnull(prov);
    ck_assert(lurk_tls13_keysched_init_suite(&ks, libctx, 0x1301));
    ck_assert(lurk_tls13_keysched_extract_early(&ks, NULL, 0));
    ck_assert(lurk_tls13_keysched_extract_handshake(&ks, h32(r, "ecdhe_shared_secret"), 32));
    ck_assert_mem_eq(lurk_tls13_keysched_secret(&ks), h32(r, "secrets.handshake_secret"), 32);
    lurk_tls13_keysched_cleanup(&ks);
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(libctx);

    /* A base-only context has no SHA-256: the schedule cannot start there. */
    libctx = OSSL_LIB_CTX_new();
    prov = OSSL_PROVIDER_load(libctx, "base");
    ck_assert_ptr_nonnull(prov);
    ck_assert(!lurk_tls13_keysched_init_suite(&ks, libctx, 0x1301));
    lurk_tls13_keysched_cleanup(&ks);
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(libctx);
    json_decref(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls13_keysched");
    TCase *tc = tcase_create("rfc8448");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, simple_1rtt);
    tcase_add_test(tc, resumed_0rtt);
    tcase_add_test(tc, all_sections_hkdf_steps);
    tcase_add_test(tc, hello_retry_request_transcript);
    tcase_add_test(tc, sha384_schedule);
    tcase_add_test(tc, steps_out_of_order_refused);
    tcase_add_test(tc, transcript_snapshots);
    tcase_add_test(tc, transcript_copy_is_independent);
    tcase_add_test(tc, library_context_is_used);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
