/* Keys: canonical text, round trips, refusal of non-canonical text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "testutil.h"
#include "proxystore/sys/connector.h"

static void test_round_trip(void **state)
{
    (void)state;
    const char *fields[] = {"abc-123", "dir/with space", "ü%:"};
    ps_key *k = NULL, *k2 = NULL;
    PS_ASSERT_OK(ps_key_new("file", 3, fields, &k));
    assert_string_equal(ps_key_str(k), "file:abc-123/dir%2Fwith%20space/%C3%BC%25%3A");
    assert_string_equal(ps_key_type(k), "file");
    assert_int_equal(ps_key_nfields(k), 3);
    assert_string_equal(ps_key_field(k, 1), "dir/with space");
    assert_null(ps_key_field(k, 3));
    PS_ASSERT_OK(ps_key_parse(ps_key_str(k), &k2));
    assert_true(ps_key_equal(k, k2));
    assert_int_equal(ps_key_hash(k), ps_key_hash(k2));
    assert_string_equal(ps_key_field(k2, 2), "ü%:");
    ps_key_free(k2);
    PS_ASSERT_OK(ps_key_dup(k, &k2));
    assert_true(ps_key_equal(k, k2));
    ps_key_free(k2);
    ps_key_free(k);
}

static void test_empty_fields(void **state)
{
    (void)state;
    const char *fields[] = {"", ""};
    ps_key *k = NULL, *k2 = NULL;
    PS_ASSERT_OK(ps_key_new("endpoint", 2, fields, &k));
    assert_string_equal(ps_key_str(k), "endpoint:/");
    PS_ASSERT_OK(ps_key_parse("endpoint:/", &k2));
    assert_int_equal(ps_key_nfields(k2), 2);
    assert_true(ps_key_equal(k, k2));
    ps_key_free(k);
    ps_key_free(k2);
}

static void test_rejects(void **state)
{
    (void)state;
    ps_key *k = (ps_key *)0x1;
    const char *bad[] = {"",         "nocolon",   ":abc",
                         "File:abc", "file:a b",  "file:%2f",
                         "file:%41", "file:%",    "file:%4",
                         "file:%00", "file:a\nb", "toolongtypenameeeeeeeeeeeeeeeeeeeeeeeee:x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        PS_ASSERT_STATUS(ps_key_parse(bad[i], &k), PS_EINVAL);
        assert_null(k);
    }
    PS_ASSERT_STATUS(ps_key_parse(NULL, &k), PS_EINVAL);
    PS_ASSERT_STATUS(ps_key_parse("file:x", NULL), PS_EINVAL);
    const char *f[] = {"x"};
    PS_ASSERT_STATUS(ps_key_new("Bad", 1, f, &k), PS_EINVAL);
    PS_ASSERT_STATUS(ps_key_new("ok", 0, f, &k), PS_EINVAL);
    PS_ASSERT_STATUS(ps_key_new("ok", 1, NULL, &k), PS_EINVAL);
    const char *nf[] = {NULL};
    PS_ASSERT_STATUS(ps_key_new("ok", 1, nf, &k), PS_EINVAL);
    char big[PS_KEY_MAX_TEXT + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *bf[] = {big};
    PS_ASSERT_STATUS(ps_key_new("ok", 1, bf, &k), PS_EINVAL);
    assert_false(ps_key_equal(NULL, NULL));
    ps_key_free(NULL);
}

static void test_uuid_keys(void **state)
{
    (void)state;
    ps_key *a = NULL, *b = NULL;
    const char *extra[] = {"tag"};
    PS_ASSERT_OK(ps_key_new_uuid("local", 0, NULL, &a));
    PS_ASSERT_OK(ps_key_new_uuid("local", 1, extra, &b));
    assert_true(ps_uuid_is_canonical(ps_key_field(a, 0)));
    assert_string_equal(ps_key_field(b, 1), "tag");
    assert_false(ps_key_equal(a, b));
    ps_key_free(a);
    ps_key_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_fields),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_uuid_keys),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
