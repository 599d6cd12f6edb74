/* Framing of received bytes; see reader.h. */
#include "reader.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lurk/header.h"

/* The first allocation for an unfinished message: a header and a little more. */
#define MIN_KEEP 64

bool lurkd_reader_pending(const struct lurkd_reader *r)
{
    return r->len > 0;
}

void lurkd_reader_clear(struct lurkd_reader *r)
{
    if (r->buf != NULL)
        OPENSSL_cleanse(r->buf, r->cap);
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
}

/*
 * The length of the message whose first len bytes are at buf: 0 while its
 * header is incomplete, or a framing error.
 */
static enum lurkd_reader_status frame_length(const uint8_t *buf, size_t len, size_t max_frame,
                                             uint32_t *length)
{
    struct lurk_header hdr;
    lurk_cbs cbs;

    *length = 0;
    if (len < LURK_HEADER_LEN)
        return LURKD_READER_OK;
    lurk_cbs_init(&cbs, buf, LURK_HEADER_LEN);
    lurk_header_parse(&cbs, &hdr);
    *length = hdr.length;
    switch (lurk_frame_check(&hdr, max_frame)) {
    case LURK_FRAME_TOO_SHORT:
        return LURKD_READER_GARBAGE;
    case LURK_FRAME_TOO_LONG:
        return LURKD_READER_OVERSIZE;
    default:
        return LURKD_READER_OK;
    }
}

/*
 * Appends n bytes of the unfinished message, whose whole length is limit
 * when known (0 otherwise). The buffer doubles with what arrives and never
 * grows past the message.
 */
static bool keep(struct lurkd_reader *r, const uint8_t *data, size_t n, size_t limit)
{
    if (r->cap - r->len < n) {
        size_t cap = r->cap ? 2 * r->cap : MIN_KEEP;
        uint8_t *grown;
        if (cap < r->len + n)
            cap = r->len + n;
        if (limit > 0 && cap > limit)
            cap = limit;
        grown = malloc(cap);
        if (grown == NULL)
            return false;
        if (r->len > 0)
            memcpy(grown, r->buf, r->len);
        size_t len = r->len;
        lurkd_reader_clear(r);
        r->buf = grown;
        r->cap = cap;
        r->len = len;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    return true;
}

/* Frames data directly (the reader holds nothing) and keeps an unfinished tail. */
static enum lurkd_reader_status feed_fresh(struct lurkd_reader *r, const uint8_t *data, size_t n,
                                           size_t max_frame, lurkd_reader_frame_fn on_frame,
                                           void *arg, uint32_t *length)
{
    size_t off = 0;

    while (off < n) {
        enum lurkd_reader_status st = frame_length(data + off, n - off, max_frame, length);
        if (st != LURKD_READER_OK)
            return st;
        if (*length == 0 || n - off < *length)
            break;
        on_frame(arg, data + off, *length);
        off += *length;
    }
    if (off < n && !keep(r, data + off, n - off, *length))
        return LURKD_READER_NOMEM;
    return LURKD_READER_OK;
}

enum lurkd_reader_status lurkd_reader_feed(struct lurkd_reader *r, const uint8_t *data, size_t n,
                                           size_t max_frame, lurkd_reader_frame_fn on_frame,
                                           void *arg, uint32_t *length)
{
    enum lurkd_reader_status st;
    size_t take;

    *length = 0;
    if (r->len == 0)
        return feed_fresh(r, data, n, max_frame, on_frame, arg, length);
    /* Complete the header of the message held, then the message itself. */
    if (r->len < LURK_HEADER_LEN) {
        take = LURK_HEADER_LEN - r->len < n ? LURK_HEADER_LEN - r->len : n;
        if (!keep(r, data, take, 0))
            return LURKD_READER_NOMEM;
        data += take;
        n -= take;
    }
    st = frame_length(r->buf, r->len, max_frame, length);
    if (st != LURKD_READER_OK || *length == 0)
        return st;
    take = *length - r->len < n ? *length - r->len : n;
    if (take > 0 && !keep(r, data, take, *length))
        return LURKD_READER_NOMEM;
    data += take;
    n -= take;
    if (r->len < *length)
        return LURKD_READER_OK;
    on_frame(arg, r->buf, r->len);
    lurkd_reader_clear(r);
    return feed_fresh(r, data, n, max_frame, on_frame, arg, length);
}
