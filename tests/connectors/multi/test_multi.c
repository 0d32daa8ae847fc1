/*
 * The multi connector: every item of upstream's tests/connectors/
 * multi_test.py (connector part), plus the C API, batches, nesting, close
 * and configuration forms. Policies alone are in test_policy.c; dormant
 * entries across two processes in tests/connectors/multi/test_multi_hosts.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "testutil.h"
#include "proxystore/connectors/file.h"
#include "proxystore/connectors/local.h"
#include "proxystore/connectors/multi.h"
#include "proxystore/sys/connector.h"

/* ---- helpers ------------------------------------------------------------------ */

static unsigned g_counter;

/* A local connector on a fresh map. */
static ps_connector *new_local(void)
{
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_local_connector_open(NULL, &c));
    return c;
}

static ps_multi_policy *policy(const char *json)
{
    ps_multi_policy *p = NULL;
    PS_ASSERT_OK(ps_multi_policy_from_json(json, &p));
    return p;
}

/* A multi over two fresh local connectors "c1" and "c2" with the given
 * policies (JSON). */
static ps_connector *two_locals(const char *p1, const char *p2)
{
    ps_multi_policy *a = policy(p1), *b = policy(p2);
    ps_multi_entry e[2] = {{"c1", new_local(), a}, {"c2", new_local(), b}};
    ps_connector *m = NULL;
    PS_ASSERT_OK(ps_multi_connector_open(
        &(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION, .entries = e, .n_entries = 2},
        &m));
    ps_multi_policy_free(a);
    ps_multi_policy_free(b);
    return m;
}

static const char *key_name(const ps_key *k)
{
    const char *name = NULL;
    PS_ASSERT_OK(ps_multi_key_connector_name(k, &name));
    return name;
}

static void expect(ps_connector *c, const ps_key *k, const void *data, size_t len)
{
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, len);
    if (len)
        assert_memory_equal(b.data, data, len);
    ps_bytes_free(&b);
}

static bool exists(ps_connector *c, const ps_key *k)
{
    bool ex = false;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    return ex;
}

/* The inner connector of entry `name`. */
static ps_connector *entry_conn(ps_connector *m, const char *name)
{
    for (size_t i = 0; i < ps_multi_connector_count(m); i++) {
        const char *n = NULL;
        ps_connector *inner = NULL;
        PS_ASSERT_OK(ps_multi_connector_entry(m, i, &n, NULL, &inner));
        if (strcmp(n, name) == 0)
            return inner;
    }
    fail_msg("no entry %s", name);
    return NULL;
}

static size_t count_dormant(ps_connector *m)
{
    size_t n = 0;
    for (size_t i = 0; i < ps_multi_connector_count(m); i++) {
        bool d = false;
        PS_ASSERT_OK(ps_multi_connector_entry(m, i, NULL, &d, NULL));
        n += d;
    }
    return n;
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static bool dir_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Not inlined: after inlining, gcc -O3 takes the returned pointer for one to
 * the local variable whose address was passed (a -Wdangling-pointer false
 * positive). */
__attribute__((noinline)) static char *config_text(ps_connector *c)
{
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    return cfg;
}

/* Offset of `needle` in `text`, or -1. */
static long text_pos(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    return p ? (long)(p - text) : -1;
}

/* ps_connector_open("multi", options of `cfg`). */
static ps_status open_from_config(const char *cfg, ps_connector **out)
{
    json_error_t jerr;
    json_t *j = json_loads(cfg, 0, &jerr);
    assert_non_null(j);
    ps_status st = ps_connector_from_config_json(j, out);
    json_decref(j);
    return st;
}

/* ---- multi_test.py ------------------------------------------------------------------ */

static void test_priority(void **state)
{
    (void)state;
    ps_connector *m = two_locals("{\"priority\": 1}", "{\"priority\": 2}");
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(m, "value", 5, NULL, &k));
    assert_string_equal(ps_key_type(k), "multi");
    assert_string_equal(key_name(k), "c2");
    const ps_key *inner = ps_multi_key_inner(k);
    assert_non_null(inner);
    assert_ptr_equal(inner, ps_key_inner(k)); /* borrowed: the key's own */
    assert_string_equal(ps_key_type(inner), "local");
    assert_true(exists(entry_conn(m, "c2"), inner));
    expect(m, k, "value", 5);
    /* the same key parsed from its text: parsed once, kept in the key */
    ps_key *parsed = NULL;
    PS_ASSERT_OK(ps_key_parse(ps_key_str(k), &parsed));
    assert_null(ps_key_inner(parsed));
    const ps_key *pin = ps_multi_key_inner(parsed);
    assert_non_null(pin);
    assert_ptr_equal(ps_multi_key_inner(parsed), pin);
    assert_true(ps_key_equal(pin, inner));
    expect(m, parsed, "value", 5);
    /* a copy of a parsed key does not share the parsed inner key */
    ps_key *copy = NULL;
    PS_ASSERT_OK(ps_key_dup(parsed, &copy));
    ps_key_free(parsed);
    const ps_key *cin = ps_multi_key_inner(copy);
    assert_non_null(cin);
    assert_true(ps_key_equal(cin, inner));
    ps_key_free(copy);
    /* a multi key whose second field is not key text */
    ps_key *bad = NULL;
    PS_ASSERT_OK(ps_key_parse("multi:c2/not-a-key", &bad));
    assert_null(ps_multi_key_inner(bad));
    assert_non_null(strstr(ps_last_error(), "inner key"));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(m, bad, &b), PS_EINVAL);
    ps_key_free(bad);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

static void test_priority_ties(void **state)
{
    (void)state;
    /* equal priorities: the order given wins, both ways */
    ps_connector *m = two_locals("{\"priority\": 5}", "{\"priority\": 5}");
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(m, "x", 1, NULL, &k));
    assert_string_equal(key_name(k), "c1");
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
    /* through JSON, with a higher one in the middle and ties around it */
    const char *json =
        "{\"connectors\": ["
        "{\"name\": \"z-low\", \"connector\": {\"kind\": \"local\"}, \"policy\": {\"priority\": "
        "1}},"
        "{\"name\": \"b-tie\", \"connector\": {\"kind\": \"local\"}, \"policy\": {\"priority\": "
        "3}},"
        "{\"name\": \"a-tie\", \"connector\": {\"kind\": \"local\"}, \"policy\": {\"priority\": 3,"
        " \"max_size_bytes\": 10}},"
        "{\"name\": \"top\", \"connector\": {\"kind\": \"local\"}, \"policy\": {\"priority\": 9,"
        " \"min_size_bytes\": 1000}}]}";
    PS_ASSERT_OK(ps_connector_open("multi", json, &m));
    PS_ASSERT_OK(ps_connector_put(m, "x", 1, NULL, &k));
    assert_string_equal(key_name(k), "b-tie"); /* given before a-tie */
    ps_key_free(k);
    char big[2000];
    memset(big, 'b', sizeof big);
    PS_ASSERT_OK(ps_connector_put(m, big, sizeof big, NULL, &k));
    assert_string_equal(key_name(k), "top");
    ps_key_free(k);
    /* config keeps the given order, not the priority order nor sorted names */
    char *cfg = config_text(m);
    long p1 = text_pos(cfg, "z-low"), p2 = text_pos(cfg, "b-tie"), p3 = text_pos(cfg, "a-tie"),
         p4 = text_pos(cfg, "top");
    ps_free(cfg);
    assert_true(p1 >= 0 && p1 < p2 && p2 < p3 && p3 < p4);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

static void test_size_routing(void **state)
{
    (void)state;
    ps_connector *m = two_locals("{\"max_size_bytes\": 1}", "{\"min_size_bytes\": 2}");
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(m, "value", 5, NULL, &k));
    assert_string_equal(key_name(k), "c2");
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_put(m, "v", 1, NULL, &k));
    assert_string_equal(key_name(k), "c1");
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_put(m, "", 0, NULL, &k));
    assert_string_equal(key_name(k), "c1");
    expect(m, k, "", 0);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

/* The seed's example: small objects to one connector, large to another. */
static void test_small_local_large_file(void **state)
{
    (void)state;
    char *dir = pst_mkdtemp("multi-seed");
    char json[4096];
    snprintf(json, sizeof json,
             "{\"connectors\": ["
             "{\"name\": \"memory\", \"connector\": {\"kind\": \"local\"}, "
             "\"policy\": {\"priority\": 2, \"max_size_bytes\": 1000}},"
             "{\"name\": \"disk\", \"connector\": {\"kind\": \"file\", \"options\": "
             "{\"store_dir\": \"%s/objects\"}}, \"policy\": {\"priority\": 1, "
             "\"min_size_bytes\": 1001}}]}",
             dir);
    ps_connector *m = NULL;
    PS_ASSERT_OK(ps_connector_open("multi", json, &m));
    size_t sizes[] = {0, 100, 1000, 1001, 1 << 20};
    ps_key *keys[5];
    for (size_t i = 0; i < 5; i++) {
        char *buf = malloc(sizes[i] + 1);
        pst_fill(buf, sizes[i], (uint32_t)i);
        PS_ASSERT_OK(ps_connector_put(m, buf, sizes[i], NULL, &keys[i]));
        assert_string_equal(key_name(keys[i]), sizes[i] <= 1000 ? "memory" : "disk");
        expect(m, keys[i], buf, sizes[i]);
        free(buf);
    }
    char objdir[4200];
    snprintf(objdir, sizeof objdir, "%s/objects", dir);
    assert_int_equal(count_files(objdir), 4); /* 2 objects + 2 .ready markers */
    for (size_t i = 0; i < 5; i++) {
        PS_ASSERT_OK(ps_connector_evict(m, keys[i]));
        assert_false(exists(m, keys[i]));
        ps_bytes b = PS_BYTES_INIT;
        PS_ASSERT_STATUS(ps_connector_get(m, keys[i], &b), PS_NOT_FOUND);
        PS_ASSERT_OK(ps_connector_evict(m, keys[i])); /* again: not an error */
    }
    ps_key_free_array(keys, 5);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
    assert_false(dir_exists(objdir));
    pst_rmtree(dir);
    free(dir);
}

static void test_tags(void **state)
{
    (void)state;
    ps_connector *m = two_locals("{\"priority\": 1, \"subset_tags\": [\"a\", \"b\"]}",
                                 "{\"priority\": 2, \"superset_tags\": [\"x\", \"y\"]}");
    ps_put_options o;
    ps_put_options_init(&o);
    const char *sub[] = {"a"};
    o.subset_tags = sub;
    o.n_subset_tags = 1;
    ps_key *k = NULL;
    /* c2 is tried first, but its empty subset list rejects 'a' */
    PS_ASSERT_OK(ps_connector_put(m, "v", 1, &o, &k));
    assert_string_equal(key_name(k), "c1");
    ps_key_free(k);
    ps_put_options_init(&o);
    const char *sup[] = {"x", "y", "z"};
    o.superset_tags = sup;
    o.n_superset_tags = 3;
    PS_ASSERT_OK(ps_connector_put(m, "v", 1, &o, &k));
    assert_string_equal(key_name(k), "c2");
    ps_key_free(k);
    /* untagged: c2 requires superset tags, c1 takes it */
    PS_ASSERT_OK(ps_connector_put(m, "v", 1, NULL, &k));
    assert_string_equal(key_name(k), "c1");
    ps_key_free(k);
    /* batches carry the tags too */
    ps_iov items[2] = {{"p", 1}, {"q", 1}};
    ps_key *keys[2];
    PS_ASSERT_OK(ps_connector_put_batch(m, 2, items, &o, keys));
    assert_string_equal(key_name(keys[0]), "c2");
    assert_string_equal(key_name(keys[1]), "c2");
    ps_key_free_array(keys, 2);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

static void test_no_policy(void **state)
{
    (void)state;
    ps_connector *m = two_locals("{\"max_size_bytes\": 10}", "{\"superset_tags\": [\"gpu\"]}");
    char buf[100] = {0};
    ps_key *k = (ps_key *)buf;
    PS_ASSERT_STATUS(ps_connector_put(m, buf, sizeof buf, NULL, &k), PS_ENOPOLICY);
    assert_null(k);
    const char *msg = ps_last_error();
    assert_non_null(strstr(msg, "policy"));
    assert_non_null(strstr(msg, "constraints"));
    assert_non_null(strstr(msg, "size_bytes=100"));
    ps_put_options o;
    ps_put_options_init(&o);
    const char *sub[] = {"fast", "cheap"};
    o.subset_tags = sub;
    o.n_subset_tags = 2;
    PS_ASSERT_STATUS(ps_connector_put(m, "x", 1, &o, &k), PS_ENOPOLICY);
    assert_non_null(strstr(ps_last_error(), "subset_tags=['fast', 'cheap']"));
    assert_non_null(strstr(ps_last_error(), "superset_tags=[]"));
    /* a batch with one misfit stores nothing */
    ps_iov items[3] = {{"a", 1}, {buf, sizeof buf}, {"b", 1}};
    ps_key *keys[3];
    PS_ASSERT_STATUS(ps_connector_put_batch(m, 3, items, NULL, keys), PS_ENOPOLICY);
    assert_non_null(strstr(ps_last_error(), "item 1"));
    for (int i = 0; i < 3; i++)
        assert_null(keys[i]);
    /* an empty multi has no policy for anything */
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
    PS_ASSERT_OK(ps_connector_open("multi", "{\"connectors\": []}", &m));
    PS_ASSERT_STATUS(ps_connector_put(m, "x", 1, NULL, &k), PS_ENOPOLICY);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

static void test_unknown_connector(void **state)
{
    (void)state;
    ps_connector *m = two_locals("{}", "{}");
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(m, "v", 1, NULL, &k));
    const char *fields[] = {"no-such-connector", ps_key_field(k, 1)};
    ps_key *bad = NULL;
    PS_ASSERT_OK(ps_key_new("multi", 2, fields, &bad));
    ps_bytes b = PS_BYTES_INIT;
    bool ex = true;
    PS_ASSERT_STATUS(ps_connector_get(m, bad, &b), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "does not exist"));
    assert_non_null(strstr(ps_last_error(), "no-such-connector"));
    PS_ASSERT_STATUS(ps_connector_exists(m, bad, &ex), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "does not exist"));
    PS_ASSERT_STATUS(ps_connector_evict(m, bad), PS_EINVAL);
    const ps_key *both[2] = {k, bad};
    ps_bytes outs[2];
    PS_ASSERT_STATUS(ps_connector_get_batch(m, 2, both, outs, NULL), PS_EINVAL);
    assert_null(outs[0].data);
    /* an inner key that is not key text */
    const char *garbage[] = {"c1", "not a key"};
    ps_key_free(bad);
    PS_ASSERT_OK(ps_key_new("multi", 2, garbage, &bad));
    PS_ASSERT_STATUS(ps_connector_get(m, bad, &b), PS_EINVAL);
    /* an inner key of another type than the entry's connector */
    const char *wrongtype[] = {"c1", "file:0f8fad5b-d9cb-469f-a165-70867728950e/00000000"};
    ps_key_free(bad);
    PS_ASSERT_OK(ps_key_new("multi", 2, wrongtype, &bad));
    PS_ASSERT_STATUS(ps_connector_exists(m, bad, &ex), PS_EINVAL);
    expect(m, k, "v", 1);
    ps_key_free(bad);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

static void test_config_round_trip(void **state)
{
    (void)state;
    char *dir = pst_mkdtemp("multi-cfg");
    char json[4096];
    snprintf(json, sizeof json,
             "{\"connectors\": ["
             "{\"name\": \"mem\", \"connector\": {\"kind\": \"local\", \"options\": "
             "{\"store_id\": \"cfg-rt-%u\"}}, \"policy\": {\"priority\": 2, \"max_size_bytes\": "
             "100, \"subset_tags\": [\"s\"], \"host_pattern\": [\".*\"]}},"
             "{\"name\": \"disk\", \"connector\": {\"kind\": \"file\", \"options\": "
             "{\"store_dir\": \"%s/d\", \"clear\": false}}}]}",
             ++g_counter, dir);
    ps_connector *m = NULL, *m2 = NULL;
    PS_ASSERT_OK(ps_connector_open("multi", json, &m));
    char *cfg = config_text(m);
    PS_ASSERT_OK(open_from_config(cfg, &m2));
    char *cfg2 = config_text(m2);
    assert_string_equal(cfg, cfg2);
    /* the JSON shape: an ordered list of {name, connector, policy} */
    json_error_t jerr;
    json_t *j = json_loads(cfg, 0, &jerr);
    json_t *list = json_object_get(json_object_get(j, "options"), "connectors");
    assert_true(json_is_array(list));
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "mem");
    json_t *pol = json_object_get(json_array_get(list, 1), "policy");
    assert_int_equal(json_object_size(pol), 6);
    json_decref(j);
    /* both share storage */
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(m, "shared", 6, NULL, &k));
    expect(m2, k, "shared", 6);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(m2, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
    ps_free(cfg2);
    ps_free(cfg);
    pst_rmtree(dir);
    free(dir);
}

static void test_config_input_forms(void **state)
{
    (void)state;
    /* the object form (order of the text) and upstream's triples */
    const char *json = "{\"connectors\": {"
                       "\"second\": [\"proxystore.connectors.local.LocalConnector\", {}, "
                       "{\"priority\": 0, \"host_pattern\": null, \"min_size_bytes\": 0, "
                       "\"max_size_bytes\": 9223372036854775807, \"subset_tags\": [], "
                       "\"superset_tags\": []}],"
                       "\"first\": {\"connector\": {\"kind\": \"LocalConnector\"}}}}";
    ps_connector *m = NULL;
    PS_ASSERT_OK(ps_connector_open("multi", json, &m));
    assert_int_equal(ps_multi_connector_count(m), 2);
    const char *name = NULL;
    PS_ASSERT_OK(ps_multi_connector_entry(m, 0, &name, NULL, NULL));
    assert_string_equal(name, "second");
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(m, "x", 1, NULL, &k));
    assert_string_equal(key_name(k), "second"); /* tie: first in the text */
    ps_key_free(k);
    char *cfg = config_text(m);
    assert_non_null(strstr(cfg, "\"connectors\":[{"));
    ps_free(cfg);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

static void test_bad_config(void **state)
{
    (void)state;
    const char *bad[] = {
        "{}",
        "{\"connectors\": 3}",
        "{\"connectors\": [], \"extra\": 1}",
        "{\"connectors\": [3]}",
        "{\"connectors\": [{\"connector\": {\"kind\": \"local\"}}]}",
        "{\"connectors\": [{\"name\": \"\", \"connector\": {\"kind\": \"local\"}}]}",
        "{\"connectors\": [{\"name\": \"a\"}]}",
        "{\"connectors\": [{\"name\": \"a\", \"connector\": {\"kind\": \"local\"}, \"x\": 1}]}",
        "{\"connectors\": [{\"name\": \"a\", \"connector\": {\"kind\": \"local\"}},"
        " {\"name\": \"a\", \"connector\": {\"kind\": \"local\"}}]}",
        "{\"connectors\": [{\"name\": \"a\", \"connector\": {\"kind\": \"nope\"}}]}",
        "{\"connectors\": [{\"name\": \"a\", \"connector\": {\"kind\": \"local\"},"
        " \"policy\": {\"colour\": 1}}]}",
        "{\"connectors\": [{\"name\": \"a\", \"connector\": {\"kind\": \"local\"},"
        " \"policy\": {\"host_pattern\": \"(\"}}]}",
        "{\"connectors\": {\"a\": [\"local\", {}]}}",
        "{\"connectors\": {\"a\": 1}}",
        "{\"connectors\": {\"a\": {\"connector\": {\"kind\": \"local\"}, \"y\": 2}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ps_connector *m = (ps_connector *)&bad;
        ps_status st = ps_connector_open("multi", bad[i], &m);
        if (st != PS_EINVAL)
            fail_msg("case %zu (%s): %s: %s", i, bad[i], ps_status_name(st), ps_last_error());
        assert_true(ps_last_error()[0] != '\0');
        assert_null(m);
    }
    /* an inner connector that fails to open: the message names the entry */
    ps_connector *m = NULL;
    PS_ASSERT_STATUS(ps_connector_open("multi",
                                       "{\"connectors\": [{\"name\": \"mem\", \"connector\": "
                                       "{\"kind\": \"local\"}}, {\"name\": \"broken\", "
                                       "\"connector\": {\"kind\": \"file\", \"options\": "
                                       "{\"no_such\": 1}}}]}",
                                       &m),
                     PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "broken"));
}

/* Dormant entries, in one process: PROXYSTORE_HOSTNAME plays the host. */
static void test_dormant(void **state)
{
    (void)state;
    char json[2048];
    snprintf(json, sizeof json,
             "{\"connectors\": ["
             "{\"name\": \"on-a\", \"connector\": {\"kind\": \"local\", \"options\": "
             "{\"store_id\": \"dormant-a-%u\"}}, \"policy\": {\"host_pattern\": [\"host-a\"], "
             "\"priority\": 2, \"subset_tags\": [\"a-only\"]}},"
             "{\"name\": \"on-b\", \"connector\": {\"kind\": \"local\", \"options\": "
             "{\"store_id\": \"dormant-b-%u\"}}, \"policy\": {\"host_pattern\": \"host-b|host-c\","
             " \"priority\": 1}}]}",
             g_counter + 1, g_counter + 1);
    g_counter++;
    setenv("PROXYSTORE_HOSTNAME", "host-a", 1);
    ps_connector *ma = NULL;
    PS_ASSERT_OK(ps_connector_open("multi", json, &ma));
    assert_int_equal(count_dormant(ma), 1);
    ps_key *ka = NULL;
    PS_ASSERT_OK(ps_connector_put(ma, "from a", 6, NULL, &ka));
    assert_string_equal(key_name(ka), "on-a");
    char *cfg_a = config_text(ma);

    setenv("PROXYSTORE_HOSTNAME", "host-b", 1);
    ps_connector *mb = NULL;
    PS_ASSERT_OK(open_from_config(cfg_a, &mb));
    assert_int_equal(ps_multi_connector_count(mb), 2);
    assert_int_equal(count_dormant(mb), 1);
    bool dormant = false;
    ps_connector *inner = (ps_connector *)&dormant;
    PS_ASSERT_OK(ps_multi_connector_entry(mb, 0, NULL, &dormant, &inner));
    assert_true(dormant);
    assert_null(inner);
    /* a key of the dormant connector */
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(mb, ka, &b), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "dormant"));
    bool ex;
    PS_ASSERT_STATUS(ps_connector_exists(mb, ka, &ex), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_evict(mb, ka), PS_EINVAL);
    /* a put that only the dormant connector would take */
    ps_put_options o;
    ps_put_options_init(&o);
    const char *tags[] = {"a-only"};
    o.subset_tags = tags;
    o.n_subset_tags = 1;
    ps_key *kb = NULL;
    PS_ASSERT_STATUS(ps_connector_put(mb, "x", 1, &o, &kb), PS_ENOPOLICY);
    assert_non_null(strstr(ps_last_error(), "constraints"));
    /* others go to this host's connector */
    PS_ASSERT_OK(ps_connector_put(mb, "from b", 6, NULL, &kb));
    assert_string_equal(key_name(kb), "on-b");
    /* the dormant entry is written back unchanged */
    char *cfg_b = config_text(mb);
    assert_string_equal(cfg_a, cfg_b);
    /* and on a host matching neither, both are dormant */
    setenv("PROXYSTORE_HOSTNAME", "host-z", 1);
    ps_connector *mz = NULL;
    PS_ASSERT_OK(open_from_config(cfg_b, &mz));
    assert_int_equal(count_dormant(mz), 2);
    char *cfg_z = config_text(mz);
    assert_string_equal(cfg_a, cfg_z);
    PS_ASSERT_OK(ps_connector_close(mz, PS_CLEAR_DEFAULT));
    unsetenv("PROXYSTORE_HOSTNAME");

    ps_key_free(kb);
    ps_key_free(ka);
    ps_free(cfg_z);
    ps_free(cfg_b);
    ps_free(cfg_a);
    PS_ASSERT_OK(ps_connector_close(mb, PS_CLEAR_ALL));
    PS_ASSERT_OK(ps_connector_close(ma, PS_CLEAR_ALL));
}

/* ---- C API ------------------------------------------------------------------------------ */

static void test_c_api(void **state)
{
    (void)state;
    ps_connector *l1 = new_local(), *l2 = new_local();
    ps_multi_policy *p = policy("{\"host_pattern\": \"never-this-host\", \"priority\": 10}");
    ps_multi_entry e[2] = {{"remote", l1, p}, {"here", l2, NULL}};
    ps_connector *m = (ps_connector *)&e;
    /* refusals leave the connectors with the caller */
    ps_multi_entry dup[2] = {{"x", l1, NULL}, {"x", l2, NULL}};
    PS_ASSERT_STATUS(ps_multi_connector_open(
                         &(ps_multi_options){
                             .version = PS_MULTI_OPTIONS_VERSION, .entries = dup, .n_entries = 2},
                         &m),
                     PS_EINVAL);
    assert_null(m);
    ps_multi_entry same[2] = {{"x", l1, NULL}, {"y", l1, NULL}};
    PS_ASSERT_STATUS(ps_multi_connector_open(
                         &(ps_multi_options){
                             .version = PS_MULTI_OPTIONS_VERSION, .entries = same, .n_entries = 2},
                         &m),
                     PS_EINVAL);
    ps_multi_entry noconn[1] = {{"x", NULL, NULL}};
    PS_ASSERT_STATUS(
        ps_multi_connector_open(&(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION,
                                                    .entries = noconn,
                                                    .n_entries = 1},
                                &m),
        PS_EINVAL);
    ps_multi_entry noname[1] = {{"", l1, NULL}};
    PS_ASSERT_STATUS(
        ps_multi_connector_open(&(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION,
                                                    .entries = noname,
                                                    .n_entries = 1},
                                &m),
        PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_connector_open(
                         &(ps_multi_options){
                             .version = PS_MULTI_OPTIONS_VERSION, .entries = NULL, .n_entries = 1},
                         &m),
                     PS_EINVAL);
    PS_ASSERT_STATUS(
        ps_multi_connector_open(
            &(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION, .entries = e, .n_entries = 2},
            NULL),
        PS_EINVAL);

    setenv("PROXYSTORE_HOSTNAME", "this-host", 1);
    PS_ASSERT_OK(ps_multi_connector_open(
        &(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION, .entries = e, .n_entries = 2},
        &m));
    ps_multi_policy_free(p); /* copied */
    assert_string_equal(ps_connector_kind(m), "multi");
    assert_true(ps_connector_is_threadsafe(m));
    assert_false(ps_connector_is_deferrable(m));
    assert_int_equal(count_dormant(m), 0); /* the C API keeps every entry active */
    /* put skips the entry whose host pattern does not match ... */
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(m, "x", 1, NULL, &k));
    assert_string_equal(key_name(k), "here");
    ps_key_free(k);
    /* ... but its keys resolve */
    ps_key *inner = NULL;
    PS_ASSERT_OK(ps_connector_put(l1, "remote data", 11, NULL, &inner));
    const char *fields[] = {"remote", ps_key_str(inner)};
    PS_ASSERT_OK(ps_key_new("multi", 2, fields, &k));
    expect(m, k, "remote data", 11);
    ps_key_free(k);
    ps_key_free(inner);
    unsetenv("PROXYSTORE_HOSTNAME");
    /* introspection refuses other connectors */
    ps_connector *l3 = new_local();
    assert_int_equal(ps_multi_connector_count(l3), 0);
    PS_ASSERT_STATUS(ps_multi_connector_entry(l3, 0, NULL, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_connector_entry(m, 2, NULL, NULL, NULL), PS_EINVAL);
    assert_int_equal(ps_multi_connector_count(NULL), 0);
    /* key helpers */
    ps_key *lk = NULL;
    PS_ASSERT_OK(ps_connector_put(l3, "y", 1, NULL, &lk));
    const char *name = NULL;
    PS_ASSERT_STATUS(ps_multi_key_connector_name(lk, &name), PS_EINVAL);
    PS_ASSERT_STATUS(ps_multi_key_connector_name(NULL, &name), PS_EINVAL);
    assert_null(ps_multi_key_inner(lk));
    assert_null(ps_multi_key_inner(NULL));
    ps_key_free(lk);
    PS_ASSERT_OK(ps_connector_close(l3, PS_CLEAR_ALL));
    /* the multi owns l1 and l2 now: closing it closes them (ASan: no leak) */
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
    /* an empty multi */
    PS_ASSERT_OK(ps_multi_connector_open(
        &(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION, .entries = NULL, .n_entries = 0},
        &m));
    assert_int_equal(ps_multi_connector_count(m), 0);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

static void test_batches(void **state)
{
    (void)state;
    char *dir = pst_mkdtemp("multi-batch");
    char objdir[4200];
    snprintf(objdir, sizeof objdir, "%s/o", dir);
    ps_connector *file = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = objdir, .clear = true},
        &file));
    ps_multi_policy *small = policy("{\"priority\": 1, \"max_size_bytes\": 3}");
    ps_multi_entry e[2] = {{"small", new_local(), small}, {"file", file, NULL}};
    ps_connector *m = NULL;
    PS_ASSERT_OK(ps_multi_connector_open(
        &(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION, .entries = e, .n_entries = 2},
        &m));
    ps_multi_policy_free(small);
    ps_iov items[5] = {{"aaaa", 4}, {"b", 1}, {"cccccc", 6}, {"", 0}, {"ee", 2}};
    ps_key *keys[5];
    PS_ASSERT_OK(ps_connector_put_batch(m, 5, items, NULL, keys));
    const char *want[5] = {"file", "small", "file", "small", "small"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(key_name(keys[i]), want[i]);
    assert_int_equal(count_files(objdir), 4);
    /* get_batch across both, in order, with a missing one in the middle */
    PS_ASSERT_OK(ps_connector_evict(m, keys[2]));
    ps_bytes outs[5];
    bool found[5];
    PS_ASSERT_OK(ps_connector_get_batch(m, 5, (const ps_key *const *)keys, outs, found));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(found[i], i != 2);
        if (i != 2) {
            assert_int_equal(outs[i].len, items[i].len);
            if (items[i].len)
                assert_memory_equal(outs[i].data, items[i].data, items[i].len);
        } else {
            assert_int_equal(outs[i].len, 0);
        }
    }
    ps_bytes_free_array(outs, 5);
    ps_key_free_array(keys, 5);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
    assert_false(dir_exists(objdir));
    pst_rmtree(dir);
    free(dir);
}

static void test_nested(void **state)
{
    (void)state;
    const char *json =
        "{\"connectors\": ["
        "{\"name\": \"inner\", \"connector\": {\"kind\": \"multi\", \"options\": {\"connectors\": ["
        "  {\"name\": \"gpu\", \"connector\": {\"kind\": \"local\"}, \"policy\": "
        "{\"subset_tags\": [\"gpu\"], \"priority\": 1}},"
        "  {\"name\": \"cpu\", \"connector\": {\"kind\": \"local\"}, \"policy\": "
        "{\"subset_tags\": [\"gpu\", \"cpu\"]}}]}},"
        " \"policy\": {\"subset_tags\": [\"gpu\", \"cpu\"], \"priority\": 1}},"
        "{\"name\": \"rest\", \"connector\": {\"kind\": \"local\"}}]}";
    ps_connector *m = NULL;
    PS_ASSERT_OK(ps_connector_open("multi", json, &m));
    ps_put_options o;
    ps_put_options_init(&o);
    const char *gpu[] = {"gpu"}, *cpu[] = {"cpu"};
    o.subset_tags = gpu;
    o.n_subset_tags = 1;
    ps_key *k1 = NULL, *k2 = NULL, *k3 = NULL;
    PS_ASSERT_OK(ps_connector_put(m, "g", 1, &o, &k1));
    o.subset_tags = cpu;
    PS_ASSERT_OK(ps_connector_put(m, "c", 1, &o, &k2));
    o.subset_tags = (const char *const[]){"other"};
    PS_ASSERT_STATUS(ps_connector_put(m, "o", 1, &o, &k3), PS_ENOPOLICY);
    assert_string_equal(key_name(k1), "inner");
    assert_string_equal(key_name(k2), "inner");
    const ps_key *i1 = ps_multi_key_inner(k1), *i2 = ps_multi_key_inner(k2);
    assert_non_null(i1);
    assert_non_null(i2);
    assert_string_equal(key_name(i1), "gpu");
    assert_string_equal(key_name(i2), "cpu");
    /* "other" fits neither the inner multi's policy nor "rest" (empty subset list) */
    assert_null(k3);
    expect(m, k1, "g", 1);
    expect(m, k2, "c", 1);
    char *cfg = config_text(m);
    ps_connector *m2 = NULL;
    PS_ASSERT_OK(open_from_config(cfg, &m2));
    char *cfg2 = config_text(m2);
    assert_string_equal(cfg, cfg2);
    ps_free(cfg2);
    ps_free(cfg);
    PS_ASSERT_OK(ps_connector_close(m2, PS_CLEAR_KEEP));
    ps_key_free(k1);
    ps_key_free(k2);
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
}

/* close(clear) reaches every inner connector; DEFAULT lets each decide. */
static void test_close_clear(void **state)
{
    (void)state;
    char *dir = pst_mkdtemp("multi-close");
    char d1[4200], d2[4200];
    snprintf(d1, sizeof d1, "%s/clear-true", dir);
    snprintf(d2, sizeof d2, "%s/clear-false", dir);
    char json[9000];
    snprintf(json, sizeof json,
             "{\"connectors\": ["
             "{\"name\": \"t\", \"connector\": {\"kind\": \"file\", \"options\": "
             "{\"store_dir\": \"%s\", \"clear\": true}}},"
             "{\"name\": \"f\", \"connector\": {\"kind\": \"file\", \"options\": "
             "{\"store_dir\": \"%s\", \"clear\": false}}}]}",
             d1, d2);
    ps_connector *m = NULL;
    /* KEEP: both stay */
    PS_ASSERT_OK(ps_connector_open("multi", json, &m));
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_KEEP));
    assert_true(dir_exists(d1));
    assert_true(dir_exists(d2));
    /* DEFAULT: each as configured */
    PS_ASSERT_OK(ps_connector_open("multi", json, &m));
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_DEFAULT));
    assert_false(dir_exists(d1));
    assert_true(dir_exists(d2));
    /* ALL: both go */
    PS_ASSERT_OK(ps_connector_open("multi", json, &m));
    PS_ASSERT_OK(ps_connector_close(m, PS_CLEAR_ALL));
    assert_false(dir_exists(d1));
    assert_false(dir_exists(d2));
    pst_rmtree(dir);
    free(dir);
}

/* A store over a multi connector, from a full store configuration (what
 * `proxystore --store @multi.json` reads): put options reach the routing. */
static void test_store_end_to_end(void **state)
{
    (void)state;
    const char *cfg = "{\"name\": \"multi-e2e\", \"cache_size\": 0, \"connector\": "
                      "{\"kind\": \"multi\", \"options\": {\"connectors\": ["
                      "{\"name\": \"gpu\", \"connector\": {\"kind\": \"local\"}, "
                      "\"policy\": {\"priority\": 2, \"superset_tags\": [\"gpu\"]}},"
                      "{\"name\": \"any\", \"connector\": {\"kind\": \"local\"}}]}}}";
    ps_store *s = NULL;
    PS_ASSERT_OK(ps_store_from_config(cfg, &s));
    ps_put_options o;
    ps_put_options_init(&o);
    const char *gpu[] = {"gpu", "fast"};
    o.superset_tags = gpu;
    o.n_superset_tags = 2;
    ps_key *k1 = NULL, *k2 = NULL, *keys[2] = {NULL, NULL};
    PS_ASSERT_OK(ps_store_put(s, "tagged", 6, &o, &k1));
    PS_ASSERT_OK(ps_store_put(s, "plain", 5, NULL, &k2));
    assert_string_equal(key_name(k1), "gpu");
    assert_string_equal(key_name(k2), "any");
    ps_iov items[2] = {{"b1", 2}, {"b2", 2}};
    PS_ASSERT_OK(ps_store_put_batch(s, 2, items, &o, keys));
    assert_string_equal(key_name(keys[0]), "gpu");
    assert_string_equal(key_name(keys[1]), "gpu");
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_get(s, k1, NULL, &b));
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "tagged", 6);
    ps_bytes_free(&b);
    PS_ASSERT_OK(ps_store_get(s, keys[1], NULL, &b));
    assert_memory_equal(b.data, "b2", 2);
    ps_bytes_free(&b);
    /* the store's configuration round-trips through the multi connector */
    char *c1 = NULL, *c2 = NULL;
    PS_ASSERT_OK(ps_store_config(s, &c1));
    ps_store *s2 = NULL;
    PS_ASSERT_OK(ps_store_from_config(c1, &s2));
    PS_ASSERT_OK(ps_store_config(s2, &c2));
    assert_string_equal(c1, c2);
    ps_free(c1);
    ps_free(c2);
    ps_key_free_array(keys, 2);
    ps_key_free(k1);
    ps_key_free(k2);
    PS_ASSERT_OK(ps_store_close(s2, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_ALL));
}

static void test_threads_flag_and_kind(void **state)
{
    (void)state;
    assert_non_null(ps_connector_find("multi"));
    assert_non_null(ps_connector_find("MultiConnector"));
    assert_non_null(ps_connector_find("proxystore.connectors.multi.MultiConnector"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_priority_ties),
        cmocka_unit_test(test_size_routing),
        cmocka_unit_test(test_small_local_large_file),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_no_policy),
        cmocka_unit_test(test_unknown_connector),
        cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_config_input_forms),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_dormant),
        cmocka_unit_test(test_c_api),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_close_clear),
        cmocka_unit_test(test_store_end_to_end),
        cmocka_unit_test(test_threads_flag_and_kind),
    };
    return pst_exit(cmocka_run_group_tests_name("unit.multi", tests, NULL, NULL));
}
