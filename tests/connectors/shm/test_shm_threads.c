/*
 * The shm connector from 8 threads (label "threads": also run under TSan):
 * one shared instance, one instance per thread on the same store, and
 * workers racing a thread that removes the store again and again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_testutil.h"
#include "testutil.h"
#include "proxystore/connectors/shm.h"

#define NTHREADS 8

static char *g_dir;

typedef struct worker {
    ps_connector *conn; /* shared or own */
    const char *name;   /* store, for own instances */
    bool own;
    bool tolerate_removal; /* a remover runs: a get may find nothing */
    int iters;
    uint32_t id;
    char err[512]; /* first failure; checked by the main thread */
} worker;

static atomic_bool g_stop;
static char g_remover_err[512];
static atomic_int g_removals;

static void fail_w(worker *w, const char *what, ps_status st)
{
    if (w->err[0] == '\0')
        snprintf(w->err, sizeof w->err, "thread %u: %s: %s: %s", w->id, what, ps_status_name(st),
                 ps_last_error());
}

static void *work(void *arg)
{
    worker *w = arg;
    ps_connector *c = w->conn;
    if (w->own) {
        ps_status st = pst_shm_open(g_dir, w->name, "", &c);
        if (st != PS_OK) {
            fail_w(w, "open", st);
            return NULL;
        }
    }
    unsigned char *buf = malloc(200000), *want = malloc(200000);
    for (int i = 0; i < w->iters && w->err[0] == '\0'; i++) {
        uint32_t seed = w->id * 100000u + (uint32_t)i;
        size_t len = (i % 10 == 9) ? 100000 + (seed % 50000) : seed % 5000;
        pst_fill(buf, len, seed);
        ps_key *k = NULL;
        ps_status st = ps_connector_put(c, buf, len, NULL, &k);
        if (st != PS_OK) {
            fail_w(w, "put", st);
            break;
        }
        ps_bytes b = PS_BYTES_INIT;
        st = ps_connector_get(c, k, &b);
        if (st == PS_NOT_FOUND && w->tolerate_removal) {
            /* removed meanwhile */
        } else if (st != PS_OK) {
            fail_w(w, "get", st);
        } else {
            pst_fill(want, len, seed);
            if (b.len != len || memcmp(b.data, want, len) != 0)
                fail_w(w, "get returned other bytes", PS_EINTERNAL);
        }
        ps_bytes_free(&b);
        bool ex;
        st = ps_connector_exists(c, k, &ex);
        if (st != PS_OK)
            fail_w(w, "exists", st);
        if (i % 2 == 0 && (st = ps_connector_evict(c, k)) != PS_OK)
            fail_w(w, "evict", st);
        ps_key_free(k);
    }
    free(buf);
    free(want);
    if (w->own) {
        ps_status st = ps_connector_close(c, PS_CLEAR_KEEP);
        if (st != PS_OK)
            fail_w(w, "close", st);
    }
    return NULL;
}

static void *remover(void *arg)
{
    const char *name = arg;
    while (!atomic_load(&g_stop)) {
        ps_status st = ps_shm_remove(g_dir, name);
        if (st != PS_OK && st != PS_NOT_FOUND) {
            snprintf(g_remover_err, sizeof g_remover_err, "remover: %s", ps_last_error());
            break;
        }
        if (st == PS_OK)
            atomic_fetch_add(&g_removals, 1);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void run(worker *ws, size_t n, const char *remove_name)
{
    pthread_t th[NTHREADS], rm;
    atomic_store(&g_stop, false);
    if (remove_name)
        assert_int_equal(pthread_create(&rm, NULL, remover, (void *)(uintptr_t)remove_name), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pthread_create(&th[i], NULL, work, &ws[i]), 0);
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    atomic_store(&g_stop, true);
    if (remove_name)
        pthread_join(rm, NULL);
    for (size_t i = 0; i < n; i++)
        if (ws[i].err[0])
            fail_msg("%s", ws[i].err);
    if (g_remover_err[0])
        fail_msg("%s", g_remover_err);
}

static void test_shared_instance(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "shared", "", &c));
    worker ws[NTHREADS];
    memset(ws, 0, sizeof ws);
    for (uint32_t i = 0; i < NTHREADS; i++)
        ws[i] = (worker){.conn = c, .iters = 400, .id = i};
    run(ws, NTHREADS, NULL);
    /* half of every thread's objects are left */
    char *text = NULL;
    PS_ASSERT_OK(ps_shm_list(g_dir, "shared", &text));
    assert_non_null(strstr(text, "\"objects\""));
    ps_free(text);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static void test_instance_per_thread(void **state)
{
    (void)state;
    worker ws[NTHREADS];
    memset(ws, 0, sizeof ws);
    for (uint32_t i = 0; i < NTHREADS; i++)
        ws[i] = (worker){.name = "perthread", .own = true, .iters = 300, .id = i};
    run(ws, NTHREADS, NULL);
    PS_ASSERT_OK(ps_shm_remove(g_dir, "perthread"));
}

static void test_racing_removal(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    PS_ASSERT_OK(pst_shm_open(g_dir, "racing", "", &c));
    worker ws[NTHREADS];
    memset(ws, 0, sizeof ws);
    for (uint32_t i = 0; i < NTHREADS; i++)
        ws[i] = (worker){.conn = i % 2 ? c : NULL,
                         .name = "racing",
                         .own = i % 2 == 0,
                         .tolerate_removal = true,
                         .iters = 200,
                         .id = i};
    run(ws, NTHREADS, "racing");
    print_message("the store was removed %d times under the workers\n", atomic_load(&g_removals));
    assert_true(atomic_load(&g_removals) > 0);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    ps_shm_remove(g_dir, "racing");
}

int main(void)
{
    g_dir = pst_shm_mkdtemp("threads");
    if (g_dir == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_instance),
        cmocka_unit_test(test_instance_per_thread),
        cmocka_unit_test(test_racing_removal),
    };
    int failed = cmocka_run_group_tests_name("shm.threads", tests, NULL, NULL);
    int left = pst_count_entries(g_dir);
    if (left != 0) {
        fprintf(stderr, "shm.threads: %d entries left in %s\n", left, g_dir);
        failed++;
    }
    pst_rmtree(g_dir);
    free(g_dir);
    return pst_exit(failed);
}
