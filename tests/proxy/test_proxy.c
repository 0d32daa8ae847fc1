/*
 * Proxies in one process over a real file store (upstream
 * tests/store/store_proxy_test.py, factory and utils checklists).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "proxystore/connectors/file.h"

typedef struct fixture {
    char *dir;
    ps_store *store;
} fixture;

static ps_store *open_store(const char *dir, const char *name, bool reg, bool metrics,
                            long cache_size, const char *codec)
{
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = dir, .clear = false},
        &c));
    ps_store_options o;
    ps_store_options_init(&o);
    o.register_store = reg;
    o.metrics = metrics;
    o.cache_size = cache_size;
    o.codec = codec;
    ps_store *s = NULL;
    PS_ASSERT_OK(ps_store_new(name, c, &o, &s));
    return s;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = pst_mkdtemp("proxy");
    f->store = open_store(f->dir, "proxy-test", true, true, 16, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ps_store_close(f->store, PS_CLEAR_KEEP);
    pst_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static ps_proxy_options opts(int populate, bool evict)
{
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.populate_target = populate;
    o.evict = evict;
    return o;
}

/* Remove the stored object behind the store's back (through the connector). */
static void evict_underneath(ps_store *s, const ps_key *key)
{
    PS_ASSERT_OK(ps_connector_evict(ps_store_connector(s), key));
}

static void expect_target(ps_proxy *p, const void *want, size_t n)
{
    const void *d = NULL;
    size_t len = 99;
    PS_ASSERT_OK(ps_proxy_resolve(p, &d, &len));
    assert_int_equal(len, n);
    if (n)
        assert_memory_equal(d, want, n);
}

static void test_populated_needs_no_io(void **state)
{
    fixture *f = *state;
    ps_proxy_options o = opts(PS_POPULATE_DEFAULT, false); /* store default: populate */
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(f->store, "hello", 5, &o, &p));
    assert_true(ps_proxy_is_resolved(p));
    bool ex = false;
    PS_ASSERT_OK(ps_store_exists(f->store, ps_proxy_key(p), &ex));
    assert_true(ex);
    evict_underneath(f->store, ps_proxy_key(p));
    expect_target(p, "hello", 5); /* no fetch: the object is gone */
    ps_proxy_unref(p);
}

static void test_lazy_resolves_once(void **state)
{
    fixture *f = *state;
    ps_proxy_options o = opts(PS_POPULATE_NO, false);
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(f->store, "world!", 6, &o, &p));
    assert_false(ps_proxy_is_resolved(p));
    /* the store holds it under the proxy's key */
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_get(f->store, ps_proxy_key(p), NULL, &b));
    assert_int_equal(b.len, 6);
    ps_bytes_free(&b);
    expect_target(p, "world!", 6);
    assert_true(ps_proxy_is_resolved(p));
    PS_ASSERT_OK(ps_store_evict(f->store, ps_proxy_key(p)));
    expect_target(p, "world!", 6); /* kept: no second fetch */
    ps_time_stats ts;
    ps_time_stats_init(&ts);
    PS_ASSERT_OK(ps_store_metrics_time_stats(f->store, "factory.resolve", &ts));
    assert_int_equal(ts.count, 1);
    PS_ASSERT_OK(ps_store_metrics_time_stats(f->store, "store.proxy", &ts));
    assert_int_equal(ts.count, 1);
    ps_proxy_unref(p);
}

static void test_per_call_populate_overrides_store(void **state)
{
    fixture *f = *state;
    ps_store *s = NULL;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = f->dir, .clear = false},
        &c));
    ps_store_options so;
    ps_store_options_init(&so);
    so.populate_target = false;
    PS_ASSERT_OK(ps_store_new("proxy-test-lazy", c, &so, &s));
    ps_proxy *p = NULL;
    ps_proxy_options o = opts(PS_POPULATE_DEFAULT, false);
    PS_ASSERT_OK(ps_store_proxy(s, "x", 1, &o, &p));
    assert_false(ps_proxy_is_resolved(p));
    ps_proxy_unref(p);
    o.populate_target = PS_POPULATE_YES;
    PS_ASSERT_OK(ps_store_proxy(s, "x", 1, &o, &p));
    assert_true(ps_proxy_is_resolved(p));
    ps_proxy_unref(p);
    o.populate_target = 7;
    PS_ASSERT_STATUS(ps_store_proxy(s, "x", 1, &o, &p), PS_EINVAL);
    assert_null(p);
    ps_store_close(s, PS_CLEAR_KEEP);
}

static void test_evict_on_resolve(void **state)
{
    fixture *f = *state;
    ps_proxy_options o = opts(PS_POPULATE_NO, true);
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(f->store, "bye", 3, &o, &p));
    assert_true(ps_proxy_evicts(p));
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_key_dup(ps_proxy_key(p), &key));
    bool ex = false;
    PS_ASSERT_OK(ps_store_exists(f->store, key, &ex));
    assert_true(ex);
    expect_target(p, "bye", 3);
    PS_ASSERT_OK(ps_store_exists(f->store, key, &ex));
    assert_false(ex);
    expect_target(p, "bye", 3); /* still resolved, no second evict or fetch */
    /* with populate_target the factory never runs, so nothing is evicted (as upstream) */
    ps_proxy *q = NULL;
    o.populate_target = PS_POPULATE_YES;
    PS_ASSERT_OK(ps_store_proxy(f->store, "keep", 4, &o, &q));
    expect_target(q, "keep", 4);
    PS_ASSERT_OK(ps_store_exists(f->store, ps_proxy_key(q), &ex));
    assert_true(ex);
    ps_proxy_unref(q);
    ps_proxy_unref(p);
    ps_key_free(key);
}

static void test_missing_key_message(void **state)
{
    fixture *f = *state;
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_store_put(f->store, "z", 1, NULL, &key));
    PS_ASSERT_OK(ps_store_evict(f->store, key));
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy_from_key(f->store, key, NULL, &p));
    assert_false(ps_proxy_is_resolved(p));
    const void *d = (const void *)0x1;
    PS_ASSERT_STATUS(ps_proxy_resolve(p, &d, NULL), PS_NOT_FOUND);
    assert_null(d);
    char want[512];
    snprintf(want, sizeof want,
             "Cannot resolve target object with key='%s' from Store(name='proxy-test') because "
             "there is no object associated with the key.",
             ps_key_str(key));
    assert_string_equal(ps_last_error(), want);
    /* a failed resolve leaves the proxy unresolved; a later one tries again */
    assert_false(ps_proxy_is_resolved(p));
    PS_ASSERT_STATUS(ps_proxy_resolve(p, NULL, NULL), PS_NOT_FOUND);
    ps_proxy_unref(p);
    ps_key_free(key);
}

static void test_proxy_from_key(void **state)
{
    fixture *f = *state;
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_store_put(f->store, "fromkey", 7, NULL, &key));
    ps_proxy_options o = opts(PS_POPULATE_YES, false); /* ignored: lazy */
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy_from_key(f->store, key, &o, &p));
    assert_false(ps_proxy_is_resolved(p));
    assert_true(ps_key_equal(ps_proxy_key(p), key));
    expect_target(p, "fromkey", 7);
    ps_proxy_unref(p);
    o.evict = true;
    PS_ASSERT_OK(ps_store_proxy_from_key(f->store, key, &o, &p));
    expect_target(p, "fromkey", 7);
    bool ex = true;
    PS_ASSERT_OK(ps_store_exists(f->store, key, &ex));
    assert_false(ex);
    ps_proxy_unref(p);
    ps_key_free(key);
}

static void test_batch(void **state)
{
    fixture *f = *state;
    enum { N = 5 };
    ps_iov items[N];
    char bufs[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "item-%d", i * 11);
        items[i].data = bufs[i];
        items[i].len = strlen(bufs[i]);
    }
    items[2].data = NULL;
    items[2].len = 0; /* an empty object in the middle */
    ps_proxy *ps[N];
    ps_proxy_options o = opts(PS_POPULATE_NO, false);
    PS_ASSERT_OK(ps_store_proxy_batch(f->store, N, items, &o, ps));
    for (int i = 0; i < N; i++) {
        assert_false(ps_proxy_is_resolved(ps[i]));
        expect_target(ps[i], items[i].data, items[i].len);
        ps_proxy_unref(ps[i]);
    }
    o.populate_target = PS_POPULATE_YES;
    PS_ASSERT_OK(ps_store_proxy_batch(f->store, N, items, &o, ps));
    for (int i = 0; i < N; i++) {
        assert_true(ps_proxy_is_resolved(ps[i]));
        expect_target(ps[i], items[i].data, items[i].len);
        ps_proxy_unref(ps[i]);
    }
    ps_time_stats ts;
    ps_time_stats_init(&ts);
    PS_ASSERT_OK(ps_store_metrics_time_stats(f->store, "store.proxy_batch", &ts));
    assert_int_equal(ts.count, 2);
    PS_ASSERT_OK(ps_store_proxy_batch(f->store, 0, NULL, &o, NULL));
    items[1].data = NULL; /* NULL with a length */
    PS_ASSERT_STATUS(ps_store_proxy_batch(f->store, N, items, &o, ps), PS_EINVAL);
    for (int i = 0; i < N; i++)
        assert_null(ps[i]);
}

static void test_locked(void **state)
{
    fixture *f = *state;
    ps_proxy_options o = opts(PS_POPULATE_NO, false);
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_locked_proxy(f->store, "secret", 6, &o, &p));
    assert_true(ps_proxy_is_locked(p));
    PS_ASSERT_STATUS(ps_proxy_resolve(p, NULL, NULL), PS_ESTATE);
    assert_non_null(strstr(ps_last_error(), "locked"));
    PS_ASSERT_STATUS(ps_proxy_resolve_async(p), PS_ESTATE);
    /* the lock travels in the token */
    char *tok = NULL;
    ps_proxy *q = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &tok));
    PS_ASSERT_OK(ps_proxy_decode(tok, &q));
    assert_true(ps_proxy_is_locked(q));
    PS_ASSERT_STATUS(ps_proxy_resolve(q, NULL, NULL), PS_ESTATE);
    PS_ASSERT_OK(ps_proxy_unlock(q));
    expect_target(q, "secret", 6);
    PS_ASSERT_OK(ps_proxy_unlock(p));
    assert_false(ps_proxy_is_locked(p));
    expect_target(p, "secret", 6);
    PS_ASSERT_OK(ps_proxy_unlock(p)); /* unlocking twice is fine */
    /* populated and locked: holds the target but refuses to hand it out */
    ps_proxy *r = NULL;
    o.populate_target = PS_POPULATE_YES;
    PS_ASSERT_OK(ps_store_locked_proxy(f->store, "s2", 2, &o, &r));
    assert_true(ps_proxy_is_resolved(r));
    PS_ASSERT_STATUS(ps_proxy_resolve(r, NULL, NULL), PS_ESTATE);
    ps_proxy_unref(r);
    ps_free(tok);
    ps_proxy_unref(p);
    ps_proxy_unref(q);
}

static void test_recreates_unregistered_store(void **state)
{
    fixture *f = *state;
    /* an unregistered store with cache_size 0: resolving builds one from the
     * configuration, registers it, and it has cache_size 0 */
    ps_store *s = open_store(f->dir, "proxy-test-unreg", false, false, 0, NULL);
    ps_proxy_options o = opts(PS_POPULATE_NO, false);
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(s, "recreate", 8, &o, &p));
    assert_null(ps_store_lookup("proxy-test-unreg"));
    expect_target(p, "recreate", 8);
    ps_store *r = ps_store_lookup("proxy-test-unreg");
    assert_non_null(r);
    assert_true(r != s);
    ps_store_options so;
    ps_store_options_init(&so);
    PS_ASSERT_OK(ps_store_options_of(r, &so));
    assert_int_equal(so.cache_size, 0);
    assert_false(ps_store_is_cached(r, ps_proxy_key(p)));
    ps_store *g = NULL;
    PS_ASSERT_OK(ps_proxy_get_store(p, &g));
    assert_ptr_equal(g, r);
    ps_store_unref(g);
    ps_store_unref(r);
    PS_ASSERT_OK(ps_store_unregister("proxy-test-unreg"));
    ps_proxy_unref(p);
    ps_store_close(s, PS_CLEAR_KEEP);
}

static void test_get_store_is_registered_one(void **state)
{
    fixture *f = *state;
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(f->store, "a", 1, NULL, &p));
    ps_store *g = NULL;
    PS_ASSERT_OK(ps_proxy_get_store(p, &g));
    assert_ptr_equal(g, f->store);
    ps_store_unref(g);
    assert_string_equal(ps_proxy_store_name(p), "proxy-test");
    assert_true(ps_proxy_metrics(p));
    assert_null(ps_proxy_codec(p));
    ps_proxy_unref(p);
}

static void test_codec_override(void **state)
{
    fixture *f = *state;
    /* a zstd store writes; a proxy of the raw store with a zstd decoder reads */
    ps_store *z = open_store(f->dir, "proxy-test-zstd", false, false, 16, "zstd");
    ps_key *key = NULL;
    char big[4096];
    memset(big, 'q', sizeof big);
    PS_ASSERT_OK(ps_store_put(z, big, sizeof big, NULL, &key));
    ps_proxy_options o = opts(PS_POPULATE_NO, false);
    o.codec = "zstd";
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy_from_key(f->store, key, &o, &p));
    assert_string_equal(ps_proxy_codec(p), "zstd");
    expect_target(p, big, sizeof big);
    ps_proxy_unref(p);
    /* without the override the raw store hands out the compressed bytes */
    PS_ASSERT_OK(ps_store_evict(f->store, key));
    ps_key_free(key);
    PS_ASSERT_OK(ps_store_put(z, big, sizeof big, NULL, &key));
    o.codec = "proxystore"; /* zstd frames are not upstream framing */
    PS_ASSERT_OK(ps_store_proxy_from_key(f->store, key, &o, &p));
    PS_ASSERT_STATUS(ps_proxy_resolve(p, NULL, NULL), PS_ECODEC);
    ps_proxy_unref(p);
    ps_key_free(key);
    ps_store_close(z, PS_CLEAR_KEEP);
}

static void test_bad_store_config(void **state)
{
    (void)state;
    /* a configuration naming a connector type nobody registered */
    const char *fields[] = {"0f8e4c3a-9b1d-4e2f-8a7b-6c5d4e3f2a1b"};
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_key_new("nosuch", 1, fields, &key));
    ps_proxy *p = NULL;
    PS_ASSERT_OK(
        ps_proxy_new(key, "{\"name\":\"ghost\",\"connector\":{\"kind\":\"nosuch\"}}", NULL, &p));
    PS_ASSERT_STATUS(ps_proxy_resolve(p, NULL, NULL), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "unknown connector type"));
    assert_null(ps_store_lookup("ghost"));
    ps_proxy_unref(p);
    ps_key_free(key);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    ps_proxy *p = (ps_proxy *)0x1;
    PS_ASSERT_STATUS(ps_store_proxy(NULL, "x", 1, NULL, &p), PS_EINVAL);
    assert_null(p);
    PS_ASSERT_STATUS(ps_store_proxy(f->store, NULL, 1, NULL, &p), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_proxy(f->store, "x", 1, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_locked_proxy(NULL, "x", 1, NULL, &p), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_proxy_from_key(f->store, NULL, NULL, &p), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_proxy_from_key(NULL, NULL, NULL, &p), PS_EINVAL);
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.evict = true;
    o.lifetime = &o;
    PS_ASSERT_STATUS(ps_store_proxy(f->store, "x", 1, &o, &p), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "The evict and lifetime"));
    ps_store *s = (ps_store *)0x1;
    PS_ASSERT_STATUS(ps_proxy_get_store(NULL, &s), PS_EINVAL);
    assert_null(s);
    char *js = NULL;
    PS_ASSERT_STATUS(ps_proxy_to_json(NULL, &js), PS_EINVAL);
    /* empty objects proxy and resolve */
    PS_ASSERT_OK(ps_store_proxy(f->store, NULL, 0, NULL, &p));
    expect_target(p, NULL, 0);
    ps_proxy_unref(p);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_populated_needs_no_io),
        T(test_lazy_resolves_once),
        T(test_per_call_populate_overrides_store),
        T(test_evict_on_resolve),
        T(test_missing_key_message),
        T(test_proxy_from_key),
        T(test_batch),
        T(test_locked),
        T(test_recreates_unregistered_store),
        T(test_get_store_is_registered_one),
        T(test_codec_override),
        T(test_bad_store_config),
        T(test_bad_arguments),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
