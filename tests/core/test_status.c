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

static void test_names_pinned(void **state)
{
    (void)state;
    /* Values are part of the ABI: they must never change. */
    assert_int_equal(PS_OK, 0);
    assert_int_equal(PS_ENOMEM, 1);
    assert_int_equal(PS_EINVAL, 2);
    assert_int_equal(PS_NOT_FOUND, 3);
    assert_int_equal(PS_ENOTSUP, 9);
    assert_int_equal(PS_ENOSPC, 17);
    for (int s = 0; s < PS_STATUS_COUNT_; s++) {
        assert_non_null(ps_strerror((ps_status)s));
        assert_non_null(ps_status_name((ps_status)s));
        assert_true(strncmp(ps_status_name((ps_status)s), "PS_", 3) == 0);
    }
    assert_string_equal(ps_status_name(PS_EINVAL), "PS_EINVAL");
    assert_string_equal(ps_status_name((ps_status)999), "PS_UNKNOWN");
    assert_string_equal(ps_strerror((ps_status)-1), "unknown status");
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
        cmocka_unit_test(test_names_pinned),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_thread_local),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
