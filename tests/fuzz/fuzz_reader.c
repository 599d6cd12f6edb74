/*
 * libFuzzer target: lurkd's stream framing (lurkd/net/reader.c), the first
 * code that sees a peer's bytes. The input is delivered in chunks whose
 * sizes the input's first bytes choose, with a max_frame it chooses too.
 * Whatever the chunking, the messages handed out must be exactly the
 * consecutive whole messages at the front of the stream, each with the
 * length its header says, "last" only on a message that ends a chunk, and
 * the reader must hold exactly the unfinished rest; a framing error must
 * come from a header that deserves it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/header.h"
#include "net/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
    const uint8_t *stream; /* the whole stream */
    size_t delivered;      /* bytes of it handed out as messages */
    size_t chunk_end;      /* where the chunk being fed ends in the stream */
};

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct check *c = arg;
    struct lurk_header hdr;
    lurk_cbs cbs;

    lurk_cbs_init(&cbs, frame, len);
    if (len < LURK_HEADER_LEN || !lurk_header_parse(&cbs, &hdr) || hdr.length != len ||
        memcmp(frame, c->stream + c->delivered, len) != 0)
        abort();
    c->delivered += len;
    if (c->delivered > c->chunk_end)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lurkd_reader r = {0};
    struct check c;
    size_t max_frame, off;
    uint32_t length;

    if (size < 3)
        return 0;
    /* max_frame between 16 and 16 KiB + 15, and a chunking seed. */
    max_frame = 16 + ((size_t)data[0] << 6 | (data[1] & 0x3f));
    uint32_t seed = data[2] | 1u;
    data += 3;
    size -= 3;
    c = (struct check){.stream = data};
    for (off = 0; off < size;) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 97;
        if (chunk > size - off)
            chunk = size - off;
        c.chunk_end = off + chunk;
        enum lurkd_reader_status st =
            lurkd_reader_feed(&r, data + off, chunk, max_frame, on_frame, &c, &length);
        if (st == LURKD_READER_NOMEM)
            abort();
        if (st != LURKD_READER_OK) {
            /* The header at c.delivered must be the culprit. */
            const uint8_t *h = data + c.delivered;
            uint32_t len =
                (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
            if (c.delivered + LURK_HEADER_LEN > c.chunk_end || len != length ||
                (st == LURKD_READER_GARBAGE) != (len < LURK_HEADER_LEN) ||
                (st == LURKD_READER_OVERSIZE && len <= max_frame))
                abort();
            break;
        }
        /* The reader holds exactly what follows the messages handed out. */
        if (r.len != c.chunk_end - c.delivered ||
            (r.len > 0 && memcmp(r.buf, data + c.delivered, r.len) != 0))
            abort();
        off += chunk;
    }
    lurkd_reader_clear(&r);
    return 0;
}
