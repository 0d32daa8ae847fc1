/*
 * Allocation-failure ("torture") tests of the multi connector and policies:
 * fail the Nth allocation for N = 0, 1, ... until the scenario runs without
 * an injected failure. Every failure must be PS_ENOMEM with a message and
 * leak nothing (live count back to zero; ASan checks too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "torture.h"
#include "proxystore/connectors/local.h"
#include "proxystore/connectors/multi.h"

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

static void torture(const char *name, op_fn op)
{
    op_box box = {op};
    long n = pst_torture(name, run_op, &box, NULL);
    assert_true(n > 5); /* the scenario does allocate */
    print_message("%s: %ld allocation failures injected\n", name, n);
}

#define STEP(expr) PST_STEP(st, expr)

static const char *cfg =
    "{\"connectors\": ["
    "{\"name\": \"tagged\", \"connector\": {\"kind\": \"local\", \"options\": "
    "{\"store_id\": \"torture-a\"}}, \"policy\": {\"priority\": 3, \"host_pattern\": "
    "[\"node[0-9]+\", \".*\"], \"superset_tags\": [\"t\"]}},"
    "{\"name\": \"small\", \"connector\": {\"kind\": \"local\", \"options\": "
    "{\"store_id\": \"torture-b\"}}, \"policy\": {\"priority\": 2, \"max_size_bytes\": 10}},"
    "{\"name\": \"dormant\", \"connector\": {\"kind\": \"local\"}, \"policy\": "
    "{\"host_pattern\": []}},"
    "{\"name\": \"rest\", \"connector\": {\"kind\": \"local\", \"options\": "
    "{\"store_id\": \"torture-c\"}}}]}";

static ps_status op_multi(void)
{
    ps_status st = PS_OK;
    ps_connector *m = NULL, *m2 = NULL;
    ps_key *k = NULL, *keys[3] = {NULL, NULL, NULL};
    ps_bytes b = PS_BYTES_INIT, outs[3];
    memset(outs, 0, sizeof outs);
    char *json = NULL;
    bool e = false;
    char big[300];
    memset(big, 'q', sizeof big);
    ps_put_options o;
    ps_put_options_init(&o);
    const char *tags[] = {"t"};
    o.superset_tags = tags;
    o.n_superset_tags = 1;

    STEP(ps_connector_open("multi", cfg, &m));
    STEP(ps_connector_put(m, big, sizeof big, &o, &k));
    STEP(ps_connector_get(m, k, &b));
    STEP(ps_connector_exists(m, k, &e));
    if (st == PS_OK && (!e || b.len != sizeof big))
        fail_msg("multi returned wrong data");
    ps_iov items[3] = {{"a", 1}, {big, sizeof big}, {"bb", 2}};
    STEP(ps_connector_put_batch(m, 3, items, NULL, keys));
    STEP(ps_connector_get_batch(m, 3, (const ps_key *const *)keys, outs, NULL));
    STEP(ps_connector_evict(m, k));
    STEP(ps_connector_config(m, &json));
    if (json) {
        /* json is {"kind":"multi","options":{...}}: reopen from the options */
        char *opts = strstr(json, "\"options\":");
        char *copy = opts ? strdup(opts + strlen("\"options\":")) : NULL;
        if (copy) {
            copy[strlen(copy) - 1] = '\0'; /* the closing brace of the outer object */
            STEP(ps_connector_open("multi", copy, &m2));
            free(copy);
        }
    }
    ps_free(json);
    ps_bytes_free(&b);
    ps_bytes_free_array(outs, 3);
    ps_key_free(k);
    ps_key_free_array(keys, 3);
    ps_connector_close(m2, PS_CLEAR_KEEP);
    if (m) {
        ps_status cst = ps_connector_close(m, PS_CLEAR_ALL);
        if (st == PS_OK && cst != PS_OK) {
            st = cst;
            snprintf(first_msg, sizeof first_msg, "%s", ps_last_error());
        }
    }
    return st;
}

static ps_status op_c_api(void)
{
    ps_status st = PS_OK;
    ps_connector *l1 = NULL, *l2 = NULL, *m = NULL;
    ps_multi_policy *p = NULL;
    ps_key *k = NULL;
    STEP(ps_local_connector_open(NULL, &l1));
    STEP(ps_local_connector_open(NULL, &l2));
    STEP(ps_multi_policy_new(&p));
    STEP(ps_multi_policy_add_host_pattern(p, "h[0-9]"));
    STEP(ps_multi_policy_add_subset_tag(p, "x"));
    if (st == PS_OK) {
        ps_multi_entry e[2] = {{"one", l1, p}, {"two", l2, NULL}};
        STEP(ps_multi_connector_open(
            &(ps_multi_options){.version = PS_MULTI_OPTIONS_VERSION, .entries = e, .n_entries = 2},
            &m));
        if (st == PS_OK)
            l1 = l2 = NULL; /* owned by m */
    }
    STEP(ps_connector_put(m, "v", 1, NULL, &k));
    ps_key_free(k);
    ps_multi_policy_free(p);
    ps_connector_close(m, PS_CLEAR_ALL);
    ps_connector_close(l1, PS_CLEAR_ALL);
    ps_connector_close(l2, PS_CLEAR_ALL);
    return st;
}

static ps_status op_policy_json(void)
{
    ps_status st = PS_OK;
    ps_multi_policy *p = NULL, *q = NULL, *d = NULL;
    char *text = NULL;
    STEP(ps_multi_policy_from_json("{\"priority\": 2, \"host_pattern\": [\"a|b\", \"c.*\"], "
                                   "\"subset_tags\": [\"x\", \"y\"], \"superset_tags\": [\"z\"]}",
                                   &p));
    STEP(ps_multi_policy_to_json(p, &text));
    STEP(ps_multi_policy_from_json(text, &q));
    STEP(ps_multi_policy_dup(q, &d));
    if (st == PS_OK && !(ps_multi_policy_equal(p, q) && ps_multi_policy_equal(q, d)))
        fail_msg("policies differ");
    bool v = false;
    STEP(ps_multi_policy_matches_host(d, "cat", &v));
    ps_free(text);
    ps_multi_policy_free(p);
    ps_multi_policy_free(q);
    ps_multi_policy_free(d);
    return st;
}

static void test_torture_multi(void **state)
{
    (void)state;
    torture("multi operations", op_multi);
}

static void test_torture_c_api(void **state)
{
    (void)state;
    torture("multi C API", op_c_api);
}

static void test_torture_policy(void **state)
{
    (void)state;
    torture("policy JSON", op_policy_json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torture_multi),
        cmocka_unit_test(test_torture_c_api),
        cmocka_unit_test(test_torture_policy),
    };
    return pst_exit(cmocka_run_group_tests_name("unit.multi_alloc", tests, NULL, NULL));
}
