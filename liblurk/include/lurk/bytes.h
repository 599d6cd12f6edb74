/*
 * Bounded byte reader (lurk_cbs) and writer (lurk_cbb).
 *
 * Every byte of untrusted input is read through a lurk_cbs: a view that can
 * only shrink, so no read can go past the end of the buffer it was built on.
 * Lengths found in the input are checked against the bytes that remain
 * before anything is consumed. The model is BoringSSL's CBS/CBB.
 *
 * lurk_cbb writes into a buffer that grows up to a fixed maximum. Any failed
 * write makes the builder sticky-failed, so an encoder may issue a sequence
 * of writes and check lurk_cbb_ok() once at the end.
 */
#ifndef LURK_BYTES_H
#define LURK_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lurk_cbs {
    const uint8_t *data;
    size_t len;
} lurk_cbs;

void lurk_cbs_init(lurk_cbs *cbs, const uint8_t *data, size_t len);
static inline size_t lurk_cbs_len(const lurk_cbs *cbs)
{
    return cbs->len;
}
static inline const uint8_t *lurk_cbs_data(const lurk_cbs *cbs)
{
    return cbs->data;
}

bool lurk_cbs_skip(lurk_cbs *cbs, size_t n);
bool lurk_cbs_get_u8(lurk_cbs *cbs, uint8_t *out);
bool lurk_cbs_get_u16(lurk_cbs *cbs, uint16_t *out);
bool lurk_cbs_get_u24(lurk_cbs *cbs, uint32_t *out);
bool lurk_cbs_get_u32(lurk_cbs *cbs, uint32_t *out);
bool lurk_cbs_get_u64(lurk_cbs *cbs, uint64_t *out);
bool lurk_cbs_peek_u8(const lurk_cbs *cbs, uint8_t *out);
/* A sub-view of the next n bytes. */
bool lurk_cbs_get_bytes(lurk_cbs *cbs, lurk_cbs *out, size_t n);
/* Copies the next n bytes into out. */
bool lurk_cbs_copy_bytes(lurk_cbs *cbs, uint8_t *out, size_t n);
/* A sub-view whose length is given by a 1/2/3/4-byte big-endian prefix. */
bool lurk_cbs_get_u8_prefixed(lurk_cbs *cbs, lurk_cbs *out);
bool lurk_cbs_get_u16_prefixed(lurk_cbs *cbs, lurk_cbs *out);
bool lurk_cbs_get_u24_prefixed(lurk_cbs *cbs, lurk_cbs *out);
bool lurk_cbs_get_u32_prefixed(lurk_cbs *cbs, lurk_cbs *out);
bool lurk_cbs_equal(const lurk_cbs *cbs, const uint8_t *data, size_t len);

/*
 * DER: the contents of the next element if its (single-byte) tag matches.
 * Only definite lengths in minimal encoding are accepted.
 */
bool lurk_cbs_get_asn1(lurk_cbs *cbs, lurk_cbs *out, uint8_t tag);
/* Same, but out covers the whole element, header included. */
bool lurk_cbs_get_asn1_element(lurk_cbs *cbs, lurk_cbs *out, uint8_t tag);
bool lurk_cbs_peek_asn1_tag(const lurk_cbs *cbs, uint8_t tag);

#define LURK_ASN1_INTEGER      0x02
#define LURK_ASN1_OCTET_STRING 0x04
#define LURK_ASN1_UTF8STRING   0x0c
#define LURK_ASN1_SEQUENCE     0x30
#define LURK_ASN1_CONTEXT(n)   (0xa0 | (n))

typedef struct lurk_cbb {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t max;
    bool owned; /* buf was allocated here and may grow */
    bool failed;
} lurk_cbb;

/* A growable builder; it never holds more than max bytes. */
bool lurk_cbb_init(lurk_cbb *cbb, size_t initial, size_t max);
/* A builder over caller memory; fails instead of growing. */
void lurk_cbb_init_fixed(lurk_cbb *cbb, uint8_t *buf, size_t cap);
/* Zeroes and frees an owned buffer (it may have held secrets). */
void lurk_cbb_cleanup(lurk_cbb *cbb);
static inline bool lurk_cbb_ok(const lurk_cbb *cbb)
{
    return !cbb->failed;
}
static inline const uint8_t *lurk_cbb_data(const lurk_cbb *cbb)
{
    return cbb->buf;
}
static inline size_t lurk_cbb_len(const lurk_cbb *cbb)
{
    return cbb->len;
}
/* Hands an owned buffer to the caller (who frees it); the builder is emptied. */
uint8_t *lurk_cbb_release(lurk_cbb *cbb, size_t *len);

bool lurk_cbb_add_u8(lurk_cbb *cbb, uint8_t v);
bool lurk_cbb_add_u16(lurk_cbb *cbb, uint16_t v);
bool lurk_cbb_add_u24(lurk_cbb *cbb, uint32_t v);
bool lurk_cbb_add_u32(lurk_cbb *cbb, uint32_t v);
bool lurk_cbb_add_u64(lurk_cbb *cbb, uint64_t v);
bool lurk_cbb_add_bytes(lurk_cbb *cbb, const uint8_t *data, size_t len);
bool lurk_cbb_add_cbs(lurk_cbb *cbb, const lurk_cbs *cbs);
/* Reserves n bytes and returns where to write them. */
bool lurk_cbb_add_space(lurk_cbb *cbb, uint8_t **out, size_t n);
/* Drops what was written after the first len bytes (e.g. unused reserved space). */
bool lurk_cbb_truncate(lurk_cbb *cbb, size_t len);

/*
 * Length-prefixed blocks: begin writes a zero prefix of prefix_len bytes and
 * remembers where; end patches it with the length written since, failing if
 * it does not fit in the prefix.
 */
typedef struct lurk_cbb_mark {
    size_t pos;
    uint8_t prefix_len;
} lurk_cbb_mark;
bool lurk_cbb_begin(lurk_cbb *cbb, lurk_cbb_mark *mark, uint8_t prefix_len);
bool lurk_cbb_end(lurk_cbb *cbb, const lurk_cbb_mark *mark);
/* Convenience: a prefixed opaque vector in one call. */
bool lurk_cbb_add_prefixed(lurk_cbb *cbb, uint8_t prefix_len, const uint8_t *data, size_t len);

/* DER element with a single-byte tag; the content is written between begin and end. */
bool lurk_cbb_begin_asn1(lurk_cbb *cbb, lurk_cbb_mark *mark, uint8_t tag);
bool lurk_cbb_end_asn1(lurk_cbb *cbb, const lurk_cbb_mark *mark);

#endif
