/*
 * libFuzzer target: the provider's content classifier (provider/prov_content.c),
 * which reads the bytes libssl asks the provider to sign to find their LURK
 * exchange (docs/provider.md, "What each OpenSSL operation becomes"). It never fails;
 * it must not read outside its input either.
 */
#include <stddef.h>
#include <stdint.h>

#include "prov_content.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lurk_prov_content content;

    lurk_prov_content_classify(data, size, &content);
    return 0;
}
