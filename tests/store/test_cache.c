/* The store's LRU cache (src/store/cache.c): bounds, LRU order, views,
 * replacement without duplicates, and the invalidation epoch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "testutil.h"
#include "store/cache.h"

static ps_key *mk(const char *id)
{
    const char *f[] = {id};
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_key_new("test", 1, f, &k));
    return k;
}

/* Put a copy of `text` under key `id`; return the bytes handed back. */
static void put_str(ps__cache *c, const char *id, const char *text)
{
    ps_key *k = mk(id);
    ps_bytes v = PS_BYTES_INIT, out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_bytes_copy(text, strlen(text), &v));
    ps__cache_put(c, k, &v, ps__cache_epoch(c), &out);
    assert_null(v.data);
    assert_int_equal(out.len, strlen(text));
    assert_memory_equal(out.data, text, out.len);
    ps_bytes_free(&out);
    ps_key_free(k);
}

/* Get `id`; return whether it hit, and check the value when `want`. */
static bool get_str(ps__cache *c, const char *id, const char *want)
{
    ps_key *k = mk(id);
    ps_bytes out = PS_BYTES_INIT;
    bool hit = ps__cache_get(c, k, &out);
    if (hit && want) {
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
    }
    ps_bytes_free(&out);
    ps_key_free(k);
    return hit;
}

static bool has(ps__cache *c, const char *id)
{
    ps_key *k = mk(id);
    bool r = ps__cache_contains(c, k);
    ps_key_free(k);
    return r;
}

static void test_negative_size(void **state)
{
    (void)state;
    ps__cache c;
    PS_ASSERT_STATUS(ps__cache_init(&c, -1, 0), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "negative"));
}

/* upstream cache_test: maxsize 4, set 1..4, get 4,3,2,1, set 5 => 4 gone. */
static void test_lru_order(void **state)
{
    (void)state;
    ps__cache c;
    PS_ASSERT_OK(ps__cache_init(&c, 4, 0));
    put_str(&c, "1", "one");
    put_str(&c, "2", "two");
    put_str(&c, "3", "three");
    put_str(&c, "4", "four");
    assert_true(get_str(&c, "4", "four"));
    assert_true(get_str(&c, "3", "three"));
    assert_true(get_str(&c, "2", "two"));
    assert_true(get_str(&c, "1", "one"));
    put_str(&c, "5", "five");
    assert_int_equal(ps__cache_count(&c), 4);
    assert_false(has(&c, "4"));
    assert_true(has(&c, "1"));
    assert_true(has(&c, "5"));
    assert_true(has(&c, "3"));
    /* contains does not refresh: 3 is now the LRU entry, then 2. */
    put_str(&c, "6", "six");
    assert_false(has(&c, "3"));
    assert_true(has(&c, "2"));
    assert_false(get_str(&c, "missing", NULL));
    assert_int_equal(c.hits, 4);
    assert_int_equal(c.misses, 1);
    ps__cache_destroy(&c);
}

static void test_replace_no_duplicate(void **state)
{
    (void)state;
    ps__cache c;
    PS_ASSERT_OK(ps__cache_init(&c, 2, 0));
    put_str(&c, "a", "A");
    put_str(&c, "b", "B");
    /* Re-putting a present key replaces it and evicts nobody (upstream's
     * quirk would evict "a" here and keep a duplicate recency entry). */
    put_str(&c, "b", "BB");
    assert_int_equal(ps__cache_count(&c), 2);
    assert_true(get_str(&c, "a", "A"));
    assert_true(get_str(&c, "b", "BB"));
    assert_int_equal(ps__cache_bytes(&c), 3);
    ps__cache_destroy(&c);
}

static void test_byte_bound(void **state)
{
    (void)state;
    ps__cache c;
    PS_ASSERT_OK(ps__cache_init(&c, 100, 10));
    put_str(&c, "a", "aaaa");              /* 4 */
    put_str(&c, "b", "bbbb");              /* 8 */
    assert_true(get_str(&c, "a", "aaaa")); /* a is MRU, b LRU */
    put_str(&c, "c", "cccc");              /* 12 > 10: evict b */
    assert_false(has(&c, "b"));
    assert_true(has(&c, "a"));
    assert_true(has(&c, "c"));
    assert_int_equal(ps__cache_bytes(&c), 8);
    /* Larger than the whole bound: not cached, nothing evicted. */
    put_str(&c, "big", "0123456789X");
    assert_false(has(&c, "big"));
    assert_int_equal(ps__cache_count(&c), 2);
    /* Exactly the bound: fits after evicting everything else. */
    put_str(&c, "ten", "0123456789");
    assert_true(has(&c, "ten"));
    assert_int_equal(ps__cache_count(&c), 1);
    assert_int_equal(ps__cache_bytes(&c), 10);
    ps__cache_destroy(&c);
}

static void test_disabled(void **state)
{
    (void)state;
    ps__cache c;
    PS_ASSERT_OK(ps__cache_init(&c, 0, 0));
    put_str(&c, "a", "A");
    assert_false(has(&c, "a"));
    assert_false(get_str(&c, "a", NULL));
    assert_int_equal(ps__cache_count(&c), 0);
    ps__cache_remove(&c, NULL);
    ps__cache_destroy(&c);
}

static void test_view_survives_eviction(void **state)
{
    (void)state;
    ps__cache c;
    PS_ASSERT_OK(ps__cache_init(&c, 1, 0));
    put_str(&c, "a", "payload-a");
    ps_key *k = mk("a");
    ps_bytes view = PS_BYTES_INIT, view2 = PS_BYTES_INIT;
    assert_true(ps__cache_get(&c, k, &view));
    assert_true(ps__cache_get(&c, k, &view2));
    assert_ptr_equal(view.data, view2.data); /* zero-copy: same bytes */
    assert_non_null(view.release);
    put_str(&c, "b", "payload-b"); /* evicts a */
    assert_false(has(&c, "a"));
    assert_memory_equal(view.data, "payload-a", 9);
    ps_bytes_free(&view);
    ps__cache_remove(&c, k); /* missing now: fine */
    ps__cache_destroy(&c);   /* view2 still valid after the cache is gone */
    assert_memory_equal(view2.data, "payload-a", 9);
    ps_bytes_free(&view2);
    ps_key_free(k);
}

static void test_remove_and_epoch(void **state)
{
    (void)state;
    ps__cache c;
    PS_ASSERT_OK(ps__cache_init(&c, 8, 0));
    put_str(&c, "a", "A");
    ps_key *k = mk("a");
    uint64_t e0 = ps__cache_epoch(&c);
    ps__cache_remove(&c, k);
    assert_false(has(&c, "a"));
    assert_true(ps__cache_epoch(&c) > e0);

    /* A value fetched before an invalidation is handed back, not cached. */
    ps_bytes v = PS_BYTES_INIT, out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_bytes_copy("stale", 5, &v));
    ps__cache_put(&c, k, &v, e0, &out);
    assert_false(has(&c, "a"));
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "stale", 5);
    ps_bytes_free(&out);

    put_str(&c, "x", "X");
    put_str(&c, "y", "Y");
    ps__cache_clear(&c);
    assert_int_equal(ps__cache_count(&c), 0);
    assert_int_equal(ps__cache_bytes(&c), 0);
    ps_key_free(k);
    ps__cache_destroy(&c);
}

/* Many keys: the table grows and every key stays reachable. */
static void test_many_keys(void **state)
{
    (void)state;
    ps__cache c;
    PS_ASSERT_OK(ps__cache_init(&c, 1000, 0));
    char id[32], val[32];
    for (int i = 0; i < 1500; i++) {
        snprintf(id, sizeof id, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        put_str(&c, id, val);
    }
    assert_int_equal(ps__cache_count(&c), 1000);
    for (int i = 0; i < 1500; i++) {
        snprintf(id, sizeof id, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        assert_int_equal(get_str(&c, id, val), i >= 500);
    }
    ps__cache_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negative_size),
        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_replace_no_duplicate),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_view_survives_eviction),
        cmocka_unit_test(test_remove_and_epoch),
        cmocka_unit_test(test_many_keys),
    };
    return pst_exit(cmocka_run_group_tests_name("cache", tests, NULL, NULL));
}
