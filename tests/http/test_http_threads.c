/*
 * The endpoint connector's built-in HTTP client against a real
 * proxystore-endpoint: one connector hammered by 8 threads (put, get,
 * exists, evict of objects from 1 byte to 300 KB, and one shared 1 MiB
 * object read by all), and a forked child using a connector opened before
 * fork() while the parent keeps using it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eptest.h"
#include "testutil.h"

#define NTHREADS 8
#define ROUNDS   150
#define SHARED   (1u << 20)

static ept_server srv;
static ps_connector *conn;
static ps_key *shared_key;

static void on_fatal(int sig)
{
    if (srv.pid > 0)
        kill(srv.pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGABRT, on_fatal);
    signal(SIGSEGV, on_fatal);
    const char *args[] = {"--storage", "memory", NULL};
    if (ept_start(&srv, args) != 0)
        return -1;
    char opts[256];
    snprintf(opts, sizeof opts, "{\"url\": \"%s\", \"timeout_ms\": 60000}", srv.url);
    if (ps_connector_open("endpoint", opts, &conn) != PS_OK) {
        fprintf(stderr, "open: %s\n", ps_last_error());
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ps_connector_close(conn, PS_CLEAR_DEFAULT);
    return ept_stop(&srv) == 0 ? 0 : -1;
}

typedef struct worker {
    int id;
    int failures;
    char error[512];
} worker;

static void note(worker *w, const char *what, ps_status st)
{
    if (w->failures++ == 0)
        snprintf(w->error, sizeof w->error, "thread %d: %s: %s (%s)", w->id, what,
                 ps_status_name(st), ps_last_error());
}

static void *hammer(void *arg)
{
    worker *w = arg;
    size_t cap = 300000;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        w->failures++;
        return NULL;
    }
    for (int i = 0; i < ROUNDS; i++) {
        size_t n =
            (i % 50 == 49) ? cap - (size_t)w->id : 1 + (size_t)((i * 977 + w->id * 131) % 8192);
        pst_fill(buf, n, (uint32_t)(w->id * 1000 + i));
        ps_key *k = NULL;
        ps_status st = ps_connector_put(conn, buf, n, NULL, &k);
        if (st != PS_OK) {
            note(w, "put", st);
            continue;
        }
        ps_bytes b = PS_BYTES_INIT;
        if ((st = ps_connector_get(conn, k, &b)) != PS_OK)
            note(w, "get", st);
        else if (b.len != n || memcmp(b.data, buf, n) != 0)
            note(w, "get returned other bytes", PS_OK);
        ps_bytes_free(&b);
        bool ex = false;
        if ((st = ps_connector_exists(conn, k, &ex)) != PS_OK || !ex)
            note(w, "exists", st);
        if (i % 4 == 0) {
            if ((st = ps_connector_get(conn, shared_key, &b)) != PS_OK || b.len != SHARED)
                note(w, "get shared", st);
            ps_bytes_free(&b);
        }
        if ((st = ps_connector_evict(conn, k)) != PS_OK)
            note(w, "evict", st);
        if ((st = ps_connector_get(conn, k, &b)) != PS_NOT_FOUND)
            note(w, "get after evict", st);
        ps_key_free(k);
    }
    free(buf);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    unsigned char *big = malloc(SHARED);
    assert_non_null(big);
    pst_fill(big, SHARED, 99);
    PS_ASSERT_OK(ps_connector_put(conn, big, SHARED, NULL, &shared_key));
    pthread_t t[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){.id = i};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    int failures = 0;
    for (int i = 0; i < NTHREADS; i++) {
        if (w[i].failures)
            fprintf(stderr, "%s (%d failures)\n", w[i].error, w[i].failures);
        failures += w[i].failures;
    }
    assert_int_equal(failures, 0);
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(conn, shared_key, &b));
    assert_int_equal(b.len, SHARED);
    assert_memory_equal(b.data, big, SHARED);
    ps_bytes_free(&b);
    PS_ASSERT_OK(ps_connector_evict(conn, shared_key));
    ps_key_free(shared_key);
    shared_key = NULL;
    free(big);
}

static void test_fork(void **state)
{
    (void)state;
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(conn, "parent", 6, NULL, &k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(conn, k, &b)); /* pooled connections exist now */
    ps_bytes_free(&b);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int code = 0;
        for (int i = 0; i < 20 && code == 0; i++) {
            ps_bytes cb = PS_BYTES_INIT;
            if (ps_connector_get(conn, k, &cb) != PS_OK || cb.len != 6 ||
                memcmp(cb.data, "parent", 6) != 0)
                code = 1;
            ps_bytes_free(&cb);
            ps_key *ck = NULL;
            if (code == 0 && (ps_connector_put(conn, "child", 5, NULL, &ck) != PS_OK ||
                              ps_connector_evict(conn, ck) != PS_OK))
                code = 2;
            ps_key_free(ck);
        }
        if (code)
            fprintf(stderr, "child: %s\n", ps_last_error());
        _exit(code);
    }
    /* the parent keeps working while the child runs and after it exits */
    for (int i = 0; i < 20; i++) {
        PS_ASSERT_OK(ps_connector_get(conn, k, &b));
        assert_int_equal(b.len, 6);
        ps_bytes_free(&b);
    }
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    for (int i = 0; i < 20; i++) {
        PS_ASSERT_OK(ps_connector_get(conn, k, &b));
        assert_memory_equal(b.data, "parent", 6);
        ps_bytes_free(&b);
    }
    PS_ASSERT_OK(ps_connector_evict(conn, k));
    ps_key_free(k);
}

/* fork() while other threads are in the middle of requests (so a pool lock
 * may be held at that moment): every child must still be able to use the
 * connector. A child inheriting a locked pool lock would hang; alarm() turns
 * that into a failure. */
static atomic_int busy_stop;

static void *busy(void *arg)
{
    ps_key *k = arg;
    while (!atomic_load(&busy_stop)) {
        ps_bytes b = PS_BYTES_INIT;
        (void)ps_connector_get(conn, k, &b);
        ps_bytes_free(&b);
    }
    return NULL;
}

static void test_fork_during_requests(void **state)
{
    (void)state;
    enum { NBUSY = 4, NFORKS = 60 };
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(conn, "during", 6, NULL, &k));
    atomic_store(&busy_stop, 0);
    pthread_t t[NBUSY];
    for (int i = 0; i < NBUSY; i++)
        assert_int_equal(pthread_create(&t[i], NULL, busy, k), 0);
    int bad = 0;
    for (int f = 0; f < NFORKS; f++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(20);
            ps_bytes cb = PS_BYTES_INIT;
            int code = ps_connector_get(conn, k, &cb) == PS_OK && cb.len == 6 ? 0 : 1;
            ps_bytes_free(&cb);
            _exit(code);
        }
        int wst = 0;
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
            fprintf(stderr, "fork %d: child %s %d\n", f,
                    WIFSIGNALED(wst) ? "killed by signal" : "exited with",
                    WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst));
            bad++;
        }
    }
    atomic_store(&busy_stop, 1);
    for (int i = 0; i < NBUSY; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(bad, 0);
    PS_ASSERT_OK(ps_connector_evict(conn, k));
    ps_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_fork_during_requests),
    };
    return pst_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
