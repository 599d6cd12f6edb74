/* Small-order X25519 and X448 points; see ecx.h. */
#include "lurk/ecx.h"

#include <string.h>

#include <openssl/bn.h>

/*
 * The two u-coordinates of order 8 on Curve25519 (cofactor 8), in decimal.
 * The others of small order, 0, 1 and p - 1, are those of Curve448 too
 * (cofactor 4). tests/unit/test_ecx.c checks each against OpenSSL, which
 * derives an all-zero secret from them.
 */
static const char *const x25519_order8[] = {
    "325606250916557431795983626356110631294008115727848805560023387167927233504",
    "39382357235489614581723060781553021112529911719440698176882885853963445705823",
};

bool lurk_ecx_small_order(uint16_t group, const uint8_t *u, size_t len)
{
    uint8_t buf[56];
    BIGNUM *p = BN_new(), *x = NULL, *t = BN_new();
    BN_CTX *ctx = BN_CTX_new();
    bool small = false;

    if (p == NULL || t == NULL || ctx == NULL)
        goto out;
    if (group == LURK_GROUP_X25519 && len == 32) {
        memcpy(buf, u, 32);
        buf[31] &= 0x7f; /* RFC 7748 §5: mask the most significant bit */
        /* p = 2^255 - 19 */
        if (!BN_set_bit(p, 255) || !BN_sub_word(p, 19))
            goto out;
    } else if (group == LURK_GROUP_X448 && len == 56) {
        memcpy(buf, u, 56);
        /* p = 2^448 - 2^224 - 1 */
        if (!BN_set_bit(p, 448) || !BN_set_bit(t, 224) || !BN_sub(p, p, t) || !BN_sub_word(p, 1))
            goto out;
    } else {
        goto out;
    }
    if ((x = BN_lebin2bn(buf, (int)len, NULL)) == NULL || !BN_nnmod(x, x, p, ctx))
        goto out;
    /* 0, 1, p - 1 */
    if (!BN_sub(t, p, x))
        goto out;
    small = BN_is_zero(x) || BN_is_one(x) || BN_is_one(t);
    for (size_t i = 0; !small && group == LURK_GROUP_X25519 && i < 2; i++) {
        if (!BN_dec2bn(&t, x25519_order8[i]))
            break;
        small = BN_cmp(x, t) == 0;
    }
out:
    BN_free(p);
    BN_free(x);
    BN_free(t);
    BN_CTX_free(ctx);
    return small;
}
