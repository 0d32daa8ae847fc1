/*
 * The connector conformance suite (see conformance.h): every case below runs
 * against every connector type through the public ps_connector_* API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "testutil.h"
#include "proxystore/sys/connector.h"

static const pst_conformance_target *pst__t;

static bool pst__skipped(const char *name)
{
    if (pst__t->skip == NULL)
        return false;
    for (const char *const *s = pst__t->skip; *s; s++)
        if (strcmp(*s, name) == 0)
            return true;
    return false;
}

#define PST_CASE(name)                                                                             \
    if (pst__skipped(name))                                                                        \
    skip()

static ps_connector *pst__open(void)
{
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst__t->open(pst__t->ctx, &c));
    assert_non_null(c);
    return c;
}

static void pst__close(ps_connector *c)
{
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static size_t pst__large_size(void)
{
    size_t max = pst__t->max_object_size;
    size_t want = (size_t)64 << 20;
    return (max != 0 && max < want) ? max : want;
}

/* get `key` and check it holds exactly `len` bytes equal to `data`. */
static void pst__expect(ps_connector *c, const ps_key *key, const void *data, size_t len)
{
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, key, &b));
    assert_int_equal(b.len, len);
    if (len)
        assert_memory_equal(b.data, data, len);
    ps_bytes_free(&b);
}

static void pst__expect_missing(ps_connector *c, const ps_key *key)
{
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(c, key, &b), PS_NOT_FOUND);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(c, key, &ex));
    assert_false(ex);
}

static bool pst__exists(ps_connector *c, const ps_key *key)
{
    bool ex = false;
    PS_ASSERT_OK(ps_connector_exists(c, key, &ex));
    return ex;
}

/* A key of the connector's own type under which nothing is stored. */
static ps_key *pst__missing_key(ps_connector *c)
{
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "gone", 4, NULL, &k));
    PS_ASSERT_OK(ps_connector_evict(c, k));
    return k;
}

/* ---- cases --------------------------------------------------------------------- */

static void test_put_get(void **state)
{
    (void)state;
    PST_CASE("put_get");
    ps_connector *c = pst__open();
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "test_value", 10, NULL, &k));
    assert_non_null(k);
    assert_string_equal(ps_key_type(k), ps_connector_kind(c));
    pst__expect(c, k, "test_value", 10);
    /* a second get returns the same bytes again */
    pst__expect(c, k, "test_value", 10);
    /* the key survives its text form */
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_key_parse(ps_key_str(k), &k2));
    pst__expect(c, k2, "test_value", 10);
    /* two puts of the same bytes give two keys */
    ps_key *k3 = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "test_value", 10, NULL, &k3));
    assert_false(ps_key_equal(k, k3));
    ps_key_free(k3);
    ps_key_free(k2);
    ps_key_free(k);
    pst__close(c);
}

static void test_exists(void **state)
{
    (void)state;
    PST_CASE("exists");
    ps_connector *c = pst__open();
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &k));
    assert_true(pst__exists(c, k));
    assert_true(pst__exists(c, k));
    ps_key_free(k);
    pst__close(c);
}

static void test_missing(void **state)
{
    (void)state;
    PST_CASE("missing");
    ps_connector *c = pst__open();
    ps_key *k = pst__missing_key(c);
    pst__expect_missing(c, k);
    ps_key_free(k);
    if (ps_connector_is_deferrable(c)) {
        PS_ASSERT_OK(ps_connector_new_key(c, &k));
        pst__expect_missing(c, k);
        ps_key_free(k);
    }
    pst__close(c);
}

static void test_evict(void **state)
{
    (void)state;
    PST_CASE("evict");
    ps_connector *c = pst__open();
    ps_key *k = NULL, *other = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "test_value", 10, NULL, &k));
    PS_ASSERT_OK(ps_connector_put(c, "other", 5, NULL, &other));
    PS_ASSERT_OK(ps_connector_evict(c, k));
    pst__expect_missing(c, k);
    /* evicting again (a missing key) is not an error */
    PS_ASSERT_OK(ps_connector_evict(c, k));
    /* the other object is untouched */
    pst__expect(c, other, "other", 5);
    ps_key_free(other);
    ps_key_free(k);
    pst__close(c);
}

static void test_batch(void **state)
{
    (void)state;
    PST_CASE("batch");
    ps_connector *c = pst__open();
    enum { N = 5 };
    char bufs[N][32];
    ps_iov items[N];
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(bufs[i], sizeof bufs[i], "value-%zu%s", i, i % 2 ? "-odd" : "");
        items[i].data = bufs[i];
        items[i].len = (size_t)n;
    }
    if (!pst__t->no_empty_objects)
        items[3].len = 0; /* an empty one in the middle */
    ps_key *keys[N];
    PS_ASSERT_OK(ps_connector_put_batch(c, N, items, NULL, keys));
    for (size_t i = 0; i < N; i++) {
        assert_non_null(keys[i]);
        for (size_t j = 0; j < i; j++)
            assert_false(ps_key_equal(keys[i], keys[j]));
        assert_true(pst__exists(c, keys[i]));
        pst__expect(c, keys[i], items[i].data, items[i].len);
    }
    /* get_batch keeps the order, also reversed */
    ps_bytes outs[N];
    bool found[N];
    const ps_key *rev[N];
    for (size_t i = 0; i < N; i++)
        rev[i] = keys[N - 1 - i];
    PS_ASSERT_OK(ps_connector_get_batch(c, N, rev, outs, found));
    for (size_t i = 0; i < N; i++) {
        assert_true(found[i]);
        assert_int_equal(outs[i].len, items[N - 1 - i].len);
        if (outs[i].len)
            assert_memory_equal(outs[i].data, items[N - 1 - i].data, outs[i].len);
    }
    ps_bytes_free_array(outs, N);
    /* found may be NULL */
    PS_ASSERT_OK(ps_connector_get_batch(c, N, (const ps_key *const *)keys, outs, NULL));
    for (size_t i = 0; i < N; i++)
        assert_int_equal(outs[i].len, items[i].len);
    ps_bytes_free_array(outs, N);
    /* an empty batch is fine */
    PS_ASSERT_OK(ps_connector_put_batch(c, 0, NULL, NULL, NULL));
    PS_ASSERT_OK(ps_connector_get_batch(c, 0, NULL, NULL, NULL));
    /* evicting each: none exists, get of each is not found */
    for (size_t i = 0; i < N; i++)
        PS_ASSERT_OK(ps_connector_evict(c, keys[i]));
    for (size_t i = 0; i < N; i++)
        pst__expect_missing(c, keys[i]);
    ps_key_free_array(keys, N);
    pst__close(c);
}

static void test_batch_missing(void **state)
{
    (void)state;
    PST_CASE("batch_missing");
    ps_connector *c = pst__open();
    ps_key *a = NULL, *b = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "first", 5, NULL, &a));
    PS_ASSERT_OK(ps_connector_put(c, "third", 5, NULL, &b));
    ps_key *gone = pst__missing_key(c);
    const ps_key *keys[3] = {a, gone, b};
    ps_bytes outs[3];
    bool found[3] = {false, true, false};
    PS_ASSERT_OK(ps_connector_get_batch(c, 3, keys, outs, found));
    assert_true(found[0]);
    assert_false(found[1]);
    assert_true(found[2]);
    assert_int_equal(outs[0].len, 5);
    assert_memory_equal(outs[0].data, "first", 5);
    assert_int_equal(outs[1].len, 0);
    assert_null(outs[1].data);
    assert_int_equal(outs[2].len, 5);
    assert_memory_equal(outs[2].data, "third", 5);
    ps_bytes_free_array(outs, 3);
    ps_key_free(gone);
    ps_key_free(a);
    ps_key_free(b);
    pst__close(c);
}

static void test_empty(void **state)
{
    (void)state;
    PST_CASE("empty");
    ps_connector *c = pst__open();
    ps_key *k = NULL, *k2 = NULL;
    if (pst__t->no_empty_objects) {
        /* Refused with a status and a message, and nothing is stored. */
        PS_ASSERT_STATUS(ps_connector_put(c, "", 0, NULL, &k), PS_ENOTSUP);
        assert_null(k);
        PS_ASSERT_STATUS(ps_connector_put(c, NULL, 0, NULL, &k), PS_ENOTSUP);
        assert_null(k);
        pst__close(c);
        return;
    }
    PS_ASSERT_OK(ps_connector_put(c, "", 0, NULL, &k));
    assert_true(pst__exists(c, k));
    pst__expect(c, k, "", 0);
    /* NULL data with length 0 is an empty object too */
    PS_ASSERT_OK(ps_connector_put(c, NULL, 0, NULL, &k2));
    assert_true(pst__exists(c, k2));
    pst__expect(c, k2, "", 0);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    pst__expect_missing(c, k);
    ps_key_free(k);
    ps_key_free(k2);
    pst__close(c);
}

static void test_large(void **state)
{
    (void)state;
    PST_CASE("large");
    size_t n = pst__large_size();
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    pst_fill(buf, n, 64);
    ps_connector *c = pst__open();
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, buf, n, NULL, &k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, n);
    assert_true(memcmp(b.data, buf, n) == 0);
    ps_bytes_free(&b);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    assert_false(pst__exists(c, k));
    ps_key_free(k);
    pst__close(c);
    free(buf);
}

static void test_binary(void **state)
{
    (void)state;
    PST_CASE("binary");
    unsigned char all[256 * 3];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (unsigned char)(i < 256 ? i : 255 - (i % 256));
    unsigned char nuls[64] = {0};
    nuls[63] = 'x';
    ps_connector *c = pst__open();
    ps_key *k1 = NULL, *k2 = NULL, *k3 = NULL;
    PS_ASSERT_OK(ps_connector_put(c, all, sizeof all, NULL, &k1));
    PS_ASSERT_OK(ps_connector_put(c, nuls, sizeof nuls, NULL, &k2));
    PS_ASSERT_OK(ps_connector_put(c, nuls, 1, NULL, &k3)); /* a single NUL byte */
    pst__expect(c, k1, all, sizeof all);
    pst__expect(c, k2, nuls, sizeof nuls);
    pst__expect(c, k3, nuls, 1);
    ps_key_free(k1);
    ps_key_free(k2);
    ps_key_free(k3);
    pst__close(c);
}

/* ---- threads ----------------------------------------------------------------- */

typedef struct pst__worker {
    ps_connector *conn;
    const ps_key *shared;
    const unsigned char *shared_data;
    size_t shared_len;
    unsigned id;
    int iterations;
    bool no_empty;
    char err[512]; /* first failure, "" if none */
} pst__worker;

#define PST__WFAIL(w, ...)                                                                         \
    do {                                                                                           \
        if ((w)->err[0] == '\0')                                                                   \
            snprintf((w)->err, sizeof(w)->err, __VA_ARGS__);                                       \
        goto out;                                                                                  \
    } while (0)

static void *pst__worker_main(void *arg)
{
    pst__worker *w = arg;
    size_t cap = 70000;
    unsigned char *buf = malloc(cap);
    ps_key *k = NULL;
    ps_bytes b = PS_BYTES_INIT;
    if (buf == NULL)
        PST__WFAIL(w, "thread %u: out of memory", w->id);
    for (int it = 0; it < w->iterations; it++) {
        uint32_t seed = w->id * 100003u + (uint32_t)it;
        size_t len = (it % 7 == 0) ? 0 : (seed * 2654435761u) % cap;
        if (len == 0 && w->no_empty)
            len = 1;
        pst_fill(buf, len, seed);
        ps_status st = ps_connector_put(w->conn, buf, len, NULL, &k);
        if (st != PS_OK)
            PST__WFAIL(w, "thread %u: put: %s: %s", w->id, ps_status_name(st), ps_last_error());
        bool ex = false;
        st = ps_connector_exists(w->conn, k, &ex);
        if (st != PS_OK || !ex)
            PST__WFAIL(w, "thread %u: exists after put: %s ex=%d", w->id, ps_status_name(st), ex);
        st = ps_connector_get(w->conn, k, &b);
        if (st != PS_OK)
            PST__WFAIL(w, "thread %u: get: %s: %s", w->id, ps_status_name(st), ps_last_error());
        if (b.len != len || (len && memcmp(b.data, buf, len) != 0))
            PST__WFAIL(w, "thread %u: get returned wrong bytes (%zu, want %zu)", w->id, b.len, len);
        ps_bytes_free(&b);
        st = ps_connector_get(w->conn, w->shared, &b);
        if (st != PS_OK || b.len != w->shared_len ||
            memcmp(b.data, w->shared_data, w->shared_len) != 0)
            PST__WFAIL(w, "thread %u: shared object: %s", w->id, ps_status_name(st));
        ps_bytes_free(&b);
        st = ps_connector_evict(w->conn, k);
        if (st != PS_OK)
            PST__WFAIL(w, "thread %u: evict: %s: %s", w->id, ps_status_name(st), ps_last_error());
        st = ps_connector_exists(w->conn, k, &ex);
        if (st != PS_OK || ex)
            PST__WFAIL(w, "thread %u: exists after evict: %s ex=%d", w->id, ps_status_name(st), ex);
        st = ps_connector_get(w->conn, k, &b);
        if (st != PS_NOT_FOUND)
            PST__WFAIL(w, "thread %u: get after evict: %s", w->id, ps_status_name(st));
        ps_key_free(k);
        k = NULL;
    }
out:
    ps_bytes_free(&b);
    ps_key_free(k);
    free(buf);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    PST_CASE("threads");
    int nthreads = pst__t->threads > 0 ? pst__t->threads : 8;
    ps_connector *c = pst__open();
    unsigned char shared_data[1000];
    pst_fill(shared_data, sizeof shared_data, 7);
    ps_key *shared = NULL;
    PS_ASSERT_OK(ps_connector_put(c, shared_data, sizeof shared_data, NULL, &shared));
    pst__worker *ws = calloc((size_t)nthreads, sizeof *ws);
    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    assert_non_null(ws);
    assert_non_null(tids);
    for (int i = 0; i < nthreads; i++) {
        ws[i].conn = c;
        ws[i].shared = shared;
        ws[i].shared_data = shared_data;
        ws[i].shared_len = sizeof shared_data;
        ws[i].id = (unsigned)i;
        ws[i].iterations = 40;
        ws[i].no_empty = pst__t->no_empty_objects;
        assert_int_equal(pthread_create(&tids[i], NULL, pst__worker_main, &ws[i]), 0);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(tids[i], NULL);
    char err[600] = "";
    for (int i = 0; i < nthreads; i++)
        if (ws[i].err[0] && err[0] == '\0')
            snprintf(err, sizeof err, "%s", ws[i].err);
    free(ws);
    free(tids);
    if (err[0])
        fail_msg("%s", err);
    pst__expect(c, shared, shared_data, sizeof shared_data);
    ps_key_free(shared);
    pst__close(c);
}

/* ---- configuration ------------------------------------------------------------- */

static void test_config_round_trip(void **state)
{
    (void)state;
    PST_CASE("config_round_trip");
    ps_connector *c = pst__open();
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "before", 6, NULL, &k));
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    json_error_t jerr;
    json_t *j = json_loads(cfg, 0, &jerr);
    assert_non_null(j);
    assert_true(json_is_object(j));
    json_t *kind = json_object_get(j, "kind");
    json_t *opts = json_object_get(j, "options");
    assert_true(json_is_string(kind));
    assert_string_equal(json_string_value(kind), ps_connector_kind(c));
    assert_true(json_is_object(opts));
    char *opts_text = json_dumps(opts, JSON_COMPACT);
    assert_non_null(opts_text);
    ps_connector *c2 = NULL;
    PS_ASSERT_OK(ps_connector_open(json_string_value(kind), opts_text, &c2));
    assert_string_equal(ps_connector_kind(c2), ps_connector_kind(c));
    char *cfg2 = NULL;
    PS_ASSERT_OK(ps_connector_config(c2, &cfg2));
    assert_string_equal(cfg, cfg2);
    /* the same through the JSON-object API */
    ps_connector *c3 = NULL;
    PS_ASSERT_OK(ps_connector_from_config_json(j, &c3));
    char *cfg3 = NULL;
    PS_ASSERT_OK(ps_connector_config(c3, &cfg3));
    assert_string_equal(cfg, cfg3);
    if (!pst__t->config_not_shared) {
        /* the storage is shared: each sees the other's objects */
        pst__expect(c2, k, "before", 6);
        pst__expect(c3, k, "before", 6);
        ps_key *k2 = NULL;
        PS_ASSERT_OK(ps_connector_put(c2, "after", 5, NULL, &k2));
        pst__expect(c, k2, "after", 5);
        PS_ASSERT_OK(ps_connector_evict(c, k2));
        assert_false(pst__exists(c2, k2));
        ps_key_free(k2);
    }
    /* an unknown option is refused, not dropped */
    json_t *bad = json_deep_copy(opts);
    json_object_set_new(bad, "no_such_option_xyz", json_true());
    char *bad_text = json_dumps(bad, JSON_COMPACT);
    ps_connector *c4 = NULL;
    PS_ASSERT_STATUS(ps_connector_open(json_string_value(kind), bad_text, &c4), PS_EINVAL);
    assert_null(c4);
    assert_non_null(strstr(ps_last_error(), "no_such_option_xyz"));
    free(bad_text);
    json_decref(bad);
    PS_ASSERT_OK(ps_connector_close(c3, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_KEEP));
    /* closing the copies without clearing kept the original's objects */
    pst__expect(c, k, "before", 6);
    ps_free(cfg3);
    ps_free(cfg2);
    ps_free(cfg);
    free(opts_text);
    json_decref(j);
    ps_key_free(k);
    pst__close(c);
}

static void test_deferred(void **state)
{
    (void)state;
    PST_CASE("deferred");
    ps_connector *c = pst__open();
    ps_key *k = NULL;
    if (!ps_connector_is_deferrable(c)) {
        PS_ASSERT_STATUS(ps_connector_new_key(c, &k), PS_ENOTSUP);
        assert_null(k);
        pst__close(c);
        skip();
    }
    PS_ASSERT_OK(ps_connector_new_key(c, &k));
    assert_non_null(k);
    assert_string_equal(ps_key_type(k), ps_connector_kind(c));
    assert_false(pst__exists(c, k));
    ps_key *k2 = NULL;
    PS_ASSERT_OK(ps_connector_new_key(c, &k2));
    assert_false(ps_key_equal(k, k2));
    PS_ASSERT_OK(ps_connector_set(c, k, "first", 5));
    assert_true(pst__exists(c, k));
    pst__expect(c, k, "first", 5);
    assert_false(pst__exists(c, k2));
    /* set twice overwrites, also with a different size */
    PS_ASSERT_OK(ps_connector_set(c, k, "second value", 12));
    pst__expect(c, k, "second value", 12);
    if (pst__t->no_empty_objects) {
        PS_ASSERT_STATUS(ps_connector_set(c, k, "", 0), PS_ENOTSUP);
        pst__expect(c, k, "second value", 12); /* unchanged */
    } else {
        PS_ASSERT_OK(ps_connector_set(c, k, "", 0));
        pst__expect(c, k, "", 0);
    }
    /* set also works on a key made by put */
    ps_key *k3 = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "put", 3, NULL, &k3));
    PS_ASSERT_OK(ps_connector_set(c, k3, "replaced", 8));
    pst__expect(c, k3, "replaced", 8);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    assert_false(pst__exists(c, k));
    ps_key_free(k3);
    ps_key_free(k2);
    ps_key_free(k);
    pst__close(c);
}

/* ---- refusals ------------------------------------------------------------------ */

/* Every keyed operation on `bad` must be PS_EINVAL with a message. */
static void pst__refused(ps_connector *c, const ps_key *bad)
{
    ps_bytes b = PS_BYTES_INIT;
    bool ex = true;
    PS_ASSERT_STATUS(ps_connector_get(c, bad, &b), PS_EINVAL);
    assert_null(b.data);
    PS_ASSERT_STATUS(ps_connector_exists(c, bad, &ex), PS_EINVAL);
    assert_false(ex);
    PS_ASSERT_STATUS(ps_connector_evict(c, bad), PS_EINVAL);
    if (ps_connector_is_deferrable(c))
        PS_ASSERT_STATUS(ps_connector_set(c, bad, "x", 1), PS_EINVAL);
    const ps_key *keys[1] = {bad};
    ps_bytes outs[1];
    PS_ASSERT_STATUS(ps_connector_get_batch(c, 1, keys, outs, NULL), PS_EINVAL);
}

static void test_other_type_key(void **state)
{
    (void)state;
    PST_CASE("other_type_key");
    ps_connector *c = pst__open();
    const char *other = strcmp(ps_connector_kind(c), "local") == 0 ? "file" : "local";
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &k));
    /* the same fields under another type */
    const char *fields[PS_KEY_MAX_FIELDS];
    size_t n = ps_key_nfields(k);
    for (size_t i = 0; i < n; i++)
        fields[i] = ps_key_field(k, i);
    ps_key *bad = NULL;
    PS_ASSERT_OK(ps_key_new(other, n, fields, &bad));
    pst__refused(c, bad);
    ps_key_free(bad);
    PS_ASSERT_OK(ps_key_new("zz_unknown_type", n, fields, &bad));
    pst__refused(c, bad);
    ps_key_free(bad);
    /* the object itself is untouched */
    pst__expect(c, k, "x", 1);
    ps_key_free(k);
    pst__close(c);
}

static void test_foreign_key(void **state)
{
    (void)state;
    PST_CASE("foreign_key");
    if (pst__t->foreign_key == NULL)
        skip();
    ps_connector *c = pst__open();
    ps_key *bad = NULL;
    PS_ASSERT_OK(pst__t->foreign_key(pst__t->ctx, c, &bad));
    assert_non_null(bad);
    assert_string_equal(ps_key_type(bad), ps_connector_kind(c));
    pst__refused(c, bad);
    ps_key_free(bad);
    pst__close(c);
}

static void test_close_clear(void **state)
{
    (void)state;
    PST_CASE("close_clear");
    ps_connector *c = pst__open();
    enum { N = 3 };
    ps_key *keys[N];
    for (size_t i = 0; i < N; i++)
        PS_ASSERT_OK(ps_connector_put(c, "clear me", 8, NULL, &keys[i]));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    if (pst__t->check_cleared) {
        bool gone = false;
        PS_ASSERT_OK(pst__t->check_cleared(pst__t->ctx, (const ps_key *const *)keys, N, &gone));
        assert_true(gone);
    }
    ps_key_free_array(keys, N);
    /* closing NULL is a no-op; an invalid clear value is refused */
    PS_ASSERT_OK(ps_connector_close(NULL, PS_CLEAR_ALL));
    ps_connector *c2 = pst__open();
    PS_ASSERT_STATUS(ps_connector_close(c2, (ps_clear)7), PS_EINVAL);
    pst__close(c2);
}

static void test_null_args(void **state)
{
    (void)state;
    PST_CASE("null_args");
    ps_connector *c = pst__open();
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "abc", 3, NULL, &k));
    ps_bytes b = PS_BYTES_INIT;
    bool ex = false;
    ps_key *out = NULL;
    PS_ASSERT_STATUS(ps_connector_put(NULL, "abc", 3, NULL, &out), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_put(c, "abc", 3, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_put(c, NULL, 3, NULL, &out), PS_EINVAL);
    assert_null(out);
    PS_ASSERT_STATUS(ps_connector_get(NULL, k, &b), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_get(c, NULL, &b), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_get(c, k, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_exists(NULL, k, &ex), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_exists(c, NULL, &ex), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_exists(c, k, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_evict(NULL, k), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_evict(c, NULL), PS_EINVAL);
    ps_iov items[2] = {{"a", 1}, {NULL, 5}};
    ps_key *keys[2];
    PS_ASSERT_STATUS(ps_connector_put_batch(NULL, 1, items, NULL, keys), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_put_batch(c, 1, NULL, NULL, keys), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_put_batch(c, 1, items, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_put_batch(c, 2, items, NULL, keys), PS_EINVAL);
    const ps_key *gk[2] = {k, NULL};
    ps_bytes outs[2];
    PS_ASSERT_STATUS(ps_connector_get_batch(NULL, 1, gk, outs, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_get_batch(c, 1, NULL, outs, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_get_batch(c, 1, gk, NULL, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_get_batch(c, 2, gk, outs, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_new_key(NULL, &out), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_new_key(c, NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_set(NULL, k, "x", 1), PS_EINVAL);
    if (ps_connector_is_deferrable(c)) {
        PS_ASSERT_STATUS(ps_connector_set(c, NULL, "x", 1), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_set(c, k, NULL, 1), PS_EINVAL);
    }
    char *cfg = NULL;
    PS_ASSERT_STATUS(ps_connector_config(NULL, &cfg), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_config(c, NULL), PS_EINVAL);
    assert_null(ps_connector_kind(NULL));
    ps_connector *c2 = (ps_connector *)&b; /* must be reset to NULL */
    PS_ASSERT_STATUS(ps_connector_open(ps_connector_kind(c), "{}", NULL), PS_EINVAL);
    PS_ASSERT_STATUS(ps_connector_open(NULL, "{}", &c2), PS_EINVAL);
    assert_null(c2);
    c2 = (ps_connector *)&b;
    PS_ASSERT_STATUS(ps_connector_open(ps_connector_kind(c), "[1, 2]", &c2), PS_EINVAL);
    assert_null(c2);
    PS_ASSERT_STATUS(ps_connector_open(ps_connector_kind(c), "{not json", &c2), PS_EINVAL);
    assert_null(c2);
    /* nothing above disturbed the stored object */
    pst__expect(c, k, "abc", 3);
    ps_key_free(k);
    pst__close(c);
}

static void test_malformed_key(void **state)
{
    (void)state;
    PST_CASE("malformed_key");
    ps_connector *c = pst__open();
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &k));
    size_t n = ps_key_nfields(k);
    const char *fields[PS_KEY_MAX_FIELDS];
    for (size_t i = 0; i < n; i++)
        fields[i] = ps_key_field(k, i);
    const char *type = ps_key_type(k);
    ps_key *bad = NULL;
    /* one field too many */
    if (n < PS_KEY_MAX_FIELDS) {
        fields[n] = "extra";
        PS_ASSERT_OK(ps_key_new(type, n + 1, fields, &bad));
        pst__refused(c, bad);
        ps_key_free(bad);
    }
    /* one field too few */
    if (n > 1) {
        PS_ASSERT_OK(ps_key_new(type, n - 1, fields, &bad));
        pst__refused(c, bad);
        ps_key_free(bad);
    }
    /* an object id that is not a canonical UUID */
    const char *ids[] = {"",
                         ".",
                         "..",
                         "a/b",
                         "../../etc/passwd",
                         "/etc/passwd",
                         "not-a-uuid",
                         "0F8FAD5B-D9CB-469F-A165-70867728950E", /* upper case */
                         "0f8fad5bd9cb469fa16570867728950e",     /* no hyphens */
                         "0f8fad5b-d9cb-469f-a165-70867728950e.ready"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        fields[0] = ids[i];
        PS_ASSERT_OK(ps_key_new(type, n, fields, &bad));
        pst__refused(c, bad);
        ps_key_free(bad);
    }
    pst__expect(c, k, "x", 1);
    ps_key_free(k);
    pst__close(c);
}

int pst_conformance_run(const pst_conformance_target *target)
{
    if (target == NULL || target->open == NULL || target->name == NULL) {
        fprintf(stderr, "pst_conformance_run: target, name and open are required\n");
        return 1;
    }
    pst__t = target;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_exists),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_evict),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_missing),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_deferred),
        cmocka_unit_test(test_other_type_key),
        cmocka_unit_test(test_foreign_key),
        cmocka_unit_test(test_close_clear),
        cmocka_unit_test(test_null_args),
        cmocka_unit_test(test_malformed_key),
    };
    return pst_exit(
        _cmocka_run_group_tests(target->name, tests, sizeof tests / sizeof tests[0], NULL, NULL));
}
