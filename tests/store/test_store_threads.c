/*
 * A store shared by many threads (label "threads": also run under TSan):
 * 8 threads doing put/get/evict/exists on one store, set racing cached gets
 * (no stale object may stay cached), and close while another thread holds a
 * reference and keeps calling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "test_store_memconn.h"

#define NTHREADS 8
#define NSHARED  16

static int setup(void **state)
{
    (void)state;
    memt_register();
    memt_reset_counters();
    return 0;
}

typedef struct worker {
    ps_store *store;
    int id;
    int iters;
    ps_key **shared; /* NSHARED keys whose value is "shared-<i>" */
    int errors;
    char msg[256];
} worker;

#define WFAIL(w, ...)                                                                              \
    do {                                                                                           \
        if ((w)->errors++ == 0)                                                                    \
            snprintf((w)->msg, sizeof(w)->msg, __VA_ARGS__);                                       \
    } while (0)

static bool check_bytes(const ps_bytes *b, const char *want)
{
    return b->len == strlen(want) && memcmp(b->data, want, b->len) == 0;
}

static void *worker_main(void *p)
{
    worker *w = p;
    char val[64], want[64];
    for (int i = 0; i < w->iters; i++) {
        snprintf(val, sizeof val, "t%d-i%d", w->id, i);
        ps_key *k = NULL;
        ps_status st = ps_store_put(w->store, val, strlen(val), NULL, &k);
        if (st != PS_OK) {
            WFAIL(w, "put: %s", ps_last_error());
            continue;
        }
        ps_bytes b = PS_BYTES_INIT;
        st = ps_store_get(w->store, k, NULL, &b);
        if (st != PS_OK || !check_bytes(&b, val))
            WFAIL(w, "get own %s: %s", val, ps_status_name(st));
        ps_bytes_free(&b);
        bool e = false;
        if (ps_store_exists(w->store, k, &e) != PS_OK || !e)
            WFAIL(w, "exists own %s", val);

        /* shared keys: hits and misses from every thread at once */
        int j = (i * 7 + w->id) % NSHARED;
        snprintf(want, sizeof want, "shared-%d", j);
        st = ps_store_get(w->store, w->shared[j], NULL, &b);
        if (st != PS_OK || !check_bytes(&b, want))
            WFAIL(w, "get shared %d: %s", j, ps_status_name(st));
        ps_bytes_free(&b);

        if (ps_store_evict(w->store, k) != PS_OK)
            WFAIL(w, "evict: %s", ps_last_error());
        if (ps_store_exists(w->store, k, &e) != PS_OK || e)
            WFAIL(w, "exists after evict %s", val);
        if (ps_store_is_cached(w->store, k))
            WFAIL(w, "cached after evict %s", val);
        st = ps_store_get(w->store, k, NULL, &b);
        if (st != PS_NOT_FOUND)
            WFAIL(w, "get after evict %s: %s", val, ps_status_name(st));
        ps_key_free(k);
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    ps_store_options o;
    ps_store_options_init(&o);
    o.cache_size = 8; /* smaller than the working set: constant eviction */
    o.metrics = true;
    ps_store *s = memt_store_new("threads", &o);
    ps_key *shared[NSHARED];
    for (int j = 0; j < NSHARED; j++) {
        char v[32];
        snprintf(v, sizeof v, "shared-%d", j);
        PS_ASSERT_OK(ps_store_put(s, v, strlen(v), NULL, &shared[j]));
    }
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){.store = s, .id = i, .iters = 500, .shared = shared};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        if (w[i].errors)
            fail_msg("thread %d: %d errors, first: %s", i, w[i].errors, w[i].msg);
    uint64_t hits = 0, misses = 0;
    PS_ASSERT_OK(ps_store_metrics_counter(s, "store.get.cache_hits", &hits));
    PS_ASSERT_OK(ps_store_metrics_counter(s, "store.get.cache_misses", &misses));
    assert_int_equal(hits + misses, NTHREADS * 500 * 3); /* three gets per iteration */
    ps_time_stats t;
    ps_time_stats_init(&t);
    PS_ASSERT_OK(ps_store_metrics_time_stats(s, "store.put", &t));
    assert_int_equal(t.count, NTHREADS * 500 + NSHARED);
    ps_key_free_array(shared, NSHARED);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

/* ---- set racing cached gets ------------------------------------------------ */

typedef struct racer {
    ps_store *store;
    const ps_key *key;
    atomic_int *done;
    int errors;
} racer;

static void *reader_main(void *p)
{
    racer *r = p;
    while (!atomic_load(r->done)) {
        ps_bytes b = PS_BYTES_INIT;
        ps_status st = ps_store_get(r->store, r->key, NULL, &b);
        if (st != PS_OK || b.len == 0)
            r->errors++;
        ps_bytes_free(&b);
    }
    return NULL;
}

static void test_set_races_get(void **state)
{
    (void)state;
    ps_store *s = memt_store_new("setrace", NULL);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_store_new_key(s, &k));
    PS_ASSERT_OK(ps_store_set(s, k, "v0", 2));
    atomic_int done;
    atomic_init(&done, 0);
    pthread_t th[4];
    racer r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (racer){s, k, &done, 0};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
    }
    char v[32];
    for (int i = 1; i <= 2000; i++) {
        snprintf(v, sizeof v, "v%d", i);
        PS_ASSERT_OK(ps_store_set(s, k, v, strlen(v)));
        /* Readers that fetched the old value before this set must not
         * have cached it after the set dropped the key. */
        ps_bytes now = PS_BYTES_INIT;
        PS_ASSERT_OK(ps_store_get(s, k, NULL, &now));
        if (!check_bytes(&now, v))
            fail_msg("after set %s, get returned %.*s", v, (int)now.len, (char *)now.data);
        ps_bytes_free(&now);
    }
    atomic_store(&done, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].errors, 0);
    }
    /* whatever the readers cached meanwhile, the last value wins */
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_store_get(s, k, NULL, &b));
    assert_true(check_bytes(&b, "v2000"));
    ps_bytes_free(&b);
    ps_key_free(k);
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
}

/* ---- close while another thread holds a reference ------------------------- */

typedef struct holder {
    ps_store *store; /* the holder's own reference */
    const ps_key *key;
    atomic_int ops;
    int estate;
    int errors;
    char msg[256];
} holder;

static void *holder_main(void *p)
{
    holder *h = p;
    for (;;) {
        ps_bytes b = PS_BYTES_INIT;
        ps_key *k = NULL;
        bool e;
        ps_status st1 = ps_store_get(h->store, h->key, NULL, &b);
        ps_bytes_free(&b);
        ps_status st2 = ps_store_put(h->store, "xyz", 3, NULL, &k);
        ps_status st3 = k ? ps_store_evict(h->store, k) : PS_ESTATE;
        ps_key_free(k);
        ps_status st4 = ps_store_exists(h->store, h->key, &e);
        ps_status sts[] = {st1, st2, st3, st4};
        bool closed = false;
        for (int i = 0; i < 4; i++) {
            if (sts[i] == PS_ESTATE)
                closed = true;
            else if (sts[i] != PS_OK && h->errors++ == 0)
                snprintf(h->msg, sizeof h->msg, "op %d: %s: %s", i, ps_status_name(sts[i]),
                         ps_last_error());
        }
        atomic_fetch_add(&h->ops, 1);
        if (closed) {
            h->estate++;
            /* once closed, always closed */
            if (ps_store_get(h->store, h->key, NULL, &b) != PS_ESTATE && h->errors++ == 0)
                snprintf(h->msg, sizeof h->msg, "get after close did not fail");
            break;
        }
    }
    ps_store_unref(h->store);
    return NULL;
}

static void test_close_while_held(void **state)
{
    (void)state;
    for (int round = 0; round < 10; round++) {
        long closes = atomic_load(&memt_closes);
        ps_store *s = memt_store_new("held", NULL);
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_store_put(s, "payload", 7, NULL, &k));
        ps_bytes view = PS_BYTES_INIT;
        PS_ASSERT_OK(ps_store_get(s, k, NULL, &view)); /* cached: a view */
        holder h = {.store = ps_store_ref(s), .key = k};
        atomic_init(&h.ops, 0);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, holder_main, &h), 0);
        while (atomic_load(&h.ops) < 50 + round * 20)
            sched_yield();
        PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_ALL));
        assert_int_equal(atomic_load(&memt_closes), closes + 1);
        pthread_join(th, NULL);
        if (h.errors)
            fail_msg("holder: %d errors, first: %s", h.errors, h.msg);
        assert_int_equal(h.estate, 1);
        /* the view taken before close is still readable */
        assert_true(check_bytes(&view, "payload"));
        ps_bytes_free(&view);
        ps_key_free(k);
    }
}

/* Registry and store references taken and dropped from many threads. */
static void *lookup_main(void *p)
{
    int *errors = p;
    for (int i = 0; i < 2000; i++) {
        ps_store *s = ps_store_lookup("shared-reg");
        if (s == NULL) {
            (*errors)++;
            continue;
        }
        ps_key *k = NULL;
        if (ps_store_put(s, "a", 1, NULL, &k) != PS_OK)
            (*errors)++;
        ps_key_free(k);
        ps_store_unref(s);
    }
    return NULL;
}

static void test_lookup_many_threads(void **state)
{
    (void)state;
    ps_store_options o;
    ps_store_options_init(&o);
    o.register_store = true;
    ps_store *s = memt_store_new("shared-reg", &o);
    ps_store_unref(s); /* only the registry holds it now */
    pthread_t th[NTHREADS];
    int errors[NTHREADS] = {0};
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, lookup_main, &errors[i]), 0);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(errors[i], 0);
    }
    long closes = atomic_load(&memt_closes);
    PS_ASSERT_OK(ps_store_unregister("shared-reg")); /* last reference */
    assert_int_equal(atomic_load(&memt_closes), closes + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_many_threads, setup),
        cmocka_unit_test_setup(test_set_races_get, setup),
        cmocka_unit_test_setup(test_close_while_held, setup),
        cmocka_unit_test_setup(test_lookup_many_threads, setup),
    };
    return pst_exit(cmocka_run_group_tests_name("store_threads", tests, NULL, NULL));
}
