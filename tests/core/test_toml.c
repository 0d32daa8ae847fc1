/* The TOML subset of config.toml files: parse, refuse, write, round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "core/toml.h"

static json_t *parse_ok(const char *text)
{
    json_t *doc = NULL;
    PS_ASSERT_OK(ps__toml_parse(text, strlen(text), "t.toml", &doc));
    assert_non_null(doc);
    return doc;
}

/* Upstream's example config (spec 1.10) parses with the right types. */
static void test_upstream_example(void **state)
{
    (void)state;
    const char *text = "name = \"my-endpoint\"\n"
                       "uuid = \"c2a2b1a4-6a53-4f5e-8d5c-0f1f5b1e2d3c\"\n"
                       "port = 14538\n"
                       "host = \"10.0.0.5\"\n"
                       "host_type = \"ip\"\n"
                       "\n"
                       "[relay]\n"
                       "address = \"wss://relay.proxystore.dev\"\n"
                       "peer_channels = 1\n"
                       "verify_certificate = true\n"
                       "\n"
                       "[relay.auth]\n"
                       "method = \"globus\"\n"
                       "\n"
                       "[relay.auth.kwargs]\n"
                       "\n"
                       "[storage]\n"
                       "max_object_size = 100000000\n";
    json_t *doc = parse_ok(text);
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "my-endpoint");
    assert_int_equal(json_integer_value(json_object_get(doc, "port")), 14538);
    json_t *relay = json_object_get(doc, "relay");
    assert_true(json_is_object(relay));
    assert_true(json_is_true(json_object_get(relay, "verify_certificate")));
    json_t *auth = json_object_get(relay, "auth");
    assert_string_equal(json_string_value(json_object_get(auth, "method")), "globus");
    json_t *kw = json_object_get(auth, "kwargs");
    assert_true(json_is_object(kw));
    assert_int_equal(json_object_size(kw), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "storage"), "max_object_size")),
        100000000);
    /* Writing it back gives the same text (tomli_w's layout). */
    char *out = NULL;
    PS_ASSERT_OK(ps__toml_dump(doc, &out));
    assert_string_equal(out, text);
    ps_free(out);
    json_decref(doc);
}

static void test_values(void **state)
{
    (void)state;
    json_t *doc = parse_ok("# comment\r\n"
                           "a = -9_223_372_036_854_775_808 # min\n"
                           "b = +42\n"
                           "c = 'lit\\eral'\n"
                           "d = \"esc \\\" \\\\ \\t \\u00e9 \\U0001F600\"\n"
                           "\"quoted key\" = false\n"
                           "e = [1, \"two\", [true], ]\n"
                           "f = [\n  1, # one\n  2,\n]\n"
                           "x.y.z = 0\n"
                           "x.w = \"\"\n"
                           "[t.\"dotted.name\"]\n"
                           "k = 9223372036854775807\n");
    assert_int_equal(json_integer_value(json_object_get(doc, "a")), INT64_MIN);
    assert_int_equal(json_integer_value(json_object_get(doc, "b")), 42);
    assert_string_equal(json_string_value(json_object_get(doc, "c")), "lit\\eral");
    assert_string_equal(json_string_value(json_object_get(doc, "d")),
                        "esc \" \\ \t \xc3\xa9 \xf0\x9f\x98\x80");
    assert_true(json_is_false(json_object_get(doc, "quoted key")));
    json_t *e = json_object_get(doc, "e");
    assert_int_equal(json_array_size(e), 3);
    assert_true(json_is_true(json_array_get(json_array_get(e, 2), 0)));
    assert_int_equal(json_array_size(json_object_get(doc, "f")), 2);
    json_t *x = json_object_get(doc, "x");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x, "y"), "z")), 0);
    assert_string_equal(json_string_value(json_object_get(x, "w")), "");
    json_t *t = json_object_get(json_object_get(doc, "t"), "dotted.name");
    assert_int_equal(json_integer_value(json_object_get(t, "k")), INT64_MAX);

    /* Round trip through the writer. */
    char *out = NULL;
    PS_ASSERT_OK(ps__toml_dump(doc, &out));
    json_t *again = parse_ok(out);
    assert_true(json_equal(doc, again));
    ps_free(out);
    json_decref(again);
    json_decref(doc);
}

/* Everything outside the subset is refused with the line number. */
static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want; /* substring of the message */
    } cases[] = {
        {"a = 1.5\n", "line 1: floats are not supported"},
        {"a = 1e3\n", "floats"},
        {"a = inf\n", "floats"},
        {"\n\na = 1979-05-27\n", "line 3: dates and times"},
        {"a = 0x1F\n", "hexadecimal"},
        {"a = 012\n", "leading zeros"},
        {"a = 1__2\n", "underscore"},
        {"a = 99999999999999999999\n", "64 bits"},
        {"a = \"\"\"x\"\"\"\n", "multi-line strings"},
        {"a = {b = 1}\n", "inline tables"},
        {"[[a]]\n", "arrays of tables"},
        {"a = 1\na = 2\n", "line 2: key \"a\" defined more than once"},
        {"[a]\n[a]\n", "line 2: table"},
        {"a = 1\n[a]\n", "not a table"},
        {"a.b = 1\n[a]\n", "defined more than once"},
        {"a = \"unterminated\n", "unterminated string"},
        {"a = \"bad \\q\"\n", "invalid escape"},
        {"a = \"\\u0000\"\n", "NUL"},
        {"a = 1 b = 2\n", "end of the line"},
        {"= 1\n", "expected a key"},
        {"a\n", "expected '='"},
        {"a =\n", "missing value"},
        {"a = nope\n", "invalid value"},
        {"a = [1, 2\n", "unterminated array"},
        {"a = [1 2]\n", "expected ','"},
        {"[a\n", "expected ']'"},
        {"a = \"\xff\"\n", "UTF-8"},
        {"a = \"tab\x01\"\n", "control character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = (json_t *)0x1;
        ps_status st = ps__toml_parse(cases[i].text, strlen(cases[i].text), "x.toml", &doc);
        if (st != PS_EINVAL || doc != NULL || strstr(ps_last_error(), cases[i].want) == NULL ||
            strncmp(ps_last_error(), "x.toml: line ", 13) != 0)
            fail_msg("case %zu (%s): status %s, message \"%s\", want \"%s\"", i, cases[i].text,
                     ps_status_name(st), ps_last_error(), cases[i].want);
    }
    /* A NUL byte anywhere is refused. */
    json_t *doc = NULL;
    PS_ASSERT_STATUS(ps__toml_parse("a = 1\n\0", 7, "x.toml", &doc), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "line 2: NUL"));
    PS_ASSERT_STATUS(ps__toml_parse("a", 1, "x", NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps__toml_parse(NULL, 3, "x", &doc), PS_EINVAL);
}

static void test_writer(void **state)
{
    (void)state;
    json_t *doc =
        json_pack("{s:s, s:i, s:b, s:n, s:{s:s, s:{}}, s:[s,i], s:s}", "name", "a b", "port", 5,
                  "on", 1, "skipped", "sub", "k\"ey", "v\n", "empty", "arr", "x", 2, "late", "é");
    assert_non_null(doc);
    char *out = NULL;
    PS_ASSERT_OK(ps__toml_dump(doc, &out));
    assert_string_equal(out, "name = \"a b\"\n"
                             "port = 5\n"
                             "on = true\n"
                             "arr = [\"x\", 2]\n"
                             "late = \"\xc3\xa9\"\n"
                             "\n"
                             "[sub]\n"
                             "\"k\\\"ey\" = \"v\\n\"\n"
                             "\n"
                             "[sub.empty]\n");
    ps_free(out);
    json_object_set_new(doc, "real", json_real(1.5));
    PS_ASSERT_STATUS(ps__toml_dump(doc, &out), PS_EINVAL);
    assert_null(out);
    PS_ASSERT_STATUS(ps__toml_dump(json_object_get(doc, "arr"), &out), PS_EINVAL);
    json_decref(doc);
}

static void test_files(void **state)
{
    (void)state;
    char *dir = pst_mkdtemp("toml");
    assert_non_null(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.toml", dir);
    json_t *doc = NULL;
    PS_ASSERT_STATUS(ps__toml_read_file(path, &doc), PS_NOT_FOUND);
    assert_non_null(strstr(ps_last_error(), path));

    json_t *w = json_pack("{s:s, s:{s:I}}", "name", "ep", "storage", "max_object_size",
                          (json_int_t)100000000);
    PS_ASSERT_OK(ps__toml_write_file(path, w, 1));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    PS_ASSERT_OK(ps__toml_read_file(path, &doc));
    assert_true(json_equal(doc, w));
    json_decref(doc);

    /* Python's tomllib agrees on the content and the types. */
    int rc = pst_system("python3 -c 'import tomllib,sys; d=tomllib.load(open(sys.argv[1],\"rb\")); "
                        "assert d == {\"name\": \"ep\", \"storage\": {\"max_object_size\": "
                        "100000000}}, d' '%s'",
                        path);
    assert_int_equal(rc, 0);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name = \"ep\"\nport = 1.0\n", f);
    fclose(f);
    PS_ASSERT_STATUS(ps__toml_read_file(path, &doc), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "line 2: floats"));
    assert_non_null(strstr(ps_last_error(), path));

    snprintf(path, sizeof path, "%s/missing-dir/config.toml", dir);
    PS_ASSERT_STATUS(ps__toml_write_file(path, w, 0), PS_EIO);
    assert_non_null(strstr(ps_last_error(), path));
    json_decref(w);
    pst_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstream_example),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_files),
    };
    return pst_exit(cmocka_run_group_tests_name("endpoint.toml", tests, NULL, NULL));
}
