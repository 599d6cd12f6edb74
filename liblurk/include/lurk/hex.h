/* Hex encoding for logs, lurkctl output, config values and test vectors. */
#ifndef LURK_HEX_H
#define LURK_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes 2*len lower-case hex digits and a NUL into out (2*len+1 bytes). */
void lurk_hex_encode(const uint8_t *data, size_t len, char *out);
/* The value of one hex digit (either case), or -1. */
int lurk_hex_digit_value(char c);
/*
 * Decodes hex (upper or lower case; ':' and whitespace between byte pairs
 * are skipped) into out, at most max bytes. False on odd digits, a bad
 * character or overflow.
 */
bool lurk_hex_decode(const char *hex, uint8_t *out, size_t max, size_t *len);

#endif
