/*
 * The connector registry and the core's dispatch wrappers, through a small
 * in-test connector type "tmem" that is deliberately not thread-safe, has no
 * batch functions and is not deferrable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"
#include "proxystore/sys/connector.h"

#define SLOTS 64

typedef struct tmem {
    ps_key *keys[SLOTS];
    ps_bytes vals[SLOTS];
    long long fail_after; /* put fails once this many puts succeeded (-1: never) */
    long long puts;
    bool clear;
    bool silent_failure; /* fail without leaving a message */
} tmem;

static atomic_int in_call; /* detects concurrent calls into a non-thread-safe type */
static atomic_int overlap;

static void enter(void)
{
    if (atomic_fetch_add(&in_call, 1) != 0)
        atomic_store(&overlap, 1);
}
static void leave(void)
{
    atomic_fetch_sub(&in_call, 1);
}

static ps_status tmem_open(json_t *options, void **priv)
{
    static const char *const allowed[] = {"fail_after", "clear", "silent", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(options, k, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, k) == 0;
        if (!ok)
            return ps_error(PS_EINVAL, "tmem: unknown option \"%s\"", k);
    }
    tmem *m = ps_calloc(1, sizeof *m);
    if (!m)
        return PS_ENOMEM;
    json_t *fa = json_object_get(options, "fail_after");
    m->fail_after = fa ? json_integer_value(fa) : -1;
    m->clear = json_is_true(json_object_get(options, "clear"));
    m->silent_failure = json_is_true(json_object_get(options, "silent"));
    *priv = m;
    return PS_OK;
}

static ps_status tmem_close(void *priv, ps_clear clear)
{
    tmem *m = priv;
    (void)clear;
    for (int i = 0; i < SLOTS; i++) {
        ps_key_free(m->keys[i]);
        ps_bytes_free(&m->vals[i]);
    }
    ps_free(m);
    return PS_OK;
}

static bool tmem_default_clear(void *priv)
{
    return ((tmem *)priv)->clear;
}

static ps_status tmem_config(void *priv, json_t **out)
{
    tmem *m = priv;
    *out = json_pack("{s:I, s:b}", "fail_after", (json_int_t)m->fail_after, "clear", m->clear);
    return *out ? PS_OK : PS_ENOMEM;
}

static int tmem_find(tmem *m, const ps_key *key)
{
    for (int i = 0; i < SLOTS; i++)
        if (m->keys[i] && ps_key_equal(m->keys[i], key))
            return i;
    return -1;
}

static ps_status tmem_put(void *priv, const void *data, size_t len, const ps_put_options *o,
                          ps_key **key)
{
    (void)o;
    tmem *m = priv;
    enter();
    ps_status st = PS_OK;
    if (m->fail_after >= 0 && m->puts >= m->fail_after) {
        st = m->silent_failure ? PS_EIO : ps_error(PS_EIO, "tmem: disk on fire");
        goto out;
    }
    int slot = -1;
    for (int i = 0; i < SLOTS && slot < 0; i++)
        if (!m->keys[i])
            slot = i;
    if (slot < 0) {
        st = ps_error(PS_ENOSPC, "tmem: full");
        goto out;
    }
    st = ps_key_new_uuid("tmem", 0, NULL, &m->keys[slot]);
    if (st == PS_OK)
        st = ps_bytes_copy(data, len, &m->vals[slot]);
    if (st == PS_OK)
        st = ps_key_dup(m->keys[slot], key);
    m->puts++;
out:
    leave();
    return st;
}

static ps_status tmem_get(void *priv, const ps_key *key, ps_bytes *out)
{
    tmem *m = priv;
    enter();
    int i = tmem_find(m, key);
    ps_status st = i < 0 ? PS_NOT_FOUND : ps_bytes_copy(m->vals[i].data, m->vals[i].len, out);
    leave();
    return st;
}

static ps_status tmem_exists(void *priv, const ps_key *key, bool *exists)
{
    enter();
    *exists = tmem_find(priv, key) >= 0;
    leave();
    return PS_OK;
}

static ps_status tmem_evict(void *priv, const ps_key *key)
{
    tmem *m = priv;
    enter();
    int i = tmem_find(m, key);
    if (i >= 0) {
        ps_key_free(m->keys[i]);
        m->keys[i] = NULL;
        ps_bytes_free(&m->vals[i]);
    }
    leave();
    return PS_OK;
}

static const ps_connector_ops tmem_ops = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "tmem",
    .flags = 0,
    .open = tmem_open,
    .close = tmem_close,
    .default_clear = tmem_default_clear,
    .config = tmem_config,
    .put = tmem_put,
    .get = tmem_get,
    .exists = tmem_exists,
    .evict = tmem_evict,
};

static ps_status half_new_key(void *priv, ps_key **key)
{
    (void)priv;
    return ps_key_new_uuid("other3", 0, NULL, key);
}

static int setup(void **state)
{
    (void)state;
    ps_status st = ps_connector_register(&tmem_ops);
    return (st == PS_OK || st == PS_EEXIST) ? 0 : -1;
}

static void test_registry(void **state)
{
    (void)state;
    PS_ASSERT_STATUS(ps_connector_register(&tmem_ops), PS_EEXIST);
    assert_ptr_equal(ps_connector_find("tmem"), &tmem_ops);
    /* Upstream's spellings of a kind all resolve. */
    assert_ptr_equal(ps_connector_find("TMEM"), &tmem_ops);
    assert_ptr_equal(ps_connector_find("TmemConnector"), &tmem_ops);
    assert_ptr_equal(ps_connector_find("proxystore.connectors.tmem.TmemConnector"), &tmem_ops);
    assert_null(ps_connector_find("fake"));
    assert_null(ps_connector_find(""));
    assert_null(ps_connector_find(NULL));
    bool listed = false;
    for (size_t i = 0; i < ps_connector_type_count(); i++)
        listed |= strcmp(ps_connector_type_name(i), "tmem") == 0;
    assert_true(listed);
    assert_null(ps_connector_type_name(ps_connector_type_count()));

    ps_connector_ops bad = tmem_ops;
    bad.name = "Bad-Name";
    PS_ASSERT_STATUS(ps_connector_register(&bad), PS_EINVAL);
    bad = tmem_ops;
    bad.name = "other";
    bad.get = NULL;
    PS_ASSERT_STATUS(ps_connector_register(&bad), PS_EINVAL);
    bad = tmem_ops;
    bad.name = "other2";
    bad.version = 42;
    PS_ASSERT_STATUS(ps_connector_register(&bad), PS_EINVAL);
    /* new_key without set (or the reverse) is refused. */
    bad = tmem_ops;
    bad.name = "other3";
    bad.new_key = half_new_key;
    PS_ASSERT_STATUS(ps_connector_register(&bad), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_register(NULL), PS_EINVAL);
}

static void test_open_and_config(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(ps_connector_open("fake", NULL, &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "fake"));
    PS_ASSERT_STATUS(ps_connector_open("tmem", "{\"bogus\": 1}", &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "bogus"));
    PS_ASSERT_STATUS(ps_connector_open("tmem", "{not json", &c), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("tmem", "[1]", &c), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open(NULL, NULL, &c), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open("tmem", NULL, NULL), PS_EINVAL);
    PS_ASSERT_OK(ps_connector_open("tmem", "{\"fail_after\": 5}", &c));
    assert_string_equal(ps_connector_kind(c), "tmem");
    assert_false(ps_connector_is_threadsafe(c));
    assert_false(ps_connector_is_deferrable(c));
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    assert_string_equal(cfg, "{\"kind\":\"tmem\",\"options\":{\"clear\":false,\"fail_after\":5}}");
    json_t *j = json_loads(cfg, 0, NULL);
    ps_connector *c2 = NULL;
    PS_ASSERT_OK(ps_connector_from_config_json(j, &c2));
    char *cfg2 = NULL;
    PS_ASSERT_OK(ps_connector_config(c2, &cfg2));
    assert_string_equal(cfg, cfg2);
    json_object_set_new(j, "extra", json_true());
    ps_connector *c3 = NULL;
    PS_ASSERT_STATUS(ps_connector_from_config_json(j, &c3), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "extra"));
    json_decref(j);
    ps_free(cfg);
    ps_free(cfg2);
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_DEFAULT));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    PS_ASSERT_OK(ps_connector_close(NULL, PS_CLEAR_ALL));
}

static void test_dispatch_checks(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("tmem", NULL, &c));
    ps_key *k = NULL, *foreign = NULL;
    ps_bytes out = PS_BYTES_INIT;
    bool ex = true;
    PS_ASSERT_OK(ps_connector_put(c, "abc", 3, NULL, &k));
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    assert_int_equal(out.len, 3);
    ps_bytes_free(&out);
    /* Keys of another type are refused before the connector sees them. */
    PS_ASSERT_OK(ps_key_parse("file:0f8fad5b-d9cb-469f-a165-70867728950e", &foreign));
    PS_ASSERT_STATUS(ps_connector_get(c, foreign, &out), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "file"));
    PS_ASSERT_STATUS(ps_connector_exists(c, foreign, &ex), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_evict(c, foreign), PS_EINVAL);
    /* NULL arguments. */
    PS_ASSERT_STATUS(ps_connector_get(NULL, k, &out), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_get(c, NULL, &out), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_get(c, k, NULL), PS_EINVAL);
    ps_key *unused = (ps_key *)&unused;
    PS_ASSERT_STATUS(ps_connector_put(c, NULL, 3, NULL, &unused), PS_EINVAL);
    assert_null(unused); /* out-pointers are cleared on failure */
    PS_ASSERT_STATUS(ps_connector_put(c, "x", 1, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_exists(c, k, NULL), PS_EINVAL);
    ps_put_options po;
    ps_put_options_init(&po);
    po.n_subset_tags = 1;
    ps_key *k2 = NULL;
    PS_ASSERT_STATUS(ps_connector_put(c, "x", 1, &po, &k2), PS_EINVAL);
    po.version = 77;
    po.n_subset_tags = 0;
    PS_ASSERT_STATUS(ps_connector_put(c, "x", 1, &po, &k2), PS_EINVAL);
    /* Not deferrable. */
    PS_ASSERT_STATUS(ps_connector_new_key(c, &k2), PS_ENOTSUP);
    PS_ASSERT_STATUS(ps_connector_set(c, k, "x", 1), PS_ENOTSUP);
    /* Evicting twice is fine; then get is PS_NOT_FOUND. */
    PS_ASSERT_OK(ps_connector_evict(c, k));
    PS_ASSERT_OK(ps_connector_evict(c, k));
    PS_ASSERT_STATUS(ps_connector_get(c, k, &out), PS_NOT_FOUND);
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_false(ex);
    /* An empty object. */
    PS_ASSERT_OK(ps_connector_put(c, NULL, 0, NULL, &k2));
    PS_ASSERT_OK(ps_connector_get(c, k2, &out));
    assert_int_equal(out.len, 0);
    ps_bytes_free(&out);
    ps_key_free(k);
    ps_key_free(k2);
    ps_key_free(foreign);
    PS_ASSERT_STATUS(ps_connector_close(c, (ps_clear)5), PS_EINVAL);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_batch_fallback_and_rollback(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("tmem", "{\"fail_after\": 3}", &c));
    ps_iov items[5] = {{"a", 1}, {"bb", 2}, {"", 0}, {"dddd", 4}, {"e", 1}};
    ps_key *keys[5];
    /* 3 items: the core loops over put, order kept. */
    PS_ASSERT_OK(ps_connector_put_batch(c, 3, items, NULL, keys));
    ps_key *with_missing[4] = {keys[0], keys[1], NULL, keys[2]};
    PS_ASSERT_OK(ps_key_parse("tmem:00000000-0000-4000-8000-000000000000", &with_missing[2]));
    ps_bytes outs[4];
    bool found[4];
    PS_ASSERT_OK(ps_connector_get_batch(c, 4, (const ps_key *const *)with_missing, outs, found));
    assert_true(found[0] && found[1] && !found[2] && found[3]);
    assert_int_equal(outs[0].len, 1);
    assert_memory_equal(outs[1].data, "bb", 2);
    assert_int_equal(outs[2].len, 0);
    assert_int_equal(outs[3].len, 0);
    ps_bytes_free_array(outs, 4);
    ps_key_free(with_missing[2]);
    /* found may be NULL. */
    PS_ASSERT_OK(ps_connector_get_batch(c, 3, (const ps_key *const *)keys, outs, NULL));
    ps_bytes_free_array(outs, 3);
    ps_key_free_array(keys, 3);

    /* The fourth put fails: everything written by the batch is rolled back,
     * no keys are returned, and the first error's message survives. */
    ps_connector *d = NULL;
    PS_ASSERT_OK(ps_connector_open("tmem", "{\"fail_after\": 3}", &d));
    PS_ASSERT_STATUS(ps_connector_put_batch(d, 5, items, NULL, keys), PS_EIO);
    assert_non_null(strstr(ps_last_error(), "disk on fire"));
    for (int i = 0; i < 5; i++)
        assert_null(keys[i]);
    PS_ASSERT_STATUS(ps_connector_put_batch(d, 1, NULL, NULL, keys), PS_EINVAL);
    ps_iov badi[1] = {{NULL, 4}};
    PS_ASSERT_STATUS(ps_connector_put_batch(d, 1, badi, NULL, keys), PS_EINVAL);
    PS_ASSERT_OK(ps_connector_put_batch(d, 0, NULL, NULL, NULL));
    PS_ASSERT_OK(ps_connector_close(d, PS_CLEAR_ALL));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_failure_always_has_message(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("tmem", "{\"fail_after\": 0, \"silent\": true}", &c));
    ps_key *k = NULL;
    ps_error(PS_EINVAL, "stale message from an earlier call");
    PS_ASSERT_STATUS(ps_connector_put(c, "x", 1, NULL, &k), PS_EIO);
    assert_non_null(strstr(ps_last_error(), "tmem connector: put failed"));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

struct hammer {
    ps_connector *c;
    int failures;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 200; i++) {
        ps_key *k = NULL;
        ps_bytes out = PS_BYTES_INIT;
        if (ps_connector_put(h->c, "xy", 2, NULL, &k) != PS_OK) {
            h->failures++;
            continue;
        }
        if (ps_connector_get(h->c, k, &out) != PS_OK || out.len != 2)
            h->failures++;
        ps_bytes_free(&out);
        ps_connector_evict(h->c, k);
        ps_key_free(k);
    }
    return NULL;
}

static void test_serializes_unsafe_types(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("tmem", NULL, &c));
    struct hammer h[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        h[i].c = c;
        h[i].failures = 0;
        pthread_create(&t[i], NULL, hammer_thread, &h[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].failures, 0);
    }
    assert_int_equal(atomic_load(&overlap), 0);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_open_and_config),
        cmocka_unit_test(test_dispatch_checks),
        cmocka_unit_test(test_batch_fallback_and_rollback),
        cmocka_unit_test(test_failure_always_has_message),
        cmocka_unit_test(test_serializes_unsafe_types),
    };
    return pst_exit(cmocka_run_group_tests(tests, setup, NULL));
}
