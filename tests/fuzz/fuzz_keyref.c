/*
 * libFuzzer target: the key reference decoder (liblurk/keyref.c: the DER
 * inside a "LURK KEY REFERENCE" PEM block, read by nginx and haproxy at
 * startup through the provider; docs/provider.md "Key reference"). A key
 * reference that parses must re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/keyref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lurk_keyref ref;

    if (lurk_keyref_parse(data, size, &ref) == LURK_KEYREF_OK) {
        lurk_cbb out;
        if (lurk_cbb_init(&out, size + 16, size + 1024)) {
            if (!lurk_keyref_encode(&out, ref.key_id, lurk_cbs_data(&ref.spki),
                                    lurk_cbs_len(&ref.spki), ref.has_server ? ref.server : NULL) ||
                lurk_cbb_len(&out) != size || memcmp(lurk_cbb_data(&out), data, size) != 0)
                abort();
            lurk_cbb_cleanup(&out);
        }
    }
    return 0;
}
