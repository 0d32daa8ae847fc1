/*
 * No usable libdaos: PROXYSTORE_DAOS_LIBRARY names a missing file (argv[1]
 * "missing") or a library without the DAOS symbols ("nosym"). Opening a DAOS
 * connector must fail with PS_EUNAVAILABLE and dlerror's text, every time,
 * while the rest of the library keeps working. One process per case: the
 * library is loaded once per process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "proxystore/connectors/daos.h"
#include "proxystore/connectors/local.h"
#include "proxystore/sys/connector.h"

static const char *g_mode;

static void test_unavailable(void **state)
{
    (void)state;
    const char *want = strcmp(g_mode, "missing") == 0 ? "cannot open shared object file"
                                                      : "missing symbol daos_fini";
    ps_connector *c = NULL;
    for (int i = 0; i < 2; i++) { /* the answer is remembered, not retried */
        PS_ASSERT_STATUS(ps_connector_open("daos",
                                           "{\"pool\": \"p\", \"container\": \"c\", "
                                           "\"namespace\": \"n\"}",
                                           &c),
                         PS_EUNAVAILABLE);
        assert_null(c);
        assert_non_null(strstr(ps_last_error(), want));
        assert_non_null(strstr(ps_last_error(), getenv("PROXYSTORE_DAOS_LIBRARY")));
    }
    PS_ASSERT_STATUS(ps_daos_connector_open(&(ps_daos_options){.version = PS_DAOS_OPTIONS_VERSION,
                                                               .pool = "p",
                                                               .container = "c",
                                                               .namespace_ = "n",
                                                               .clear = false},
                                            &c),
                     PS_EUNAVAILABLE);
    /* option errors are still reported as such */
    PS_ASSERT_STATUS(ps_connector_open("daos", "{\"pool\": \"p\"}", &c), PS_EINVAL);
    const char *detail = NULL;
    assert_false(ps_daos_available(&detail));
    assert_non_null(strstr(detail, want));
}

static void test_rest_works(void **state)
{
    (void)state;
    /* the type is still registered */
    bool listed = false;
    for (size_t i = 0; i < ps_connector_type_count(); i++)
        if (strcmp(ps_connector_type_name(i), "daos") == 0)
            listed = true;
    assert_true(listed);
    /* other connectors work */
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_local_connector_open(NULL, &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "still fine", 10, NULL, &k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, 10);
    ps_bytes_free(&b);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    /* and the features say so */
    char *info = NULL;
    PS_ASSERT_OK(ps_version_info(&info));
    json_error_t err;
    json_t *j = json_loads(info, 0, &err);
    assert_non_null(j);
    json_t *daos = json_object_get(json_object_get(j, "features"), "daos");
    assert_true(json_is_false(json_object_get(daos, "available")));
    assert_non_null(strstr(json_string_value(json_object_get(daos, "detail")),
                           strcmp(g_mode, "missing") == 0 ? "cannot open shared object file"
                                                          : "missing symbol"));
    json_decref(j);
    ps_free(info);
}

int main(int argc, char **argv)
{
    if (argc != 2 || getenv("PROXYSTORE_DAOS_LIBRARY") == NULL) {
        fprintf(stderr, "usage: PROXYSTORE_DAOS_LIBRARY=... %s missing|nosym\n", argv[0]);
        return 2;
    }
    g_mode = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unavailable),
        cmocka_unit_test(test_rest_works),
    };
    return pst_exit(cmocka_run_group_tests_name("daos.nolib", tests, NULL, NULL));
}
