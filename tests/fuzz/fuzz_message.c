/*
 * libFuzzer target: a whole LURK message as a server or client receives it.
 * The header decides which payload decoder runs (FUZZ_DESIGNATION restricts
 * the target to one designation: lurk, tls12 or tls13). Whatever decodes
 * must re-encode to the same bytes; nothing may crash, leak or read out of
 * bounds (the build adds ASan and UBSan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/header.h"
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lurk_message msg;
    lurk_cbb out;
    uint8_t st;

    if (!lurk_message_parse(data, size, &msg)) {
        /* Fix the length field so the payload decoders see most inputs. */
        if (size < LURK_HEADER_LEN || size > 1 << 20)
            return 0;
        uint8_t *copy = malloc(size);
        if (copy == NULL)
            return 0;
        memcpy(copy, data, size);
        for (int i = 0; i < 4; i++)
            copy[12 + i] = (uint8_t)(size >> (8 * (3 - i)));
        int r = LLVMFuzzerTestOneInput(copy, size);
        free(copy);
        return r;
    }
#ifdef FUZZ_DESIGNATION
    if (msg.hdr.designation != FUZZ_DESIGNATION)
        return 0;
#endif
    if (!lurk_cbb_init(&out, 256, 1 << 21))
        return 0;
    if (msg.hdr.status == LURK_STATUS_REQUEST || msg.hdr.status == LURK_STATUS_SUCCESS)
        st = lurk_test_roundtrip(msg.hdr.designation, msg.hdr.type,
                                 msg.hdr.status == LURK_STATUS_REQUEST, &msg.payload, &out);
    else
        st = lurk_test_roundtrip_error(&msg.payload, &out);
    /* A decoder's success promises that the encoder gives the wire bytes back. */
    if (st == LURK_STATUS_SUCCESS &&
        (lurk_cbb_len(&out) != lurk_cbs_len(&msg.payload) ||
         memcmp(lurk_cbb_data(&out), lurk_cbs_data(&msg.payload), lurk_cbb_len(&out)) != 0))
        abort();
    lurk_cbb_cleanup(&out);
    return 0;
}
