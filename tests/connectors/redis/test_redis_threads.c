/*
 * Eight threads share one redis connector (it declares itself thread-safe,
 * so the core does not serialize them): each writes, reads back, checks and
 * evicts its own objects, singly and in batches, while a ninth thread reads
 * objects written before the threads started. Failures are counted in the
 * threads and asserted by the main thread.
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

#include "redis_testutil.h"
#include "testutil.h"

enum { NTHREADS = 8, ROUNDS = 150, BATCH = 20, NSHARED = 16 };

typedef struct shared {
    ps_connector *conn;
    ps_key *keys[NSHARED];
    atomic_int failures;
    char first[512];
    pthread_mutex_t lock;
} shared;

typedef struct worker {
    shared *sh;
    int id;
} worker;

static void failed(shared *sh, const char *what)
{
    if (atomic_fetch_add(&sh->failures, 1) == 0) {
        pthread_mutex_lock(&sh->lock);
        snprintf(sh->first, sizeof sh->first, "%s: %s", what, ps_last_error());
        pthread_mutex_unlock(&sh->lock);
    }
}

static size_t obj_len(int id, int round, int i)
{
    return (size_t)((id * 131 + round * 17 + i * 7) % 3000);
}

static void *work(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    unsigned char buf[BATCH][3000];
    for (int round = 0; round < ROUNDS; round++) {
        /* single put / get / exists / evict */
        size_t len = obj_len(w->id, round, 0);
        pst_fill(buf[0], len, (uint32_t)(w->id * 100000 + round));
        ps_key *k = NULL;
        if (ps_connector_put(sh->conn, buf[0], len, NULL, &k) != PS_OK) {
            failed(sh, "put");
            continue;
        }
        ps_bytes out = PS_BYTES_INIT;
        if (ps_connector_get(sh->conn, k, &out) != PS_OK || out.len != len ||
            (len && memcmp(out.data, buf[0], len) != 0))
            failed(sh, "get");
        ps_bytes_free(&out);
        bool ex = false;
        if (ps_connector_exists(sh->conn, k, &ex) != PS_OK || !ex)
            failed(sh, "exists");
        if (ps_connector_evict(sh->conn, k) != PS_OK)
            failed(sh, "evict");
        if (ps_connector_exists(sh->conn, k, &ex) != PS_OK || ex)
            failed(sh, "exists after evict");
        ps_key_free(k);

        /* deferred put */
        if (ps_connector_new_key(sh->conn, &k) != PS_OK ||
            ps_connector_set(sh->conn, k, buf[0], len) != PS_OK)
            failed(sh, "new_key/set");
        if (ps_connector_evict(sh->conn, k) != PS_OK)
            failed(sh, "evict deferred");
        ps_key_free(k);

        /* a batch every few rounds */
        if (round % 10 == 0) {
            ps_iov items[BATCH];
            ps_key *keys[BATCH];
            for (int i = 0; i < BATCH; i++) {
                items[i].len = obj_len(w->id, round, i);
                pst_fill(buf[i], items[i].len, (uint32_t)(w->id * 7 + round * 3 + i));
                items[i].data = buf[i];
            }
            if (ps_connector_put_batch(sh->conn, BATCH, items, NULL, keys) != PS_OK) {
                failed(sh, "put_batch");
                continue;
            }
            ps_bytes outs[BATCH];
            bool found[BATCH];
            if (ps_connector_get_batch(sh->conn, BATCH, (const ps_key *const *)keys, outs, found) !=
                PS_OK) {
                failed(sh, "get_batch");
            } else {
                for (int i = 0; i < BATCH; i++)
                    if (!found[i] || outs[i].len != items[i].len ||
                        (items[i].len && memcmp(outs[i].data, items[i].data, items[i].len)))
                        failed(sh, "get_batch data");
                ps_bytes_free_array(outs, BATCH);
            }
            for (int i = 0; i < BATCH; i++)
                if (ps_connector_evict(sh->conn, keys[i]) != PS_OK)
                    failed(sh, "evict batch");
            ps_key_free_array(keys, BATCH);
        }
    }
    return NULL;
}

static void *reader(void *arg)
{
    shared *sh = arg;
    for (int round = 0; round < ROUNDS; round++) {
        int i = round % NSHARED;
        ps_bytes out = PS_BYTES_INIT;
        char want[64];
        int n = snprintf(want, sizeof want, "shared object %d", i);
        if (ps_connector_get(sh->conn, sh->keys[i], &out) != PS_OK || out.len != (size_t)n ||
            memcmp(out.data, want, (size_t)n) != 0)
            failed(sh, "shared get");
        ps_bytes_free(&out);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char *json = pstr_shared_tcp_json("\"clear\": true");
    assert_non_null(json);
    shared sh;
    memset(&sh, 0, sizeof sh);
    atomic_init(&sh.failures, 0);
    pthread_mutex_init(&sh.lock, NULL);
    PS_ASSERT_OK(ps_connector_open("redis", json, &sh.conn));
    free(json);
    assert_true(ps_connector_is_threadsafe(sh.conn));
    for (int i = 0; i < NSHARED; i++) {
        char v[64];
        int n = snprintf(v, sizeof v, "shared object %d", i);
        PS_ASSERT_OK(ps_connector_put(sh.conn, v, (size_t)n, NULL, &sh.keys[i]));
    }
    pthread_t th[NTHREADS + 1];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].sh = &sh;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    assert_int_equal(pthread_create(&th[NTHREADS], NULL, reader, &sh), 0);
    for (int i = 0; i <= NTHREADS; i++)
        pthread_join(th[i], NULL);
    if (atomic_load(&sh.failures) != 0)
        fail_msg("%d failures in threads; first: %s", atomic_load(&sh.failures), sh.first);

    /* close(clear) still knows every key written from every thread. */
    char host[256], sock[1024];
    int port = 0;
    assert_true(pstr_shared(host, sizeof host, &port, sock, sizeof sock));
    PS_ASSERT_OK(ps_connector_close(sh.conn, PS_CLEAR_DEFAULT));
    redisContext *r = pstr_raw_tcp(host, port);
    assert_non_null(r);
    for (int i = 0; i < NSHARED; i++) {
        assert_int_equal(pstr_raw_exists(r, ps_key_field(sh.keys[i], 0)), 0);
        ps_key_free(sh.keys[i]);
    }
    redisFree(r);
    pthread_mutex_destroy(&sh.lock);
}

/*
 * A large value overwritten while it is read: a get must return one whole
 * value (the range path reads under WATCH and falls back to GET when the key
 * changed), never a mix of two, and never a wrong length.
 */
enum { FLIP_ROUNDS = 12 };
#define FLIP_LEN ((size_t)9 * 1024 * 1024 + 17)

typedef struct flipper {
    const char *id;
    const unsigned char *vals[2];
    atomic_int stop;
    int failed;
} flipper;

static void *flip(void *arg)
{
    flipper *f = arg;
    char host[256], sock[1024];
    int port = 0;
    redisContext *r = NULL;
    if (!pstr_shared(host, sizeof host, &port, sock, sizeof sock) ||
        (r = pstr_raw_tcp(host, port)) == NULL) {
        f->failed = 1;
        return NULL;
    }
    for (int i = 0; !atomic_load(&f->stop); i++)
        if (pstr_raw_set(r, f->id, f->vals[i & 1], FLIP_LEN) != 0) {
            f->failed = 1;
            break;
        }
    redisFree(r);
    return NULL;
}

static void test_get_while_overwritten(void **state)
{
    (void)state;
    ps_connector *c = NULL;
    char *json = pstr_shared_tcp_json(NULL);
    assert_non_null(json);
    PS_ASSERT_OK(ps_connector_open("redis", json, &c));
    free(json);
    unsigned char *a = malloc(FLIP_LEN), *b = malloc(FLIP_LEN);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 'a', FLIP_LEN);
    memset(b, 'b', FLIP_LEN);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, a, FLIP_LEN, NULL, &k));
    flipper f = {ps_key_field(k, 0), {a, b}, 0, 0};
    atomic_init(&f.stop, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, flip, &f), 0);
    int bad = 0;
    for (int i = 0; i < FLIP_ROUNDS; i++) {
        ps_bytes out = PS_BYTES_INIT;
        if (ps_connector_get(c, k, &out) != PS_OK || out.len != FLIP_LEN ||
            (memcmp(out.data, a, FLIP_LEN) != 0 && memcmp(out.data, b, FLIP_LEN) != 0))
            bad++;
        ps_bytes_free(&out);
    }
    atomic_store(&f.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(f.failed, 0);
    assert_int_equal(bad, 0);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    ps_key_free(k);
    free(a);
    free(b);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_get_while_overwritten),
    };
    return pst_exit(cmocka_run_group_tests_name("redis.threads", tests, NULL, NULL));
}
