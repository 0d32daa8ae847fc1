/* Multi connector policies (upstream tests/connectors/multi_test.py, policy part). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"
#include "proxystore/connectors/multi.h"

static bool valid_all(const ps_multi_policy *p, const uint64_t *size, const ps_multi_tag_list *sub,
                      const ps_multi_tag_list *sup)
{
    bool v = false;
    PS_ASSERT_OK(ps_multi_policy_is_valid(p, size, sub, sup, &v));
    return v;
}

static bool on_host(const ps_multi_policy *p, const char *host)
{
    bool v = false;
    PS_ASSERT_OK(ps_multi_policy_matches_host(p, host, &v));
    return v;
}

static void test_default_valid_everywhere(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    assert_int_equal(ps_multi_policy_priority(p), 0);
    assert_int_equal(ps_multi_policy_min_size(p), 0);
    assert_true(ps_multi_policy_max_size(p) == (uint64_t)INT64_MAX);
    assert_false(ps_multi_policy_has_host_patterns(p));
    assert_true(valid_all(p, NULL, NULL, NULL));
    uint64_t sizes[] = {0, 1, 1u << 30, (uint64_t)INT64_MAX};
    for (size_t i = 0; i < 4; i++)
        assert_true(valid_all(p, &sizes[i], NULL, NULL));
    const char *none[1] = {NULL};
    ps_multi_tag_list empty = {none, 0};
    assert_true(valid_all(p, NULL, &empty, &empty));
    assert_true(on_host(p, "anything.example.org"));
    assert_true(on_host(p, ""));
    bool v = false;
    PS_ASSERT_OK(ps_multi_policy_is_valid_on_host(p, &v));
    assert_true(v);
    ps_multi_policy_free(p);
}

static void test_host_patterns(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    /* one pattern with alternation, matched against the WHOLE name */
    PS_ASSERT_OK(ps_multi_policy_add_host_pattern(p, "host-a|host-b"));
    assert_true(on_host(p, "host-a"));
    assert_true(on_host(p, "host-b"));
    assert_false(on_host(p, "host-c"));
    assert_false(on_host(p, "host-ab"));  /* no prefix match */
    assert_false(on_host(p, "xhost-a"));  /* no search */
    assert_false(on_host(p, "host-a\n")); /* $ semantics would allow this; fullmatch does not */
    assert_false(on_host(p, ""));
    /* a list of patterns: any one may match */
    const char *pats[] = {"node[0-9]+", "login\\d\\.cluster\\.org", "exact"};
    PS_ASSERT_OK(ps_multi_policy_set_host_patterns(p, pats, 3));
    assert_int_equal(ps_multi_policy_host_pattern_count(p), 3);
    assert_string_equal(ps_multi_policy_host_pattern(p, 1), "login\\d\\.cluster\\.org");
    assert_null(ps_multi_policy_host_pattern(p, 3));
    assert_true(on_host(p, "node7"));
    assert_true(on_host(p, "node123"));
    assert_true(on_host(p, "login2.cluster.org"));
    assert_true(on_host(p, "exact"));
    assert_false(on_host(p, "node"));
    assert_false(on_host(p, "node7x"));
    assert_false(on_host(p, "exactly"));
    assert_false(on_host(p, "login2xcluster.org"));
    assert_false(on_host(p, "host-a"));
    /* an empty list matches no host (upstream: any([]) is False) */
    const char *nothing[1] = {NULL};
    PS_ASSERT_OK(ps_multi_policy_set_host_patterns(p, nothing, 0));
    assert_true(ps_multi_policy_has_host_patterns(p));
    assert_false(on_host(p, "node7"));
    /* NULL removes the constraint */
    PS_ASSERT_OK(ps_multi_policy_set_host_patterns(p, NULL, 0));
    assert_false(ps_multi_policy_has_host_patterns(p));
    assert_true(on_host(p, "node7"));
    ps_multi_policy_free(p);
}

static void test_hostname_env(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    PS_ASSERT_OK(ps_multi_policy_add_host_pattern(p, "alpha|beta"));
    bool v = false;
    setenv("PROXYSTORE_HOSTNAME", "alpha", 1);
    PS_ASSERT_OK(ps_multi_policy_is_valid_on_host(p, &v));
    assert_true(v);
    assert_true(valid_all(p, NULL, NULL, NULL));
    setenv("PROXYSTORE_HOSTNAME", "gamma", 1);
    PS_ASSERT_OK(ps_multi_policy_is_valid_on_host(p, &v));
    assert_false(v);
    /* is_valid checks the host last, whatever else holds */
    uint64_t size = 10;
    assert_false(valid_all(p, &size, NULL, NULL));
    unsetenv("PROXYSTORE_HOSTNAME");
    ps_multi_policy_free(p);
}

static void test_invalid_regex(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    PS_ASSERT_OK(ps_multi_policy_add_host_pattern(p, "keep"));
    PS_ASSERT_STATUS(ps_multi_policy_add_host_pattern(p, "node[0-9"), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "node[0-9"));
    assert_non_null(strstr(ps_last_error(), "offset"));
    const char *pats[] = {"fine", "(unclosed"};
    PS_ASSERT_STATUS(ps_multi_policy_set_host_patterns(p, pats, 2), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "(unclosed"));
    /* the policy is unchanged */
    assert_int_equal(ps_multi_policy_host_pattern_count(p), 1);
    assert_string_equal(ps_multi_policy_host_pattern(p, 0), "keep");
    ps_multi_policy *q = NULL;
    PS_ASSERT_STATUS(ps_multi_policy_from_json("{\"host_pattern\": [\"ok\", \"*bad\"]}", &q),
                     PS_EINVAL);
    assert_null(q);
    assert_non_null(strstr(ps_last_error(), "*bad"));
    ps_multi_policy_free(p);
}

static void test_size_bounds(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    PS_ASSERT_OK(ps_multi_policy_set_size_bounds(p, 1, 100));
    uint64_t s0 = 0, s1 = 1, s100 = 100, s101 = 101, s50 = 50;
    assert_true(valid_all(p, &s1, NULL, NULL));
    assert_true(valid_all(p, &s100, NULL, NULL));
    assert_true(valid_all(p, &s50, NULL, NULL));
    assert_false(valid_all(p, &s0, NULL, NULL));
    assert_false(valid_all(p, &s101, NULL, NULL));
    assert_true(valid_all(p, NULL, NULL, NULL)); /* no size: not checked */
    PS_ASSERT_STATUS(ps_multi_policy_set_size_bounds(p, 0, (uint64_t)INT64_MAX + 1), PS_EINVAL);
    assert_int_equal(ps_multi_policy_max_size(p), 100);
    ps_multi_policy_free(p);
}

static void test_subset_tags(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    const char *anything[] = {"anything"};
    ps_multi_tag_list any = {anything, 1};
    assert_false(valid_all(p, NULL, &any, NULL)); /* empty policy list rejects any tag */
    PS_ASSERT_OK(ps_multi_policy_add_subset_tag(p, "a"));
    PS_ASSERT_OK(ps_multi_policy_add_subset_tag(p, "b"));
    const char *ta[] = {"a"}, *tab[] = {"a", "b"}, *tother[] = {"other"}, *tabc[] = {"a", "b", "c"};
    ps_multi_tag_list la = {ta, 1}, lab = {tab, 2}, lother = {tother, 1}, labc = {tabc, 3};
    assert_true(valid_all(p, NULL, &la, NULL));
    assert_true(valid_all(p, NULL, &lab, NULL));
    assert_false(valid_all(p, NULL, &lother, NULL));
    assert_false(valid_all(p, NULL, &labc, NULL));
    ps_multi_tag_list empty = {ta, 0};
    assert_true(valid_all(p, NULL, &empty, NULL));
    ps_multi_tag_list bad = {NULL, 1};
    bool v;
    PS_ASSERT_STATUS(ps_multi_policy_is_valid(p, NULL, &bad, NULL, &v), PS_EINVAL);
    ps_multi_policy_free(p);
}

static void test_superset_tags(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    const char *tabc[] = {"a", "b", "c"}, *ta[] = {"a"}, *tc[] = {"c"}, *tba[] = {"b", "a"};
    ps_multi_tag_list labc = {tabc, 3}, la = {ta, 1}, lc = {tc, 1}, lba = {tba, 2}, lnone = {ta, 0};
    assert_true(valid_all(p, NULL, NULL, &labc)); /* empty policy accepts anything */
    assert_true(valid_all(p, NULL, NULL, &lnone));
    PS_ASSERT_OK(ps_multi_policy_add_superset_tag(p, "a"));
    PS_ASSERT_OK(ps_multi_policy_add_superset_tag(p, "b"));
    assert_true(valid_all(p, NULL, NULL, &labc));
    assert_true(valid_all(p, NULL, NULL, &lba));
    assert_false(valid_all(p, NULL, NULL, &la));
    assert_false(valid_all(p, NULL, NULL, &lc));
    assert_false(valid_all(p, NULL, NULL, &lnone)); /* given (empty) is checked */
    assert_true(valid_all(p, NULL, NULL, NULL));    /* not given is not checked */
    ps_multi_policy_free(p);
}

static ps_multi_policy *full_policy(void)
{
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    PS_ASSERT_OK(ps_multi_policy_set_priority(p, -7));
    PS_ASSERT_OK(ps_multi_policy_add_host_pattern(p, "node[0-9]+"));
    PS_ASSERT_OK(ps_multi_policy_add_host_pattern(p, "login|head"));
    PS_ASSERT_OK(ps_multi_policy_set_size_bounds(p, 10, 1000000));
    PS_ASSERT_OK(ps_multi_policy_add_subset_tag(p, "x"));
    PS_ASSERT_OK(ps_multi_policy_add_subset_tag(p, "y z"));
    PS_ASSERT_OK(ps_multi_policy_add_superset_tag(p, "\"quoted\""));
    return p;
}

static void test_json_round_trip(void **state)
{
    (void)state;
    ps_multi_policy *p = full_policy();
    char *text = NULL;
    PS_ASSERT_OK(ps_multi_policy_to_json(p, &text));
    /* exactly upstream's six PolicyDict fields */
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    assert_non_null(obj);
    assert_int_equal(json_object_size(obj), 6);
    const char *fields[] = {"priority",       "host_pattern", "min_size_bytes",
                            "max_size_bytes", "subset_tags",  "superset_tags"};
    for (size_t i = 0; i < 6; i++)
        assert_non_null(json_object_get(obj, fields[i]));
    assert_true(json_is_array(json_object_get(obj, "host_pattern")));
    assert_int_equal(json_integer_value(json_object_get(obj, "priority")), -7);
    json_decref(obj);
    ps_multi_policy *q = NULL;
    PS_ASSERT_OK(ps_multi_policy_from_json(text, &q));
    assert_true(ps_multi_policy_equal(p, q));
    assert_true(on_host(q, "node12"));
    assert_true(on_host(q, "head"));
    assert_false(on_host(q, "headnode"));
    char *text2 = NULL;
    PS_ASSERT_OK(ps_multi_policy_to_json(q, &text2));
    assert_string_equal(text, text2);
    /* dup is equal, and a change makes them differ */
    ps_multi_policy *d = NULL;
    PS_ASSERT_OK(ps_multi_policy_dup(p, &d));
    assert_true(ps_multi_policy_equal(p, d));
    PS_ASSERT_OK(ps_multi_policy_add_subset_tag(d, "w"));
    assert_false(ps_multi_policy_equal(p, d));
    assert_false(ps_multi_policy_equal(p, NULL));
    ps_multi_policy_free(d);
    ps_free(text2);
    ps_free(text);
    ps_multi_policy_free(q);
    ps_multi_policy_free(p);
}

static void test_json_default_and_python(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    char *text = NULL;
    PS_ASSERT_OK(ps_multi_policy_to_json(p, &text));
    assert_string_equal(text, "{\"host_pattern\":null,\"max_size_bytes\":9223372036854775807,"
                              "\"min_size_bytes\":0,\"priority\":0,\"subset_tags\":[],"
                              "\"superset_tags\":[]}");
    ps_multi_policy *q = NULL;
    PS_ASSERT_OK(ps_multi_policy_from_json(text, &q));
    assert_true(ps_multi_policy_equal(p, q));
    ps_multi_policy_free(q);
    /* every field optional */
    PS_ASSERT_OK(ps_multi_policy_from_json("{}", &q));
    assert_true(ps_multi_policy_equal(p, q));
    ps_multi_policy_free(q);
    /* what Python's json.dumps(Policy(...).as_dict()) writes */
    PS_ASSERT_OK(ps_multi_policy_from_json(
        "{\"priority\": 3, \"host_pattern\": [\"thetagpu.*\"], \"min_size_bytes\": 0, "
        "\"max_size_bytes\": 1000, \"subset_tags\": [\"gpu\"], \"superset_tags\": []}",
        &q));
    assert_int_equal(ps_multi_policy_priority(q), 3);
    assert_true(on_host(q, "thetagpu12"));
    assert_false(on_host(q, "polaris"));
    assert_int_equal(ps_multi_policy_max_size(q), 1000);
    assert_string_equal(ps_multi_policy_subset_tag(q, 0), "gpu");
    ps_multi_policy_free(q);
    /* a bare string host_pattern is one pattern */
    PS_ASSERT_OK(ps_multi_policy_from_json("{\"host_pattern\": \"a|b\"}", &q));
    assert_int_equal(ps_multi_policy_host_pattern_count(q), 1);
    assert_true(on_host(q, "b"));
    ps_multi_policy_free(q);
    /* an empty list is kept as one (and matches no host) */
    PS_ASSERT_OK(ps_multi_policy_from_json("{\"host_pattern\": []}", &q));
    assert_true(ps_multi_policy_has_host_patterns(q));
    assert_false(on_host(q, "b"));
    ps_free(text);
    PS_ASSERT_OK(ps_multi_policy_to_json(q, &text));
    assert_non_null(strstr(text, "\"host_pattern\":[]"));
    ps_multi_policy_free(q);
    ps_free(text);
    ps_multi_policy_free(p);
}

static void test_json_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "[]",
        "{not json",
        "{\"priority\": 1, \"colour\": \"red\"}",
        "{\"priority\": \"high\"}",
        "{\"priority\": 1.5}",
        "{\"host_pattern\": 3}",
        "{\"host_pattern\": [\"ok\", 3]}",
        "{\"min_size_bytes\": -1}",
        "{\"max_size_bytes\": \"big\"}",
        "{\"subset_tags\": \"ab\"}",
        "{\"superset_tags\": [null]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ps_multi_policy *q = (ps_multi_policy *)&bad;
        PS_ASSERT_STATUS(ps_multi_policy_from_json(bad[i], &q), PS_EINVAL);
        assert_null(q);
    }
    ps_multi_policy *q = NULL;
    PS_ASSERT_STATUS(ps_multi_policy_from_json("{\"colour\": 1}", &q), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "colour"));
}

static void test_null_args(void **state)
{
    (void)state;
    ps_multi_policy *p = NULL, *q = (ps_multi_policy *)&p;
    bool v;
    char *text;
    PS_ASSERT_STATUS(ps_multi_policy_new(NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_dup(NULL, &q), PS_EINVAL);
    assert_null(q);
    PS_ASSERT_OK(ps_multi_policy_new(&p));
    PS_ASSERT_STATUS(ps_multi_policy_set_priority(NULL, 1), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_add_host_pattern(p, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_set_host_patterns(p, NULL, 2), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_add_subset_tag(p, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_add_superset_tag(NULL, "x"), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_is_valid(NULL, NULL, NULL, NULL, &v), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_is_valid(p, NULL, NULL, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_matches_host(p, NULL, &v), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_is_valid_on_host(NULL, &v), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_to_json(NULL, &text), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_to_json(p, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_policy_from_json(NULL, &q), PS_EINVAL);
    assert_null(q);
    assert_int_equal(ps_multi_policy_priority(NULL), 0);
    assert_null(ps_multi_policy_subset_tag(NULL, 0));
    ps_multi_policy_free(NULL);
    ps_multi_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_valid_everywhere),
        cmocka_unit_test(test_host_patterns),
        cmocka_unit_test(test_hostname_env),
        cmocka_unit_test(test_invalid_regex),
        cmocka_unit_test(test_size_bounds),
        cmocka_unit_test(test_subset_tags),
        cmocka_unit_test(test_superset_tags),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_default_and_python),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_null_args),
    };
    return pst_exit(cmocka_run_group_tests_name("unit.policy", tests, NULL, NULL));
}
