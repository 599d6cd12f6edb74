/*
 * Names of designations, message types and statuses, as the drafts spell
 * them (lurk-lurk §4, tls12-05 §3, tls13-01 §3), for logs, audit lines,
 * metrics labels and lurkctl. Kept apart from header.h because it needs
 * every designation's codec, and those codecs need the header.
 */
#ifndef LURK_NAMES_H
#define LURK_NAMES_H

#include <stdint.h>

/* lurk_designation_name returns "lurk", "tls12", "tls13" or "unknown"; never NULL. */
const char *lurk_designation_name(uint8_t designation);

/* lurk_type_name returns the name of type within designation, or "unknown"; never NULL. */
const char *lurk_type_name(uint8_t designation, uint8_t type);

/* lurk_status_name returns the name of status within designation, or "unknown"; never NULL. */
const char *lurk_status_name(uint8_t designation, uint8_t status);

#endif
