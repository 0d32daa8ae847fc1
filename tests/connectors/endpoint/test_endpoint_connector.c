/*
 * The endpoint connector against real proxystore-endpoint processes:
 * discovery through config.toml files as upstream's EndpointConnector does,
 * its error messages, bearer tokens, large objects, keys of other endpoints,
 * and a server that goes away.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eptest.h"
#include "testutil.h"
#include "proxystore/connectors/endpoint.h"
#include "proxystore/sys/connector.h"

#define UUID_A "6f1e3c2a-9d0b-4c55-8a41-2b7f0e9d1c11"
#define UUID_B "0c9d8e7f-1a2b-4c3d-9e4f-5a6b7c8d9e0f"
#define TOKEN  "s3cret-token"

static ept_server srv;     /* plain, uuid A */
static ept_server srv_tok; /* with a bearer token */
static char *home;

static void stop_servers(void)
{
    ept_stop(&srv);
    ept_stop(&srv_tok);
}

static void on_fatal(int sig)
{
    /* A crashing test must not leave servers behind. */
    if (srv.pid > 0)
        kill(srv.pid, SIGKILL);
    if (srv_tok.pid > 0)
        kill(srv_tok.pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void write_config(const char *name, const char *uuid, const char *host, int port)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.toml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "name = \"%s\"\nuuid = \"%s\"\nport = %d\n", name, uuid, port);
    if (host)
        fprintf(f, "host = \"%s\"\n", host);
    fprintf(f, "host_type = \"ip\"\n\n[storage]\nmax_object_size = 100000000\n");
    fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGABRT, on_fatal);
    signal(SIGSEGV, on_fatal);
    const char *a[] = {"--uuid", UUID_A, NULL};
    const char *t[] = {"--token", TOKEN, NULL};
    if (ept_start(&srv, a) != 0 || ept_start(&srv_tok, t) != 0)
        return -1;
    home = pst_mkdtemp("ep-home");
    return home ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_servers();
    pst_rmtree(home);
    free(home);
    return 0;
}

static ps_status open_with(const char *json, ps_connector **c)
{
    return ps_connector_open("endpoint", json, c);
}

static void test_discovery(void **state)
{
    (void)state;
    write_config("ep-a", UUID_A, "127.0.0.1", srv.port);
    char opts[1024];
    snprintf(opts, sizeof opts, "{\"endpoints\": [\"%s\"], \"proxystore_dir\": \"%s\"}", UUID_A,
             home);
    ps_connector *c = NULL;
    PS_ASSERT_OK(open_with(opts, &c));
    assert_string_equal(ps_endpoint_connector_uuid(c), UUID_A);
    assert_string_equal(ps_endpoint_connector_url(c), srv.url);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "hello", 5, NULL, &k));
    /* The key carries the endpoint's uuid, as upstream's EndpointKey. */
    assert_string_equal(ps_key_field(k, 1), UUID_A);
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "hello", 5);
    ps_bytes_free(&b);

    /* The same through $PROXYSTORE_HOME (proxystore_dir null). */
    setenv("PROXYSTORE_HOME", home, 1);
    ps_connector *c2 = NULL;
    snprintf(opts, sizeof opts, "{\"endpoints\": [\"%s\"]}", UUID_A);
    PS_ASSERT_OK(open_with(opts, &c2));
    PS_ASSERT_OK(ps_connector_get(c2, k, &b));
    ps_bytes_free(&b);
    unsetenv("PROXYSTORE_HOME");

    /* config() -> open() gives an equal configuration. */
    char *cfg = NULL, *cfg2 = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    char want[2048];
    snprintf(want, sizeof want,
             "{\"kind\":\"endpoint\",\"options\":{\"endpoints\":[\"%s\"],\"proxystore_dir\":\"%s\","
             "\"timeout_ms\":0,\"token\":null,\"url\":null}}",
             UUID_A, home);
    assert_string_equal(cfg, want);
    json_t *j = json_loads(cfg, 0, NULL);
    ps_connector *c3 = NULL;
    PS_ASSERT_OK(ps_connector_from_config_json(j, &c3));
    json_decref(j);
    PS_ASSERT_OK(ps_connector_config(c3, &cfg2));
    assert_string_equal(cfg, cfg2);
    ps_free(cfg);
    ps_free(cfg2);
    PS_ASSERT_OK(ps_connector_evict(c3, k));
    PS_ASSERT_STATUS(ps_connector_get(c, k, &b), PS_NOT_FOUND);
    ps_key_free(k);
    ps_connector_close(c3, PS_CLEAR_ALL);
    ps_connector_close(c2, PS_CLEAR_ALL);
    ps_connector_close(c, PS_CLEAR_ALL);
}

/* ps_endpoint_connector_open: the C form of the same options. */
static void test_typed_open(void **state)
{
    (void)state;
    write_config("ep-typed", UUID_A, "127.0.0.1", srv.port);
    const char *eps[] = {UUID_A};
    ps_endpoint_options o;
    ps_endpoint_options_init(&o);
    o.endpoints = eps;
    o.n_endpoints = 1;
    o.proxystore_dir = home;
    o.timeout_ms = 5000;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_endpoint_connector_open(&o, &c));
    assert_string_equal(ps_endpoint_connector_uuid(c), UUID_A);
    assert_string_equal(ps_endpoint_connector_url(c), srv.url);
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    assert_non_null(strstr(cfg, "\"timeout_ms\":5000"));
    ps_free(cfg);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "typed", 5, NULL, &k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, 5);
    ps_bytes_free(&b);
    ps_key_free(k);
    ps_connector_close(c, PS_CLEAR_ALL);

    /* by url with a token */
    ps_endpoint_options_init(&o);
    o.url = srv_tok.url;
    o.token = TOKEN;
    PS_ASSERT_OK(ps_endpoint_connector_open(&o, &c));
    ps_connector_close(c, PS_CLEAR_ALL);

    /* refusals: NULL options, unknown version, no endpoint, a NULL or bad UUID */
    c = (ps_connector *)0x1;
    PS_ASSERT_STATUS(ps_endpoint_connector_open(NULL, &c), PS_EINVAL);
    assert_null(c);
    ps_endpoint_options_init(&o);
    PS_ASSERT_STATUS(ps_endpoint_connector_open(&o, &c), PS_EINVAL);
    o.version = 0;
    o.url = srv.url;
    PS_ASSERT_STATUS(ps_endpoint_connector_open(&o, &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "unknown options version 0"));
    ps_endpoint_options_init(&o);
    const char *bad[] = {NULL};
    o.endpoints = bad;
    o.n_endpoints = 1;
    PS_ASSERT_STATUS(ps_endpoint_connector_open(&o, &c), PS_EINVAL);
    bad[0] = "not-a-uuid";
    PS_ASSERT_STATUS(ps_endpoint_connector_open(&o, &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "is not a valid UUID4"));
    PS_ASSERT_STATUS(ps_endpoint_connector_open(&o, NULL), PS_EINVAL);
    assert_null(c);
}

static void test_uuid_forms(void **state)
{
    (void)state;
    /* Upstream parses with UUID(s, version=4): braces, urn:, no hyphens,
     * upper case all name the same endpoint. */
    const char *forms[] = {"{6F1E3C2A-9D0B-4C55-8A41-2B7F0E9D1C11}",
                           "urn:uuid:6f1e3c2a-9d0b-4c55-8a41-2b7f0e9d1c11",
                           "6f1e3c2a9d0b4c558a412b7f0e9d1c11"};
    for (size_t i = 0; i < 3; i++) {
        char opts[512];
        snprintf(opts, sizeof opts, "{\"endpoints\": [\"%s\"], \"url\": \"%s\"}", forms[i],
                 srv.url);
        ps_connector *c = NULL;
        PS_ASSERT_OK(open_with(opts, &c));
        assert_string_equal(ps_endpoint_connector_uuid(c), UUID_A);
        ps_connector_close(c, PS_CLEAR_KEEP);
    }
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(open_with("{\"endpoints\": [\"not-a-uuid\"]}", &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "is not a valid UUID4"));
    PS_ASSERT_STATUS(open_with("{\"endpoints\": []}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(open_with("{\"endpoints\": [7]}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(open_with("{\"endpoints\": \"x\"}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(open_with("{\"url\": \"ftp://x\"}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(open_with("{\"url\": \"http://x\", \"timeout_ms\": -1}", &c), PS_EINVAL);
    PS_ASSERT_STATUS(open_with("{\"url\": \"http://x\", \"bogus\": 1}", &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "bogus"));
    assert_null(c);
}

static void test_discovery_failures(void **state)
{
    (void)state;
    char opts[1024];
    ps_connector *c = NULL;
    /* Configured but never started: no host in config.toml. */
    write_config("ep-idle", UUID_B, NULL, 1);
    snprintf(opts, sizeof opts, "{\"endpoints\": [\"%s\"], \"proxystore_dir\": \"%s\"}", UUID_B,
             home);
    PS_ASSERT_STATUS(open_with(opts, &c), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), "Failed to find an endpoint configuration"));
    assert_non_null(strstr(ps_last_error(), "has not been started"));
    /* A config whose server answers with another uuid. */
    write_config("ep-idle", UUID_B, "127.0.0.1", srv.port);
    PS_ASSERT_STATUS(open_with(opts, &c), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), "did not answer with its uuid"));
    /* A uuid no config has. */
    snprintf(opts, sizeof opts,
             "{\"endpoints\": [\"11111111-2222-4333-8444-555555555555\"], \"proxystore_dir\": "
             "\"%s\"}",
             home);
    PS_ASSERT_STATUS(open_with(opts, &c), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), "Failed to find"));
    /* A url whose uuid is not in the list. */
    snprintf(opts, sizeof opts, "{\"endpoints\": [\"%s\"], \"url\": \"%s\"}", UUID_B, srv.url);
    PS_ASSERT_STATUS(open_with(opts, &c), PS_EINVAL);
    /* A closed port. */
    int port = pst_free_port();
    snprintf(opts, sizeof opts, "{\"url\": \"http://127.0.0.1:%d\"}", port);
    PS_ASSERT_STATUS(open_with(opts, &c), PS_ECONN);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    assert_non_null(strstr(ps_last_error(), want));
    assert_null(c);
    char path[4200];
    snprintf(path, sizeof path, "%s/ep-idle", home);
    pst_rmtree(path);
}

static void test_token(void **state)
{
    (void)state;
    char opts[512];
    ps_connector *c = NULL;
    snprintf(opts, sizeof opts, "{\"url\": \"%s\"}", srv_tok.url);
    PS_ASSERT_STATUS(open_with(opts, &c), PS_EAUTH);
    snprintf(opts, sizeof opts, "{\"url\": \"%s\", \"token\": \"wrong\"}", srv_tok.url);
    PS_ASSERT_STATUS(open_with(opts, &c), PS_EAUTH);
    snprintf(opts, sizeof opts, "{\"url\": \"%s\", \"token\": \"%s\"}", srv_tok.url, TOKEN);
    PS_ASSERT_OK(open_with(opts, &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "tok", 3, NULL, &k));
    bool ex = false;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_true(ex);
    ps_key_free(k);
    ps_connector_close(c, PS_CLEAR_KEEP);
    snprintf(opts, sizeof opts, "{\"url\": \"%s\", \"token\": \"a\\nb\"}", srv_tok.url);
    PS_ASSERT_STATUS(open_with(opts, &c), PS_EINVAL);
}

static void test_objects(void **state)
{
    (void)state;
    char opts[512];
    snprintf(opts, sizeof opts, "{\"url\": \"%s\"}", srv.url);
    ps_connector *c = NULL;
    PS_ASSERT_OK(open_with(opts, &c));
    /* Upstream's multi-chunk case: 2 * 1,000,000 + 1 bytes. */
    size_t n = 2 * 1000000 + 1;
    unsigned char *big = malloc(n);
    pst_fill(big, n, 99);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, big, n, NULL, &k));
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &b));
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, big, n);
    ps_bytes_free(&b);
    ps_key_free(k);
    free(big);
    /* An empty object cannot go through upstream's API. */
    PS_ASSERT_STATUS(ps_connector_put(c, "", 0, NULL, &k), PS_ENOTSUP);
    /* A key made by another endpoint is asked of ours with endpoint=<other>;
     * without peers our endpoint serves it locally, as upstream in SOLO mode. */
    const char *f[] = {"8a3c1a52-44f5-4ad5-b0c9-7f5a8d6e1234", UUID_B};
    ps_key *other = NULL;
    PS_ASSERT_OK(ps_key_new("endpoint", 2, f, &other));
    PS_ASSERT_OK(ps_connector_set(c, other, "remote", 6));
    PS_ASSERT_OK(ps_connector_get(c, other, &b));
    assert_memory_equal(b.data, "remote", 6);
    ps_bytes_free(&b);
    PS_ASSERT_OK(ps_connector_evict(c, other));
    ps_key_free(other);
    /* Malformed keys of the right type. */
    const char *f1[] = {"x"};
    const char *f2[] = {"", UUID_A};
    const char *f3[] = {"8a3c1a52-44f5-4ad5-b0c9-7f5a8d6e1234", "not-a-uuid"};
    ps_key *bad = NULL;
    PS_ASSERT_OK(ps_key_new("endpoint", 1, f1, &bad));
    PS_ASSERT_STATUS(ps_connector_get(c, bad, &b), PS_EINVAL);
    ps_key_free(bad);
    PS_ASSERT_OK(ps_key_new("endpoint", 2, f2, &bad));
    PS_ASSERT_STATUS(ps_connector_get(c, bad, &b), PS_EINVAL);
    ps_key_free(bad);
    PS_ASSERT_OK(ps_key_new("endpoint", 2, f3, &bad));
    PS_ASSERT_STATUS(ps_connector_get(c, bad, &b), PS_EINVAL);
    ps_key_free(bad);
    ps_connector_close(c, PS_CLEAR_ALL);
}

static void test_server_goes_away(void **state)
{
    (void)state;
    ept_server tmp;
    assert_int_equal(ept_start(&tmp, NULL), 0);
    char opts[512];
    snprintf(opts, sizeof opts, "{\"url\": \"%s\"}", tmp.url);
    ps_connector *c = NULL;
    PS_ASSERT_OK(open_with(opts, &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "x", 1, NULL, &k));
    ept_kill9(&tmp);
    ps_bytes b = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(c, k, &b), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), tmp.url));
    bool ex = true;
    PS_ASSERT_STATUS(ps_connector_exists(c, k, &ex), PS_ECONN);
    assert_false(ex);
    ps_key_free(k);
    ps_connector_close(c, PS_CLEAR_ALL);
    pst_rmtree(tmp.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_typed_open),
        cmocka_unit_test(test_uuid_forms),
        cmocka_unit_test(test_discovery_failures),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_server_goes_away),
    };
    return pst_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
