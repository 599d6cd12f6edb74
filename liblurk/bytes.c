/* Bounded reader and writer; see bytes.h. */
#include "lurk/bytes.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void lurk_cbs_init(lurk_cbs *cbs, const uint8_t *data, size_t len)
{
    cbs->data = data;
    cbs->len = data == NULL ? 0 : len;
}

bool lurk_cbs_skip(lurk_cbs *cbs, size_t n)
{
    if (cbs->len < n)
        return false;
    cbs->data += n;
    cbs->len -= n;
    return true;
}

static bool cbs_get_uint(lurk_cbs *cbs, uint64_t *out, size_t n)
{
    uint64_t v = 0;

    if (cbs->len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | cbs->data[i];
    *out = v;
    return lurk_cbs_skip(cbs, n);
}

bool lurk_cbs_get_u8(lurk_cbs *cbs, uint8_t *out)
{
    uint64_t v;

    if (!cbs_get_uint(cbs, &v, 1))
        return false;
    *out = (uint8_t)v;
    return true;
}

bool lurk_cbs_get_u16(lurk_cbs *cbs, uint16_t *out)
{
    uint64_t v;

    if (!cbs_get_uint(cbs, &v, 2))
        return false;
    *out = (uint16_t)v;
    return true;
}

bool lurk_cbs_get_u24(lurk_cbs *cbs, uint32_t *out)
{
    uint64_t v;

    if (!cbs_get_uint(cbs, &v, 3))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool lurk_cbs_get_u32(lurk_cbs *cbs, uint32_t *out)
{
    uint64_t v;

    if (!cbs_get_uint(cbs, &v, 4))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool lurk_cbs_get_u64(lurk_cbs *cbs, uint64_t *out)
{
    return cbs_get_uint(cbs, out, 8);
}

bool lurk_cbs_peek_u8(const lurk_cbs *cbs, uint8_t *out)
{
    if (cbs->len < 1)
        return false;
    *out = cbs->data[0];
    return true;
}

bool lurk_cbs_get_bytes(lurk_cbs *cbs, lurk_cbs *out, size_t n)
{
    if (cbs->len < n)
        return false;
    lurk_cbs_init(out, cbs->data, n);
    return lurk_cbs_skip(cbs, n);
}

bool lurk_cbs_copy_bytes(lurk_cbs *cbs, uint8_t *out, size_t n)
{
    if (cbs->len < n)
        return false;
    if (n > 0)
        memcpy(out, cbs->data, n);
    return lurk_cbs_skip(cbs, n);
}

static bool cbs_get_prefixed(lurk_cbs *cbs, lurk_cbs *out, size_t prefix_len)
{
    lurk_cbs copy = *cbs;
    uint64_t len;

    if (!cbs_get_uint(&copy, &len, prefix_len) || !lurk_cbs_get_bytes(&copy, out, (size_t)len))
        return false;
    *cbs = copy;
    return true;
}

bool lurk_cbs_get_u8_prefixed(lurk_cbs *cbs, lurk_cbs *out)
{
    return cbs_get_prefixed(cbs, out, 1);
}

bool lurk_cbs_get_u16_prefixed(lurk_cbs *cbs, lurk_cbs *out)
{
    return cbs_get_prefixed(cbs, out, 2);
}

bool lurk_cbs_get_u24_prefixed(lurk_cbs *cbs, lurk_cbs *out)
{
    return cbs_get_prefixed(cbs, out, 3);
}

bool lurk_cbs_get_u32_prefixed(lurk_cbs *cbs, lurk_cbs *out)
{
    return cbs_get_prefixed(cbs, out, 4);
}

bool lurk_cbs_equal(const lurk_cbs *cbs, const uint8_t *data, size_t len)
{
    return cbs->len == len && (len == 0 || memcmp(cbs->data, data, len) == 0);
}

/* X.690 §8.1.3: definite form, minimal length encoding, at most 4 length bytes. */
static bool cbs_get_asn1_header(lurk_cbs *cbs, uint8_t tag, size_t *header_len, size_t *body_len)
{
    lurk_cbs copy = *cbs;
    uint8_t t, l;

    if (!lurk_cbs_get_u8(&copy, &t) || t != tag || !lurk_cbs_get_u8(&copy, &l))
        return false;
    if (l < 0x80) {
        *header_len = 2;
        *body_len = l;
        return copy.len >= l;
    }
    size_t n = l & 0x7f;
    uint64_t v;
    if (n == 0 || n > 4 || !cbs_get_uint(&copy, &v, n))
        return false;
    /* Reject non-minimal forms: a long form below 128 or a leading zero byte. */
    if (v < 0x80 || (v >> ((n - 1) * 8)) == 0)
        return false;
    *header_len = 2 + n;
    *body_len = (size_t)v;
    return copy.len >= v;
}

bool lurk_cbs_get_asn1(lurk_cbs *cbs, lurk_cbs *out, uint8_t tag)
{
    size_t hl, bl;

    if (!cbs_get_asn1_header(cbs, tag, &hl, &bl))
        return false;
    lurk_cbs_skip(cbs, hl);
    return lurk_cbs_get_bytes(cbs, out, bl);
}

bool lurk_cbs_get_asn1_element(lurk_cbs *cbs, lurk_cbs *out, uint8_t tag)
{
    size_t hl, bl;

    if (!cbs_get_asn1_header(cbs, tag, &hl, &bl))
        return false;
    return lurk_cbs_get_bytes(cbs, out, hl + bl);
}

bool lurk_cbs_peek_asn1_tag(const lurk_cbs *cbs, uint8_t tag)
{
    return cbs->len >= 1 && cbs->data[0] == tag;
}

bool lurk_cbb_init(lurk_cbb *cbb, size_t initial, size_t max)
{
    memset(cbb, 0, sizeof(*cbb));
    if (initial > max)
        initial = max;
    if (initial == 0)
        initial = 1;
    cbb->buf = malloc(initial);
    if (cbb->buf == NULL) {
        cbb->failed = true;
        return false;
    }
    cbb->cap = initial;
    cbb->max = max;
    cbb->owned = true;
    return true;
}

void lurk_cbb_init_fixed(lurk_cbb *cbb, uint8_t *buf, size_t cap)
{
    memset(cbb, 0, sizeof(*cbb));
    cbb->buf = buf;
    cbb->cap = cap;
    cbb->max = cap;
}

void lurk_cbb_cleanup(lurk_cbb *cbb)
{
    if (cbb->owned && cbb->buf != NULL) {
        OPENSSL_cleanse(cbb->buf, cbb->cap);
        free(cbb->buf);
    }
    memset(cbb, 0, sizeof(*cbb));
}

uint8_t *lurk_cbb_release(lurk_cbb *cbb, size_t *len)
{
    uint8_t *buf;

    if (!cbb->owned || cbb->failed)
        return NULL;
    buf = cbb->buf;
    *len = cbb->len;
    memset(cbb, 0, sizeof(*cbb));
    return buf;
}

static bool cbb_reserve(lurk_cbb *cbb, size_t n)
{
    size_t need, cap;
    uint8_t *nbuf;

    if (cbb->failed)
        return false;
    if (n > cbb->max - cbb->len) {
        cbb->failed = true;
        return false;
    }
    need = cbb->len + n;
    if (need <= cbb->cap)
        return true;
    if (!cbb->owned) {
        cbb->failed = true;
        return false;
    }
    cap = cbb->cap;
    while (cap < need)
        cap = cap > cbb->max / 2 ? cbb->max : cap * 2;
    /* Grow by copy so the old buffer can be wiped: it may hold secrets. */
    nbuf = malloc(cap);
    if (nbuf == NULL) {
        cbb->failed = true;
        return false;
    }
    memcpy(nbuf, cbb->buf, cbb->len);
    OPENSSL_cleanse(cbb->buf, cbb->cap);
    free(cbb->buf);
    cbb->buf = nbuf;
    cbb->cap = cap;
    return true;
}

bool lurk_cbb_add_space(lurk_cbb *cbb, uint8_t **out, size_t n)
{
    if (!cbb_reserve(cbb, n))
        return false;
    *out = cbb->buf + cbb->len;
    cbb->len += n;
    return true;
}

bool lurk_cbb_truncate(lurk_cbb *cbb, size_t len)
{
    if (cbb->failed || len > cbb->len)
        return false;
    cbb->len = len;
    return true;
}

static bool cbb_add_uint(lurk_cbb *cbb, uint64_t v, size_t n)
{
    uint8_t *p;

    if (!lurk_cbb_add_space(cbb, &p, n))
        return false;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return true;
}

bool lurk_cbb_add_u8(lurk_cbb *cbb, uint8_t v)
{
    return cbb_add_uint(cbb, v, 1);
}

bool lurk_cbb_add_u16(lurk_cbb *cbb, uint16_t v)
{
    return cbb_add_uint(cbb, v, 2);
}

bool lurk_cbb_add_u24(lurk_cbb *cbb, uint32_t v)
{
    if (v > 0xffffff) {
        cbb->failed = true;
        return false;
    }
    return cbb_add_uint(cbb, v, 3);
}

bool lurk_cbb_add_u32(lurk_cbb *cbb, uint32_t v)
{
    return cbb_add_uint(cbb, v, 4);
}

bool lurk_cbb_add_u64(lurk_cbb *cbb, uint64_t v)
{
    return cbb_add_uint(cbb, v, 8);
}

bool lurk_cbb_add_bytes(lurk_cbb *cbb, const uint8_t *data, size_t len)
{
    uint8_t *p;

    if (!lurk_cbb_add_space(cbb, &p, len))
        return false;
    if (len > 0)
        memcpy(p, data, len);
    return true;
}

bool lurk_cbb_add_cbs(lurk_cbb *cbb, const lurk_cbs *cbs)
{
    return lurk_cbb_add_bytes(cbb, cbs->data, cbs->len);
}

bool lurk_cbb_begin(lurk_cbb *cbb, lurk_cbb_mark *mark, uint8_t prefix_len)
{
    mark->pos = cbb->len;
    mark->prefix_len = prefix_len;
    if (prefix_len < 1 || prefix_len > 4) {
        cbb->failed = true;
        return false;
    }
    return cbb_add_uint(cbb, 0, prefix_len);
}

bool lurk_cbb_end(lurk_cbb *cbb, const lurk_cbb_mark *mark)
{
    size_t body, n = mark->prefix_len;

    if (cbb->failed)
        return false;
    body = cbb->len - mark->pos - n;
    if (n < 4 && body >> (8 * n) != 0) {
        cbb->failed = true;
        return false;
    }
    if (n == 4 && (uint64_t)body > UINT32_MAX) {
        cbb->failed = true;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        cbb->buf[mark->pos + i] = (uint8_t)(body >> (8 * (n - 1 - i)));
    return true;
}

bool lurk_cbb_add_prefixed(lurk_cbb *cbb, uint8_t prefix_len, const uint8_t *data, size_t len)
{
    lurk_cbb_mark m;

    return lurk_cbb_begin(cbb, &m, prefix_len) && lurk_cbb_add_bytes(cbb, data, len) &&
           lurk_cbb_end(cbb, &m);
}

/*
 * DER needs the length before the content; the content is written after a
 * one-byte placeholder and moved right once its size (and so the size of the
 * length field) is known.
 */
bool lurk_cbb_begin_asn1(lurk_cbb *cbb, lurk_cbb_mark *mark, uint8_t tag)
{
    if (!lurk_cbb_add_u8(cbb, tag))
        return false;
    mark->pos = cbb->len;
    mark->prefix_len = 1;
    return lurk_cbb_add_u8(cbb, 0);
}

bool lurk_cbb_end_asn1(lurk_cbb *cbb, const lurk_cbb_mark *mark)
{
    size_t body, extra = 0;
    uint8_t *unused;

    if (cbb->failed)
        return false;
    body = cbb->len - mark->pos - 1;
    if (body < 0x80) {
        cbb->buf[mark->pos] = (uint8_t)body;
        return true;
    }
    for (size_t v = body; v > 0; v >>= 8)
        extra++;
    if (extra > 4 || !lurk_cbb_add_space(cbb, &unused, extra))
        return false;
    memmove(cbb->buf + mark->pos + 1 + extra, cbb->buf + mark->pos + 1, body);
    cbb->buf[mark->pos] = (uint8_t)(0x80 | extra);
    for (size_t i = 0; i < extra; i++)
        cbb->buf[mark->pos + 1 + i] = (uint8_t)(body >> (8 * (extra - 1 - i)));
    return true;
}
