/*
 * Proxies under threads: many threads resolving one proxy fetch once; the
 * asynchronous resolve pool; references dropped from many threads.
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
#include "proxystore/connectors/file.h"

#define NTHREADS 8

typedef pst_file_fixture fixture;

static int setup(void **state)
{
    *state = pst_file_fixture_new("proxy-threads", true);
    return 0;
}

static int teardown(void **state)
{
    pst_file_fixture_free(*state);
    return 0;
}

static ps_proxy_options lazy(void)
{
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.populate_target = PS_POPULATE_NO;
    return o;
}

typedef struct resolver {
    pthread_t tid;
    pthread_barrier_t *barrier;
    ps_proxy *proxy;
    ps_status st;
    const void *data;
    size_t len;
    char msg[512];
} resolver;

static void *resolve_main(void *arg)
{
    resolver *r = arg;
    pthread_barrier_wait(r->barrier);
    r->st = ps_proxy_resolve(r->proxy, &r->data, &r->len);
    snprintf(r->msg, sizeof r->msg, "%s", ps_last_error());
    return NULL;
}

static void run_resolvers(ps_proxy *p, resolver *rs)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        rs[i].barrier = &b;
        rs[i].proxy = p;
        assert_int_equal(pthread_create(&rs[i].tid, NULL, resolve_main, &rs[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(rs[i].tid, NULL);
    pthread_barrier_destroy(&b);
}

static void test_concurrent_resolve_fetches_once(void **state)
{
    fixture *f = *state;
    size_t n = 8 << 20;
    unsigned char *buf = malloc(n);
    pst_fill(buf, n, 42);
    ps_proxy_options o = lazy();
    o.evict = true; /* evicted exactly once: a second fetch would fail */
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(f->store, buf, n, &o, &p));
    resolver rs[NTHREADS];
    memset(rs, 0, sizeof rs);
    run_resolvers(p, rs);
    for (int i = 0; i < NTHREADS; i++) {
        if (rs[i].st != PS_OK)
            fail_msg("thread %d: %s: %s", i, ps_status_name(rs[i].st), rs[i].msg);
        assert_ptr_equal(rs[i].data, rs[0].data);
        assert_int_equal(rs[i].len, n);
    }
    assert_memory_equal(rs[0].data, buf, n);
    ps_time_stats ts;
    ps_time_stats_init(&ts);
    PS_ASSERT_OK(ps_store_metrics_time_stats(f->store, "factory.resolve", &ts));
    assert_int_equal(ts.count, 1);
    PS_ASSERT_OK(ps_store_metrics_time_stats(f->store, "store.get.connector", &ts));
    assert_int_equal(ts.count, 1);
    bool ex = true;
    PS_ASSERT_OK(ps_store_exists(f->store, ps_proxy_key(p), &ex));
    assert_false(ex);
    ps_proxy_unref(p);
    free(buf);
}

static void test_concurrent_resolve_of_missing_key(void **state)
{
    fixture *f = *state;
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_store_put(f->store, "x", 1, NULL, &key));
    PS_ASSERT_OK(ps_store_evict(f->store, key));
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy_from_key(f->store, key, NULL, &p));
    resolver rs[NTHREADS];
    memset(rs, 0, sizeof rs);
    run_resolvers(p, rs);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(rs[i].st, PS_NOT_FOUND);
        assert_non_null(strstr(rs[i].msg, "Cannot resolve target object with key="));
        assert_null(rs[i].data);
    }
    assert_false(ps_proxy_is_resolved(p));
    ps_proxy_unref(p);
    ps_key_free(key);
}

static void test_async(void **state)
{
    fixture *f = *state;
    ps_proxy_options o = lazy();
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(f->store, "async", 5, &o, &p));
    PS_ASSERT_OK(ps_proxy_resolve_async(p));
    PS_ASSERT_OK(ps_proxy_resolve_async(p)); /* no-op while pending or resolved */
    const void *d = NULL;
    size_t len = 0;
    PS_ASSERT_OK(ps_proxy_resolve(p, &d, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(d, "async", 5);
    assert_true(ps_proxy_is_resolved(p));
    PS_ASSERT_OK(ps_proxy_resolve_async(p));
    ps_time_stats ts;
    ps_time_stats_init(&ts);
    PS_ASSERT_OK(ps_store_metrics_time_stats(f->store, "factory.resolve", &ts));
    assert_int_equal(ts.count, 1);
    ps_proxy_unref(p);

    /* an asynchronous fetch that fails: the next resolve reports it */
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_store_put(f->store, "gone", 4, NULL, &key));
    PS_ASSERT_OK(ps_store_evict(f->store, key));
    ps_proxy *q = NULL;
    PS_ASSERT_OK(ps_store_proxy_from_key(f->store, key, NULL, &q));
    PS_ASSERT_OK(ps_proxy_resolve_async(q));
    PS_ASSERT_STATUS(ps_proxy_resolve(q, NULL, NULL), PS_NOT_FOUND);
    assert_non_null(strstr(ps_last_error(), "because there is no object associated"));
    PS_ASSERT_STATUS(ps_proxy_resolve(q, NULL, NULL), PS_NOT_FOUND); /* tries again */
    ps_proxy_unref(q);
    ps_key_free(key);

    /* dropping the last reference while the job is queued or running is safe */
    PS_ASSERT_OK(ps_store_proxy(f->store, "drop", 4, &o, &q));
    PS_ASSERT_OK(ps_proxy_resolve_async(q));
    ps_proxy_unref(q);
    ps_proxy_pool_shutdown(); /* finishes queued jobs, joins the threads */
    ps_proxy_pool_shutdown(); /* idempotent */
    /* the pool starts again on demand */
    PS_ASSERT_OK(ps_store_proxy(f->store, "again", 5, &o, &q));
    PS_ASSERT_OK(ps_proxy_resolve_async(q));
    PS_ASSERT_OK(ps_proxy_resolve(q, &d, &len));
    assert_memory_equal(d, "again", 5);
    ps_proxy_unref(q);
}

typedef struct worker {
    pthread_t tid;
    ps_proxy **proxies;
    size_t n;
    int id;
    int bad;
} worker;

/* Each worker resolves every proxy (some already resolving on the pool) and
 * checks the bytes, then drops its references. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    for (size_t k = 0; k < w->n; k++) {
        size_t i = (k + (size_t)w->id * 7) % w->n;
        const void *d;
        size_t len;
        if (w->id % 2 == 0)
            ps_proxy_resolve_async(w->proxies[i]);
        if (ps_proxy_resolve(w->proxies[i], &d, &len) != PS_OK || len != 64) {
            w->bad++;
            continue;
        }
        unsigned char want[64];
        pst_fill(want, sizeof want, (uint32_t)i);
        if (memcmp(d, want, 64) != 0)
            w->bad++;
        ps_proxy_unref(w->proxies[i]);
    }
    return NULL;
}

static void test_many_proxies_many_threads(void **state)
{
    fixture *f = *state;
    enum { N = 64 };
    unsigned char bufs[N][64];
    ps_iov items[N];
    for (int i = 0; i < N; i++) {
        pst_fill(bufs[i], 64, (uint32_t)i);
        items[i].data = bufs[i];
        items[i].len = 64;
    }
    ps_proxy *ps[N];
    ps_proxy_options o = lazy();
    PS_ASSERT_OK(ps_store_proxy_batch(f->store, N, items, &o, ps));
    worker ws[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        ws[t] = (worker){0};
        ws[t].proxies = ps;
        ws[t].n = N;
        ws[t].id = t;
        for (int i = 0; i < N; i++)
            ps_proxy_ref(ps[i]); /* one reference per worker */
    }
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]), 0);
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(ws[t].tid, NULL);
        assert_int_equal(ws[t].bad, 0);
    }
    ps_time_stats ts;
    ps_time_stats_init(&ts);
    PS_ASSERT_OK(ps_store_metrics_time_stats(f->store, "factory.resolve", &ts));
    assert_int_equal(ts.count, N);
    for (int i = 0; i < N; i++)
        ps_proxy_unref(ps[i]);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_concurrent_resolve_fetches_once),
        T(test_concurrent_resolve_of_missing_key),
        T(test_async),
        T(test_many_proxies_many_threads),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
