/*
 * The local connector beyond the conformance suite: maps shared by store_id
 * (upstream's shared store_dict), isolation of private instances, the
 * lifetime of a map, zero-copy views, options, and threads racing on one key
 * and on opening and closing instances of one map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "proxystore/connectors/local.h"
#include "proxystore/sys/connector.h"

static void expect_bytes(ps_connector *c, const ps_key *k, const char *want)
{
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    ps_bytes_free(&b);
}

/* local_test.py: two connectors sharing a map see each other's data; a third
 * with its own map does not (here: refuses the key, see local.h). */
static void test_shared_store_id(void **state)
{
    (void)state;
    ps_connector *a = NULL, *b = NULL, *other = NULL;
    PS_ASSERT_OK(ps_local_connector_open(
        &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "shared-1"}, &a));
    PS_ASSERT_OK(ps_connector_open("LocalConnector", "{\"store_id\": \"shared-1\"}", &b));
    PS_ASSERT_OK(ps_local_connector_open(NULL, &other));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(a, "value", 5, NULL, &k));
    assert_string_equal(ps_key_field(k, 1), "shared-1");
    expect_bytes(b, k, "value");
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_connector_put(b, "from b", 6, NULL, &k2));
    expect_bytes(a, k2, "from b");
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(other, k, &out), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "shared-1"));
    /* evict through one is seen by the other */
    PS_ASSERT_OK(ps_connector_evict(b, k));
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(a, k, &ex));
    assert_false(ex);
    /* the config names the map, so from_config reaches the same objects */
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(a, &cfg));
    assert_string_equal(cfg, "{\"kind\":\"local\",\"options\":{\"store_id\":\"shared-1\"}}");
    ps_free(cfg);
    ps_key_free(k);
    ps_key_free(k2);
    PS_ASSERT_OK(ps_connector_close(a, PS_CLEAR_DEFAULT));
    PS_ASSERT_OK(ps_connector_close(b, PS_CLEAR_DEFAULT));
    PS_ASSERT_OK(ps_connector_close(other, PS_CLEAR_DEFAULT));
}

/* Instances opened without a store_id are private to each other, but their
 * config reaches them (what resolving a proxy in this process does). */
static void test_private_instances(void **state)
{
    (void)state;
    ps_connector *a = NULL, *b = NULL;
    PS_ASSERT_OK(ps_connector_open("local", NULL, &a));
    PS_ASSERT_OK(ps_connector_open("local", "{}", &b));
    ps_key *ka = NULL, *kb = NULL;
    PS_ASSERT_OK(ps_connector_put(a, "a", 1, NULL, &ka));
    PS_ASSERT_OK(ps_connector_put(b, "b", 1, NULL, &kb));
    assert_string_not_equal(ps_key_field(ka, 1), ps_key_field(kb, 1));
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(a, kb, &out), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_get(b, ka, &out), PS_EINVAL);
    json_t *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config_json(a, &cfg));
    ps_connector *a2 = NULL;
    PS_ASSERT_OK(ps_connector_from_config_json(cfg, &a2));
    json_decref(cfg);
    expect_bytes(a2, ka, "a");
    PS_ASSERT_OK(ps_connector_close(a2, PS_CLEAR_DEFAULT));
    /* a2 closed without clearing: a still has its object */
    expect_bytes(a, ka, "a");
    ps_key_free(ka);
    ps_key_free(kb);
    PS_ASSERT_OK(ps_connector_close(a, PS_CLEAR_DEFAULT));
    PS_ASSERT_OK(ps_connector_close(b, PS_CLEAR_DEFAULT));
}

/* A map lives while an instance is open on it; PS_CLEAR_ALL empties it for all. */
static void test_lifetime_and_clear(void **state)
{
    (void)state;
    ps_connector *a = NULL, *b = NULL;
    PS_ASSERT_OK(ps_local_connector_open(
        &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "life"}, &a));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(a, "v", 1, NULL, &k));
    PS_ASSERT_OK(ps_local_connector_open(
        &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "life"}, &b));
    /* closing one instance (default: keep) leaves the map to the other */
    PS_ASSERT_OK(ps_connector_close(a, PS_CLEAR_DEFAULT));
    expect_bytes(b, k, "v");
    /* closing the last instance frees the map: a new one starts empty */
    PS_ASSERT_OK(ps_connector_close(b, PS_CLEAR_DEFAULT));
    PS_ASSERT_OK(ps_local_connector_open(
        &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "life"}, &a));
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(a, k, &ex));
    assert_false(ex);
    /* PS_CLEAR_ALL removes the objects for the other instances too */
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_put(a, "v", 1, NULL, &k));
    PS_ASSERT_OK(ps_local_connector_open(
        &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "life"}, &b));
    PS_ASSERT_OK(ps_connector_close(a, PS_CLEAR_ALL));
    PS_ASSERT_OK(ps_connector_exists(b, k, &ex));
    assert_false(ex);
    /* ... and the map is still usable */
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_connector_put(b, "w", 1, NULL, &k2));
    expect_bytes(b, k2, "w");
    ps_key_free(k2);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(b, PS_CLEAR_KEEP));
}

/* get() hands out a view that outlives evict, overwrite and close. */
static void test_views(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_local_connector_open(NULL, &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "original", 8, NULL, &k));
    ps_bytes v1 = PS_BYTES_INIT, v2 = PS_BYTES_INIT, v3 = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &v1));
    PS_ASSERT_OK(ps_connector_get(c, k, &v2));
    /* zero copy: both views share the stored bytes */
    assert_ptr_equal(v1.data, v2.data);
    assert_non_null(v1.release);
    PS_ASSERT_OK(ps_connector_set(c, k, "replaced!", 9));
    PS_ASSERT_OK(ps_connector_get(c, k, &v3));
    assert_int_equal(v3.len, 9);
    assert_memory_equal(v3.data, "replaced!", 9);
    /* the put copied its input: changing the caller's buffer changes nothing */
    char buf[4] = "abc";
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_connector_put(c, buf, 3, NULL, &k2));
    buf[0] = 'X';
    expect_bytes(c, k2, "abc");
    PS_ASSERT_OK(ps_connector_evict(c, k));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    /* everything is gone, but the views still read (ASan checks this) */
    assert_int_equal(v1.len, 8);
    assert_memory_equal(v1.data, "original", 8);
    ps_bytes_free(&v1);
    assert_memory_equal(v2.data, "original", 8);
    /* ps_bytes_own turns a view into a private writable copy */
    PS_ASSERT_OK(ps_bytes_own(&v2));
    ((char *)v2.data)[0] = 'O';
    assert_memory_equal(v2.data, "Original", 8);
    ps_bytes_free(&v2);
    assert_memory_equal(v3.data, "replaced!", 9);
    ps_bytes_free(&v3);
    ps_key_free(k);
    ps_key_free(k2);
}

/* Large objects (4 MiB and more) live in their own mapping: the same view
 * contract as small ones (a view outlives evict, set and close), and the
 * bytes round-trip exactly at and around the size where the layout changes. */
static void test_large_views(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_local_connector_open(NULL, &c));
    const size_t sizes[] = {((size_t)4 << 20) - 1, (size_t)4 << 20, ((size_t)9 << 20) + 7};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *buf = malloc(n);
        assert_non_null(buf);
        for (size_t j = 0; j < n; j++)
            buf[j] = (unsigned char)(j * 131 + i);
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_connector_put(c, buf, n, NULL, &k));
        ps_bytes v = PS_BYTES_INIT, w = PS_BYTES_INIT;
        PS_ASSERT_OK(ps_connector_get(c, k, &v));
        assert_int_equal(v.len, n);
        assert_memory_equal(v.data, buf, n);
        /* replace it with a small object, then evict: the view still reads */
        PS_ASSERT_OK(ps_connector_set(c, k, "tiny", 4));
        PS_ASSERT_OK(ps_connector_get(c, k, &w));
        assert_int_equal(w.len, 4);
        assert_memory_equal(w.data, "tiny", 4);
        PS_ASSERT_OK(ps_connector_set(c, k, buf, n));
        PS_ASSERT_OK(ps_connector_evict(c, k));
        assert_memory_equal(v.data, buf, n);
        ps_bytes_free(&v);
        ps_bytes_free(&w);
        ps_key_free(k);
        free(buf);
    }
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_options(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    const char *bad[] = {
        "{\"store_id\": \"\"}",
        "{\"store_id\": \"a/b\"}",
        "{\"store_id\": \"has space\"}",
        "{\"store_id\": 5}",
        "{\"store_id\": \"x\", \"unknown\": 1}",
        "{\"include_data_in_config\": \"no\"}",
        "{\"store_id\": \"01234567890123456789012345678901234567890123456789012345678901234\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        PS_ASSERT_STATUS(ps_connector_open("local", bad[i], &c), PS_EINVAL);
        assert_null(c);
    }
    PS_ASSERT_STATUS(ps_connector_open("local", "{\"include_data_in_config\": true}", &c),
                     PS_ENOTSUP);
    PS_ASSERT_STATUS(
        ps_local_connector_open(
            &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "a/b"}, &c),
        PS_EINVAL);
    PS_ASSERT_STATUS(
        ps_local_connector_open(
            &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = "x"}, NULL),
        PS_EINVAL);
    /* upstream's option with its default is accepted; 64 characters is the limit */
    PS_ASSERT_OK(
        ps_connector_open("proxystore.connectors.local.LocalConnector",
                          "{\"include_data_in_config\": false, \"store_id\": "
                          "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
                          &c));
    assert_true(ps_connector_is_threadsafe(c));
    assert_true(ps_connector_is_deferrable(c));
    assert_string_equal(ps_connector_kind(c), "local");
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));
}

/* ---- threads ---------------------------------------------------------------------------- */

#define NVALS   4
#define VAL_LEN 4096

typedef struct race {
    ps_connector *conn;
    const ps_key *key;
    unsigned char (*vals)[VAL_LEN];
    int id;
    int bad; /* reads that matched no value, or errors */
} race;

/* Writers set one key over and over, readers check every read is whole. */
static void *race_main(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 300; i++) {
        if (r->id % 2 == 0) {
            if (ps_connector_set(r->conn, r->key, r->vals[(i + r->id) % NVALS], VAL_LEN) != PS_OK)
                r->bad++;
        } else {
            ps_bytes b = PS_BYTES_INIT;
            if (ps_connector_get(r->conn, r->key, &b) != PS_OK || b.len != VAL_LEN) {
                r->bad++;
            } else {
                bool match = false;
                for (int v = 0; v < NVALS; v++)
                    match = match || memcmp(b.data, r->vals[v], VAL_LEN) == 0;
                if (!match)
                    r->bad++;
            }
            ps_bytes_free(&b);
        }
    }
    return NULL;
}

static void test_threads_one_key(void **state)
{
    (void)state;
    static unsigned char vals[NVALS][VAL_LEN];
    for (int v = 0; v < NVALS; v++)
        pst_fill(vals[v], VAL_LEN, (uint32_t)v + 1);
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_local_connector_open(NULL, &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_new_key(c, &k));
    PS_ASSERT_OK(ps_connector_set(c, k, vals[0], VAL_LEN));
    enum { N = 8 };
    race rs[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        rs[i] = (race){c, k, vals, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, race_main, &rs[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++)
        assert_int_equal(rs[i].bad, 0);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

typedef struct churn {
    int id;
    int bad;
} churn;

/* Threads open, use and close instances of the same few maps concurrently. */
static void *churn_main(void *arg)
{
    churn *ch = arg;
    for (int i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "churn-%d", (ch->id + i) % 3);
        ps_connector *c = NULL;
        if (ps_local_connector_open(
                &(ps_local_options){.version = PS_LOCAL_OPTIONS_VERSION, .store_id = id}, &c) !=
            PS_OK) {
            ch->bad++;
            continue;
        }
        ps_key *k = NULL;
        ps_bytes b = PS_BYTES_INIT;
        if (ps_connector_put(c, &i, sizeof i, NULL, &k) != PS_OK ||
            ps_connector_get(c, k, &b) != PS_OK || b.len != sizeof i ||
            memcmp(b.data, &i, sizeof i) != 0)
            ch->bad++;
        /* keep the view across close: it must stay valid */
        ps_connector_evict(c, k);
        if (ps_connector_close(c, PS_CLEAR_KEEP) != PS_OK)
            ch->bad++;
        if (b.len == sizeof i && memcmp(b.data, &i, sizeof i) != 0)
            ch->bad++;
        ps_bytes_free(&b);
        ps_key_free(k);
    }
    return NULL;
}

static void test_threads_open_close(void **state)
{
    (void)state;
    enum { N = 8 };
    churn cs[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        cs[i] = (churn){i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, churn_main, &cs[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++)
        assert_int_equal(cs[i].bad, 0);
}

/* Many objects: the shard tables grow and every object stays reachable. */
static void test_many_objects(void **state)
{
    (void)state;
    enum { N = 20000 };
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_local_connector_open(NULL, &c));
    ps_key **keys = calloc(N, sizeof *keys);
    assert_non_null(keys);
    for (int i = 0; i < N; i++)
        PS_ASSERT_OK(ps_connector_put(c, &i, sizeof i, NULL, &keys[i]));
    for (int i = 0; i < N; i++) {
        ps_bytes b = PS_BYTES_INIT;
        PS_ASSERT_OK(ps_connector_get(c, keys[i], &b));
        assert_int_equal(b.len, sizeof i);
        assert_memory_equal(b.data, &i, sizeof i);
        ps_bytes_free(&b);
        if (i % 2)
            PS_ASSERT_OK(ps_connector_evict(c, keys[i]));
    }
    for (int i = 0; i < N; i++) {
        bool ex = false;
        PS_ASSERT_OK(ps_connector_exists(c, keys[i], &ex));
        assert_int_equal(ex, i % 2 == 0);
    }
    ps_key_free_array(keys, N);
    free(keys);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_store_id),    cmocka_unit_test(test_private_instances),
        cmocka_unit_test(test_lifetime_and_clear), cmocka_unit_test(test_views),
        cmocka_unit_test(test_large_views),        cmocka_unit_test(test_options),
        cmocka_unit_test(test_threads_one_key),    cmocka_unit_test(test_threads_open_close),
        cmocka_unit_test(test_many_objects),
    };
    return pst_exit(cmocka_run_group_tests_name("local", tests, NULL, NULL));
}
