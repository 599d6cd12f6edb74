/* Hex encoding; see hex.h. */
#include "lurk/hex.h"

#include <ctype.h>

void lurk_hex_encode(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

int lurk_hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool lurk_hex_decode(const char *hex, uint8_t *out, size_t max, size_t *len)
{
    size_t n = 0;

    for (const char *p = hex; *p != '\0';) {
        if (*p == ':' || isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        int hi = lurk_hex_digit_value(p[0]);
        int lo = hi < 0 ? -1 : lurk_hex_digit_value(p[1]);
        if (hi < 0 || lo < 0 || n >= max)
            return false;
        out[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    *len = n;
    return true;
}
