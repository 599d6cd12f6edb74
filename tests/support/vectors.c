/* Vector file helpers; see vectors.h. */
#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/hex.h"

struct lurk_json *lurk_vectors_load(const char *dir, const char *name)
{
    char path[4096];
    char err[512];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        fprintf(stderr, "vectors: path too long: %s/%s\n", dir, name);
        return NULL;
    }
    struct lurk_json *root = lurk_json_parse_file(path, err, sizeof(err));
    if (root == NULL)
        fprintf(stderr, "vectors: %s\n", err);
    return root;
}

bool lurk_vectors_hex(const struct lurk_json *node, struct lurk_vectors_bytes *out)
{
    size_t slen;
    const char *s = lurk_json_string(node, &slen);

    out->data = NULL;
    out->len = 0;
    if (s == NULL) {
        fprintf(stderr, "vectors: not a string\n");
        return false;
    }
    /* Hex needs at most one byte per two characters; +1 keeps malloc(0) away. */
    out->data = malloc(slen / 2 + 1);
    if (out->data == NULL)
        return false;
    if (!lurk_hex_decode(s, out->data, slen / 2 + 1, &out->len) || out->len * 2 != slen) {
        fprintf(stderr, "vectors: not plain hex: \"%.40s%s\"\n", s, slen > 40 ? "..." : "");
        lurk_vectors_bytes_free(out);
        return false;
    }
    return true;
}

bool lurk_vectors_hex_path(const struct lurk_json *root, const char *path,
                           struct lurk_vectors_bytes *out)
{
    const struct lurk_json *node = lurk_json_path(root, path);

    if (node == NULL) {
        out->data = NULL;
        out->len = 0;
        fprintf(stderr, "vectors: no field %s\n", path);
        return false;
    }
    if (!lurk_vectors_hex(node, out)) {
        fprintf(stderr, "vectors: (field %s)\n", path);
        return false;
    }
    return true;
}

bool lurk_vectors_hex_fixed(const struct lurk_json *node, uint8_t *out, size_t len)
{
    struct lurk_vectors_bytes b;

    if (!lurk_vectors_hex(node, &b))
        return false;
    bool ok = b.len == len;
    if (ok)
        memcpy(out, b.data, len);
    else
        fprintf(stderr, "vectors: %zu bytes where %zu were expected\n", b.len, len);
    lurk_vectors_bytes_free(&b);
    return ok;
}

bool lurk_vectors_hex_path_fixed(const struct lurk_json *root, const char *path, uint8_t *out,
                                 size_t len)
{
    const struct lurk_json *node = lurk_json_path(root, path);

    if (node == NULL) {
        fprintf(stderr, "vectors: no field %s\n", path);
        return false;
    }
    if (!lurk_vectors_hex_fixed(node, out, len)) {
        fprintf(stderr, "vectors: (field %s)\n", path);
        return false;
    }
    return true;
}

bool lurk_vectors_hex_concat(const struct lurk_json *node, struct lurk_vectors_bytes *out)
{
    size_t total = 0, n = lurk_json_count(node);

    out->data = NULL;
    out->len = 0;
    if (lurk_json_type(node) != LURK_JSON_ARRAY && lurk_json_type(node) != LURK_JSON_OBJECT) {
        fprintf(stderr, "vectors: concat of something that is not an object or array\n");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        size_t slen;
        if (lurk_json_string(lurk_json_at(node, i), &slen) == NULL) {
            fprintf(stderr, "vectors: concat member %zu is not a string\n", i);
            return false;
        }
        total += slen / 2;
    }
    out->data = malloc(total + 1);
    if (out->data == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        struct lurk_vectors_bytes part;
        if (!lurk_vectors_hex(lurk_json_at(node, i), &part)) {
            lurk_vectors_bytes_free(out);
            return false;
        }
        memcpy(out->data + out->len, part.data, part.len);
        out->len += part.len;
        lurk_vectors_bytes_free(&part);
    }
    return true;
}

void lurk_vectors_bytes_free(struct lurk_vectors_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static const uint8_t *pool_add(struct lurk_vectors_pool *pool, struct lurk_vectors_bytes *b,
                               size_t *len)
{
    if (pool->n == pool->cap) {
        size_t cap = pool->cap == 0 ? 16 : pool->cap * 2;
        struct lurk_vectors_bytes *items = realloc(pool->items, cap * sizeof(*items));
        if (items == NULL) {
            lurk_vectors_bytes_free(b);
            return NULL;
        }
        pool->items = items;
        pool->cap = cap;
    }
    pool->items[pool->n++] = *b;
    if (len != NULL)
        *len = b->len;
    return b->data;
}

const uint8_t *lurk_vectors_pool_hex(struct lurk_vectors_pool *pool, const struct lurk_json *root,
                                     const char *path, size_t *len)
{
    struct lurk_vectors_bytes b;

    if (!lurk_vectors_hex_path(root, path, &b))
        return NULL;
    return pool_add(pool, &b, len);
}

const uint8_t *lurk_vectors_pool_concat(struct lurk_vectors_pool *pool,
                                        const struct lurk_json *root, const char *path, size_t *len)
{
    struct lurk_vectors_bytes b;
    const struct lurk_json *node = lurk_json_path(root, path);

    if (node == NULL) {
        fprintf(stderr, "vectors: no field %s\n", path);
        return NULL;
    }
    if (!lurk_vectors_hex_concat(node, &b))
        return NULL;
    return pool_add(pool, &b, len);
}

const uint8_t *lurk_vectors_pool_node(struct lurk_vectors_pool *pool, const struct lurk_json *node,
                                      size_t *len)
{
    struct lurk_vectors_bytes b;

    if (!lurk_vectors_hex(node, &b))
        return NULL;
    return pool_add(pool, &b, len);
}

void lurk_vectors_pool_free(struct lurk_vectors_pool *pool)
{
    for (size_t i = 0; i < pool->n; i++)
        lurk_vectors_bytes_free(&pool->items[i]);
    free(pool->items);
    pool->items = NULL;
    pool->n = pool->cap = 0;
}
