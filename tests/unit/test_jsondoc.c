/*
 * The JSON reading lurkctl's trace replay and the tests share
 * (tools/jsondoc.c on jansson, tests/support/vectors.c): what it refuses
 * and how it says so, path lookups, hex fields. jansson's grammar itself is
 * jansson's to test.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "jsondoc.h"
#include "vectors.h"

static json_t *parse(const char *text)
{
    char err[200];
    json_t *v = lurk_jsondoc_parse(text, strlen(text), err, sizeof(err));
    ck_assert_msg(v != NULL, "parse failed: %s", err);
    return v;
}

/* Parsing must fail, with a message naming the line and column. */
static void reject(const char *text, const char *where)
{
    char err[200] = "";
    json_t *v = lurk_jsondoc_parse(text, strlen(text), err, sizeof(err));
    ck_assert_msg(v == NULL, "accepted: %s", text);
    ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "for %s: \"%s\", not at %s", text, err,
                  where);
}

START_TEST(strict_documents)
{
    /* What the reader asks of jansson beyond RFC 8259's grammar. */
    reject("{\"a\": 1,\n \"a\": 2}", "line 2 column ");   /* duplicate key */
    reject("{\"a\": 1}\n{\"b\": 2}", "line 2 column ");   /* a second document */
    reject("\"just a string\"", "line 1 column ");        /* not an object or array */
    reject("[\"nul \\u0000 inside\"]", "line 1 column "); /* strings stay C strings */
    reject("[1, 2,]", "line 1 column ");
    reject("", "line 1 column ");

    /* An embedded NUL byte is not an end of input. */
    char err[200];
    ck_assert_ptr_null(lurk_jsondoc_parse("[\"a\0b\"]", 7, err, sizeof(err)));
    /* err may be NULL. */
    ck_assert_ptr_null(lurk_jsondoc_parse("[", 1, NULL, 0));
}
END_TEST

START_TEST(paths)
{
    json_t *v = parse("{\"a\": [1, \"x\"], \"b\": {\"c.d\": {\"e\": \"deep\"}, \"n\": 0}}");

    ck_assert_str_eq(lurk_jsondoc_path_string(v, "a.1"), "x");
    ck_assert(json_integer_value(lurk_jsondoc_path(v, "a.0")) == 1);
    ck_assert(json_integer_value(lurk_jsondoc_path(v, "b.n")) == 0);
    ck_assert_ptr_null(lurk_jsondoc_path_string(v, "a.0")); /* a number, not a string */
    ck_assert_ptr_null(lurk_jsondoc_path(v, "a.2"));
    ck_assert_ptr_null(lurk_jsondoc_path(v, "a.x"));
    ck_assert_ptr_null(lurk_jsondoc_path(v, "a.1.z"));
    ck_assert_ptr_null(lurk_jsondoc_path(v, "a..0"));
    ck_assert_ptr_null(lurk_jsondoc_path(v, ""));
    ck_assert_ptr_null(lurk_jsondoc_path(NULL, "a"));
    /* A key with a dot cannot be named in a path. */
    ck_assert_ptr_null(lurk_jsondoc_path(v, "b.c.d.e"));
    ck_assert_str_eq(
        lurk_jsondoc_path_string(json_object_get(lurk_jsondoc_path(v, "b"), "c.d"), "e"), "deep");
    json_decref(v);
}
END_TEST

START_TEST(hex_fields)
{
    json_t *v = parse("[\"\", \"0A0b\", \"0a 0b\", \"abc\", \"zz\", 5]");
    size_t len;
    uint8_t *b;

    b = lurk_jsondoc_hex(json_array_get(v, 0), &len);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(len, 0);
    free(b);
    b = lurk_jsondoc_hex(json_array_get(v, 1), &len);
    ck_assert(b != NULL && len == 2 && b[0] == 0x0a && b[1] == 0x0b);
    free(b);
    /* Separators between pairs are lurk_hex_decode's; the vectors want plain hex. */
    b = lurk_jsondoc_hex(json_array_get(v, 2), &len);
    ck_assert(b != NULL && len == 2);
    free(b);
    ck_assert_ptr_null(lurk_jsondoc_hex(json_array_get(v, 3), &len));
    ck_assert_ptr_null(lurk_jsondoc_hex(json_array_get(v, 4), &len));
    ck_assert_ptr_null(lurk_jsondoc_hex(json_array_get(v, 5), &len));
    ck_assert_ptr_null(lurk_jsondoc_hex(NULL, &len));

    struct lurk_vectors_bytes vb;
    ck_assert(lurk_vectors_hex(json_array_get(v, 0), &vb));
    ck_assert_uint_eq(vb.len, 0);
    lurk_vectors_bytes_free(&vb);
    ck_assert(lurk_vectors_hex(json_array_get(v, 1), &vb));
    ck_assert_uint_eq(vb.len, 2);
    lurk_vectors_bytes_free(&vb);
    ck_assert(!lurk_vectors_hex(json_array_get(v, 2), &vb));
    ck_assert(!lurk_vectors_hex(json_array_get(v, 3), &vb));
    ck_assert(!lurk_vectors_hex(json_array_get(v, 5), &vb));
    ck_assert(!lurk_vectors_hex_concat(v, &vb));
    json_decref(v);
}
END_TEST

START_TEST(files_and_vectors)
{
    static const char *const files[] = {
        "tls12-prf-vectors.json",   "rsa-kx-vectors.json",       "ecdhe-signing-vectors.json",
        "rfc8448-simple-1rtt.json", "rfc8448-resumed-0rtt.json", "rfc8448-all-sections.json",
    };
    char err[300];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        json_t *v = lurk_vectors_load(LURK_VECTORS_DIR, files[i]);
        ck_assert_msg(v != NULL, "%s", files[i]);
        ck_assert(json_is_object(v));
        json_decref(v);
    }
    ck_assert_ptr_null(lurk_jsondoc_load(LURK_VECTORS_DIR "/no-such-file.json", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "no-such-file.json"));
    /* Not JSON at all: the RFC text itself (what lurkctl tls13 prints for a bad trace). */
    ck_assert_ptr_null(lurk_jsondoc_load(LURK_VECTORS_DIR "/rfc8448.txt", err, sizeof(err)));
    ck_assert_msg(strncmp(err, "line ", 5) == 0 && strstr(err, " column ") != NULL, "%s", err);

    /* Hex helpers on known fields. */
    json_t *v = lurk_vectors_load(LURK_VECTORS_DIR, "rfc8448-simple-1rtt.json");
    struct lurk_vectors_bytes b;
    uint8_t fixed[2];
    ck_assert(lurk_vectors_hex_path(v, "secrets.ticket_nonce", &b));
    ck_assert_uint_eq(b.len, 2);
    ck_assert(b.data[0] == 0 && b.data[1] == 0);
    lurk_vectors_bytes_free(&b);
    ck_assert(lurk_vectors_hex_path_fixed(v, "secrets.ticket_nonce", fixed, 2));
    ck_assert(!lurk_vectors_hex_path_fixed(v, "secrets.ticket_nonce", fixed, 1));
    ck_assert(!lurk_vectors_hex_path(v, "source", &b)); /* prose, not hex */
    ck_assert(!lurk_vectors_hex_path(v, "no.such.field", &b));
    /* An object's members concatenate in document order. */
    ck_assert(lurk_vectors_hex_concat(json_object_get(v, "finished"), &b));
    ck_assert_uint_eq(b.len, 4 * 32);
    struct lurk_vectors_bytes first, last;
    ck_assert(lurk_vectors_hex_path(v, "finished.server_finished_key", &first));
    ck_assert(lurk_vectors_hex_path(v, "finished.client_verify_data", &last));
    ck_assert_mem_eq(b.data, first.data, 32);
    ck_assert_mem_eq(b.data + 3 * 32, last.data, 32);
    lurk_vectors_bytes_free(&first);
    lurk_vectors_bytes_free(&last);
    lurk_vectors_bytes_free(&b);
    lurk_vectors_bytes_free(&b);
    json_decref(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsondoc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, strict_documents);
    tcase_add_test(tc, paths);
    tcase_add_test(tc, hex_fields);
    tcase_add_test(tc, files_and_vectors);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
