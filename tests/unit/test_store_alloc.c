/*
 * Allocation-failure ("torture") tests of the store: an allocator that fails
 * the Nth allocation, for N = 0, 1, ... until the scenario succeeds. Every
 * failure must be PS_ENOMEM with a message and leak nothing (live count back
 * to zero; ASan checks too). A failed cache insert or metrics record is not a
 * failure of the operation, so those paths run to success.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_store_memconn.h"

static long live;            /* allocations not yet freed */
static long countdown;       /* fail when it reaches 0; negative: never */
static char first_msg[1024]; /* message of the scenario's first failure (cleanup
                                calls may overwrite the thread's message) */

static void *t_malloc(void *ctx, size_t n)
{
    (void)ctx;
    if (countdown >= 0 && countdown-- == 0)
        return NULL;
    void *p = malloc(n);
    if (p)
        live++;
    return p;
}

static void *t_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (countdown >= 0 && countdown-- == 0)
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        live++;
    return q;
}

static void t_free(void *ctx, void *p)
{
    (void)ctx;
    if (p)
        live--;
    free(p);
}

static const ps_allocator testalloc = {PS_ALLOCATOR_VERSION, NULL, t_malloc, t_realloc, t_free};

typedef ps_status (*op_fn)(void);

/*
 * Fail allocation N for N = 0, 1, ... until a run in which no allocation
 * failed. A run may succeed although an allocation failed (a cache insert or
 * a metrics record that could not get memory is skipped); it must still
 * leak nothing, and later N are tried too.
 */
static void torture(const char *name, op_fn op)
{
    PS_ASSERT_OK(ps_set_allocator(&testalloc));
    long n;
    for (n = 0; n < 20000; n++) {
        live = 0;
        countdown = n;
        ps_clear_error();
        first_msg[0] = '\0';
        ps_status st = op();
        bool injected = countdown < 0;
        countdown = -1;
        if (st != PS_OK && st != PS_ENOMEM)
            fail_msg("%s with allocation %ld failing: %s (%s)", name, n, ps_status_name(st),
                     first_msg);
        if (st != PS_OK && first_msg[0] == '\0')
            fail_msg("%s with allocation %ld failing left no message", name, n);
        if (live != 0)
            fail_msg("%s leaked %ld allocations when allocation %ld failed", name, live, n);
        assert_null(ps_store_lookup("torture"));
        if (!injected) {
            assert_int_equal(st, PS_OK);
            break;
        }
    }
    assert_true(n > 5); /* the scenario does allocate */
    print_message("%s: %ld allocation failures injected\n", name, n);
    PS_ASSERT_OK(ps_set_allocator(NULL));
}

/* Keep the first failure; later cleanup calls must not hide it. */
#define STEP(expr)                                                                                 \
    do {                                                                                           \
        if (st == PS_OK && (st = (expr)) != PS_OK)                                                 \
            snprintf(first_msg, sizeof first_msg, "%s", ps_last_error());                          \
    } while (0)

static const char *cfg = "{\"name\":\"torture\",\"connector\":{\"kind\":\"memt\"},"
                         "\"metrics\":true,\"cache_size\":2,\"codec\":\"zstd\"}";

static ps_status op_store(void)
{
    ps_status st = PS_OK;
    ps_store *s = NULL;
    ps_key *k = NULL, *keys[3] = {NULL, NULL, NULL};
    ps_bytes b1 = PS_BYTES_INIT, b2 = PS_BYTES_INIT, outs[3];
    memset(outs, 0, sizeof outs);
    char *json = NULL, *mjson = NULL;
    bool e = false;
    char big[3000];
    memset(big, 'q', sizeof big);

    STEP(ps_store_get_or_create(cfg, &s));
    STEP(ps_store_put(s, big, sizeof big, NULL, &k));
    STEP(ps_store_get(s, k, NULL, &b1)); /* miss, decode, cache */
    STEP(ps_store_get(s, k, NULL, &b2)); /* hit (if the insert got memory) */
    STEP(ps_store_exists(s, k, &e));
    if (st == PS_OK && (!e || b1.len != sizeof big || b2.len != sizeof big ||
                        memcmp(b2.data, big, sizeof big) != 0))
        fail_msg("store returned wrong data");
    ps_iov items[3] = {{"a", 1}, {"bb", 2}, {big, sizeof big}};
    STEP(ps_store_put_batch(s, 3, items, NULL, keys));
    STEP(ps_store_get_batch(s, 3, (const ps_key *const *)keys, NULL, outs, NULL));
    STEP(ps_store_set(s, k, "new", 3));
    STEP(ps_store_evict(s, k));
    STEP(ps_store_config(s, &json));
    STEP(ps_store_metrics_json(s, &mjson));

    ps_free(json);
    ps_free(mjson);
    ps_bytes_free(&b1);
    ps_bytes_free(&b2);
    ps_bytes_free_array(outs, 3);
    ps_key_free(k);
    ps_key_free_array(keys, 3);
    if (s) {
        ps_status cst = ps_store_close(s, PS_CLEAR_ALL); /* always, even after a failure */
        if (st == PS_OK && cst != PS_OK) {
            st = cst;
            snprintf(first_msg, sizeof first_msg, "%s", ps_last_error());
        }
    }
    return st;
}

static ps_status op_from_config(void)
{
    ps_store *s = NULL, *s2 = NULL;
    char *json = NULL;
    ps_status st = PS_OK;
    STEP(ps_store_from_config(cfg, &s));
    STEP(ps_store_config(s, &json));
    STEP(ps_store_from_config(json, &s2));
    STEP(ps_store_register(s2, false));
    ps_free(json);
    ps_store_close(s2, PS_CLEAR_DEFAULT); /* unregisters */
    ps_store_close(s, PS_CLEAR_DEFAULT);
    return st;
}

static int setup(void **state)
{
    (void)state;
    memt_register();
    return 0;
}

static void test_torture_store(void **state)
{
    (void)state;
    torture("store operations", op_store);
}

static void test_torture_config(void **state)
{
    (void)state;
    torture("store config", op_from_config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_torture_store, setup),
        cmocka_unit_test_setup(test_torture_config, setup),
    };
    return cmocka_run_group_tests_name("store_alloc", tests, NULL, NULL);
}
