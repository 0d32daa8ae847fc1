/* Status names, descriptions and the thread-local message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "testutil.h"
#include "core/internal.h"
#include "proxystore/sys/connector.h"

/* Every status with its pinned value and name: values are part of the ABI and
 * never change; a new status is appended here and in status.h. */
static const struct {
    ps_status status;
    int value;
    const char *name;
} pinned[] = {
    {PS_OK, 0, "PS_OK"},
    {PS_ENOMEM, 1, "PS_ENOMEM"},
    {PS_EINVAL, 2, "PS_EINVAL"},
    {PS_NOT_FOUND, 3, "PS_NOT_FOUND"},
    {PS_EEXIST, 4, "PS_EEXIST"},
    {PS_EIO, 5, "PS_EIO"},
    {PS_ETIMEDOUT, 6, "PS_ETIMEDOUT"},
    {PS_ECONN, 7, "PS_ECONN"},
    {PS_EPROTO, 8, "PS_EPROTO"},
    {PS_ENOTSUP, 9, "PS_ENOTSUP"},
    {PS_EUNAVAILABLE, 10, "PS_EUNAVAILABLE"},
    {PS_ESTATE, 11, "PS_ESTATE"},
    {PS_EINTERNAL, 12, "PS_EINTERNAL"},
    {PS_ETOOBIG, 13, "PS_ETOOBIG"},
    {PS_ENOPOLICY, 14, "PS_ENOPOLICY"},
    {PS_ECODEC, 15, "PS_ECODEC"},
    {PS_EAUTH, 16, "PS_EAUTH"},
    {PS_ENOSPC, 17, "PS_ENOSPC"},
};

static void test_values_pinned(void **state)
{
    (void)state;
    size_t n = sizeof pinned / sizeof pinned[0];
    assert_int_equal(n, 18);
    for (size_t i = 0; i < n; i++) {
        /* The table lists the values in order, without a gap. */
        assert_int_equal(pinned[i].value, (int)i);
        assert_int_equal((int)pinned[i].status, pinned[i].value);
        assert_string_equal(ps_status_name(pinned[i].status), pinned[i].name);
        const char *text = ps_strerror(pinned[i].status);
        assert_non_null(text);
        assert_true(text[0] != '\0');
        assert_string_not_equal(text, "unknown status");
        /* Descriptions are distinct. */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(text, ps_strerror(pinned[j].status));
    }
    assert_int_equal(PS_ENOTFOUND, PS_NOT_FOUND);
}

static void test_unknown_values(void **state)
{
    (void)state;
    /* One past the last value, negative and large values are unknown, and
     * still get static strings, never NULL. */
    const int unknown[] = {18, 19, 999, -1, -2147483647};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ps_status s = (ps_status)unknown[i];
        assert_non_null(ps_strerror(s));
        assert_non_null(ps_status_name(s));
        assert_string_equal(ps_status_name(s), "PS_UNKNOWN");
        assert_string_equal(ps_strerror(s), "unknown status");
    }
}

static void test_message(void **state)
{
    (void)state;
    ps_clear_error();
    assert_string_equal(ps_last_error(), "");
    assert_int_equal(ps_error(PS_EIO, "file %s: %s", "/x", "boom"), PS_EIO);
    assert_string_equal(ps_last_error(), "file /x: boom");
    /* Formatting an argument that points into the message itself is safe. */
    ps_error(PS_EIO, "again: %s", ps_last_error());
    assert_string_equal(ps_last_error(), "again: file /x: boom");
    ps__preferr(PS_EIO, "store %s", "s1");
    assert_string_equal(ps_last_error(), "store s1: again: file /x: boom");
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ps_error(PS_EINVAL, "%s", big);
    assert_int_equal(strlen(ps_last_error()), PS__ERRMSG_SIZE - 1);
    ps__preferr(PS_EINVAL, "%s", big);
    assert_int_equal(strlen(ps_last_error()), PS__ERRMSG_SIZE - 1);
}

static void *other_thread(void *arg)
{
    (void)arg;
    /* A fresh thread starts with no message and does not see others'. */
    if (ps_last_error()[0] != '\0')
        return (void *)1;
    ps_error(PS_EIO, "thread message");
    return NULL;
}

static void test_thread_local(void **state)
{
    (void)state;
    ps_error(PS_EINVAL, "main message");
    pthread_t t;
    void *ret = (void *)2;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, &ret);
    assert_null(ret);
    assert_string_equal(ps_last_error(), "main message");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_pinned),
        cmocka_unit_test(test_unknown_values),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_thread_local),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
