/*
 * Store metrics (upstream tests/store/metrics_test.py and
 * store_metrics_test.py for bytes): names and counts after an operation
 * sequence, time aggregation, JSON export, metrics off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"
#include "test_store_memconn.h"

static int setup(void **state)
{
    (void)state;
    memt_register();
    return 0;
}

static ps_store *metrics_store(const char *codec)
{
    ps_store_options o;
    ps_store_options_init(&o);
    o.metrics = true;
    o.codec = codec;
    return memt_store_new("metrics", &o);
}

static uint64_t tcount(ps_store *s, const char *name)
{
    ps_time_stats t;
    ps_time_stats_init(&t);
    ps_status st = ps_store_metrics_time_stats(s, name, &t);
    if (st == PS_NOT_FOUND)
        return 0;
    PS_ASSERT_OK(st);
    return t.count;
}

static uint64_t counter(ps_store *s, const char *name)
{
    uint64_t v = 0;
    PS_ASSERT_OK(ps_store_metrics_counter(s, name, &v));
    return v;
}

static uint64_t attribute(ps_store *s, const char *name)
{
    uint64_t v = 0;
    PS_ASSERT_OK(ps_store_metrics_attribute(s, name, &v));
    return v;
}

/* store_metrics_test: put, exists, get, get, exists, set, evict on one key. */
static void test_operation_sequence(void **state)
{
    (void)state;
    ps_store *s = metrics_store("zstd");
    char value[1000];
    memset(value, 'v', sizeof value);
    ps_bytes enc = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_codec_encode(ps_codec_find("zstd"), value, sizeof value, &enc));
    size_t enc_len = enc.len;
    ps_bytes_free(&enc);
    assert_true(enc_len < sizeof value);

    ps_key *k = NULL;
    bool e = false;
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_put(s, value, sizeof value, NULL, &k));
    PS_ASSERT_OK(ps_store_exists(s, k, &e));
    assert_true(e);
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    ps_bytes_free(&b);
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    ps_bytes_free(&b);
    PS_ASSERT_OK(ps_store_exists(s, k, &e));
    PS_ASSERT_OK(ps_store_set(s, k, value, sizeof value));
    PS_ASSERT_OK(ps_store_evict(s, k));

    assert_int_equal(attribute(s, "store.get.object_size"), enc_len);
    assert_int_equal(attribute(s, "store.put.object_size"), enc_len);
    assert_int_equal(attribute(s, "store.set.object_size"), enc_len);
    assert_int_equal(counter(s, "store.get.cache_hits"), 1);
    assert_int_equal(counter(s, "store.get.cache_misses"), 1);
    assert_int_equal(tcount(s, "store.exists"), 2);
    assert_int_equal(tcount(s, "store.exists.connector"), 1);
    assert_int_equal(tcount(s, "store.evict"), 1);
    assert_int_equal(tcount(s, "store.evict.connector"), 1);
    assert_int_equal(tcount(s, "store.get"), 2);
    assert_int_equal(tcount(s, "store.get.connector"), 1);
    assert_int_equal(tcount(s, "store.get.deserialize"), 1);
    assert_int_equal(tcount(s, "store.put"), 1);
    assert_int_equal(tcount(s, "store.put.connector"), 1);
    assert_int_equal(tcount(s, "store.put.serialize"), 1);
    assert_int_equal(tcount(s, "store.set"), 1);
    assert_int_equal(tcount(s, "store.set.connector"), 1);
    assert_int_equal(tcount(s, "store.set.serialize"), 1);

    ps_time_stats t;

    ps_time_stats_init(&t);
    PS_ASSERT_OK(ps_store_metrics_time_stats(s, "store.get", &t));
    assert_true(t.min_ms <= t.max_ms);
    assert_true(t.total_ms >= t.max_ms);
    assert_true(t.last_timestamp > 1.6e9); /* wall clock seconds */

    /* never recorded */
    uint64_t v;
    PS_ASSERT_STATUS(ps_store_metrics_time_stats(s, "store.future", &t), PS_NOT_FOUND);
    PS_ASSERT_STATUS(ps_store_metrics_counter(s, "store.put", &v), PS_NOT_FOUND);
    PS_ASSERT_STATUS(ps_store_metrics_attribute(s, "nothing", &v), PS_NOT_FOUND);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_put_batch_metrics(void **state)
{
    (void)state;
    ps_store *s = metrics_store(NULL);
    ps_iov items[3] = {{"a", 1}, {"bb", 2}, {"cccc", 4}};
    ps_key *keys[3];
    PS_ASSERT_OK(ps_store_put_batch(s, 3, items, NULL, keys));
    assert_int_equal(attribute(s, "store.put_batch.object_sizes"), 7);
    assert_int_equal(tcount(s, "store.put_batch"), 1);
    assert_int_equal(tcount(s, "store.put_batch.serialize"), 1);
    assert_int_equal(tcount(s, "store.put_batch.connector"), 1);
    ps_bytes outs[3];
    PS_ASSERT_OK(ps_store_get_batch(s, 3, (const ps_key *const *)keys, NULL, outs, NULL));
    ps_bytes_free_array(outs, 3);
    PS_ASSERT_OK(ps_store_get_batch(s, 3, (const ps_key *const *)keys, NULL, outs, NULL));
    ps_bytes_free_array(outs, 3);
    assert_int_equal(counter(s, "store.get.cache_misses"), 3);
    assert_int_equal(counter(s, "store.get.cache_hits"), 3);
    assert_int_equal(tcount(s, "store.get_batch"), 2);
    assert_int_equal(tcount(s, "store.get_batch.connector"), 1);
    ps_key_free_array(keys, 3);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

/* metrics_test TimeStats: times 1 ms and 3 ms => count 2, avg 2, min 1, max 3. */
static void test_time_aggregation(void **state)
{
    (void)state;
    ps_store *s = metrics_store(NULL);
    ps_store_metrics_add_time(s, "factory.resolve", 1000000);
    ps_time_stats t;
    ps_time_stats_init(&t);
    PS_ASSERT_OK(ps_store_metrics_time_stats(s, "factory.resolve", &t));
    double ts1 = t.last_timestamp;
    ps_store_metrics_add_time(s, "factory.resolve", 3000000);
    PS_ASSERT_OK(ps_store_metrics_time_stats(s, "factory.resolve", &t));
    assert_int_equal(t.count, 2);
    assert_true(t.avg_ms == 2.0);
    assert_true(t.min_ms == 1.0);
    assert_true(t.max_ms == 3.0);
    assert_true(t.last_ms == 3.0);
    assert_true(t.total_ms == 4.0);
    assert_true(t.last_timestamp >= ts1);
    ps_store_metrics_add_time(s, "factory.resolve", 500000);
    PS_ASSERT_OK(ps_store_metrics_time_stats(s, "factory.resolve", &t));
    assert_int_equal(t.count, 3);
    assert_true(t.min_ms == 0.5);
    assert_true(t.last_ms == 0.5);
    assert_true(t.max_ms == 3.0);
    assert_true(t.avg_ms == 4.5 / 3);

    /* many names: the table grows and keeps every one */
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "custom.%d", i);
        ps_store_metrics_add_time(s, name, (uint64_t)i * 1000000);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "custom.%d", i);
        PS_ASSERT_OK(ps_store_metrics_time_stats(s, name, &t));
        assert_int_equal(t.count, 1);
        assert_true(t.last_ms == (double)i);
    }

    ps_store_metrics_reset(s);
    PS_ASSERT_STATUS(ps_store_metrics_time_stats(s, "factory.resolve", &t), PS_NOT_FOUND);
    ps_store_metrics_add_time(s, "after.reset", 1);
    assert_int_equal(tcount(s, "after.reset"), 1);
    ps_store_metrics_add_time(s, NULL, 1);
    ps_store_metrics_add_time(NULL, "x", 1);
    ps_store_metrics_reset(NULL);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_json_export(void **state)
{
    (void)state;
    ps_store *s = metrics_store(NULL);
    ps_key *k = NULL;
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_put(s, "12345", 5, NULL, &k));
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    ps_bytes_free(&b);
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    ps_bytes_free(&b);
    char *json = NULL;
    PS_ASSERT_OK(ps_store_metrics_json(s, &json));
    json_error_t err;
    json_t *root = json_loads(json, 0, &err);
    assert_non_null(root);
    json_t *put = json_object_get(json_object_get(root, "times"), "store.put");
    assert_non_null(put);
    assert_int_equal(json_integer_value(json_object_get(put, "count")), 1);
    const char *fields[] = {"total_time_ms", "avg_time_ms",  "min_time_ms",
                            "max_time_ms",   "last_time_ms", "last_timestamp"};
    for (size_t i = 0; i < 6; i++)
        assert_true(json_is_real(json_object_get(put, fields[i])));
    assert_int_equal(json_object_size(put), 7);
    json_t *counters = json_object_get(root, "counters");
    assert_int_equal(json_integer_value(json_object_get(counters, "store.get.cache_hits")), 1);
    assert_int_equal(json_integer_value(json_object_get(counters, "store.get.cache_misses")), 1);
    json_t *attrs = json_object_get(root, "attributes");
    assert_int_equal(json_integer_value(json_object_get(attrs, "store.put.object_size")), 5);
    assert_int_equal(json_object_size(root), 3);
    json_decref(root);
    ps_free(json);

    /* an empty table still has the three sections */
    ps_store_metrics_reset(s);
    PS_ASSERT_OK(ps_store_metrics_json(s, &json));
    assert_string_equal(json, "{\"attributes\":{},\"counters\":{},\"times\":{}}");
    ps_free(json);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_metrics_off(void **state)
{
    (void)state;
    ps_store *s = memt_store_new("nometrics", NULL);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_store_put(s, "x", 1, NULL, &k));
    ps_store_metrics_add_time(s, "store.proxy", 5); /* no-op */
    ps_store_metrics_reset(s);
    char *json = NULL;
    ps_time_stats t;
    ps_time_stats_init(&t);
    uint64_t v;
    PS_ASSERT_STATUS(ps_store_metrics_json(s, &json), PS_ESTATE);
    assert_null(json);
    PS_ASSERT_STATUS(ps_store_metrics_time_stats(s, "store.put", &t), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_metrics_counter(s, "store.get.cache_hits", &v), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_metrics_attribute(s, "store.put.object_size", &v), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_metrics_json(NULL, &json), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_metrics_json(s, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_metrics_time_stats(NULL, "x", &t), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_metrics_time_stats(s, "x", NULL), PS_EINVAL);
    /* a struct the caller did not fill with ps_time_stats_init */
    ps_time_stats raw = {.version = 0, .count = 99};
    PS_ASSERT_STATUS(ps_store_metrics_time_stats(s, "x", &raw), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "ps_time_stats_init"));
    assert_int_equal(raw.count, 99); /* untouched */
    ps_time_stats_init(NULL);
    PS_ASSERT_STATUS(ps_store_metrics_counter(s, NULL, &v), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_metrics_attribute(s, "x", NULL), PS_EINVAL);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_operation_sequence, setup),
        cmocka_unit_test_setup(test_put_batch_metrics, setup),
        cmocka_unit_test_setup(test_time_aggregation, setup),
        cmocka_unit_test_setup(test_json_export, setup),
        cmocka_unit_test_setup(test_metrics_off, setup),
    };
    return pst_exit(cmocka_run_group_tests_name("metrics", tests, NULL, NULL));
}
