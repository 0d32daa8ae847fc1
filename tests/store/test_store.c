/*
 * ps_store basics (upstream tests/store/store_basics_test.py, config_test.py
 * for bytes): put/get/exists/evict, missing keys and defaults, the cache,
 * codecs and decode failures, batches, deferred set, close, configuration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "testutil.h"
#include "test_store_memconn.h"

static int setup(void **state)
{
    (void)state;
    memt_register();
    memt_reset_counters();
    return 0;
}

static ps_store *new_store(long cache_size)
{
    ps_store_options o;
    ps_store_options_init(&o);
    o.cache_size = cache_size;
    return memt_store_new("basics", &o);
}

static ps_key *put_str(ps_store *s, const char *text)
{
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_store_put(s, text, strlen(text), NULL, &k));
    assert_non_null(k);
    return k;
}

static void assert_get(ps_store *s, const ps_key *k, const char *want)
{
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    ps_bytes_free(&b);
}

static bool exists(ps_store *s, const ps_key *k)
{
    bool e = true;
    PS_ASSERT_OK(ps_store_exists(s, k, &e));
    return e;
}

static void test_options_defaults(void **state)
{
    (void)state;
    ps_store_options o;
    ps_store_options_init(&o);
    assert_int_equal(o.version, PS_STORE_OPTIONS_VERSION);
    assert_null(o.codec);
    assert_int_equal(o.cache_size, 16);
    assert_int_equal(o.cache_bytes, 0);
    assert_false(o.metrics);
    assert_false(o.register_store);
    assert_true(o.populate_target);

    ps_store *s = memt_store_new("defaults", NULL);
    assert_string_equal(ps_store_name(s), "defaults");
    assert_string_equal(ps_store_codec(s), "raw");
    assert_non_null(ps_store_connector(s));
    assert_string_equal(ps_connector_kind(ps_store_connector(s)), "memt");
    PS_ASSERT_OK(ps_store_options_of(s, &o));
    assert_string_equal(o.codec, "raw");
    assert_int_equal(o.cache_size, 16);
    assert_int_equal(o.populate_target, PS_POPULATE_YES);
    /* the caller's struct says which version it is: fill it with init first */
    o.version = 1;
    PS_ASSERT_STATUS(ps_store_options_of(s, &o), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "ps_store_options_init"));
    ps_store_options_init(&o);
    PS_ASSERT_STATUS(ps_store_options_of(NULL, &o), PS_EINVAL);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_new_rejects(void **state)
{
    (void)state;
    ps_store *s = (ps_store *)0x1;
    ps_store_options o;
    ps_connector *c = NULL;

    /* cache_size -1 => PS_EINVAL, and the connector stays the caller's: a
     * failed ps_store_new neither closes it nor keeps it. */
    ps_store_options_init(&o);
    o.cache_size = -1;
    PS_ASSERT_OK(ps_connector_open("memt", NULL, &c));
    long closes = atomic_load(&memt_closes);
    PS_ASSERT_STATUS(ps_store_new("x", c, &o, &s), PS_EINVAL);
    assert_null(s);
    assert_non_null(strstr(ps_last_error(), "Cache size cannot be negative. Got -1."));

    ps_store_options_init(&o);
    o.codec = "no-such-codec";
    PS_ASSERT_STATUS(ps_store_new("x", c, &o, &s), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "no-such-codec"));

    ps_store_options_init(&o);
    o.version = 99;
    PS_ASSERT_STATUS(ps_store_new("x", c, &o, &s), PS_EINVAL);

    ps_store_options_init(&o);
    o.populate_target = (ps_populate)7;
    PS_ASSERT_STATUS(ps_store_new("x", c, &o, &s), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "populate_target"));

    PS_ASSERT_STATUS(ps_store_new("", c, NULL, &s), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_new(NULL, c, NULL, &s), PS_EINVAL);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    PS_ASSERT_STATUS(ps_store_new(longname, c, NULL, &s), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_new("bad\xff\xfename", c, NULL, &s), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "UTF-8"));
    const char *bad_utf8[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ab\xe2\x82"};
    for (size_t i = 0; i < 4; i++)
        PS_ASSERT_STATUS(ps_store_new(bad_utf8[i], c, NULL, &s), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_new("x", c, NULL, NULL), PS_EINVAL);
    /* none of the failures closed the connector: it still works, and is
     * still ours to give to a store */
    assert_int_equal(atomic_load(&memt_closes), closes);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &k));
    ps_key_free(k);
    /* valid multi-byte names work and survive the config round trip;
     * PS_POPULATE_DEFAULT in store options is the default, PS_POPULATE_YES */
    ps_store_options_init(&o);
    o.populate_target = PS_POPULATE_DEFAULT;
    PS_ASSERT_OK(ps_store_new("st\xc3\xb6re-\xe2\x82\xac-\xf0\x9f\x98\x80", c, &o, &s));
    ps_store_options got;
    ps_store_options_init(&got);
    PS_ASSERT_OK(ps_store_options_of(s, &got));
    assert_int_equal(got.populate_target, PS_POPULATE_YES);
    char *cfg = NULL;
    ps_store *s2 = NULL;
    PS_ASSERT_OK(ps_store_config(s, &cfg));
    PS_ASSERT_OK(ps_store_from_config(cfg, &s2));
    assert_string_equal(ps_store_name(s2), ps_store_name(s));
    ps_free(cfg);
    PS_ASSERT_OK(ps_store_close(s2, PS_CLEAR_DEFAULT));
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
    PS_ASSERT_STATUS(ps_store_new("x", NULL, NULL, &s), PS_EINVAL);
    /* every connector opened above is closed: none leaked, none closed twice */
    assert_int_equal(atomic_load(&memt_opens), atomic_load(&memt_closes));
}

static void test_null_arguments(void **state)
{
    (void)state;
    ps_store *s = new_store(4);
    ps_key *k = put_str(s, "v");
    ps_key *kk = NULL;
    ps_bytes b = PS_BYTES_INIT;
    bool e = true;
    char *json = NULL;
    ps_iov iov = {"x", 1};

    PS_ASSERT_STATUS(ps_store_put(NULL, "x", 1, NULL, &kk), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_put(s, "x", 1, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_put(s, NULL, 1, NULL, &kk), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_get(NULL, k, NULL, &b), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_get(s, NULL, NULL, &b), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_get(s, k, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_exists(NULL, k, &e), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_exists(s, NULL, &e), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_exists(s, k, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_evict(NULL, k), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_evict(s, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_new_key(NULL, &kk), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_new_key(s, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_set(NULL, k, "x", 1), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_set(s, NULL, "x", 1), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_set(s, k, NULL, 1), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_config(NULL, &json), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_config(s, NULL), PS_EINVAL);
    ps_store *tmp = NULL;
    PS_ASSERT_STATUS(ps_store_from_config(NULL, &tmp), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_from_config("{}", NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_put_batch(NULL, 1, &iov, NULL, &kk), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_put_batch(s, 1, NULL, NULL, &kk), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_put_batch(s, 1, &iov, NULL, NULL), PS_EINVAL);
    const ps_key *keys[] = {k, NULL};
    ps_bytes outs[2];
    PS_ASSERT_STATUS(ps_store_get_batch(NULL, 1, keys, NULL, outs, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_get_batch(s, 1, NULL, NULL, outs, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_get_batch(s, 1, keys, NULL, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_get_batch(s, 2, keys, NULL, outs, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_register(NULL, false), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_unregister(NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_get_or_create(NULL, &tmp), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_get_or_create("{}", NULL), PS_EINVAL);
    assert_null(ps_store_lookup(NULL));
    assert_false(ps_store_is_cached(NULL, k));
    assert_false(ps_store_is_cached(s, NULL));
    assert_null(ps_store_name(NULL));
    assert_null(ps_store_codec(NULL));
    assert_null(ps_store_connector(NULL));
    assert_null(ps_store_ref(NULL));
    ps_store_unref(NULL);
    PS_ASSERT_OK(ps_store_close(NULL, PS_CLEAR_KEEP));
    PS_ASSERT_STATUS(ps_store_options_of(s, NULL), PS_EINVAL);

    ps_get_options go;
    ps_get_options_init(&go);
    go.version = 0;
    PS_ASSERT_STATUS(ps_store_get(s, k, &go, &b), PS_EINVAL);
    ps_get_options_init(&go);
    go.has_default = true;
    go.default_len = 3;
    PS_ASSERT_STATUS(ps_store_get(s, k, &go, &b), PS_EINVAL);
    ps_get_options_init(&go);
    go.codec = "nope";
    PS_ASSERT_STATUS(ps_store_get(s, k, &go, &b), PS_EINVAL);

    /* a key of another connector type is refused by the connector */
    const char *f[] = {"abc"};
    ps_key *other = NULL;
    PS_ASSERT_OK(ps_key_new("file", 1, f, &other));
    PS_ASSERT_STATUS(ps_store_get(s, other, NULL, &b), PS_EINVAL);
    PS_ASSERT_STATUS(ps_store_exists(s, other, &e), PS_EINVAL);
    ps_key_free(other);

    PS_ASSERT_STATUS(ps_store_close(s, (ps_clear)7), PS_EINVAL);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_ALL));
}

static void test_put_get_exists_evict(void **state)
{
    (void)state;
    ps_store *s = new_store(16);
    ps_key *k = put_str(s, "hello world");
    assert_string_equal(ps_key_type(k), "memt");
    assert_true(exists(s, k));
    assert_false(ps_store_is_cached(s, k)); /* put does not populate */
    assert_get(s, k, "hello world");
    assert_true(ps_store_is_cached(s, k)); /* get does */
    PS_ASSERT_OK(ps_store_evict(s, k));
    assert_false(exists(s, k));
    assert_false(ps_store_is_cached(s, k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_store_get(s, k, NULL, &b), PS_NOT_FOUND);
    assert_null(b.data);
    PS_ASSERT_OK(ps_store_evict(s, k)); /* missing: fine */
    ps_key_free(k);

    /* empty object */
    k = NULL;
    PS_ASSERT_OK(ps_store_put(s, NULL, 0, NULL, &k));
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    assert_int_equal(b.len, 0);
    ps_bytes_free(&b);
    assert_true(exists(s, k));
    ps_key_free(k);

    /* binary data with NULs */
    unsigned char bin[4096];
    pst_fill(bin, sizeof bin, 7);
    PS_ASSERT_OK(ps_store_put(s, bin, sizeof bin, NULL, &k));
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    assert_int_equal(b.len, sizeof bin);
    assert_memory_equal(b.data, bin, sizeof bin);
    ps_bytes_free(&b);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_missing_and_default(void **state)
{
    (void)state;
    ps_store *s = new_store(16);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_key_new_uuid("memt", 0, NULL, &k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_store_get(s, k, NULL, &b), PS_NOT_FOUND);
    ps_get_options go;
    ps_get_options_init(&go);
    go.has_default = true;
    go.default_data = "fallback";
    go.default_len = 8;
    PS_ASSERT_OK(ps_store_get(s, k, &go, &b));
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "fallback", 8);
    ps_bytes_free(&b);
    assert_false(ps_store_is_cached(s, k)); /* the default is not cached */
    assert_false(exists(s, k));
    PS_ASSERT_OK(ps_store_evict(s, k));
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_cache_size_zero(void **state)
{
    (void)state;
    ps_store *s = new_store(0);
    ps_key *k = put_str(s, "value");
    long gets = atomic_load(&memt_gets);
    assert_get(s, k, "value");
    assert_get(s, k, "value");
    assert_false(ps_store_is_cached(s, k));
    assert_int_equal(atomic_load(&memt_gets), gets + 2); /* every get reaches the connector */
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_cache_size_one(void **state)
{
    (void)state;
    ps_store *s = new_store(1);
    ps_key *k1 = put_str(s, "value1");
    ps_key *k2 = put_str(s, "value2");
    assert_false(ps_store_is_cached(s, k1));
    assert_get(s, k1, "value1");
    assert_true(ps_store_is_cached(s, k1));
    long ex = atomic_load(&memt_exists_calls);
    assert_true(exists(s, k1));
    assert_int_equal(atomic_load(&memt_exists_calls), ex); /* served by the cache */
    long gets = atomic_load(&memt_gets);
    assert_get(s, k1, "value1");
    assert_int_equal(atomic_load(&memt_gets), gets); /* hit */
    assert_get(s, k2, "value2");
    assert_true(ps_store_is_cached(s, k2));
    assert_false(ps_store_is_cached(s, k1));
    ps_key_free(k1);
    ps_key_free(k2);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

/* A cache hit is a zero-copy view that stays valid after eviction. */
static void test_hit_is_view(void **state)
{
    (void)state;
    ps_store *s = new_store(1);
    ps_key *k1 = put_str(s, "first object");
    ps_key *k2 = put_str(s, "second object");
    ps_bytes miss = PS_BYTES_INIT, hit = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_get(s, k1, NULL, &miss));
    PS_ASSERT_OK(ps_store_get(s, k1, NULL, &hit));
    assert_ptr_equal(miss.data, hit.data); /* both point at the cached object */
    assert_non_null(hit.release);
    assert_get(s, k2, "second object"); /* evicts k1 from the cache */
    assert_false(ps_store_is_cached(s, k1));
    PS_ASSERT_OK(ps_store_evict(s, k1));
    assert_memory_equal(hit.data, "first object", 12);
    ps_bytes_free(&miss);
    assert_memory_equal(hit.data, "first object", 12);
    /* and the view outlives the store itself */
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
    assert_memory_equal(hit.data, "first object", 12);
    ps_bytes_free(&hit);
    ps_key_free(k1);
    ps_key_free(k2);
}

static void test_cache_bytes(void **state)
{
    (void)state;
    ps_store_options o;
    ps_store_options_init(&o);
    o.cache_size = 100;
    o.cache_bytes = 10;
    ps_store *s = memt_store_new("bytes", &o);
    ps_key *small = put_str(s, "12345");
    ps_key *big = put_str(s, "0123456789ABC");
    assert_get(s, small, "12345");
    assert_get(s, big, "0123456789ABC");
    assert_true(ps_store_is_cached(s, small));
    assert_false(ps_store_is_cached(s, big)); /* larger than cache_bytes */
    ps_key_free(small);
    ps_key_free(big);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_codecs(void **state)
{
    (void)state;
    ps_store_options o;
    ps_store_options_init(&o);
    o.codec = "zstd";
    ps_store *s = memt_store_new("zstd", &o);
    assert_string_equal(ps_store_codec(s), "zstd");
    char text[2000];
    memset(text, 'z', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    ps_key *k = put_str(s, text);
    /* the connector holds the compressed form */
    ps_bytes raw = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(ps_store_connector(s), k, &raw));
    assert_true(raw.len < 200);
    ps_bytes_free(&raw);
    assert_get(s, k, text);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));

    /* a raw store's object decoded with an override codec that fails */
    s = new_store(4);
    k = put_str(s, "not a zstd frame");
    ps_get_options go;
    ps_get_options_init(&go);
    go.codec = "zstd";
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_store_get(s, k, &go, &b), PS_ECODEC);
    assert_non_null(strstr(ps_last_error(), "Failed to deserialize object (codec=zstd, key=memt:"));
    assert_null(b.data);
    assert_false(ps_store_is_cached(s, k));
    /* the override "raw" works, and once cached the override is ignored */
    go.codec = "raw";
    PS_ASSERT_OK(ps_store_get(s, k, &go, &b));
    ps_bytes_free(&b);
    go.codec = "zstd";
    PS_ASSERT_OK(ps_store_get(s, k, &go, &b));
    assert_memory_equal(b.data, "not a zstd frame", 16);
    ps_bytes_free(&b);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_batches(void **state)
{
    (void)state;
    ps_store *s = new_store(16);
    const char *vals[] = {"alpha", "", "gamma", "delta"};
    ps_iov items[4];
    for (int i = 0; i < 4; i++) {
        items[i].data = vals[i];
        items[i].len = strlen(vals[i]);
    }
    ps_key *keys[4];
    PS_ASSERT_OK(ps_store_put_batch(s, 4, items, NULL, keys));
    for (int i = 0; i < 4; i++) {
        assert_true(exists(s, keys[i]));
        assert_false(ps_store_is_cached(s, keys[i]));
    }
    assert_get(s, keys[2], "gamma"); /* one cached, three from the connector */

    ps_key *missing = NULL;
    PS_ASSERT_OK(ps_key_new_uuid("memt", 0, NULL, &missing));
    const ps_key *want[5] = {keys[3], missing, keys[2], keys[1], keys[0]};
    ps_bytes outs[5];
    bool found[5];
    PS_ASSERT_OK(ps_store_get_batch(s, 5, want, NULL, outs, found));
    const char *expect[5] = {"delta", "", "gamma", "", "alpha"};
    const bool efound[5] = {true, false, true, true, true};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(found[i], efound[i]);
        assert_int_equal(outs[i].len, strlen(expect[i]));
        assert_memory_equal(outs[i].data ? outs[i].data : "", expect[i], outs[i].len);
    }
    ps_bytes_free_array(outs, 5);
    for (int i = 0; i < 4; i++)
        assert_true(ps_store_is_cached(s, keys[i]));

    /* with a default and without found flags */
    ps_get_options go;
    ps_get_options_init(&go);
    go.has_default = true;
    go.default_data = "dflt";
    go.default_len = 4;
    PS_ASSERT_OK(ps_store_get_batch(s, 2, want, &go, outs, NULL));
    assert_memory_equal(outs[0].data, "delta", 5);
    assert_int_equal(outs[1].len, 4);
    assert_memory_equal(outs[1].data, "dflt", 4);
    ps_bytes_free_array(outs, 2);

    PS_ASSERT_OK(ps_store_put_batch(s, 0, NULL, NULL, NULL));
    PS_ASSERT_OK(ps_store_get_batch(s, 0, NULL, NULL, NULL, NULL));
    ps_key_free(missing);
    ps_key_free_array(keys, 4);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

static void test_set(void **state)
{
    (void)state;
    ps_store *s = new_store(16);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_store_new_key(s, &k));
    assert_false(exists(s, k));
    PS_ASSERT_OK(ps_store_set(s, k, "test_value", 10));
    assert_get(s, k, "test_value");
    assert_true(ps_store_is_cached(s, k));
    PS_ASSERT_OK(ps_store_set(s, k, "new_value", 9));
    assert_false(ps_store_is_cached(s, k)); /* set drops the key from the cache */
    assert_get(s, k, "new_value");
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));

    /* a connector that is not deferrable */
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("memtnd", NULL, &c));
    PS_ASSERT_OK(ps_store_new("nd", c, NULL, &s));
    PS_ASSERT_STATUS(ps_store_new_key(s, &k), PS_ENOTSUP);
    assert_null(k);
    k = put_str(s, "x");
    PS_ASSERT_STATUS(ps_store_set(s, k, "y", 1), PS_ENOTSUP);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

/* A codec that refuses to encode the 4 bytes "fail" (else it copies). */
static ps_status failenc_encode(const void *in, size_t len, ps_bytes *out)
{
    if (len == 4 && memcmp(in, "fail", 4) == 0)
        return PS_ECODEC;
    return ps_bytes_copy(in, len, out);
}

static ps_status failenc_decode(ps_bytes *in, ps_bytes *out)
{
    *out = *in;
    memset(in, 0, sizeof *in);
    return PS_OK;
}

static const ps_codec failenc = {PS_CODEC_VERSION, "failenc", failenc_encode, failenc_decode};

static void assert_no_time(ps_store *s, const char *name)
{
    ps_time_stats ts;
    ps_time_stats_init(&ts);
    PS_ASSERT_STATUS(ps_store_metrics_time_stats(s, name, &ts), PS_NOT_FOUND);
}

/* The path put, put_batch and set share: its checks, an encode failure
 * (nothing reaches the connector, no key is left, no time is recorded, the
 * cache is left alone) and what a successful set records. */
static void test_write_path_failures(void **state)
{
    (void)state;
    ps_status rst = ps_codec_register(&failenc);
    assert_true(rst == PS_OK || rst == PS_EEXIST);
    ps_store_options o;
    ps_store_options_init(&o);
    o.codec = "failenc";
    o.metrics = true;
    ps_store *s = memt_store_new("writes", &o);
    ps_key *bogus = (ps_key *)&o; /* any non-NULL value: must be overwritten */

    ps_iov items[3] = {{"a", 1}, {NULL, 3}, {"c", 1}};
    ps_key *keys[3] = {bogus, bogus, bogus};
    PS_ASSERT_STATUS(ps_store_put_batch(s, 3, items, NULL, keys), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "store \"writes\": put_batch: item 1 has NULL data"));
    assert_null(keys[0]);
    assert_null(keys[1]);
    ps_key *k = bogus;
    PS_ASSERT_STATUS(ps_store_put(s, NULL, 1, NULL, &k), PS_EINVAL);
    assert_null(k);
    assert_non_null(strstr(ps_last_error(), "store \"writes\": put: data is NULL"));

    items[1].data = "fail";
    items[1].len = 4;
    keys[0] = keys[1] = keys[2] = bogus;
    PS_ASSERT_STATUS(ps_store_put_batch(s, 3, items, NULL, keys), PS_ECODEC);
    assert_non_null(
        strstr(ps_last_error(), "store \"writes\": failed to serialize object (codec=failenc)"));
    for (int i = 0; i < 3; i++)
        assert_null(keys[i]);
    k = bogus;
    PS_ASSERT_STATUS(ps_store_put(s, "fail", 4, NULL, &k), PS_ECODEC);
    assert_null(k);
    assert_int_equal(atomic_load(&memt_puts), 0);
    assert_no_time(s, "store.put_batch");
    assert_no_time(s, "store.put_batch.serialize");
    assert_no_time(s, "store.put");
    assert_no_time(s, "store.put.serialize");

    k = put_str(s, "v1");
    assert_get(s, k, "v1");
    assert_true(ps_store_is_cached(s, k));
    PS_ASSERT_STATUS(ps_store_set(s, k, "fail", 4), PS_ECODEC);
    assert_true(ps_store_is_cached(s, k));
    PS_ASSERT_STATUS(ps_store_set(s, k, NULL, 2), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "store \"writes\": set: data is NULL"));
    assert_true(ps_store_is_cached(s, k));
    assert_no_time(s, "store.set");
    PS_ASSERT_OK(ps_store_set(s, k, "v22", 3));
    assert_false(ps_store_is_cached(s, k));
    assert_get(s, k, "v22");
    ps_time_stats ts;
    ps_time_stats_init(&ts);
    PS_ASSERT_OK(ps_store_metrics_time_stats(s, "store.set", &ts));
    assert_int_equal(ts.count, 1);
    PS_ASSERT_OK(ps_store_metrics_time_stats(s, "store.set.serialize", &ts));
    assert_int_equal(ts.count, 1);
    PS_ASSERT_OK(ps_store_metrics_time_stats(s, "store.set.connector", &ts));
    assert_int_equal(ts.count, 1);
    uint64_t size = 0;
    PS_ASSERT_OK(ps_store_metrics_attribute(s, "store.set.object_size", &size));
    assert_int_equal(size, 3);
    ps_key_free(k);

    /* closed: every write is PS_ESTATE naming the operation */
    PS_ASSERT_OK(ps_store_close(ps_store_ref(s), PS_CLEAR_DEFAULT));
    items[1].data = "b";
    items[1].len = 1;
    PS_ASSERT_STATUS(ps_store_put_batch(s, 3, items, NULL, keys), PS_ESTATE);
    assert_non_null(strstr(ps_last_error(), "store \"writes\": put_batch: the store is closed"));
    ps_store_unref(s);
}

static void test_close_other_holder(void **state)
{
    (void)state;
    ps_store *s = new_store(16);
    ps_key *k = put_str(s, "v");
    assert_get(s, k, "v");
    ps_store *other = ps_store_ref(s);
    long closes = atomic_load(&memt_closes);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_ALL));
    assert_int_equal(atomic_load(&memt_closes), closes + 1);
    ps_bytes b = PS_BYTES_INIT;
    bool e;
    ps_key *k2 = NULL;
    char *json = NULL;
    ps_iov iov = {"x", 1};
    const ps_key *keys[] = {k};
    PS_ASSERT_STATUS(ps_store_get(other, k, NULL, &b), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_put(other, "x", 1, NULL, &k2), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_exists(other, k, &e), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_evict(other, k), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_config(other, &json), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_new_key(other, &k2), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_set(other, k, "x", 1), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_put_batch(other, 1, &iov, NULL, &k2), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_get_batch(other, 1, keys, NULL, &b, NULL), PS_ESTATE);
    PS_ASSERT_STATUS(ps_store_register(other, false), PS_ESTATE);
    assert_false(ps_store_is_cached(other, k));
    assert_null(ps_store_connector(other));
    assert_string_equal(ps_store_name(other), "basics");
    /* a second close through the other reference: PS_OK, nothing else */
    PS_ASSERT_OK(ps_store_close(other, PS_CLEAR_ALL));
    assert_int_equal(atomic_load(&memt_closes), closes + 1);
    ps_key_free(k);
}

static void test_release_closes_connector(void **state)
{
    (void)state;
    long closes = atomic_load(&memt_closes);
    ps_store *s = new_store(16);
    ps_store *r = ps_store_ref(s);
    ps_store_unref(s);
    assert_int_equal(atomic_load(&memt_closes), closes);
    ps_store_unref(r);
    assert_int_equal(atomic_load(&memt_closes), closes + 1);
}

/* ---- configuration --------------------------------------------------------- */

static void test_config_round_trip(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("memt", "{\"tag\": \"t1\"}", &c));
    ps_store_options o;
    ps_store_options_init(&o);
    o.codec = "zstd";
    o.cache_size = 3;
    o.cache_bytes = 4096;
    o.metrics = true;
    o.populate_target = false;
    ps_store *s = NULL;
    PS_ASSERT_OK(ps_store_new("cfg-store", c, &o, &s));
    char *json = NULL, *json2 = NULL;
    PS_ASSERT_OK(ps_store_config(s, &json));
    assert_string_equal(json, "{\"auto_register\":false,\"cache_bytes\":4096,\"cache_size\":3,"
                              "\"codec\":\"zstd\",\"connector\":{\"kind\":\"memt\",\"options\":{"
                              "\"tag\":\"t1\"}},\"metrics\":true,\"name\":\"cfg-store\","
                              "\"populate_target\":false}");
    ps_store *s2 = NULL;
    PS_ASSERT_OK(ps_store_from_config(json, &s2));
    PS_ASSERT_OK(ps_store_config(s2, &json2));
    assert_string_equal(json, json2);
    assert_string_equal(ps_store_name(s2), "cfg-store");
    ps_store_options o2;
    ps_store_options_init(&o2);
    PS_ASSERT_OK(ps_store_options_of(s2, &o2));
    assert_int_equal(o2.cache_size, 3);
    assert_int_equal(o2.cache_bytes, 4096);
    assert_true(o2.metrics);
    assert_false(o2.populate_target);
    assert_null(ps_store_lookup("cfg-store")); /* auto_register false */
    ps_free(json);
    ps_free(json2);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
    PS_ASSERT_OK(ps_store_close(s2, PS_CLEAR_DEFAULT));
}

static void test_config_minimal_and_kinds(void **state)
{
    (void)state;
    const char *kinds[] = {"memt", "MEMT", "MemtConnector", "some.module.MemtConnector"};
    for (size_t i = 0; i < 4; i++) {
        char cfg[256];
        snprintf(cfg, sizeof cfg, "{\"name\": \"m\", \"connector\": {\"kind\": \"%s\"}}", kinds[i]);
        ps_store *s = NULL;
        PS_ASSERT_OK(ps_store_from_config(cfg, &s));
        assert_string_equal(ps_connector_kind(ps_store_connector(s)), "memt");
        ps_store_options o;
        ps_store_options_init(&o);
        PS_ASSERT_OK(ps_store_options_of(s, &o));
        assert_int_equal(o.cache_size, 16);
        assert_string_equal(o.codec, "raw");
        assert_true(o.populate_target);
        assert_false(o.metrics);
        PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
    }
}

static void test_config_rejects(void **state)
{
    (void)state;
    struct {
        const char *json;
        const char *msg;
    } bad[] = {
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"serializer\":\"x\"}",
         "unknown field \"serializer\""},
        {"{\"connector\":{\"kind\":\"memt\"}}", "name"},
        {"{\"name\":\"m\"}", "connector"},
        {"{\"name\":\"\",\"connector\":{\"kind\":\"memt\"}}", "name"},
        {"{\"name\":5,\"connector\":{\"kind\":\"memt\"}}", "name"},
        {"{\"name\":\"m\",\"connector\":\"memt\"}", "connector"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"fake\"}}", "fake"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\",\"extra\":1}}", "extra"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\",\"options\":{\"bogus\":1}}}", "bogus"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"cache_size\":-1}",
         "Cache size cannot be negative"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"cache_size\":\"16\"}", "cache_size"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"cache_bytes\":-5}", "cache_bytes"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"metrics\":1}", "metrics"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"populate_target\":null}",
         "populate_target"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"auto_register\":\"yes\"}",
         "auto_register"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"codec\":7}", "codec"},
        {"{\"name\":\"m\",\"connector\":{\"kind\":\"memt\"},\"codec\":\"nope\"}", "nope"},
        {"[1,2]", "object"},
        {"{not json", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ps_store *s = (ps_store *)0x1;
        ps_status st = ps_store_from_config(bad[i].json, &s);
        if (st != PS_EINVAL)
            fail_msg("%s: got %s (%s)", bad[i].json, ps_status_name(st), ps_last_error());
        assert_null(s);
        if (strstr(ps_last_error(), bad[i].msg) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].json, ps_last_error(), bad[i].msg);
    }
    assert_int_equal(atomic_load(&memt_opens), atomic_load(&memt_closes));

    /* a connector that fails to open */
    ps_store *s = NULL;
    PS_ASSERT_STATUS(
        ps_store_from_config(
            "{\"name\":\"m\",\"connector\":{\"kind\":\"memt\",\"options\":{\"fail_open\":true}}}",
            &s),
        PS_ECONN);
}

static void test_config_auto_register(void **state)
{
    (void)state;
    const char *cfg =
        "{\"name\":\"auto\",\"connector\":{\"kind\":\"memt\"},\"auto_register\":true}";
    ps_store *s = NULL, *s2 = NULL;
    PS_ASSERT_OK(ps_store_from_config(cfg, &s));
    ps_store *found = ps_store_lookup("auto");
    assert_ptr_equal(found, s);
    ps_store_unref(found);
    /* a second one with the same name is refused, as upstream's register=True */
    PS_ASSERT_STATUS(ps_store_from_config(cfg, &s2), PS_EEXIST);
    assert_null(s2);
    char *json = NULL;
    PS_ASSERT_OK(ps_store_config(s, &json));
    assert_non_null(strstr(json, "\"auto_register\":true"));
    ps_free(json);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT)); /* unregisters */
    assert_null(ps_store_lookup("auto"));
    assert_int_equal(atomic_load(&memt_opens), atomic_load(&memt_closes));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_options_defaults, setup),
        cmocka_unit_test_setup(test_new_rejects, setup),
        cmocka_unit_test_setup(test_null_arguments, setup),
        cmocka_unit_test_setup(test_put_get_exists_evict, setup),
        cmocka_unit_test_setup(test_missing_and_default, setup),
        cmocka_unit_test_setup(test_cache_size_zero, setup),
        cmocka_unit_test_setup(test_cache_size_one, setup),
        cmocka_unit_test_setup(test_hit_is_view, setup),
        cmocka_unit_test_setup(test_cache_bytes, setup),
        cmocka_unit_test_setup(test_codecs, setup),
        cmocka_unit_test_setup(test_batches, setup),
        cmocka_unit_test_setup(test_set, setup),
        cmocka_unit_test_setup(test_write_path_failures, setup),
        cmocka_unit_test_setup(test_close_other_holder, setup),
        cmocka_unit_test_setup(test_release_closes_connector, setup),
        cmocka_unit_test_setup(test_config_round_trip, setup),
        cmocka_unit_test_setup(test_config_minimal_and_kinds, setup),
        cmocka_unit_test_setup(test_config_rejects, setup),
        cmocka_unit_test_setup(test_config_auto_register, setup),
    };
    return pst_exit(cmocka_run_group_tests_name("store", tests, NULL, NULL));
}
