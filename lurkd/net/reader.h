/*
 * The read side of a connection: bytes received, split into whole LURK
 * messages (lurk-lurk §5.1: the header's length counts the whole message).
 * Bytes are framed where they arrived; only an unfinished message is kept,
 * in a buffer that grows with what the peer has actually sent (never to the
 * length a header merely announces), and is wiped and freed as soon as it
 * empties: an idle connection holds no read buffer, and one that stops
 * mid-message holds about what it sent.
 */
#ifndef LURKD_NET_READER_H
#define LURKD_NET_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lurkd_reader {
    uint8_t *buf; /* an unfinished message, len bytes; NULL when empty */
    size_t len, cap;
};

enum lurkd_reader_status {
    LURKD_READER_OK,
    LURKD_READER_GARBAGE,  /* a length below 16: the stream cannot be resynchronised */
    LURKD_READER_OVERSIZE, /* a length above max_frame */
    LURKD_READER_NOMEM,
};

/* lurkd_reader_frame_fn receives each whole message, in order. */
typedef void (*lurkd_reader_frame_fn)(void *arg, const uint8_t *frame, size_t len);

/*
 * lurkd_reader_feed frames the data received after what the reader holds,
 * calls on_frame for every whole message and keeps the rest. On GARBAGE or
 * OVERSIZE, *length is the offending header's length and the connection
 * must be closed (frames before it were delivered).
 */
enum lurkd_reader_status lurkd_reader_feed(struct lurkd_reader *r, const uint8_t *data, size_t n,
                                           size_t max_frame, lurkd_reader_frame_fn on_frame,
                                           void *arg, uint32_t *length);
/* lurkd_reader_pending is true while an unfinished message is held. */
bool lurkd_reader_pending(const struct lurkd_reader *r);
/* lurkd_reader_clear wipes and frees what the reader holds (requests carry secrets). */
void lurkd_reader_clear(struct lurkd_reader *r);

#endif
