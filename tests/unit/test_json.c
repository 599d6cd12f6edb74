/* The test-support JSON reader (tests/support/json.c), RFC 8259 grammar. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lurk/json.h"
#include "vectors.h"

static struct lurk_json *parse(const char *text)
{
    char err[200];
    struct lurk_json *v = lurk_json_parse(text, strlen(text), err, sizeof(err));
    ck_assert_msg(v != NULL, "parse failed: %s", err);
    return v;
}

/* Parsing must fail, with a message naming the position. */
static void reject(const char *text)
{
    char err[200] = "";
    struct lurk_json *v = lurk_json_parse(text, strlen(text), err, sizeof(err));
    ck_assert_msg(v == NULL, "accepted: %s", text);
    ck_assert_msg(strstr(err, "line ") != NULL, "no position for %s: \"%s\"", text, err);
}

START_TEST(values_and_lookups)
{
    struct lurk_json *v = parse(" {\"a\": [1, -2.5e1, true, false, null, \"x\"],\n"
                                "  \"b\": {\"c.d\": {\"e\": \"deep\"}, \"n\": 0},\n"
                                "  \"empty\": [], \"eo\": {}}\r\n");
    double d;
    int64_t i;
    bool b;

    ck_assert_int_eq(lurk_json_type(v), LURK_JSON_OBJECT);
    ck_assert_uint_eq(lurk_json_count(v), 4);
    ck_assert_str_eq(lurk_json_key_at(v, 0), "a");
    ck_assert_str_eq(lurk_json_key_at(v, 3), "eo");
    ck_assert_ptr_null(lurk_json_key_at(v, 4));

    const struct lurk_json *a = lurk_json_get(v, "a");
    ck_assert_int_eq(lurk_json_type(a), LURK_JSON_ARRAY);
    ck_assert_uint_eq(lurk_json_count(a), 6);
    ck_assert(lurk_json_int(lurk_json_at(a, 0), &i) && i == 1);
    ck_assert(lurk_json_number(lurk_json_at(a, 1), &d) && d == -25.0);
    ck_assert(!lurk_json_int(lurk_json_at(a, 1), &i)); /* not written as an integer */
    ck_assert(lurk_json_bool(lurk_json_at(a, 2), &b) && b);
    ck_assert(lurk_json_bool(lurk_json_at(a, 3), &b) && !b);
    ck_assert(lurk_json_is_null(lurk_json_at(a, 4)));
    ck_assert_str_eq(lurk_json_string(lurk_json_at(a, 5), NULL), "x");
    ck_assert_ptr_null(lurk_json_at(a, 6));

    /* Paths: keys and array indexes; a key with a dot needs lurk_json_get. */
    ck_assert(lurk_json_path_int(v, "a.0", &i) && i == 1);
    ck_assert_str_eq(lurk_json_path_string(v, "a.5"), "x");
    ck_assert_ptr_null(lurk_json_path(v, "a.6"));
    ck_assert_ptr_null(lurk_json_path(v, "a.x"));
    ck_assert_ptr_null(lurk_json_path(v, "b.c.d.e"));
    ck_assert_ptr_null(lurk_json_path(v, "a..0"));
    ck_assert_ptr_null(lurk_json_path(v, ""));
    ck_assert_str_eq(lurk_json_path_string(lurk_json_get(lurk_json_get(v, "b"), "c.d"), "e"),
                     "deep");
    ck_assert(lurk_json_path_int(v, "b.n", &i) && i == 0);
    ck_assert_uint_eq(lurk_json_count(lurk_json_get(v, "empty")), 0);
    ck_assert_int_eq(lurk_json_type(lurk_json_get(v, "eo")), LURK_JSON_OBJECT);

    /* Wrong-type questions answer "no", never crash. */
    ck_assert_ptr_null(lurk_json_get(a, "a"));
    ck_assert_ptr_null(lurk_json_string(a, NULL));
    ck_assert(!lurk_json_number(lurk_json_at(a, 5), &d));
    ck_assert(!lurk_json_bool(NULL, &b));
    ck_assert(!lurk_json_is_null(NULL));
    ck_assert_uint_eq(lurk_json_count(lurk_json_at(a, 0)), 0);
    lurk_json_free(v);

    /* A scalar is a document too. */
    v = parse("  \"just a string\"  ");
    ck_assert_str_eq(lurk_json_string(v, NULL), "just a string");
    lurk_json_free(v);
    v = parse("-0");
    ck_assert(lurk_json_int(v, &i) && i == 0);
    lurk_json_free(v);
    v = parse("9223372036854775807");
    ck_assert(lurk_json_int(v, &i) && i == INT64_MAX);
    lurk_json_free(v);
    v = parse("9223372036854775808"); /* too large for int64: a double only */
    ck_assert(!lurk_json_int(v, &i));
    ck_assert(lurk_json_number(v, &d) && d > 9.2e18);
    lurk_json_free(v);
    lurk_json_free(NULL);
}
END_TEST

START_TEST(string_escapes)
{
    struct lurk_json *v =
        parse("[\"a\\nb\\t\\\"q\\\"\\\\\\/\\b\\f\\r\", \"\\u0041\\u007a\", \"\\u00e9\\u20ac\","
              "\"\\ud83d\\ude00\", \"raw \xc3\xa9\"]");
    size_t len;

    const char *s = lurk_json_string(lurk_json_at(v, 0), &len);
    ck_assert_str_eq(s, "a\nb\t\"q\"\\/\b\f\r");
    ck_assert_uint_eq(len, strlen("a\nb\t\"q\"\\/\b\f\r"));
    ck_assert_str_eq(lurk_json_string(lurk_json_at(v, 1), NULL), "Az");
    /* Beyond ASCII: UTF-8 (e-acute, euro sign, and a surrogate pair for U+1F600). */
    ck_assert_str_eq(lurk_json_string(lurk_json_at(v, 2), NULL), "\xc3\xa9\xe2\x82\xac");
    ck_assert_str_eq(lurk_json_string(lurk_json_at(v, 3), NULL), "\xf0\x9f\x98\x80");
    ck_assert_str_eq(lurk_json_string(lurk_json_at(v, 4), NULL), "raw \xc3\xa9");
    lurk_json_free(v);
}
END_TEST

START_TEST(malformed_documents)
{
    static const char *const bad[] = {
        "",
        "   ",
        "{",
        "[1, 2",
        "[1, 2,]",
        "{\"a\": 1,}",
        "{\"a\" 1}",
        "{a: 1}",
        "{\"a\": 1, \"a\": 2}", /* duplicate key */
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[+1]",
        "[-]",
        "[tru]",
        "[nul]",
        "[True]",
        "\"unterminated",
        "\"tab\there\"",
        "\"bad \\x escape\"",
        "\"\\u12\"",
        "\"\\u00zz\"",
        "\"\\u0000\"",
        "\"\\ud83d\"",
        "\"\\ud83d\\u0041\"",
        "\"\\ude00\"",
        "[1] [2]",
        "{} x",
        "[1 2]",
        "'single'",
        "[1, /* comment */ 2]",
        "[12345678901234567890123456789012345678901234567890123456789012345]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        reject(bad[i]);

    /* An embedded NUL byte is a control character, not an end of input. */
    char err[200];
    ck_assert_ptr_null(lurk_json_parse("\"a\0b\"", 5, err, sizeof(err)));
    /* err may be NULL. */
    ck_assert_ptr_null(lurk_json_parse("[", 1, NULL, 0));
}
END_TEST

START_TEST(nesting_is_bounded)
{
    char doc[2 * (LURK_JSON_MAX_DEPTH + 1) + 1];
    char err[200];

    /* LURK_JSON_MAX_DEPTH levels are fine... */
    memset(doc, '[', LURK_JSON_MAX_DEPTH);
    memset(doc + LURK_JSON_MAX_DEPTH, ']', LURK_JSON_MAX_DEPTH);
    struct lurk_json *v = lurk_json_parse(doc, 2 * LURK_JSON_MAX_DEPTH, err, sizeof(err));
    ck_assert_msg(v != NULL, "%s", err);
    lurk_json_free(v);

    /* ...one more is refused, and so is a very deep unterminated document. */
    memset(doc, '[', LURK_JSON_MAX_DEPTH + 1);
    memset(doc + LURK_JSON_MAX_DEPTH + 1, ']', LURK_JSON_MAX_DEPTH + 1);
    ck_assert_ptr_null(lurk_json_parse(doc, 2 * (LURK_JSON_MAX_DEPTH + 1), err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "nesting"));

    size_t n = 100000;
    char *deep = malloc(n);
    memset(deep, '[', n);
    ck_assert_ptr_null(lurk_json_parse(deep, n, err, sizeof(err)));
    free(deep);
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
        struct lurk_json *v = lurk_vectors_load(LURK_VECTORS_DIR, files[i]);
        ck_assert_msg(v != NULL, "%s", files[i]);
        ck_assert_int_eq(lurk_json_type(v), LURK_JSON_OBJECT);
        lurk_json_free(v);
    }
    ck_assert_ptr_null(
        lurk_json_parse_file(LURK_VECTORS_DIR "/no-such-file.json", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "no-such-file.json"));
    /* Not JSON at all: the RFC text itself. */
    ck_assert_ptr_null(lurk_json_parse_file(LURK_VECTORS_DIR "/rfc8448.txt", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "line "));

    /* Hex helpers on a known field. */
    struct lurk_json *v = lurk_vectors_load(LURK_VECTORS_DIR, "rfc8448-simple-1rtt.json");
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
    ck_assert(lurk_vectors_hex_concat(lurk_json_get(v, "finished"), &b));
    ck_assert_uint_eq(b.len, 4 * 32);
    lurk_vectors_bytes_free(&b);
    lurk_vectors_bytes_free(&b);
    lurk_json_free(v);

    v = parse("[\"\", \"0A:0b\", \"abc\", \"zz\", 5]");
    ck_assert(lurk_vectors_hex(lurk_json_at(v, 0), &b));
    ck_assert_uint_eq(b.len, 0);
    lurk_vectors_bytes_free(&b);
    ck_assert(!lurk_vectors_hex(lurk_json_at(v, 1), &b)); /* separators are not plain hex */
    ck_assert(!lurk_vectors_hex(lurk_json_at(v, 2), &b));
    ck_assert(!lurk_vectors_hex(lurk_json_at(v, 3), &b));
    ck_assert(!lurk_vectors_hex(lurk_json_at(v, 4), &b));
    ck_assert(!lurk_vectors_hex_concat(v, &b));
    lurk_json_free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, values_and_lookups);
    tcase_add_test(tc, string_escapes);
    tcase_add_test(tc, malformed_documents);
    tcase_add_test(tc, nesting_is_bounded);
    tcase_add_test(tc, files_and_vectors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
