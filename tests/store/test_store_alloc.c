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
#include "torture.h"
#include "test_store_memconn.h"

/* The failing allocator and the loop are shared: tests/common/torture.c. */
#define first_msg pst_torture_msg

typedef ps_status (*op_fn)(void);
typedef struct op_box {
    op_fn fn;
} op_box;

static ps_status run_op(void *ctx)
{
    return ((op_box *)ctx)->fn();
}

static void no_store_left(void *ctx)
{
    (void)ctx;
    assert_null(ps_store_lookup("torture"));
}

static void torture(const char *name, op_fn op)
{
    op_box box = {op};
    long n = pst_torture(name, run_op, &box, no_store_left);
    assert_true(n > 5); /* the scenario does allocate */
    print_message("%s: %ld allocation failures injected\n", name, n);
}

#define STEP(expr) PST_STEP(st, expr)

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
    return pst_exit(cmocka_run_group_tests_name("store_alloc", tests, NULL, NULL));
}
