/*
 * The hex examples of the wire reference are real: every ```lurk-message
 * block of docs/protocol*.md must be one complete message (header length =
 * the block's byte count) that the codec decodes and re-encodes to the same
 * bytes. A block whose (designation, type) the codec does not know fails,
 * and so does a document without any block. docs/protocol.md must also
 * show every lurk and tls12 message, request and success response, and at
 * least one error. Fences are recognised at the start of a line only.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lurk/bytes.h"
#include "lurk/header.h"
#include "lurk/hex.h"
#include "lurk/lurk.h"
#include "lurk/tls12.h"
#include "lurk/names.h"
#include "roundtrip.h"

#define DOCS_DIR   LURK_SOURCE_ROOT "/docs"
#define MAIN_DOC   "protocol.md"
#define MAX_DOCS   16
#define MAX_BLOCKS 256
#define FENCE      "```"
#define INFO       "lurk-message"

struct block {
    const char *doc;
    int line; /* of the opening fence, 1-based */
    uint8_t *bytes;
    size_t len;
    bool hex_ok;
};

struct doc {
    char name[256];
    size_t n_blocks;
    int unterminated_line; /* 0, or the line of a block that is never closed */
};

static struct doc docs[MAX_DOCS];
static size_t n_docs;
static struct block blocks[MAX_BLOCKS];
static size_t n_blocks;

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) != NULL) {
        if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        } else {
            buf[size] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/* Documents are read before the tests run, outside any Check test. */
static void *need(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(EXIT_FAILURE);
    }
    return p;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* line (len bytes, no newline) is prefix followed by blanks only. */
static bool is_line(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    if (len < n || strncmp(line, prefix, n) != 0)
        return false;
    for (size_t i = n; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    return true;
}

/* The opening fence of an example carries the info string and nothing else. */
static bool is_message_fence(const char *line, size_t len)
{
    return is_line(line, len, FENCE INFO);
}

/* A closing fence has no info string (CommonMark), so ```lurk-message never closes. */
static bool is_closing_fence(const char *line, size_t len)
{
    return is_line(line, len, FENCE);
}

/*
 * Splits text into lines and records the content of each lurk-message
 * block. Other fenced blocks are skipped whole, so a fence inside them is
 * not mistaken for an example.
 */
static void extract(struct doc *d, const char *text)
{
    const char *p = text;
    int line = 0;
    bool in_other = false;
    struct block *cur = NULL;
    char *hex = NULL;
    size_t hex_len = 0;

    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        line++;
        if (cur != NULL) {
            if (is_closing_fence(p, len)) {
                hex[hex_len] = '\0';
                cur->bytes = need(malloc(hex_len / 2 + 1));
                cur->hex_ok = lurk_hex_decode(hex, cur->bytes, hex_len / 2 + 1, &cur->len);
                free(hex);
                hex = NULL;
                cur = NULL;
            } else {
                hex = need(realloc(hex, hex_len + len + 2));
                memcpy(hex + hex_len, p, len);
                hex_len += len;
                hex[hex_len++] = ' ';
            }
        } else if (in_other) {
            in_other = !is_closing_fence(p, len);
        } else if (is_message_fence(p, len)) {
            if (n_blocks == MAX_BLOCKS) {
                fprintf(stderr, "more than %d examples: raise MAX_BLOCKS\n", MAX_BLOCKS);
                exit(EXIT_FAILURE);
            }
            cur = &blocks[n_blocks++];
            memset(cur, 0, sizeof(*cur));
            cur->doc = d->name;
            cur->line = line;
            d->n_blocks++;
            hex_len = 0;
            hex = need(malloc(1));
        } else if (starts_with(p, FENCE)) {
            in_other = true;
        }
        p = eol ? eol + 1 : p + len;
    }
    if (cur != NULL) {
        d->unterminated_line = cur->line;
        free(hex);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct doc *)a)->name, ((const struct doc *)b)->name);
}

/* docs/protocol*.md, in name order, and their blocks. */
static void load_docs(void)
{
    DIR *dir = opendir(DOCS_DIR);
    struct dirent *e;

    if (dir == NULL)
        return;
    while ((e = readdir(dir)) != NULL && n_docs < MAX_DOCS) {
        size_t len = strlen(e->d_name);
        if (starts_with(e->d_name, "protocol") && len > 3 &&
            strcmp(e->d_name + len - 3, ".md") == 0 && len < sizeof(docs[0].name))
            memcpy(docs[n_docs++].name, e->d_name, len + 1);
    }
    closedir(dir);
    qsort(docs, n_docs, sizeof(docs[0]), by_name);
    for (size_t i = 0; i < n_docs; i++) {
        char path[sizeof(DOCS_DIR) + sizeof(docs[i].name) + 1];
        int n = snprintf(path, sizeof(path), "%s/%s", DOCS_DIR, docs[i].name);
        char *text = n > 0 && (size_t)n < sizeof(path) ? read_file(path) : NULL;
        if (text == NULL) {
            fprintf(stderr, "cannot read %s\n", path);
            continue;
        }
        extract(&docs[i], text);
        free(text);
    }
}

START_TEST(main_doc_present)
{
    bool found = false;

    for (size_t i = 0; i < n_docs; i++)
        found = found || strcmp(docs[i].name, MAIN_DOC) == 0;
    ck_assert_msg(found, "no %s/%s", DOCS_DIR, MAIN_DOC);
}
END_TEST

START_TEST(doc_has_blocks)
{
    const struct doc *d = &docs[_i];

    ck_assert_msg(d->unterminated_line == 0, "%s:%d: block never closed", d->name,
                  d->unterminated_line);
    ck_assert_msg(d->n_blocks > 0, "%s has no ```lurk-message example", d->name);
}
END_TEST

/* Decodes one block as a message and checks the payload survives a round trip. */
START_TEST(block_roundtrips)
{
    const struct block *b = &blocks[_i];
    struct lurk_message m;
    lurk_cbb out;
    uint8_t st;

    ck_assert_msg(b->hex_ok, "%s:%d: not hex", b->doc, b->line);
    ck_assert_msg(lurk_message_parse(b->bytes, b->len, &m),
                  "%s:%d: %zu bytes, but the header does not say so (or is cut)", b->doc, b->line,
                  b->len);
    ck_assert(lurk_cbb_init(&out, 64, 1 << 20));
    if (m.hdr.status == LURK_STATUS_REQUEST || m.hdr.status == LURK_STATUS_SUCCESS)
        st = lurk_test_roundtrip(m.hdr.designation, m.hdr.type, m.hdr.status == LURK_STATUS_REQUEST,
                                 &m.payload, &out);
    else
        st = lurk_test_roundtrip_error(&m.payload, &out);
    ck_assert_msg(st != LURK_TEST_UNKNOWN_MESSAGE, "%s:%d: unknown message (%s %u, type %u)",
                  b->doc, b->line, lurk_designation_name(m.hdr.designation), m.hdr.designation,
                  m.hdr.type);
    ck_assert_msg(
        st == LURK_STATUS_SUCCESS, "%s:%d: %s %s %s: payload rejected: %s", b->doc, b->line,
        lurk_designation_name(m.hdr.designation), lurk_type_name(m.hdr.designation, m.hdr.type),
        lurk_status_name(m.hdr.designation, m.hdr.status), lurk_status_name(m.hdr.designation, st));
    ck_assert_msg(lurk_cbs_equal(&m.payload, lurk_cbb_data(&out), lurk_cbb_len(&out)),
                  "%s:%d: re-encoding differs from the example", b->doc, b->line);
    lurk_cbb_cleanup(&out);
}
END_TEST

/* protocol.md shows every lurk and tls12 message both ways, and an error. */
START_TEST(main_doc_covers_every_message)
{
    static const struct {
        uint8_t designation, type;
    } wanted[] = {
        {LURK_DESIGNATION_LURK, LURK_TYPE_CAPABILITIES},
        {LURK_DESIGNATION_LURK, LURK_TYPE_PING},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_CAPABILITIES},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_PING},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_MASTER},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_MASTER_WITH_POH},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_EXTENDED_MASTER},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_EXTENDED_MASTER_WITH_POH},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_ECDHE},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_PREMASTER},
        {LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_CLIENT_CERTIFICATE_VERIFY},
    };
    bool seen[256][256][2];
    bool error = false;
    struct lurk_message m;

    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < n_blocks; i++) {
        if (strcmp(blocks[i].doc, MAIN_DOC) != 0 ||
            !lurk_message_parse(blocks[i].bytes, blocks[i].len, &m))
            continue;
        if (m.hdr.status <= LURK_STATUS_SUCCESS)
            seen[m.hdr.designation][m.hdr.type][m.hdr.status] = true;
        else
            error = true;
    }
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
        for (int status = LURK_STATUS_REQUEST; status <= LURK_STATUS_SUCCESS; status++)
            ck_assert_msg(seen[wanted[i].designation][wanted[i].type][status],
                          "%s has no example of %s %s %s", MAIN_DOC,
                          lurk_designation_name(wanted[i].designation),
                          lurk_type_name(wanted[i].designation, wanted[i].type),
                          status == LURK_STATUS_REQUEST ? "request" : "response");
    ck_assert_msg(error, "%s has no error response example", MAIN_DOC);
}
END_TEST

/* The extractor itself, on a made-up document. */
START_TEST(extractor)
{
    static const char text[] = "# doc\n"
                               "```\n"
                               "```lurk-message\n" /* inside another block: not an example */
                               "```\n"
                               "```lurk-message\n"
                               "00 01 01 00  01 02 03 04 05 06 07 08\n"
                               "\t00 00 00 10\n"
                               "```\n"
                               "```lurk-message-not\n"
                               "```\n"
                               "```lurk-message\n"
                               "zz\n";
    struct doc d;
    size_t first = n_blocks;

    memset(&d, 0, sizeof(d));
    strcpy(d.name, "made-up.md");
    extract(&d, text);
    ck_assert_uint_eq(d.n_blocks, 2);
    ck_assert_int_eq(d.unterminated_line, 11);
    ck_assert_int_eq(blocks[first].line, 5);
    ck_assert(blocks[first].hex_ok);
    ck_assert_uint_eq(blocks[first].len, 16);
    ck_assert_uint_eq(blocks[first].bytes[15], 0x10);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("protocol_doc");
    TCase *tc = tcase_create("core");

    load_docs();
    tcase_add_test(tc, main_doc_present);
    tcase_add_loop_test(tc, doc_has_blocks, 0, (int)n_docs);
    tcase_add_loop_test(tc, block_roundtrips, 0, (int)n_blocks);
    tcase_add_test(tc, main_doc_covers_every_message);
    tcase_add_test(tc, extractor);
    suite_add_tcase(s, tc);
    int status = lurk_test_run(s, CK_FORK_GETENV);
    for (size_t i = 0; i < n_blocks; i++)
        free(blocks[i].bytes);
    return status;
}
