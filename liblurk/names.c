/* Names for logs; see names.h. */
#include "lurk/names.h"

#include "lurk/header.h"
#include "lurk/lurk.h"
#include "lurk/tls12.h"
#include "lurk/tls13.h"

const char *lurk_designation_name(uint8_t designation)
{
    switch (designation) {
    case LURK_DESIGNATION_LURK:
        return "lurk";
    case LURK_DESIGNATION_TLS12:
        return "tls12";
    case LURK_DESIGNATION_TLS13:
        return "tls13";
    default:
        return "unknown";
    }
}

const char *lurk_type_name(uint8_t designation, uint8_t type)
{
    switch (designation) {
    case LURK_DESIGNATION_LURK:
        return lurk_lurk_type_name(type);
    case LURK_DESIGNATION_TLS12:
        return lurk_tls12_type_name(type);
    case LURK_DESIGNATION_TLS13:
        return lurk_tls13_type_name(type);
    default:
        return "unknown";
    }
}

const char *lurk_status_name(uint8_t designation, uint8_t status)
{
    switch (designation) {
    case LURK_DESIGNATION_LURK:
        return lurk_lurk_status_name(status);
    case LURK_DESIGNATION_TLS12:
        return lurk_tls12_status_name(status);
    case LURK_DESIGNATION_TLS13:
        return lurk_tls13_status_name(status);
    default:
        return "unknown";
    }
}
