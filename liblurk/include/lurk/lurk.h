/*
 * Designation "lurk", version 1 (draft-mglt-lurk-lurk §4-§7): capabilities,
 * ping, and the error payload every designation uses.
 */
#ifndef LURK_LURK_H
#define LURK_LURK_H

#include <stdbool.h>
#include <stdint.h>

#include "lurk/bytes.h"
#include "lurk/header.h"

/* LURKType (§4). */
enum lurk_type {
    LURK_TYPE_CAPABILITIES = 0,
    LURK_TYPE_PING = 1,
    /* Project extension (private range): lurkd's counters as Prometheus text. */
    LURK_TYPE_STATS = 128,
};

/* LURKStatus (§4); temporary_failure is 7 as in the IANA table (§8). */
enum lurk_lurk_status {
    LURK_STATUS_UNDEFINED_ERROR = 2,
    LURK_STATUS_INVALID_FORMAT = 3,
    LURK_STATUS_INVALID_EXTENSION = 4,
    LURK_STATUS_INVALID_TYPE = 5,
    LURK_STATUS_INVALID_STATUS = 6,
    LURK_STATUS_TEMPORARY_FAILURE = 7,
    /*
     * Project extension, answered to project types only (docs/protocol.md,
     * "lurk stats"): the peer is not allowed this request. The draft has no
     * such status and leaves 8..255 unassigned; 128 keeps clear of them.
     */
    LURK_STATUS_NOT_ALLOWED = 128,
};

/* lurk_state: an opaque 32-bit configuration fingerprint (§4.2, pinned). */
#define LURK_STATE_LEN 4

/* Bound on the extensions a capabilities response may list. */
#define LURK_MAX_EXTENSIONS 16

struct lurk_extension_id {
    uint8_t designation;
    uint8_t version;
};

/*
 * capabilities response (§6.2, pinned):
 *   uint16 len, len/2 x (designation(1) version(1)), lurk_state(4).
 * The draft's supported_type list is undefined and not sent.
 */
struct lurk_capabilities_response {
    struct lurk_extension_id extensions[LURK_MAX_EXTENSIONS];
    size_t n_extensions;
    uint8_t state[LURK_STATE_LEN];
};

/*
 * Error payload (§4.2, pinned): empty, or exactly 4 bytes of lurk_state.
 */
struct lurk_error_payload {
    bool has_state;
    uint8_t state[LURK_STATE_LEN];
};

/* Decoders return LURK_STATUS_SUCCESS or the status to answer with. */
uint8_t lurk_empty_payload_decode(const lurk_cbs *payload);
uint8_t lurk_capabilities_response_decode(const lurk_cbs *payload,
                                          struct lurk_capabilities_response *out);
bool lurk_capabilities_response_encode(lurk_cbb *cbb, const struct lurk_capabilities_response *in);
uint8_t lurk_error_payload_decode(const lurk_cbs *payload, struct lurk_error_payload *out);
bool lurk_error_payload_encode(lurk_cbb *cbb, const struct lurk_error_payload *in);

/*
 * stats response (project type 128, protocol.md): the rest of the payload is
 * Prometheus text exposition (format 0.0.4): printable ASCII, tabs and
 * newlines; anything else is invalid_format. The request is empty.
 */
uint8_t lurk_stats_response_decode(const lurk_cbs *payload, lurk_cbs *text);

const char *lurk_lurk_type_name(uint8_t type);
const char *lurk_lurk_status_name(uint8_t status);

#endif
