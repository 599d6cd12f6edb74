/* JSON documents through jansson; see jsondoc.h. */
#include "jsondoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/hex.h"

/*
 * No JSON_DECODE_ANY (a document is an object or array), no
 * JSON_DISABLE_EOF_CHECK (nothing may follow it), no JSON_ALLOW_NUL.
 */
#define JSONDOC_FLAGS JSON_REJECT_DUPLICATES

static json_t *jsondoc_result(json_t *root, const json_error_t *je, char *err, size_t errlen)
{
    if (root != NULL || err == NULL || errlen == 0)
        return root;
    /* jansson reports line -1 when it never read the text (a file it could not open). */
    if (je->line < 0)
        snprintf(err, errlen, "%s", je->text);
    else
        snprintf(err, errlen, "line %d column %d: %s", je->line, je->column, je->text);
    return NULL;
}

json_t *lurk_jsondoc_load(const char *path, char *err, size_t errlen)
{
    json_error_t je;

    return jsondoc_result(json_load_file(path, JSONDOC_FLAGS, &je), &je, err, errlen);
}

json_t *lurk_jsondoc_parse(const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t je;

    return jsondoc_result(json_loadb(text, len, JSONDOC_FLAGS, &je), &je, err, errlen);
}

json_t *lurk_jsondoc_path(const json_t *v, const char *path)
{
    json_t *cur = (json_t *)v; /* jansson's lookups take and give non-const nodes */
    const char *c = path;

    if (path == NULL)
        return NULL;
    while (cur != NULL) {
        const char *dot = strchr(c, '.');
        size_t n = dot != NULL ? (size_t)(dot - c) : strlen(c);
        if (n == 0)
            return NULL;
        if (json_is_array(cur)) {
            size_t idx = 0;
            for (size_t i = 0; i < n; i++) {
                if (c[i] < '0' || c[i] > '9' || idx > (SIZE_MAX - 9) / 10)
                    return NULL;
                idx = idx * 10 + (size_t)(c[i] - '0');
            }
            cur = json_array_get(cur, idx);
        } else {
            cur = json_object_getn(cur, c, n);
        }
        if (dot == NULL)
            return cur;
        c = dot + 1;
    }
    return NULL;
}

const char *lurk_jsondoc_path_string(const json_t *v, const char *path)
{
    return json_string_value(lurk_jsondoc_path(v, path));
}

uint8_t *lurk_jsondoc_hex(const json_t *node, size_t *len)
{
    const char *s = json_string_value(node);
    size_t slen = json_string_length(node);
    uint8_t *out;

    *len = 0;
    /* At most one byte per two characters; +1 keeps malloc(0) away. */
    if (s == NULL || (out = malloc(slen / 2 + 1)) == NULL)
        return NULL;
    if (!lurk_hex_decode(s, out, slen / 2 + 1, len)) {
        free(out);
        *len = 0;
        return NULL;
    }
    return out;
}
