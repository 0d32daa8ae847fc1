/* UUID4, random bytes, base64url, host name, data directory, version info. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_uuid_format_and_unique(void **state)
{
    (void)state;
    enum { N = 5000 };
    char(*ids)[PS_UUID_STR_LEN + 1] = malloc(N * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        PS_ASSERT_OK(ps_uuid4(ids[i]));
        assert_true(ps_uuid_is_canonical(ids[i]));
        assert_int_equal(ids[i][14], '4');
        assert_true(strchr("89ab", ids[i][19]) != NULL);
    }
    qsort(ids, N, sizeof *ids, cmp_str);
    for (int i = 1; i < N; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);
    free(ids);
    PS_ASSERT_STATUS(ps_uuid4(NULL), PS_EINVAL);
    assert_false(ps_uuid_is_canonical("6ba7b810-9dad-11d1-80b4-00c04fd430c"));
    assert_false(ps_uuid_is_canonical("6BA7B810-9DAD-11D1-80B4-00C04FD430C8"));
    assert_false(ps_uuid_is_canonical("6ba7b810-9dad-11d1-80b4-00c04fd430c8x"));
    assert_true(ps_uuid_is_canonical("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
    assert_false(ps_uuid_is_canonical(NULL));
    assert_false(ps_uuid_is_canonical(""));
    /* Every position matters: a wrong byte anywhere (a hyphen where a digit
     * belongs, a digit where a hyphen belongs, 'g', upper case, NUL). */
    const char *good = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    for (int i = 0; i < 36; i++) {
        char u[37];
        memcpy(u, good, sizeof u);
        const char bad[] = {good[i] == '-' ? 'a' : '-', 'g', 'G', ':', '\0'};
        for (size_t b = 0; b < sizeof bad; b++) {
            u[i] = bad[b];
            assert_false(ps_uuid_is_canonical(u));
        }
    }
}

static void test_uuid_after_fork(void **state)
{
    (void)state;
    /* Parent and child draw from pools that must not overlap after fork. */
    char parent_id[PS_UUID_STR_LEN + 1];
    PS_ASSERT_OK(ps_uuid4(parent_id)); /* make sure the pool is filled */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[PS_UUID_STR_LEN + 1];
        ps_uuid4(id);
        ssize_t w = write(fds[1], id, sizeof id);
        _exit(w == (ssize_t)sizeof id ? 0 : 1);
    }
    char child_id[PS_UUID_STR_LEN + 1];
    char mine[PS_UUID_STR_LEN + 1];
    PS_ASSERT_OK(ps_uuid4(mine));
    assert_int_equal(read(fds[0], child_id, sizeof child_id), (ssize_t)sizeof child_id);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(strcmp(mine, child_id) != 0);
    close(fds[0]);
    close(fds[1]);
}

static void test_random_bytes(void **state)
{
    (void)state;
    unsigned char a[32], b[32], big[10000];
    PS_ASSERT_OK(ps_random_bytes(a, sizeof a));
    PS_ASSERT_OK(ps_random_bytes(b, sizeof b));
    assert_memory_not_equal(a, b, sizeof a);
    PS_ASSERT_OK(ps_random_bytes(big, sizeof big));
    PS_ASSERT_OK(ps_random_bytes(NULL, 0));
    PS_ASSERT_STATUS(ps_random_bytes(NULL, 1), PS_EINVAL);
}

static void check_b64(const char *in, const char *want)
{
    char out[64];
    size_t n = strlen(in);
    assert_int_equal(ps_base64url_encoded_size(n), strlen(want) + 1);
    assert_int_equal(ps_base64url_encode(in, n, out), strlen(want));
    assert_string_equal(out, want);
    unsigned char dec[64];
    size_t dlen = 99;
    PS_ASSERT_OK(ps_base64url_decode(want, strlen(want), dec, &dlen));
    assert_int_equal(dlen, n);
    assert_memory_equal(dec, in, n);
}

static void test_base64url(void **state)
{
    (void)state;
    /* RFC 4648 section 10 vectors, without padding. */
    check_b64("", "");
    check_b64("f", "Zg");
    check_b64("fo", "Zm8");
    check_b64("foo", "Zm9v");
    check_b64("foob", "Zm9vYg");
    check_b64("fooba", "Zm9vYmE");
    check_b64("foobar", "Zm9vYmFy");
    /* URL-safe alphabet. */
    unsigned char raw[] = {0xfb, 0xff, 0xbf};
    char out[8];
    ps_base64url_encode(raw, 3, out);
    assert_string_equal(out, "-_-_");
    unsigned char dec[8];
    size_t n;
    const char *bad[] = {"Zg==", "Z", "Zm9v+", "Zm/v", "Zm 9", "Zh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        PS_ASSERT_STATUS(ps_base64url_decode(bad[i], strlen(bad[i]), dec, &n), PS_EINVAL);
    PS_ASSERT_STATUS(ps_base64url_decode("Zg", 2, dec, NULL), PS_EINVAL);
}

static void test_hostname(void **state)
{
    (void)state;
    char buf[256];
    unsetenv("PROXYSTORE_HOSTNAME");
    PS_ASSERT_OK(ps_hostname(buf, sizeof buf));
    char sys[256];
    gethostname(sys, sizeof sys);
    assert_string_equal(buf, sys);
    setenv("PROXYSTORE_HOSTNAME", "node-17.cluster", 1);
    PS_ASSERT_OK(ps_hostname(buf, sizeof buf));
    assert_string_equal(buf, "node-17.cluster");
    PS_ASSERT_STATUS(ps_hostname(buf, 4), PS_EINVAL);
    PS_ASSERT_STATUS(ps_hostname(NULL, 4), PS_EINVAL);
    unsetenv("PROXYSTORE_HOSTNAME");
}

static void test_data_dir(void **state)
{
    (void)state;
    char *d = NULL;
    setenv("HOME", "/home/u", 1);
    unsetenv("PROXYSTORE_HOME");
    unsetenv("XDG_DATA_HOME");
    PS_ASSERT_OK(ps_data_dir(&d));
    assert_string_equal(d, "/home/u/.local/share/proxystore");
    ps_free(d);
    setenv("XDG_DATA_HOME", "/xdg", 1);
    PS_ASSERT_OK(ps_data_dir(&d));
    assert_string_equal(d, "/xdg/proxystore");
    ps_free(d);
    setenv("PROXYSTORE_HOME", "/ps", 1);
    PS_ASSERT_OK(ps_data_dir(&d));
    assert_string_equal(d, "/ps");
    ps_free(d);
    unsetenv("PROXYSTORE_HOME");
    unsetenv("XDG_DATA_HOME");
    unsetenv("HOME");
    PS_ASSERT_STATUS(ps_data_dir(&d), PS_EINVAL);
    PS_ASSERT_STATUS(ps_data_dir(NULL), PS_EINVAL);
}

static void test_version_info(void **state)
{
    (void)state;
    assert_string_equal(ps_version(), PS_VERSION_STRING);
    char *json = NULL;
    PS_ASSERT_OK(ps_version_info(&json));
    assert_non_null(strstr(json, "\"version\":\"" PS_VERSION_STRING "\""));
    assert_non_null(strstr(json, "\"raw\""));
    assert_non_null(strstr(json, "\"zstd\""));
    ps_free(json);
    PS_ASSERT_STATUS(ps_version_info(NULL), PS_EINVAL);
    assert_true(ps_now_ns() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_format_and_unique),
        cmocka_unit_test(test_uuid_after_fork),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_hostname),
        cmocka_unit_test(test_data_dir),
        cmocka_unit_test(test_version_info),
    };
    return pst_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
