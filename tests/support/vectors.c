/* Vector file helpers; see vectors.h. */
#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *lurk_vectors_load(const char *dir, const char *name)
{
    char path[4096];
    char err[512];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        fprintf(stderr, "vectors: path too long: %s/%s\n", dir, name);
        return NULL;
    }
    json_t *root = lurk_jsondoc_load(path, err, sizeof(err));
    if (root == NULL)
        fprintf(stderr, "vectors: %s: %s\n", path, err);
    return root;
}

bool lurk_vectors_hex(const json_t *node, struct lurk_vectors_bytes *out)
{
    const char *s = json_string_value(node);
    size_t slen = json_string_length(node);

    out->data = NULL;
    out->len = 0;
    if (s == NULL) {
        fprintf(stderr, "vectors: not a string\n");
        return false;
    }
    /* Plain hex only: lurk_jsondoc_hex also skips separators, which vectors never have. */
    out->data = lurk_jsondoc_hex(node, &out->len);
    if (out->data == NULL || out->len * 2 != slen) {
        fprintf(stderr, "vectors: not plain hex: \"%.40s%s\"\n", s, slen > 40 ? "..." : "");
        lurk_vectors_bytes_free(out);
        return false;
    }
    return true;
}

bool lurk_vectors_hex_path(const json_t *root, const char *path, struct lurk_vectors_bytes *out)
{
    const json_t *node = lurk_jsondoc_path(root, path);

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

bool lurk_vectors_hex_fixed(const json_t *node, uint8_t *out, size_t len)
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

bool lurk_vectors_hex_path_fixed(const json_t *root, const char *path, uint8_t *out, size_t len)
{
    const json_t *node = lurk_jsondoc_path(root, path);

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

/* Appends the hex string part to out (out->data NULL or malloc'd). */
static bool concat_part(struct lurk_vectors_bytes *out, const json_t *part)
{
    struct lurk_vectors_bytes b;
    uint8_t *data;

    if (!lurk_vectors_hex(part, &b))
        return false;
    data = realloc(out->data, out->len + b.len + 1);
    if (data != NULL) {
        memcpy(data + out->len, b.data, b.len);
        out->data = data;
        out->len += b.len;
    }
    lurk_vectors_bytes_free(&b);
    return data != NULL;
}

bool lurk_vectors_hex_concat(const json_t *node, struct lurk_vectors_bytes *out)
{
    const char *key;
    json_t *value;
    size_t i;
    bool ok = true;

    out->data = malloc(1); /* valid even when there is nothing to concatenate */
    out->len = 0;
    if (out->data == NULL)
        return false;
    /* Objects in document order: jansson keeps their members in insertion order. */
    if (json_is_array(node)) {
        json_array_foreach(node, i, value) ok = ok && concat_part(out, value);
    } else if (json_is_object(node)) {
        json_object_foreach((json_t *)node, key, value) ok = ok && concat_part(out, value);
    } else {
        fprintf(stderr, "vectors: concat of something that is not an object or array\n");
        ok = false;
    }
    if (!ok)
        lurk_vectors_bytes_free(out);
    return ok;
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

const uint8_t *lurk_vectors_pool_hex(struct lurk_vectors_pool *pool, const json_t *root,
                                     const char *path, size_t *len)
{
    struct lurk_vectors_bytes b;

    if (!lurk_vectors_hex_path(root, path, &b))
        return NULL;
    return pool_add(pool, &b, len);
}

const uint8_t *lurk_vectors_pool_concat(struct lurk_vectors_pool *pool, const json_t *root,
                                        const char *path, size_t *len)
{
    struct lurk_vectors_bytes b;
    const json_t *node = lurk_jsondoc_path(root, path);

    if (node == NULL) {
        fprintf(stderr, "vectors: no field %s\n", path);
        return NULL;
    }
    if (!lurk_vectors_hex_concat(node, &b))
        return NULL;
    return pool_add(pool, &b, len);
}

const uint8_t *lurk_vectors_pool_node(struct lurk_vectors_pool *pool, const json_t *node,
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
