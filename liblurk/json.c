/* JSON reader for tests; see json.h. Grammar and escapes follow RFC 8259. */
#include "lurk/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/hex.h"

struct lurk_json {
    enum lurk_json_type type;
    union {
        bool b;
        struct {
            double d;
            int64_t i;
            bool is_int;
        } num;
        struct {
            char *s;
            size_t len;
        } str;
        struct {
            struct lurk_json **items;
            char **keys; /* objects only, parallel to items */
            size_t n;
            size_t cap;
        } agg;
    } u;
};

struct parser {
    const char *start;
    const char *p;
    const char *end;
    int depth;
    char *err;
    size_t errlen;
    bool failed;
};

/* The longest number literal accepted; real vectors never come close. */
#define NUMBER_MAX_CHARS 64
/* Files larger than this are not test data. */
#define FILE_MAX_BYTES (64u * 1024u * 1024u)

static void fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    if (ps->err == NULL || ps->errlen == 0)
        return;

    size_t line = 1, col = 1;
    for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int n = snprintf(ps->err, ps->errlen, "line %zu column %zu: ", line, col);
    if (n < 0 || (size_t)n >= ps->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct lurk_json *node_new(struct parser *ps, enum lurk_json_type type)
{
    struct lurk_json *v = calloc(1, sizeof(*v));
    if (v == NULL)
        fail(ps, "out of memory");
    else
        v->type = type;
    return v;
}

void lurk_json_free(struct lurk_json *v)
{
    if (v == NULL)
        return;
    switch (v->type) {
    case LURK_JSON_STRING:
        free(v->u.str.s);
        break;
    case LURK_JSON_ARRAY:
    case LURK_JSON_OBJECT:
        for (size_t i = 0; i < v->u.agg.n; i++) {
            lurk_json_free(v->u.agg.items[i]);
            if (v->u.agg.keys != NULL)
                free(v->u.agg.keys[i]);
        }
        free(v->u.agg.items);
        free(v->u.agg.keys);
        break;
    default:
        break;
    }
    free(v);
}

/* Appends item (and key, for objects); takes ownership of both, even on failure. */
static bool agg_push(struct parser *ps, struct lurk_json *agg, char *key, struct lurk_json *item)
{
    if (agg->u.agg.n == agg->u.agg.cap) {
        size_t cap = agg->u.agg.cap == 0 ? 8 : agg->u.agg.cap * 2;
        struct lurk_json **items = realloc(agg->u.agg.items, cap * sizeof(*items));
        if (items != NULL)
            agg->u.agg.items = items;
        char **keys = NULL;
        if (items != NULL && agg->type == LURK_JSON_OBJECT) {
            keys = realloc(agg->u.agg.keys, cap * sizeof(*keys));
            if (keys != NULL)
                agg->u.agg.keys = keys;
        }
        if (items == NULL || (agg->type == LURK_JSON_OBJECT && keys == NULL)) {
            free(key);
            lurk_json_free(item);
            fail(ps, "out of memory");
            return false;
        }
        agg->u.agg.cap = cap;
    }
    agg->u.agg.items[agg->u.agg.n] = item;
    if (agg->type == LURK_JSON_OBJECT)
        agg->u.agg.keys[agg->u.agg.n] = key;
    agg->u.agg.n++;
    return true;
}

/* Reads the 4 hex digits after "\u". */
static bool read_u16_escape(struct parser *ps, uint32_t *out)
{
    if (ps->end - ps->p < 4) {
        fail(ps, "truncated \\u escape");
        return false;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = lurk_hex_digit_value(ps->p[i]);
        if (d < 0) {
            fail(ps, "bad hex digit in \\u escape");
            return false;
        }
        v = v << 4 | (uint32_t)d;
    }
    ps->p += 4;
    *out = v;
    return true;
}

struct strbuf {
    char *s;
    size_t len;
    size_t cap;
};

static bool sb_add(struct parser *ps, struct strbuf *sb, const char *data, size_t n)
{
    if (sb->cap - sb->len < n + 1) {
        size_t cap = sb->cap == 0 ? 32 : sb->cap;
        while (cap - sb->len < n + 1)
            cap *= 2;
        char *s = realloc(sb->s, cap);
        if (s == NULL) {
            fail(ps, "out of memory");
            return false;
        }
        sb->s = s;
        sb->cap = cap;
    }
    memcpy(sb->s + sb->len, data, n);
    sb->len += n;
    sb->s[sb->len] = '\0';
    return true;
}

/* UTF-8 encoding of a Unicode scalar value (RFC 3629 §3). */
static bool sb_add_code_point(struct parser *ps, struct strbuf *sb, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return sb_add(ps, sb, u, n);
}

/* Parses a string starting at the opening quote; returns the decoded bytes. */
static char *parse_string_raw(struct parser *ps, size_t *len)
{
    struct strbuf sb = {0};

    ps->p++; /* opening quote */
    if (!sb_add(ps, &sb, "", 0))
        return NULL;
    for (;;) {
        if (ps->p >= ps->end) {
            fail(ps, "unterminated string");
            goto err;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) {
            fail(ps, "control character in string");
            goto err;
        }
        if (c != '\\') {
            /* Copy the run of plain characters in one go. */
            const char *run = ps->p;
            while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
                   (unsigned char)*ps->p >= 0x20)
                ps->p++;
            if (!sb_add(ps, &sb, run, (size_t)(ps->p - run)))
                goto err;
            continue;
        }
        ps->p++;
        if (ps->p >= ps->end) {
            fail(ps, "unterminated escape");
            goto err;
        }
        char e = *ps->p++;
        char out;
        switch (e) {
        case '"':
            out = '"';
            break;
        case '\\':
            out = '\\';
            break;
        case '/':
            out = '/';
            break;
        case 'b':
            out = '\b';
            break;
        case 'f':
            out = '\f';
            break;
        case 'n':
            out = '\n';
            break;
        case 'r':
            out = '\r';
            break;
        case 't':
            out = '\t';
            break;
        case 'u': {
            uint32_t cp;
            if (!read_u16_escape(ps, &cp))
                goto err;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                fail(ps, "unpaired low surrogate");
                goto err;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* RFC 8259 §7: a character outside the BMP is a surrogate pair. */
                uint32_t lo;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    fail(ps, "unpaired high surrogate");
                    goto err;
                }
                ps->p += 2;
                if (!read_u16_escape(ps, &lo))
                    goto err;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    fail(ps, "unpaired high surrogate");
                    goto err;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0) {
                fail(ps, "\\u0000 is not supported (strings are C strings)");
                goto err;
            }
            if (!sb_add_code_point(ps, &sb, cp))
                goto err;
            continue;
        }
        default:
            ps->p--;
            fail(ps, "bad escape \\%c", e);
            goto err;
        }
        if (!sb_add(ps, &sb, &out, 1))
            goto err;
    }
    *len = sb.len;
    return sb.s;
err:
    free(sb.s);
    return NULL;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static struct lurk_json *parse_number(struct parser *ps)
{
    const char *s = ps->p;
    bool integral = true;

    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end || !is_digit(*ps->p)) {
        fail(ps, "bad number");
        return NULL;
    }
    if (*ps->p == '0') {
        ps->p++;
    } else {
        while (ps->p < ps->end && is_digit(*ps->p))
            ps->p++;
    }
    if (ps->p < ps->end && *ps->p == '.') {
        integral = false;
        ps->p++;
        if (ps->p >= ps->end || !is_digit(*ps->p)) {
            fail(ps, "bad fraction");
            return NULL;
        }
        while (ps->p < ps->end && is_digit(*ps->p))
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        integral = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || !is_digit(*ps->p)) {
            fail(ps, "bad exponent");
            return NULL;
        }
        while (ps->p < ps->end && is_digit(*ps->p))
            ps->p++;
    }

    size_t n = (size_t)(ps->p - s);
    char buf[NUMBER_MAX_CHARS + 1];
    if (n > NUMBER_MAX_CHARS) {
        ps->p = s;
        fail(ps, "number literal too long");
        return NULL;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';

    struct lurk_json *v = node_new(ps, LURK_JSON_NUMBER);
    if (v == NULL)
        return NULL;
    /* The grammar was checked above, so strtod consumes everything (C locale). */
    v->u.num.d = strtod(buf, NULL);
    if (integral) {
        errno = 0;
        long long ll = strtoll(buf, NULL, 10);
        if (errno == 0) {
            v->u.num.i = (int64_t)ll;
            v->u.num.is_int = true;
        }
    }
    return v;
}

static bool match_literal(struct parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static struct lurk_json *parse_value(struct parser *ps);

static struct lurk_json *parse_array(struct parser *ps)
{
    struct lurk_json *v = node_new(ps, LURK_JSON_ARRAY);
    if (v == NULL)
        return NULL;
    ps->p++; /* [ */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return v;
    }
    for (;;) {
        struct lurk_json *item = parse_value(ps);
        if (item == NULL || !agg_push(ps, v, NULL, item))
            goto err;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return v;
        }
        fail(ps, "expected ',' or ']'");
        goto err;
    }
err:
    lurk_json_free(v);
    return NULL;
}

static struct lurk_json *parse_object(struct parser *ps)
{
    struct lurk_json *v = node_new(ps, LURK_JSON_OBJECT);
    if (v == NULL)
        return NULL;
    ps->p++; /* { */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return v;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, "expected a string key");
            goto err;
        }
        const char *key_pos = ps->p;
        size_t key_len;
        char *key = parse_string_raw(ps, &key_len);
        if (key == NULL)
            goto err;
        if (lurk_json_get(v, key) != NULL) {
            ps->p = key_pos;
            fail(ps, "duplicate key \"%s\"", key);
            free(key);
            goto err;
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            free(key);
            fail(ps, "expected ':'");
            goto err;
        }
        ps->p++;
        struct lurk_json *item = parse_value(ps);
        if (item == NULL) {
            free(key);
            goto err;
        }
        if (!agg_push(ps, v, key, item))
            goto err;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return v;
        }
        fail(ps, "expected ',' or '}'");
        goto err;
    }
err:
    lurk_json_free(v);
    return NULL;
}

static struct lurk_json *parse_value(struct parser *ps)
{
    struct lurk_json *v = NULL;

    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "unexpected end of input");
        return NULL;
    }
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > LURK_JSON_MAX_DEPTH) {
            fail(ps, "nesting deeper than %d", LURK_JSON_MAX_DEPTH);
            return NULL;
        }
        v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return v;
    case '"': {
        size_t len;
        char *s = parse_string_raw(ps, &len);
        if (s == NULL)
            return NULL;
        v = node_new(ps, LURK_JSON_STRING);
        if (v == NULL) {
            free(s);
            return NULL;
        }
        v->u.str.s = s;
        v->u.str.len = len;
        return v;
    }
    case 't':
    case 'f': {
        bool b = *ps->p == 't';
        if (match_literal(ps, b ? "true" : "false")) {
            v = node_new(ps, LURK_JSON_BOOL);
            if (v != NULL)
                v->u.b = b;
            return v;
        }
        break;
    }
    case 'n':
        if (match_literal(ps, "null"))
            return node_new(ps, LURK_JSON_NULL);
        break;
    default:
        if (*ps->p == '-' || is_digit(*ps->p))
            return parse_number(ps);
        break;
    }
    fail(ps, "unexpected character '%c'", *ps->p);
    return NULL;
}

struct lurk_json *lurk_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser ps = {.start = text, .p = text, .end = text + len, .err = err, .errlen = errlen};

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    struct lurk_json *v = parse_value(&ps);
    if (v == NULL)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "trailing characters after the document");
        lurk_json_free(v);
        return NULL;
    }
    return v;
}

struct lurk_json *lurk_json_parse_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }

    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool ok = true;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap == 0 ? 65536 : cap * 2;
            char *nb = cap <= FILE_MAX_BYTES ? realloc(buf, cap) : NULL;
            if (nb == NULL) {
                ok = false;
                break;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f))
        ok = false;
    fclose(f);
    if (!ok) {
        free(buf);
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: read failed or file too large", path);
        return NULL;
    }

    char perr[200];
    struct lurk_json *v = lurk_json_parse(buf, len, perr, sizeof(perr));
    free(buf);
    if (v == NULL && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", path, perr);
    return v;
}

enum lurk_json_type lurk_json_type(const struct lurk_json *v)
{
    return v == NULL ? LURK_JSON_NULL : v->type;
}

static bool is_agg(const struct lurk_json *v)
{
    return v != NULL && (v->type == LURK_JSON_ARRAY || v->type == LURK_JSON_OBJECT);
}

size_t lurk_json_count(const struct lurk_json *v)
{
    return is_agg(v) ? v->u.agg.n : 0;
}

const struct lurk_json *lurk_json_at(const struct lurk_json *v, size_t i)
{
    return is_agg(v) && i < v->u.agg.n ? v->u.agg.items[i] : NULL;
}

const char *lurk_json_key_at(const struct lurk_json *v, size_t i)
{
    return v != NULL && v->type == LURK_JSON_OBJECT && i < v->u.agg.n ? v->u.agg.keys[i] : NULL;
}

static const struct lurk_json *object_get_n(const struct lurk_json *v, const char *key, size_t n)
{
    if (v == NULL || v->type != LURK_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->u.agg.n; i++) {
        const char *k = v->u.agg.keys[i];
        if (strncmp(k, key, n) == 0 && k[n] == '\0')
            return v->u.agg.items[i];
    }
    return NULL;
}

const struct lurk_json *lurk_json_get(const struct lurk_json *v, const char *key)
{
    return key == NULL ? NULL : object_get_n(v, key, strlen(key));
}

const struct lurk_json *lurk_json_path(const struct lurk_json *v, const char *path)
{
    if (path == NULL)
        return NULL;
    const char *c = path;
    while (v != NULL) {
        const char *dot = strchr(c, '.');
        size_t n = dot != NULL ? (size_t)(dot - c) : strlen(c);
        if (n == 0)
            return NULL;
        if (v->type == LURK_JSON_ARRAY) {
            size_t idx = 0;
            for (size_t i = 0; i < n; i++) {
                if (!is_digit(c[i]) || idx > (SIZE_MAX - 9) / 10)
                    return NULL;
                idx = idx * 10 + (size_t)(c[i] - '0');
            }
            v = lurk_json_at(v, idx);
        } else {
            v = object_get_n(v, c, n);
        }
        if (dot == NULL)
            return v;
        c = dot + 1;
    }
    return NULL;
}

const char *lurk_json_string(const struct lurk_json *v, size_t *len)
{
    if (v == NULL || v->type != LURK_JSON_STRING)
        return NULL;
    if (len != NULL)
        *len = v->u.str.len;
    return v->u.str.s;
}

bool lurk_json_number(const struct lurk_json *v, double *out)
{
    if (v == NULL || v->type != LURK_JSON_NUMBER)
        return false;
    *out = v->u.num.d;
    return true;
}

bool lurk_json_int(const struct lurk_json *v, int64_t *out)
{
    if (v == NULL || v->type != LURK_JSON_NUMBER || !v->u.num.is_int)
        return false;
    *out = v->u.num.i;
    return true;
}

bool lurk_json_bool(const struct lurk_json *v, bool *out)
{
    if (v == NULL || v->type != LURK_JSON_BOOL)
        return false;
    *out = v->u.b;
    return true;
}

bool lurk_json_is_null(const struct lurk_json *v)
{
    return v != NULL && v->type == LURK_JSON_NULL;
}

const char *lurk_json_path_string(const struct lurk_json *v, const char *path)
{
    return lurk_json_string(lurk_json_path(v, path), NULL);
}

bool lurk_json_path_int(const struct lurk_json *v, const char *path, int64_t *out)
{
    return lurk_json_int(lurk_json_path(v, path), out);
}
