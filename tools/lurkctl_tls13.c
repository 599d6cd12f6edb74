/* lurkctl: tls13 output. */
#include <stdio.h>

#include "lurk/tls13.h"
#include "lurkctl.h"

bool lurkctl_print_tls13_capabilities(const lurk_cbs *payload)
{
    struct lurk_tls13_capabilities_response caps;
    lurk_cbs in = *payload, l;
    uint8_t t;
    uint16_t v;

    if (lurk_tls13_capabilities_response_decode(&in, &caps) != LURK_STATUS_SUCCESS ||
        lurk_cbs_len(&in) != 0) {
        printf("tls13 capabilities: malformed response\n");
        return false;
    }
    printf("tls13 capabilities (state %02x%02x%02x%02x):\n  types:", caps.state[0],
           caps.state[1], caps.state[2], caps.state[3]);
    for (l = caps.types; lurk_cbs_get_u8(&l, &t);)
        printf(" %s", lurk_tls13_type_name(t));
    printf("\n  signature schemes:");
    for (l = caps.signature_schemes; lurk_cbs_get_u16(&l, &v);)
        printf(" 0x%04x", v);
    printf("\n  named groups:");
    for (l = caps.named_groups; lurk_cbs_get_u16(&l, &v);)
        printf(" %u", v);
    struct lurk_tls12_typed_certificate tc;
    size_t n = 0;
    for (l = caps.typed_certificates; lurk_tls12_typed_certificate_next(&l, &tc);)
        n++;
    printf("\n  keys usable by this client: %zu\n", n);
    return true;
}
