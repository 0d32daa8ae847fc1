/*
 * Proxies across processes: this process puts objects into a file store and
 * hands tokens to consumer processes (tests/proxy/proxy_consumer.c, fork +
 * exec), which build the store from the token's configuration and resolve.
 * argv[1] is the consumer program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "proxystore/connectors/file.h"

static const char *consumer;

typedef pst_file_fixture fixture;

static int setup(void **state)
{
    *state = pst_file_fixture_new("proxy-procs", false);
    return 0;
}

static int teardown(void **state)
{
    pst_file_fixture_free(*state);
    return 0;
}

/* Start the consumer; returns its pid. */
static pid_t spawn(const char *mode, const char *token, size_t len, uint32_t seed)
{
    char l[32], s[32];
    snprintf(l, sizeof l, "%zu", len);
    snprintf(s, sizeof s, "%u", seed);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(consumer, consumer, mode, token, l, s, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid) {
        kill(pid, SIGKILL);
        return -1;
    }
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static int consume(const char *mode, ps_proxy *p, size_t len, uint32_t seed)
{
    char *tok = NULL;
    PS_ASSERT_OK(ps_proxy_encode(p, &tok));
    int rc = wait_exit(spawn(mode, tok, len, seed));
    ps_free(tok);
    return rc;
}

static ps_proxy *proxy_of(ps_store *s, size_t len, uint32_t seed, bool evict)
{
    unsigned char *buf = malloc(len ? len : 1);
    pst_fill(buf, len, seed);
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.evict = evict;
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy(s, buf, len, &o, &p));
    free(buf);
    return p;
}

static void test_resolve_in_other_process(void **state)
{
    fixture *f = *state;
    ps_proxy *p = proxy_of(f->store, 3 << 20, 1, false);
    assert_int_equal(consume("resolve", p, 3 << 20, 1), 0);
    assert_int_equal(consume("resolve", p, 3 << 20, 1), 0); /* still there */
    assert_int_equal(consume("resolve", p, 3 << 20, 2), 1); /* the check can fail */
    ps_proxy_unref(p);
}

static void test_async_in_other_process(void **state)
{
    fixture *f = *state;
    ps_proxy *p = proxy_of(f->store, 100000, 3, false);
    assert_int_equal(consume("async", p, 100000, 3), 0);
    ps_proxy_unref(p);
}

static void test_evict_on_resolve_in_other_process(void **state)
{
    fixture *f = *state;
    ps_proxy *p = proxy_of(f->store, 4096, 4, true);
    bool ex = false;
    PS_ASSERT_OK(ps_store_exists(f->store, ps_proxy_key(p), &ex));
    assert_true(ex);
    assert_int_equal(consume("evict", p, 4096, 4), 0);
    PS_ASSERT_OK(ps_store_exists(f->store, ps_proxy_key(p), &ex));
    assert_false(ex);
    /* a second consumer finds nothing */
    assert_int_equal(consume("missing", p, 0, 0), 0);
    ps_proxy_unref(p);
}

static void test_locked_in_other_process(void **state)
{
    fixture *f = *state;
    unsigned char buf[777];
    pst_fill(buf, sizeof buf, 5);
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_locked_proxy(f->store, buf, sizeof buf, NULL, &p));
    assert_int_equal(consume("locked", p, sizeof buf, 5), 0);
    ps_proxy_unref(p);
}

static void test_batch_to_parallel_consumers(void **state)
{
    fixture *f = *state;
    enum { N = 4 };
    size_t lens[N] = {0, 1, 65536, 1 << 20};
    unsigned char *bufs[N];
    ps_iov items[N];
    for (int i = 0; i < N; i++) {
        bufs[i] = malloc(lens[i] ? lens[i] : 1);
        pst_fill(bufs[i], lens[i], 10u + (uint32_t)i);
        items[i].data = bufs[i];
        items[i].len = lens[i];
    }
    ps_proxy *ps[N];
    PS_ASSERT_OK(ps_store_proxy_batch(f->store, N, items, NULL, ps));
    pid_t pids[N];
    char *toks[N];
    for (int i = 0; i < N; i++) {
        PS_ASSERT_OK(ps_proxy_encode(ps[i], &toks[i]));
        pids[i] = spawn("resolve", toks[i], lens[i], 10u + (uint32_t)i);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(wait_exit(pids[i]), 0);
        ps_free(toks[i]);
        ps_proxy_unref(ps[i]);
        free(bufs[i]);
    }
}

static void test_from_key_and_missing(void **state)
{
    fixture *f = *state;
    unsigned char buf[1000];
    pst_fill(buf, sizeof buf, 6);
    ps_key *key = NULL;
    PS_ASSERT_OK(ps_store_put(f->store, buf, sizeof buf, NULL, &key));
    ps_proxy *p = NULL;
    PS_ASSERT_OK(ps_store_proxy_from_key(f->store, key, NULL, &p));
    assert_int_equal(consume("resolve", p, sizeof buf, 6), 0);
    PS_ASSERT_OK(ps_store_evict(f->store, key));
    assert_int_equal(consume("missing", p, 0, 0), 0);
    assert_int_equal(consume("resolve", p, sizeof buf, 6), 3);
    ps_proxy_unref(p);
    ps_key_free(key);
}

static void test_garbage_token(void **state)
{
    (void)state;
    assert_int_equal(wait_exit(spawn("resolve", "ps1.garbage", 1, 1)), 3);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROXY_CONSUMER\n", argv[0]);
        return 2;
    }
    consumer = argv[1];
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_resolve_in_other_process),
        T(test_async_in_other_process),
        T(test_evict_on_resolve_in_other_process),
        T(test_locked_in_other_process),
        T(test_batch_to_parallel_consumers),
        T(test_from_key_and_missing),
        T(test_garbage_token),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
