/*
 * Helpers for tests that read the external vectors (tests/vectors/data):
 * load a JSON file from a directory (jansson, through tools/jsondoc.h) and
 * turn hex fields into bytes. Failures print why to stderr so a failing
 * test says which field was missing or malformed.
 */
#ifndef LURK_TEST_VECTORS_H
#define LURK_TEST_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsondoc.h"

/* Bytes owned by the caller; release with lurk_vectors_bytes_free. */
struct lurk_vectors_bytes {
    uint8_t *data;
    size_t len;
};

/* Parses dir/name (the tests pass LURK_VECTORS_DIR); NULL on failure. Free with json_decref. */
json_t *lurk_vectors_load(const char *dir, const char *name);

/*
 * Decodes a hex string node. An empty string gives len 0 (data is still a
 * valid allocation). False if node is not a string of hex digit pairs.
 */
bool lurk_vectors_hex(const json_t *node, struct lurk_vectors_bytes *out);
/* Same for the node at a dotted path (see lurk_jsondoc_path). */
bool lurk_vectors_hex_path(const json_t *root, const char *path, struct lurk_vectors_bytes *out);
/* Decodes into out, which must be exactly len bytes long. */
bool lurk_vectors_hex_fixed(const json_t *node, uint8_t *out, size_t len);
bool lurk_vectors_hex_path_fixed(const json_t *root, const char *path, uint8_t *out, size_t len);
/*
 * Concatenates every member of an object (in document order) or element of
 * an array, each a hex string: e.g. a "handshake_messages" object whose
 * members are the messages in the order they were sent.
 */
bool lurk_vectors_hex_concat(const json_t *node, struct lurk_vectors_bytes *out);
/* Zeroes nothing (test data is public) and frees; safe on an empty struct. */
void lurk_vectors_bytes_free(struct lurk_vectors_bytes *b);

/*
 * A pool of decoded fields freed together, so a test can pull many fields
 * without a free per field. Start with a zeroed struct.
 */
struct lurk_vectors_pool {
    struct lurk_vectors_bytes *items;
    size_t n;
    size_t cap;
};
/* Decodes the hex field at path into the pool; NULL on failure (reason on stderr). */
const uint8_t *lurk_vectors_pool_hex(struct lurk_vectors_pool *pool, const json_t *root,
                                     const char *path, size_t *len);
/* Same for lurk_vectors_hex_concat of the node at path. */
const uint8_t *lurk_vectors_pool_concat(struct lurk_vectors_pool *pool, const json_t *root,
                                        const char *path, size_t *len);
/* Same for a node already looked up. */
const uint8_t *lurk_vectors_pool_node(struct lurk_vectors_pool *pool, const json_t *node,
                                      size_t *len);
void lurk_vectors_pool_free(struct lurk_vectors_pool *pool);

#endif
