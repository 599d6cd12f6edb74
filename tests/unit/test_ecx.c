/*
 * Small-order X25519 and X448 points (liblurk/ecx.c), checked against
 * OpenSSL itself: every value lurk_ecx_small_order refuses gives OpenSSL's
 * derivation an all-zero secret (which it reports as a failure, RFC 7748
 * §6), in canonical and non-canonical encodings, and random public keys
 * are neither refused nor zero.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "check_run.h"
#include "lurk/ecx.h"

/* The little-endian encoding of value + add (value in decimal, or "p" for the field prime). */
static void encode(uint16_t group, const char *value, long add, bool top_bit, uint8_t *out,
                   size_t len)
{
    BIGNUM *x = BN_new(), *t = BN_new();

    ck_assert_ptr_nonnull(x);
    if (strcmp(value, "p") == 0) {
        if (group == LURK_GROUP_X25519) {
            ck_assert(BN_set_bit(x, 255) && BN_sub_word(x, 19));
        } else {
            ck_assert(BN_set_bit(x, 448) && BN_set_bit(t, 224) && BN_sub(x, x, t) &&
                      BN_sub_word(x, 1));
        }
    } else {
        ck_assert(BN_dec2bn(&x, value));
    }
    ck_assert(add >= 0 ? BN_add_word(x, (BN_ULONG)add) : BN_sub_word(x, (BN_ULONG)-add));
    ck_assert_int_eq(BN_bn2lebinpad(x, out, (int)len), (int)len);
    if (top_bit)
        out[len - 1] |= 0x80;
    BN_free(x);
    BN_free(t);
}

/* OpenSSL's X25519/X448 with a fresh private key: false when it refuses (an all-zero secret). */
static bool openssl_derives(uint16_t group, const uint8_t *u, size_t len)
{
    const char *name = group == LURK_GROUP_X25519 ? "X25519" : "X448";
    EVP_PKEY *own = EVP_PKEY_Q_keygen(NULL, NULL, name);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key_ex(NULL, name, NULL, u, len);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
    uint8_t secret[56];
    size_t n = sizeof(secret);
    bool ok;

    ck_assert(own != NULL && peer != NULL && ctx != NULL);
    ok = EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) == 1 &&
         EVP_PKEY_derive(ctx, secret, &n) == 1;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(own);
    return ok;
}

static const struct {
    uint16_t group;
    const char *value;
    long add;
    bool top_bit;
} small[] = {
    {LURK_GROUP_X25519, "0", 0, false},
    {LURK_GROUP_X25519, "1", 0, false},
    {LURK_GROUP_X25519, "p", -1, false},
    {LURK_GROUP_X25519, "p", 0, false}, /* = 0, non-canonical */
    {LURK_GROUP_X25519, "p", 1, false}, /* = 1 */
    {LURK_GROUP_X25519,
     "325606250916557431795983626356110631294008115727848805560023387167927233504", 0, false},
    {LURK_GROUP_X25519,
     "39382357235489614581723060781553021112529911719440698176882885853963445705823", 0, false},
    {LURK_GROUP_X25519,
     "325606250916557431795983626356110631294008115727848805560023387167927233504", 0, true},
    {LURK_GROUP_X25519, "0", 0, true}, /* the masked top bit */
    {LURK_GROUP_X448, "0", 0, false},
    {LURK_GROUP_X448, "1", 0, false},
    {LURK_GROUP_X448, "p", -1, false},
    {LURK_GROUP_X448, "p", 0, false},
    {LURK_GROUP_X448, "p", 1, false},
};

START_TEST(small_order_points_are_refused_and_openssl_agrees)
{
    uint16_t group = small[_i].group;
    size_t len = group == LURK_GROUP_X25519 ? 32 : 56;
    uint8_t u[56];

    encode(group, small[_i].value, small[_i].add, small[_i].top_bit, u, len);
    ck_assert_msg(lurk_ecx_small_order(group, u, len), "case %d not refused", _i);
    ck_assert_msg(!openssl_derives(group, u, len), "case %d: OpenSSL derives a secret", _i);
}
END_TEST

START_TEST(random_points_pass)
{
    for (int i = 0; i < 200; i++) {
        uint16_t group = i % 2 ? LURK_GROUP_X448 : LURK_GROUP_X25519;
        size_t len = group == LURK_GROUP_X25519 ? 32 : 56;
        uint8_t u[56];
        ck_assert_int_eq(RAND_bytes(u, (int)len), 1);
        ck_assert(!lurk_ecx_small_order(group, u, len));
        ck_assert(openssl_derives(group, u, len));
    }
}
END_TEST

START_TEST(other_groups_and_lengths_are_not_judged)
{
    static const uint8_t zeros[57];

    ck_assert(!lurk_ecx_small_order(23, zeros, 32));
    ck_assert(!lurk_ecx_small_order(LURK_GROUP_X25519, zeros, 31));
    ck_assert(!lurk_ecx_small_order(LURK_GROUP_X448, zeros, 57));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ecx");
    TCase *tc = tcase_create("ecx");

    tcase_add_loop_test(tc, small_order_points_are_refused_and_openssl_agrees, 0,
                        sizeof(small) / sizeof(small[0]));
    tcase_add_test(tc, random_points_pass);
    tcase_add_test(tc, other_groups_and_lengths_are_not_judged);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
