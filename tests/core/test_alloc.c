/*
 * Allocator hooks, and allocation-failure ("torture") tests: an allocator
 * that fails the Nth allocation, for N = 1, 2, ... until the operation
 * succeeds. Every failure must be PS_ENOMEM with a message, and nothing may
 * leak (live allocation count back to zero; ASan checks too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "torture.h"

typedef ps_status (*op_fn)(void);
typedef struct op_box {
    op_fn fn;
} op_box;

static ps_status run_op(void *ctx)
{
    return ((op_box *)ctx)->fn();
}

/* Run `op` with the Nth allocation failing for every N (tests/common/torture.c). */
static void torture(const char *name, op_fn op)
{
    op_box box = {op};
    assert_true(pst_torture(name, run_op, &box, NULL) > 0);
}

static ps_status op_key(void)
{
    ps_key *k = NULL, *k2 = NULL;
    const char *f[] = {"a b", "c"};
    ps_status st = ps_key_new("file", 2, f, &k);
    if (st == PS_OK)
        st = ps_key_parse(ps_key_str(k), &k2);
    if (st == PS_OK && !ps_key_equal(k, k2))
        st = PS_EINTERNAL;
    ps_key_free(k);
    ps_key_free(k2);
    return st;
}

static ps_status op_zstd(void)
{
    const ps_codec *z = ps_codec_find("zstd");
    char buf[10000];
    memset(buf, 'z', sizeof buf);
    ps_bytes enc = PS_BYTES_INIT, dec = PS_BYTES_INIT;
    ps_status st = ps_codec_encode(z, buf, sizeof buf, &enc);
    if (st == PS_OK)
        st = ps_codec_decode(z, &enc, &dec);
    if (st == PS_OK && (dec.len != sizeof buf || memcmp(dec.data, buf, sizeof buf) != 0))
        st = PS_EINTERNAL;
    ps_bytes_free(&enc);
    ps_bytes_free(&dec);
    return st;
}

static ps_status op_bytes(void)
{
    ps_bytes b = PS_BYTES_INIT;
    ps_bytes_view("abc", 3, &b);
    ps_status st = ps_bytes_own(&b);
    ps_bytes_free(&b);
    return st;
}

static ps_status op_version_info(void)
{
    char *j = NULL;
    ps_status st = ps_version_info(&j);
    ps_free(j);
    return st;
}

static void test_torture_core(void **state)
{
    (void)state;
    torture("key", op_key);
    torture("zstd", op_zstd);
    torture("bytes", op_bytes);
    torture("version_info", op_version_info);
}

static void test_hooks(void **state)
{
    (void)state;
    ps_allocator bad = {PS_ALLOCATOR_VERSION, NULL, NULL, NULL, NULL};
    PS_ASSERT_STATUS(ps_set_allocator(&bad), PS_EINVAL);
    bad.version = 9;
    PS_ASSERT_STATUS(ps_set_allocator(&bad), PS_EINVAL);
    pst_torture_install();
    long before = pst_torture_total_allocations();
    char *s = ps_strdup("hello");
    assert_string_equal(s, "hello");
    assert_int_equal(pst_torture_total_allocations(), before + 1);
    ps_free(s);
    assert_null(ps_calloc(SIZE_MAX / 2, 4)); /* overflow is refused, not wrapped */
    ps_free(NULL);
    PS_ASSERT_OK(ps_set_allocator(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_torture_core),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
