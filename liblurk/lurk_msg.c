/* Designation "lurk" payload codecs; see lurk.h. */
#include "lurk/lurk.h"
#include "lurk/names.h"

#include <string.h>

uint8_t lurk_empty_payload_decode(const lurk_cbs *payload)
{
    return lurk_cbs_len(payload) == 0 ? LURK_STATUS_SUCCESS : LURK_STATUS_INVALID_FORMAT;
}

uint8_t lurk_capabilities_response_decode(const lurk_cbs *payload,
                                          struct lurk_capabilities_response *out)
{
    lurk_cbs in = *payload, list;

    memset(out, 0, sizeof(*out));
    /* supported_extensions_list<2..2^16-2>: at least one pair, whole pairs only. */
    if (!lurk_cbs_get_u16_prefixed(&in, &list) || lurk_cbs_len(&list) < 2 ||
        lurk_cbs_len(&list) % 2 != 0 || lurk_cbs_len(&list) / 2 > LURK_MAX_EXTENSIONS)
        return LURK_STATUS_INVALID_FORMAT;
    while (lurk_cbs_len(&list) > 0) {
        struct lurk_extension_id *e = &out->extensions[out->n_extensions++];
        lurk_cbs_get_u8(&list, &e->designation);
        lurk_cbs_get_u8(&list, &e->version);
    }
    if (!lurk_cbs_copy_bytes(&in, out->state, LURK_STATE_LEN) || lurk_cbs_len(&in) != 0)
        return LURK_STATUS_INVALID_FORMAT;
    return LURK_STATUS_SUCCESS;
}

bool lurk_capabilities_response_encode(lurk_cbb *cbb, const struct lurk_capabilities_response *in)
{
    lurk_cbb_mark m;

    if (in->n_extensions == 0 || in->n_extensions > LURK_MAX_EXTENSIONS)
        return false;
    lurk_cbb_begin(cbb, &m, 2);
    for (size_t i = 0; i < in->n_extensions; i++) {
        lurk_cbb_add_u8(cbb, in->extensions[i].designation);
        lurk_cbb_add_u8(cbb, in->extensions[i].version);
    }
    lurk_cbb_end(cbb, &m);
    lurk_cbb_add_bytes(cbb, in->state, LURK_STATE_LEN);
    return lurk_cbb_ok(cbb);
}

uint8_t lurk_error_payload_decode(const lurk_cbs *payload, struct lurk_error_payload *out)
{
    memset(out, 0, sizeof(*out));
    if (lurk_cbs_len(payload) == 0)
        return LURK_STATUS_SUCCESS;
    if (lurk_cbs_len(payload) != LURK_STATE_LEN)
        return LURK_STATUS_INVALID_FORMAT;
    memcpy(out->state, lurk_cbs_data(payload), LURK_STATE_LEN);
    out->has_state = true;
    return LURK_STATUS_SUCCESS;
}

bool lurk_error_payload_encode(lurk_cbb *cbb, const struct lurk_error_payload *in)
{
    if (in->has_state)
        lurk_cbb_add_bytes(cbb, in->state, LURK_STATE_LEN);
    return lurk_cbb_ok(cbb);
}

uint8_t lurk_stats_response_decode(const lurk_cbs *payload, lurk_cbs *text)
{
    const uint8_t *p = lurk_cbs_data(payload);

    for (size_t i = 0; i < lurk_cbs_len(payload); i++)
        if ((p[i] < 0x20 || p[i] > 0x7e) && p[i] != '\n' && p[i] != '\t')
            return LURK_STATUS_INVALID_FORMAT;
    *text = *payload;
    return LURK_STATUS_SUCCESS;
}

const char *lurk_lurk_type_name(uint8_t type)
{
    switch (type) {
    case LURK_TYPE_CAPABILITIES:
        return "capabilities";
    case LURK_TYPE_PING:
        return "ping";
    case LURK_TYPE_STATS:
        return "stats";
    default:
        return "unknown";
    }
}

const char *lurk_lurk_status_name(uint8_t status)
{
    static const char *const names[] = {
        "request",           "success",      "undefined_error", "invalid_format",
        "invalid_extension", "invalid_type", "invalid_status",  "temporary_failure",
    };
    if (status == LURK_STATUS_NOT_ALLOWED)
        return "not_allowed";
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}
