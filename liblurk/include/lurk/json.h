/*
 * A small JSON reader (RFC 8259) for test vectors, test configuration and
 * the trace files lurkctl replays (lurkctl tls13).
 *
 * lurk_json_parse() builds a tree that the caller owns and releases with
 * lurk_json_free(); every node reached through the lookup functions belongs
 * to that tree and lives until it is freed. The reader is strict: one value
 * per document, no trailing commas, no comments, no duplicate keys in an
 * object, no control characters inside strings, nesting bounded by
 * LURK_JSON_MAX_DEPTH (so hostile input cannot exhaust the stack).
 *
 * Strings are decoded (escapes, including \uXXXX and surrogate pairs, become
 * UTF-8) and kept NUL-terminated with their length; a \u0000 escape is
 * rejected so that every string is also a valid C string.
 *
 * Lookups never fail loudly: asking an array for a key, or a string for a
 * number, returns NULL / false, so a test can chain them and assert once.
 */
#ifndef LURK_JSON_H
#define LURK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LURK_JSON_MAX_DEPTH 64

enum lurk_json_type {
    LURK_JSON_NULL,
    LURK_JSON_BOOL,
    LURK_JSON_NUMBER,
    LURK_JSON_STRING,
    LURK_JSON_ARRAY,
    LURK_JSON_OBJECT,
};

struct lurk_json;

/*
 * Parses len bytes of text. On failure returns NULL and, when err is not
 * NULL, writes a message with the line and column into err (errlen bytes).
 */
struct lurk_json *lurk_json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Reads the whole file and parses it; errors as above (including I/O ones). */
struct lurk_json *lurk_json_parse_file(const char *path, char *err, size_t errlen);
/* Frees a tree returned by a parse function; NULL is a no-op. */
void lurk_json_free(struct lurk_json *root);

/* The type of v; a missing node (NULL) also reads as LURK_JSON_NULL, see lurk_json_is_null. */
enum lurk_json_type lurk_json_type(const struct lurk_json *v);

/* Number of elements of an array or members of an object; 0 for anything else. */
size_t lurk_json_count(const struct lurk_json *v);
/* The i-th element of an array, or the value of the i-th member of an object. */
const struct lurk_json *lurk_json_at(const struct lurk_json *v, size_t i);
/* The key of the i-th member of an object (in document order). */
const char *lurk_json_key_at(const struct lurk_json *v, size_t i);
/* The value of member key of an object. */
const struct lurk_json *lurk_json_get(const struct lurk_json *v, const char *key);
/*
 * Walks a dotted path from v: each component is an object key, or a decimal
 * index when the current node is an array ("handshakes.0.client_random").
 * Keys that themselves contain '.' cannot be named here; use lurk_json_get.
 */
const struct lurk_json *lurk_json_path(const struct lurk_json *v, const char *path);

/* The decoded string (NUL-terminated); len may be NULL. NULL if not a string. */
const char *lurk_json_string(const struct lurk_json *v, size_t *len);
/* The number as a double. */
bool lurk_json_number(const struct lurk_json *v, double *out);
/* The number as an integer, only if it was written without fraction or exponent and fits. */
bool lurk_json_int(const struct lurk_json *v, int64_t *out);
bool lurk_json_bool(const struct lurk_json *v, bool *out);
/* True only for a JSON null that is present in the document (false for NULL). */
bool lurk_json_is_null(const struct lurk_json *v);

/* Shorthands: lurk_json_string(lurk_json_path(v, path), NULL) and so on. */
const char *lurk_json_path_string(const struct lurk_json *v, const char *path);
bool lurk_json_path_int(const struct lurk_json *v, const char *path, int64_t *out);

#endif
