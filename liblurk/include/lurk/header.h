/*
 * LURK header (draft-mglt-lurk-lurk §4, §5.1): 16 bytes, big-endian.
 *
 *   designation(1) version(1) type(1) status(1) id(8) length(4)
 *
 * length counts the whole message, header included (draft text; pinned in
 * docs/protocol.md, "Header").
 */
#ifndef LURK_HEADER_H
#define LURK_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lurk/bytes.h"

#define LURK_HEADER_LEN 16
#define LURK_VERSION    1

/* Designation: lurk-lurk §4; tls12 and tls13 from their drafts' §2/§3. */
enum lurk_designation {
    LURK_DESIGNATION_LURK = 0,
    LURK_DESIGNATION_TLS12 = 1,
    LURK_DESIGNATION_TLS13 = 2,
};

/* Status values 0 and 1 are shared by every designation (lurk-lurk §8). */
#define LURK_STATUS_REQUEST 0
#define LURK_STATUS_SUCCESS 1

/* Project extensions use the private range of each designation's types. */
#define LURK_TYPE_PRIVATE_MIN 128

struct lurk_header {
    uint8_t designation;
    uint8_t version;
    uint8_t type;
    uint8_t status;
    uint64_t id;
    uint32_t length;
};

/* Reads 16 bytes; says nothing about whether length makes sense. */
bool lurk_header_parse(lurk_cbs *cbs, struct lurk_header *hdr);
bool lurk_header_write(lurk_cbb *cbb, const struct lurk_header *hdr);

/* What a stream reader does with a header it has just read. */
enum lurk_frame_verdict {
    LURK_FRAME_OK = 0,
    LURK_FRAME_TOO_SHORT, /* length < 16: the stream cannot be resynchronised */
    LURK_FRAME_TOO_LONG,  /* length > the configured maximum */
};
enum lurk_frame_verdict lurk_frame_check(const struct lurk_header *hdr, size_t max_frame);

/*
 * A whole message: the header and a view of exactly length - 16 payload
 * bytes. Fails when the buffer is not exactly one message long.
 */
struct lurk_message {
    struct lurk_header hdr;
    lurk_cbs payload;
};
bool lurk_message_parse(const uint8_t *buf, size_t len, struct lurk_message *msg);

/*
 * Writing a message: begin writes the header with a zero length, the caller
 * appends the payload, end patches the length to header + payload.
 */
bool lurk_message_begin(lurk_cbb *cbb, size_t *start, const struct lurk_header *hdr);
bool lurk_message_end(lurk_cbb *cbb, size_t start);

#endif
