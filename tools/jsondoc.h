/*
 * JSON documents read by lurkctl's trace replay (lurkctl tls13) and by the
 * tests' vectors, through jansson. It lives next to the tools, not in
 * liblurk, so that the protocol library (and so lurkd and lurk.so) needs no
 * JSON at all.
 *
 * Reading is strict: the document is one object or array with nothing
 * after it, an object may not repeat a key, and a string may not contain
 * \u0000 (every string is then also a C string). Errors name the line and
 * column.
 */
#ifndef LURK_JSONDOC_H
#define LURK_JSONDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Parses the file at path; the caller releases the tree with json_decref.
 * On failure NULL, and err (errlen bytes) says why: "line L column C: ..."
 * for a malformed document, jansson's message (which names the file) for
 * one that cannot be read.
 */
json_t *lurk_jsondoc_load(const char *path, char *err, size_t errlen);
/* The same for len bytes of text. */
json_t *lurk_jsondoc_parse(const char *text, size_t len, char *err, size_t errlen);

/*
 * Walks a dotted path from v: each component is an object key, or a decimal
 * index when the current node is an array ("handshakes.0.client_random").
 * NULL when any step is missing. Keys containing '.' need json_object_get.
 */
json_t *lurk_jsondoc_path(const json_t *v, const char *path);
/* The string at path, or NULL when absent or not a string. */
const char *lurk_jsondoc_path_string(const json_t *v, const char *path);

/*
 * Decodes a string node of hex (as lurk_hex_decode reads it) into a
 * malloc'd buffer of *len bytes (an allocation even when *len is 0). NULL
 * when node is not a string or not hex.
 */
uint8_t *lurk_jsondoc_hex(const json_t *node, size_t *len);

#endif
