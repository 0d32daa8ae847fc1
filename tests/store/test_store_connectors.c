/*
 * The store over the real connectors "local" and "file" (upstream's
 * store_basics_test.py runs on several connectors; store_metrics_test.py on
 * the File connector): basics, configuration round trip, and a store
 * rebuilt from its configuration reading what the first one wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct fixture {
    char *dir;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = pst_mkdtemp("store-conn");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pst_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static ps_store *open_store(const char *kind, const char *options, const char *name)
{
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open(kind, options, &c));
    ps_store_options o;
    ps_store_options_init(&o);
    o.metrics = true;
    o.codec = "zstd";
    ps_store *s = NULL;
    PS_ASSERT_OK(ps_store_new(name, c, &o, &s));
    return s;
}

static void basics(ps_store *s)
{
    char value[5000];
    pst_fill(value, sizeof value, 3);
    ps_key *k = NULL;
    bool e = false;
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_put(s, value, sizeof value, NULL, &k));
    PS_ASSERT_OK(ps_store_exists(s, k, &e));
    assert_true(e);
    assert_false(ps_store_is_cached(s, k));
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    assert_int_equal(b.len, sizeof value);
    assert_memory_equal(b.data, value, sizeof value);
    ps_bytes_free(&b);
    assert_true(ps_store_is_cached(s, k));
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    ps_bytes_free(&b);
    PS_ASSERT_OK(ps_store_evict(s, k));
    PS_ASSERT_OK(ps_store_exists(s, k, &e));
    assert_false(e);
    assert_false(ps_store_is_cached(s, k));
    PS_ASSERT_STATUS(ps_store_get(s, k, NULL, &b), PS_NOT_FOUND);
    PS_ASSERT_OK(ps_store_evict(s, k));

    uint64_t v = 0;
    PS_ASSERT_OK(ps_store_metrics_counter(s, "store.get.cache_hits", &v));
    assert_int_equal(v, 1);
    PS_ASSERT_OK(ps_store_metrics_counter(s, "store.get.cache_misses", &v));
    assert_int_equal(v, 2);
    ps_key_free(k);

    ps_iov items[3] = {{"x", 1}, {value, 100}, {"", 0}};
    ps_key *keys[3];
    ps_bytes outs[3];
    bool found[3];
    PS_ASSERT_OK(ps_store_put_batch(s, 3, items, NULL, keys));
    PS_ASSERT_OK(ps_store_get_batch(s, 3, (const ps_key *const *)keys, NULL, outs, found));
    for (int i = 0; i < 3; i++) {
        assert_true(found[i]);
        assert_int_equal(outs[i].len, items[i].len);
        if (items[i].len)
            assert_memory_equal(outs[i].data, items[i].data, items[i].len);
    }
    ps_bytes_free_array(outs, 3);
    ps_key_free_array(keys, 3);

    /* set on a reserved key (both are deferrable) */
    PS_ASSERT_OK(ps_store_new_key(s, &k));
    PS_ASSERT_OK(ps_store_exists(s, k, &e));
    assert_false(e);
    PS_ASSERT_OK(ps_store_set(s, k, "later", 5));
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    assert_memory_equal(b.data, "later", 5);
    ps_bytes_free(&b);
    ps_key_free(k);
}

static void round_trip(ps_store *s)
{
    char *json = NULL, *json2 = NULL;
    PS_ASSERT_OK(ps_store_config(s, &json));
    ps_store *s2 = NULL;
    PS_ASSERT_OK(ps_store_from_config(json, &s2));
    PS_ASSERT_OK(ps_store_config(s2, &json2));
    assert_string_equal(json, json2);
    ps_free(json);
    ps_free(json2);
    PS_ASSERT_OK(ps_store_close(s2, PS_CLEAR_KEEP));
}

static void test_local(void **state)
{
    (void)state;
    ps_store *s = open_store("local", "{\"store_id\": \"store-test\"}", "local-store");
    basics(s);
    round_trip(s);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_ALL));
}

static void test_file(void **state)
{
    fixture *f = *state;
    char opts[4200];
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s/objs\", \"clear\": false}", f->dir);
    ps_store *s = open_store("file", opts, "file-store");
    basics(s);
    round_trip(s);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_KEEP));
}

/* What a proxy resolved in a fresh process does: the writer's store config
 * goes through get_or_create, which builds an equal store that reads the
 * writer's objects. */
static void test_file_rebuilt_from_config(void **state)
{
    fixture *f = *state;
    char opts[4200];
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s/shared\", \"clear\": false}", f->dir);
    ps_store *writer = open_store("file", opts, "writer");
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_store_put(writer, "persisted", 9, NULL, &k));
    char *json = NULL;
    PS_ASSERT_OK(ps_store_config(writer, &json));
    PS_ASSERT_OK(ps_store_close(writer, PS_CLEAR_KEEP));

    ps_store *reader = NULL;
    PS_ASSERT_OK(ps_store_get_or_create(json, &reader));
    assert_string_equal(ps_store_name(reader), "writer");
    assert_string_equal(ps_store_codec(reader), "zstd");
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_get(reader, k, NULL, &b));
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "persisted", 9);
    ps_bytes_free(&b);
    /* registered: a second get_or_create returns the same store */
    ps_store *again = NULL;
    PS_ASSERT_OK(ps_store_get_or_create(json, &again));
    assert_ptr_equal(again, reader);
    ps_store_unref(again);
    PS_ASSERT_OK(ps_store_close(reader, PS_CLEAR_ALL));
    assert_null(ps_store_lookup("writer"));
    ps_free(json);
    ps_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_rebuilt_from_config, setup, teardown),
    };
    return pst_exit(cmocka_run_group_tests_name("store_connectors", tests, NULL, NULL));
}
