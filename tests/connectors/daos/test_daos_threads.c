/*
 * Eight threads share one DAOS connector (on the emulation): each puts,
 * reads, checks existence, sets, evicts and runs batches (which take event
 * queues from the connector's pool concurrently), while also reading the
 * objects of the others. Failures in workers are collected and checked by
 * the main thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daos_testenv.h"
#include "testutil.h"

enum { THREADS = 8, ITER = 12, BATCH = 24 };

typedef struct worker {
    ps_connector *c;
    unsigned id;
    ps_key *shared[THREADS];
    char err[512];
} worker;

#define WFAIL(w, ...)                                                                              \
    do {                                                                                           \
        if ((w)->err[0] == '\0')                                                                   \
            snprintf((w)->err, sizeof(w)->err, __VA_ARGS__);                                       \
        return NULL;                                                                               \
    } while (0)

static bool same(const ps_bytes *b, const void *data, size_t len)
{
    return b->len == len && (len == 0 || memcmp(b->data, data, len) == 0);
}

static void *work(void *arg)
{
    worker *w = arg;
    char buf[128];
    for (int it = 0; it < ITER; it++) {
        int n = snprintf(buf, sizeof buf, "thread %u iteration %d", w->id, it);
        ps_key *k = NULL;
        ps_bytes b = PS_BYTES_INIT;
        bool ex = false;
        if (ps_connector_put(w->c, buf, (size_t)n, NULL, &k) != PS_OK)
            WFAIL(w, "put: %s", ps_last_error());
        if (ps_connector_get(w->c, k, &b) != PS_OK || !same(&b, buf, (size_t)n))
            WFAIL(w, "get of own object: %s", ps_last_error());
        ps_bytes_free(&b);
        if (ps_connector_set(w->c, k, "", 0) != PS_OK ||
            ps_connector_exists(w->c, k, &ex) != PS_OK || !ex)
            WFAIL(w, "set empty / exists: %s", ps_last_error());
        if (ps_connector_evict(w->c, k) != PS_OK || ps_connector_exists(w->c, k, &ex) != PS_OK ||
            ex)
            WFAIL(w, "evict: %s", ps_last_error());
        ps_key_free(k);

        /* a batch, then read it back together with every thread's shared object */
        char vals[BATCH][48];
        ps_iov items[BATCH];
        for (int i = 0; i < BATCH; i++) {
            items[i].len = (size_t)snprintf(vals[i], sizeof vals[i], "t%u i%d b%d", w->id, it, i);
            items[i].data = vals[i];
        }
        ps_key *keys[BATCH];
        if (ps_connector_put_batch(w->c, BATCH, items, NULL, keys) != PS_OK)
            WFAIL(w, "put_batch: %s", ps_last_error());
        const ps_key *q[BATCH + THREADS];
        for (int i = 0; i < BATCH; i++)
            q[i] = keys[i];
        for (int t = 0; t < THREADS; t++)
            q[BATCH + t] = w->shared[t];
        ps_bytes outs[BATCH + THREADS];
        bool found[BATCH + THREADS];
        if (ps_connector_get_batch(w->c, BATCH + THREADS, q, outs, found) != PS_OK)
            WFAIL(w, "get_batch: %s", ps_last_error());
        for (int i = 0; i < BATCH; i++)
            if (!found[i] || !same(&outs[i], items[i].data, items[i].len))
                WFAIL(w, "get_batch item %d differs", i);
        for (int t = 0; t < THREADS; t++) {
            char want[32];
            int wl = snprintf(want, sizeof want, "shared %d", t);
            if (!found[BATCH + t] || !same(&outs[BATCH + t], want, (size_t)wl))
                WFAIL(w, "shared object of thread %d differs", t);
        }
        ps_bytes_free_array(outs, BATCH + THREADS);
        for (int i = 0; i < BATCH; i++)
            if (ps_connector_evict(w->c, keys[i]) != PS_OK)
                WFAIL(w, "evict batch item: %s", ps_last_error());
        ps_key_free_array(keys, BATCH);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("daos", pstd_options("pool1", "cont1", "threads", 0), &c));
    ps_key *shared[THREADS];
    for (int t = 0; t < THREADS; t++) {
        char v[32];
        int n = snprintf(v, sizeof v, "shared %d", t);
        PS_ASSERT_OK(ps_connector_put(c, v, (size_t)n, NULL, &shared[t]));
    }
    worker w[THREADS];
    pthread_t th[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i].c = c;
        w[i].id = i;
        w[i].err[0] = '\0';
        memcpy(w[i].shared, shared, sizeof shared);
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (unsigned i = 0; i < THREADS; i++)
        if (w[i].err[0])
            fail_msg("thread %u: %s", i, w[i].err);
    ps_key_free_array(shared, THREADS);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

int main(void)
{
    char *root = pstd_setup("daos-threads");
    if (root == NULL)
        return 1;
    if (pstd_create_cont("pool1", "cont1", DAOS_PROP_CO_LAYOUT_PYTHON) != 0)
        return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_threads)};
    int failed = cmocka_run_group_tests_name("daos.threads", tests, NULL, NULL);
    pst_rmtree(root);
    free(root);
    return pst_exit(failed);
}
