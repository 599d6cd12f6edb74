/* LURK header codec and framing rules; see header.h. */
#include "lurk/header.h"

bool lurk_header_parse(lurk_cbs *cbs, struct lurk_header *hdr)
{
    return lurk_cbs_get_u8(cbs, &hdr->designation) && lurk_cbs_get_u8(cbs, &hdr->version) &&
           lurk_cbs_get_u8(cbs, &hdr->type) && lurk_cbs_get_u8(cbs, &hdr->status) &&
           lurk_cbs_get_u64(cbs, &hdr->id) && lurk_cbs_get_u32(cbs, &hdr->length);
}

bool lurk_header_write(lurk_cbb *cbb, const struct lurk_header *hdr)
{
    lurk_cbb_add_u8(cbb, hdr->designation);
    lurk_cbb_add_u8(cbb, hdr->version);
    lurk_cbb_add_u8(cbb, hdr->type);
    lurk_cbb_add_u8(cbb, hdr->status);
    lurk_cbb_add_u64(cbb, hdr->id);
    lurk_cbb_add_u32(cbb, hdr->length);
    return lurk_cbb_ok(cbb);
}

enum lurk_frame_verdict lurk_frame_check(const struct lurk_header *hdr, size_t max_frame)
{
    if (hdr->length < LURK_HEADER_LEN)
        return LURK_FRAME_TOO_SHORT;
    if (hdr->length > max_frame)
        return LURK_FRAME_TOO_LONG;
    return LURK_FRAME_OK;
}

bool lurk_message_parse(const uint8_t *buf, size_t len, struct lurk_message *msg)
{
    lurk_cbs cbs;

    lurk_cbs_init(&cbs, buf, len);
    if (!lurk_header_parse(&cbs, &msg->hdr) || msg->hdr.length != len)
        return false;
    msg->payload = cbs;
    return true;
}

bool lurk_message_begin(lurk_cbb *cbb, size_t *start, const struct lurk_header *hdr)
{
    struct lurk_header h = *hdr;

    *start = lurk_cbb_len(cbb);
    h.length = 0;
    return lurk_header_write(cbb, &h);
}

bool lurk_message_end(lurk_cbb *cbb, size_t start)
{
    size_t len;

    if (!lurk_cbb_ok(cbb))
        return false;
    len = lurk_cbb_len(cbb) - start;
    if (len > UINT32_MAX)
        return false;
    /* The length field is the last 4 bytes of the header. */
    for (int i = 0; i < 4; i++)
        cbb->buf[start + 12 + i] = (uint8_t)(len >> (8 * (3 - i)));
    return true;
}
