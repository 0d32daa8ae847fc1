/*
 * The process-wide store registry (upstream tests/store/init_test.py):
 * register / lookup / unregister, replace, close unregisters, and
 * get_or_create building a store once while 8 threads race for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "testutil.h"
#include "test_store_memconn.h"

static int setup(void **state)
{
    (void)state;
    memt_register();
    memt_reset_counters();
    return 0;
}

static void test_register_lookup(void **state)
{
    (void)state;
    ps_store *s = memt_store_new("reg", NULL);
    assert_null(ps_store_lookup("reg"));
    PS_ASSERT_OK(ps_store_register(s, false));
    ps_store *found = ps_store_lookup("reg");
    assert_ptr_equal(found, s);
    ps_store_unref(found);

    /* same name again: refused, unless replace */
    PS_ASSERT_STATUS(ps_store_register(s, false), PS_EEXIST);
    assert_non_null(strstr(ps_last_error(), "A store named \"reg\" already exists."));
    ps_store *s2 = memt_store_new("reg", NULL);
    PS_ASSERT_STATUS(ps_store_register(s2, false), PS_EEXIST);
    PS_ASSERT_OK(ps_store_register(s2, true));
    found = ps_store_lookup("reg");
    assert_ptr_equal(found, s2);
    ps_store_unref(found);

    /* closing the replaced store does not unregister the new one */
    PS_ASSERT_OK(ps_store_close(s, PS_CLEAR_DEFAULT));
    found = ps_store_lookup("reg");
    assert_ptr_equal(found, s2);
    ps_store_unref(found);

    PS_ASSERT_OK(ps_store_unregister("reg"));
    assert_null(ps_store_lookup("reg"));
    PS_ASSERT_OK(ps_store_unregister("reg"));         /* unknown: fine */
    PS_ASSERT_OK(ps_store_unregister("never-there")); /* unknown: fine */
    PS_ASSERT_OK(ps_store_close(s2, PS_CLEAR_DEFAULT));
    assert_int_equal(atomic_load(&memt_opens), atomic_load(&memt_closes));
}

static void test_register_option_and_close(void **state)
{
    (void)state;
    ps_store_options o;
    ps_store_options_init(&o);
    o.register_store = true;
    ps_store *s = memt_store_new("opt-reg", &o);
    ps_store *found = ps_store_lookup("opt-reg");
    assert_ptr_equal(found, s);
    ps_store_unref(found);

    /* a second store with register_store and the same name: PS_EEXIST, and
     * its connector stays the caller's (open, not closed by the failure) */
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("memt", NULL, &c));
    ps_store *s2 = NULL;
    long closes = atomic_load(&memt_closes);
    PS_ASSERT_STATUS(ps_store_new("opt-reg", c, &o, &s2), PS_EEXIST);
    assert_null(s2);
    assert_int_equal(atomic_load(&memt_closes), closes);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_DEFAULT));

    /* the registry keeps the store alive after the creator's reference goes,
     * and close through a looked-up reference unregisters it */
    ps_store_unref(s);
    found = ps_store_lookup("opt-reg");
    assert_non_null(found);
    PS_ASSERT_OK(ps_store_close(found, PS_CLEAR_DEFAULT));
    assert_null(ps_store_lookup("opt-reg"));
    assert_int_equal(atomic_load(&memt_opens), atomic_load(&memt_closes));
}

static const char *cfg_a = "{\"name\":\"goc\",\"connector\":{\"kind\":\"memt\"}}";

static void test_get_or_create(void **state)
{
    (void)state;
    ps_store *s1 = NULL, *s2 = NULL;
    PS_ASSERT_OK(ps_store_get_or_create(cfg_a, &s1));
    PS_ASSERT_OK(ps_store_get_or_create(cfg_a, &s2));
    assert_ptr_equal(s1, s2);
    assert_int_equal(atomic_load(&memt_opens), 1);
    ps_store *found = ps_store_lookup("goc");
    assert_ptr_equal(found, s1);
    ps_store_unref(found);
    /* the stored config keeps auto_register as given (false) */
    char *json = NULL;
    PS_ASSERT_OK(ps_store_config(s1, &json));
    assert_non_null(strstr(json, "\"auto_register\":false"));
    ps_free(json);
    ps_store_unref(s2);

    /* after close, get_or_create builds a fresh store */
    PS_ASSERT_OK(ps_store_close(s1, PS_CLEAR_DEFAULT));
    assert_null(ps_store_lookup("goc"));
    PS_ASSERT_OK(ps_store_get_or_create(cfg_a, &s1));
    assert_int_equal(atomic_load(&memt_opens), 2);
    PS_ASSERT_OK(ps_store_close(s1, PS_CLEAR_DEFAULT));

    /* with auto_register true it is registered once, no PS_EEXIST */
    const char *cfg_b =
        "{\"name\":\"goc-b\",\"connector\":{\"kind\":\"memt\"},\"auto_register\":true}";
    PS_ASSERT_OK(ps_store_get_or_create(cfg_b, &s1));
    PS_ASSERT_OK(ps_store_get_or_create(cfg_b, &s2));
    assert_ptr_equal(s1, s2);
    ps_store_unref(s2);
    PS_ASSERT_OK(ps_store_close(s1, PS_CLEAR_DEFAULT));
    assert_null(ps_store_lookup("goc-b"));

    /* bad configs: nothing is registered */
    PS_ASSERT_STATUS(ps_store_get_or_create("{\"connector\":{\"kind\":\"memt\"}}", &s1), PS_EINVAL);
    PS_ASSERT_STATUS(
        ps_store_get_or_create("{\"name\":\"bad\",\"connector\":{\"kind\":\"x\"}}", &s1),
        PS_EINVAL);
    assert_null(s1);
    assert_null(ps_store_lookup("bad"));
    PS_ASSERT_STATUS(
        ps_store_get_or_create(
            "{\"name\":\"bad\",\"connector\":{\"kind\":\"memt\",\"options\":{\"fail_open\":true}}}",
            &s1),
        PS_ECONN);
    assert_null(ps_store_lookup("bad"));
    assert_int_equal(atomic_load(&memt_opens), atomic_load(&memt_closes));
}

/* ---- 8 threads race get_or_create on an unknown name ---------------------- */

#define RACE_THREADS 8

typedef struct race_arg {
    pthread_barrier_t *barrier;
    const char *config;
    ps_store *got;
    ps_status st;
} race_arg;

static void *race_main(void *p)
{
    race_arg *a = p;
    pthread_barrier_wait(a->barrier);
    a->st = ps_store_get_or_create(a->config, &a->got);
    return NULL;
}

static void test_get_or_create_race(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        char cfg[160];
        snprintf(cfg, sizeof cfg,
                 "{\"name\":\"race-%d\",\"connector\":{\"kind\":\"memt\",\"options\":{\"tag\":"
                 "\"r%d\"}}}",
                 round, round);
        long opens = atomic_load(&memt_opens);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, RACE_THREADS);
        pthread_t th[RACE_THREADS];
        race_arg args[RACE_THREADS];
        for (int i = 0; i < RACE_THREADS; i++) {
            args[i] = (race_arg){&barrier, cfg, NULL, PS_EINTERNAL};
            assert_int_equal(pthread_create(&th[i], NULL, race_main, &args[i]), 0);
        }
        for (int i = 0; i < RACE_THREADS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&barrier);
        assert_int_equal(atomic_load(&memt_opens), opens + 1); /* built once */
        for (int i = 0; i < RACE_THREADS; i++) {
            assert_int_equal(args[i].st, PS_OK);
            assert_ptr_equal(args[i].got, args[0].got);
        }
        for (int i = 1; i < RACE_THREADS; i++)
            ps_store_unref(args[i].got);
        PS_ASSERT_OK(ps_store_close(args[0].got, PS_CLEAR_DEFAULT));
    }
    assert_int_equal(atomic_load(&memt_opens), atomic_load(&memt_closes));
}

/* Racing with a failing build: every thread fails, nothing is registered. */
static void test_get_or_create_race_failure(void **state)
{
    (void)state;
    const char *cfg =
        "{\"name\":\"race-fail\",\"connector\":{\"kind\":\"memt\",\"options\":{\"fail_open\":"
        "true}}}";
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, RACE_THREADS);
    pthread_t th[RACE_THREADS];
    race_arg args[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i] = (race_arg){&barrier, cfg, NULL, PS_OK};
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &args[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < RACE_THREADS; i++) {
        assert_int_equal(args[i].st, PS_ECONN);
        assert_null(args[i].got);
    }
    assert_null(ps_store_lookup("race-fail"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_register_lookup, setup),
        cmocka_unit_test_setup(test_register_option_and_close, setup),
        cmocka_unit_test_setup(test_get_or_create, setup),
        cmocka_unit_test_setup(test_get_or_create_race, setup),
        cmocka_unit_test_setup(test_get_or_create_race_failure, setup),
    };
    return pst_exit(cmocka_run_group_tests_name("registry", tests, NULL, NULL));
}
