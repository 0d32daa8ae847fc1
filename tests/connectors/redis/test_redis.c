/*
 * Redis connector: behaviour on the shared fixture server (options, config
 * round trip, key checks, upstream's layout, close(clear), large objects,
 * large batches, databases, unix socket).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis_testutil.h"
#include "testutil.h"
#include "proxystore/connectors/redis.h"
#include "proxystore/sys/connector.h"

static char g_host[256], g_sock[1024];
static int g_port;

static ps_connector *open_tcp(const char *extra)
{
    char *json = pstr_shared_tcp_json(extra);
    assert_non_null(json);
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("redis", json, &c));
    free(json);
    return c;
}

static redisContext *raw(void)
{
    redisContext *c = pstr_raw_tcp(g_host, g_port);
    assert_non_null(c);
    return c;
}

static char *config_text(ps_connector *c)
{
    char *j = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &j));
    return j;
}

/* ---- options and configuration --------------------------------------------- */

static void test_config_round_trip(void **state)
{
    (void)state;
    ps_connector *c = open_tcp(NULL);
    char *j = config_text(c);
    char want[512];
    snprintf(want, sizeof want,
             "{\"kind\": \"redis\", \"options\": {\"clear\": false, \"hostname\": \"%s\", "
             "\"port\": %d}}",
             g_host, g_port);
    /* ps__json_dump is compact with sorted keys: compare after normalizing. */
    json_t *a = json_loads(j, 0, NULL), *b = json_loads(want, 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);

    /* Every option, non-default values: open(config()) gives the same text. */
    const char *extra = "\"db\": 2, \"clear\": true, \"connect_timeout_ms\": 3000, "
                        "\"command_timeout_ms\": 4000";
    ps_connector *c2 = open_tcp(extra);
    char *j2 = config_text(c2);
    json_t *cfg = json_loads(j2, 0, NULL);
    assert_non_null(cfg);
    char *opts = json_dumps(json_object_get(cfg, "options"), JSON_SORT_KEYS);
    ps_connector *c3 = NULL;
    PS_ASSERT_OK(ps_connector_open("redis", opts, &c3));
    char *j3 = config_text(c3);
    assert_string_equal(j2, j3);
    assert_non_null(strstr(j2, "\"db\":2"));
    assert_non_null(strstr(j2, "\"connect_timeout_ms\":3000"));
    /* The whole configuration object too. */
    ps_connector *c4 = NULL;
    PS_ASSERT_OK(ps_connector_from_config_json(cfg, &c4));
    char *j4 = config_text(c4);
    assert_string_equal(j2, j4);
    free(opts);
    json_decref(cfg);

    /* Upstream's type names open the same type. */
    char *json = pstr_shared_tcp_json(NULL);
    ps_connector *c5 = NULL;
    PS_ASSERT_OK(ps_connector_open("proxystore.connectors.redis.RedisConnector", json, &c5));
    assert_string_equal(ps_connector_kind(c5), "redis");
    assert_true(ps_connector_is_threadsafe(c5));
    assert_true(ps_connector_is_deferrable(c5));
    free(json);

    ps_free(j);
    ps_free(j2);
    ps_free(j3);
    ps_free(j4);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(c3, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(c4, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(c5, PS_CLEAR_KEEP));
}

static void test_c_options(void **state)
{
    (void)state;
    ps_redis_options o;
    ps_redis_options_init(&o);
    o.hostname = g_host;
    o.port = g_port;
    o.db = 1;
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_redis_connector_open(&o, &c));
    char *j = config_text(c);
    assert_non_null(strstr(j, "\"db\":1"));
    assert_null(strstr(j, "timeout")); /* defaults are left out */
    ps_free(j);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));

    /* (NULL options are the defaults: localhost:6379, not this test's server.) */
    PS_ASSERT_STATUS(ps_redis_connector_open(&o, NULL), PS_EINVAL);
    o.version = 99;
    c = (ps_connector *)0x1;
    PS_ASSERT_STATUS(ps_redis_connector_open(&o, &c), PS_EINVAL);
    assert_null(c);
    assert_non_null(strstr(ps_last_error(), "unknown options version 99"));
    /* a string that is not UTF-8 is refused with jansson's reason */
    ps_redis_options_init(&o);
    o.hostname = g_host;
    o.port = g_port;
    o.password = "\xff\xfe";
    PS_ASSERT_STATUS(ps_redis_connector_open(&o, &c), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "ps_redis_connector_open"));
}

static void expect_einval(const char *json, const char *needle)
{
    ps_connector *c = (ps_connector *)0x1;
    PS_ASSERT_STATUS(ps_connector_open("redis", json, &c), PS_EINVAL);
    assert_null(c);
    if (strstr(ps_last_error(), needle) == NULL)
        fail_msg("options %s: message \"%s\" does not name \"%s\"", json, ps_last_error(), needle);
}

static void test_bad_options(void **state)
{
    (void)state;
    expect_einval("{\"hostname\": \"127.0.0.1\", \"port\": 1, \"bogus\": 1}", "bogus");
    expect_einval("{\"port\": 0}", "port");
    expect_einval("{\"port\": 70000}", "port");
    expect_einval("{\"port\": \"6379\"}", "port");
    expect_einval("{\"hostname\": 5}", "hostname");
    expect_einval("{\"hostname\": \"\"}", "hostname");
    expect_einval("{\"db\": -1}", "db");
    expect_einval("{\"clear\": 1}", "clear");
    expect_einval("{\"unix_socket\": \"/tmp/x\", \"port\": 6379}", "unix_socket");
    expect_einval("{\"unix_socket\": \"\"}", "unix_socket");
    expect_einval("{\"username\": \"u\"}", "password");
    expect_einval("{\"connect_timeout_ms\": -5}", "connect_timeout_ms");
    expect_einval("{\"command_timeout_ms\": 1.5}", "command_timeout_ms");
    char longpath[300];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    char json[400];
    snprintf(json, sizeof json, "{\"unix_socket\": \"/%s\"}", longpath);
    expect_einval(json, "unix_socket");
}

static void test_unreachable(void **state)
{
    (void)state;
    int port = pst_free_port(); /* nothing listens there */
    char json[128], where[64];
    snprintf(json, sizeof json, "{\"hostname\": \"127.0.0.1\", \"port\": %d}", port);
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    ps_connector *c = NULL;
    PS_ASSERT_STATUS(ps_connector_open("redis", json, &c), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), where));
    assert_non_null(strstr(ps_last_error(), "refused"));

    PS_ASSERT_STATUS(
        ps_connector_open("redis", "{\"unix_socket\": \"/nonexistent/redis.sock\"}", &c), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), "unix:/nonexistent/redis.sock"));

    PS_ASSERT_STATUS(ps_connector_open("redis",
                                       "{\"hostname\": \"no-such-host.invalid\", "
                                       "\"port\": 6379}",
                                       &c),
                     PS_ECONN);
    assert_non_null(strstr(ps_last_error(), "no-such-host.invalid"));
}

/* ---- keys ---------------------------------------------------------------- */

static void test_keys(void **state)
{
    (void)state;
    ps_connector *c = open_tcp(NULL);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "abc", 3, NULL, &k));
    assert_string_equal(ps_key_type(k), "redis");
    assert_int_equal(ps_key_nfields(k), 1);
    assert_true(ps_uuid_is_canonical(ps_key_field(k, 0)));
    char want[64];
    snprintf(want, sizeof want, "redis:%s", ps_key_field(k, 0));
    assert_string_equal(ps_key_str(k), want);

    /* Malformed keys of our type are refused, never sent. */
    const char *bad[][2] = {{"not-a-uuid", NULL},
                            {"*", NULL},
                            {"3F2C1B9E-0000-4000-8000-000000000000", NULL},
                            {ps_key_field(k, 0), "extra"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ps_key *b = NULL;
        PS_ASSERT_OK(ps_key_new("redis", bad[i][1] ? 2 : 1, bad[i], &b));
        ps_bytes out = PS_BYTES_INIT;
        bool ex;
        PS_ASSERT_STATUS(ps_connector_get(c, b, &out), PS_EINVAL);
        assert_non_null(strstr(ps_last_error(), "redis:<uuid>"));
        PS_ASSERT_STATUS(ps_connector_exists(c, b, &ex), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_evict(c, b), PS_EINVAL);
        PS_ASSERT_STATUS(ps_connector_set(c, b, "x", 1), PS_EINVAL);
        const ps_key *ks[] = {k, b};
        ps_bytes outs[2];
        PS_ASSERT_STATUS(ps_connector_get_batch(c, 2, ks, outs, NULL), PS_EINVAL);
        ps_key_free(b);
    }
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* ---- upstream's layout ------------------------------------------------------ */

static void test_upstream_layout(void **state)
{
    (void)state;
    ps_connector *c = open_tcp(NULL);
    redisContext *r = raw();

    /* Written as upstream does: SET <uuid> <bytes>, with hiredis ... */
    char id[PS_UUID_STR_LEN + 1];
    PS_ASSERT_OK(ps_uuid4(id));
    unsigned char blob[1000];
    pst_fill(blob, sizeof blob, 7);
    blob[10] = 0;
    assert_int_equal(pstr_raw_set(r, id, blob, sizeof blob), 0);
    ps_key *k = NULL;
    const char *f[] = {id};
    PS_ASSERT_OK(ps_key_new("redis", 1, f, &k));
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    assert_int_equal(out.len, sizeof blob);
    assert_memory_equal(out.data, blob, sizeof blob);
    ps_bytes_free(&out);
    bool ex = false;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_true(ex);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    assert_int_equal(pstr_raw_exists(r, id), 0);
    ps_key_free(k);

    /* ... and with redis-cli, as a script would. */
    PS_ASSERT_OK(ps_uuid4(id));
    assert_int_equal(pst_system("redis-cli -h %s -p %d SET %s 'hello from redis-cli' >/dev/null",
                                g_host, g_port, id),
                     0);
    PS_ASSERT_OK(ps_key_new("redis", 1, f, &k));
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    assert_int_equal(out.len, strlen("hello from redis-cli"));
    assert_memory_equal(out.data, "hello from redis-cli", out.len);
    ps_bytes_free(&out);
    PS_ASSERT_OK(ps_connector_evict(c, k));
    ps_key_free(k);

    /* Ours, read as upstream would: the Redis key is the bare uuid. */
    PS_ASSERT_OK(ps_connector_put(c, blob, sizeof blob, NULL, &k));
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(pstr_raw_get(r, ps_key_field(k, 0), &data, &len), 0);
    assert_non_null(data);
    assert_int_equal(len, sizeof blob);
    assert_memory_equal(data, blob, len);
    free(data);

    /* Batches too: MSET/MGET of bare uuids. */
    ps_iov items[3] = {{"a", 1}, {"", 0}, {blob, sizeof blob}};
    ps_key *keys[3];
    PS_ASSERT_OK(ps_connector_put_batch(c, 3, items, NULL, keys));
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pstr_raw_get(r, ps_key_field(keys[i], 0), &data, &len), 0);
        assert_non_null(data);
        assert_int_equal(len, items[i].len);
        assert_memory_equal(data, items[i].data, len);
        free(data);
    }
    ps_key_free_array(keys, 3);
    ps_key_free(k);
    redisFree(r);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* The reply's bytes are read straight into the buffer handed out: an owned
 * ps_malloc buffer (release NULL), freed by ps_bytes_free, writable. */
static void test_get_owned(void **state)
{
    (void)state;
    ps_connector *c = open_tcp(NULL);
    ps_key *k = NULL;
    size_t n = (size_t)300 * 1024; /* larger than the read buffer */
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    pst_fill(buf, n, 9);
    PS_ASSERT_OK(ps_connector_put(c, buf, n, NULL, &k));
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    assert_null(out.release);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, buf, n);
    ((unsigned char *)out.data)[0] ^= 1;
    ps_bytes_free(&out);
    free(buf);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* ---- close(clear) ------------------------------------------------------------ */

static void test_clear_only_own_keys(void **state)
{
    (void)state;
    redisContext *r = raw();
    char foreign[PS_UUID_STR_LEN + 1];
    PS_ASSERT_OK(ps_uuid4(foreign));
    char appkey[80];
    snprintf(appkey, sizeof appkey, "app:%s", foreign);
    assert_int_equal(pstr_raw_set(r, foreign, "upstream", 8), 0);
    assert_int_equal(pstr_raw_set(r, appkey, "app data", 8), 0);

    ps_connector *a = open_tcp("\"clear\": true");
    ps_connector *b = open_tcp(NULL);
    ps_key *ka[4] = {NULL}, *kb = NULL, *kd = NULL, *gone = NULL;
    PS_ASSERT_OK(ps_connector_put(a, "1", 1, NULL, &ka[0]));
    ps_iov items[3] = {{"2", 1}, {"3", 1}, {"4", 1}};
    PS_ASSERT_OK(ps_connector_put_batch(a, 3, items, NULL, &ka[1]));
    PS_ASSERT_OK(ps_connector_new_key(a, &kd));
    PS_ASSERT_OK(ps_connector_set(a, kd, "d", 1));
    PS_ASSERT_OK(ps_connector_put(a, "gone", 4, NULL, &gone));
    PS_ASSERT_OK(ps_connector_evict(a, gone));
    PS_ASSERT_OK(ps_connector_put(b, "b", 1, NULL, &kb));

    /* clear defaults to the option (true): deletes a's keys only. */
    PS_ASSERT_OK(ps_connector_close(a, PS_CLEAR_DEFAULT));
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(pstr_raw_exists(r, ps_key_field(ka[i], 0)), 0);
    assert_int_equal(pstr_raw_exists(r, ps_key_field(kd, 0)), 0);
    assert_int_equal(pstr_raw_exists(r, foreign), 1);
    assert_int_equal(pstr_raw_exists(r, appkey), 1);
    assert_int_equal(pstr_raw_exists(r, ps_key_field(kb, 0)), 1);

    /* b's clear option is false: the default keeps; an explicit clear deletes. */
    ps_connector *b2 = open_tcp(NULL);
    ps_key *kb2 = NULL;
    PS_ASSERT_OK(ps_connector_put(b2, "b2", 2, NULL, &kb2));
    PS_ASSERT_OK(ps_connector_close(b, PS_CLEAR_DEFAULT));
    assert_int_equal(pstr_raw_exists(r, ps_key_field(kb, 0)), 1);
    PS_ASSERT_OK(ps_connector_close(b2, PS_CLEAR_ALL));
    assert_int_equal(pstr_raw_exists(r, ps_key_field(kb2, 0)), 0);
    assert_int_equal(pstr_raw_exists(r, ps_key_field(kb, 0)), 1);
    assert_int_equal(pstr_raw_exists(r, foreign), 1);

    /* Upstream's "two connectors both close(clear)" is fine too. */
    ps_connector *c1 = open_tcp(NULL), *c2 = open_tcp(NULL);
    PS_ASSERT_OK(ps_connector_close(c1, PS_CLEAR_ALL));
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_ALL));

    redisReply *rep = redisCommand(r, "DEL %s %s %s", foreign, appkey, ps_key_field(kb, 0));
    assert_non_null(rep);
    assert_int_equal(rep->integer, 3);
    freeReplyObject(rep);
    ps_key_free_array(ka, 4);
    ps_key_free(kb);
    ps_key_free(kb2);
    ps_key_free(kd);
    ps_key_free(gone);
    redisFree(r);
}

/* ---- sizes ---------------------------------------------------------------------- */

static void test_100mib(void **state)
{
    (void)state;
    size_t n = (size_t)100 * 1024 * 1024;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    pst_fill(buf, n, 100);
    ps_connector *c = open_tcp(NULL);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, buf, n, NULL, &k));
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    assert_int_equal(out.len, n);
    assert_true(memcmp(out.data, buf, n) == 0);
    ps_bytes_free(&out);
    /* Also inside a batch, between small ones (its own chunk). */
    ps_iov items[3] = {{"x", 1}, {buf, n}, {"y", 1}};
    ps_key *keys[3];
    PS_ASSERT_OK(ps_connector_put_batch(c, 3, items, NULL, keys));
    ps_bytes outs[3];
    bool found[3];
    PS_ASSERT_OK(ps_connector_get_batch(c, 3, (const ps_key *const *)keys, outs, found));
    assert_true(found[0] && found[1] && found[2]);
    assert_int_equal(outs[1].len, n);
    assert_true(memcmp(outs[1].data, buf, n) == 0);
    assert_memory_equal(outs[2].data, "y", 1);
    ps_bytes_free_array(outs, 3);
    ps_key_free_array(keys, 3);
    ps_key_free(k);
    free(buf);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/*
 * A get asks for the first 6 MiB + 1 bytes with GETRANGE; longer values are
 * read in 1 MiB ranges under WATCH, anything unusual falls back to GET. The
 * sizes around those edges, and the answers GET gives for odd keys.
 */
static void test_get_ranges(void **state)
{
    (void)state;
    const size_t probe = (size_t)6 * 1024 * 1024 + 1, range = (size_t)1024 * 1024;
    const size_t sizes[] = {0,         1,         probe - 2,     probe - 1,    probe,
                            probe + 1, 5 * range, 5 * range + 1, 9 * range + 3};
    size_t max = 9 * range + 3;
    unsigned char *buf = malloc(max);
    assert_non_null(buf);
    ps_connector *c = open_tcp(NULL);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        pst_fill(buf, sizes[i], (unsigned)(200 + i));
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_connector_put(c, buf, sizes[i], NULL, &k));
        for (int rep = 0; rep < 2; rep++) { /* again on the same pooled connection */
            ps_bytes out = PS_BYTES_INIT;
            PS_ASSERT_OK(ps_connector_get(c, k, &out));
            assert_int_equal(out.len, sizes[i]);
            if (sizes[i] > 0)
                assert_true(memcmp(out.data, buf, sizes[i]) == 0);
            ps_bytes_free(&out);
        }
        PS_ASSERT_OK(ps_connector_evict(c, k));
        ps_bytes out = PS_BYTES_INIT;
        PS_ASSERT_STATUS(ps_connector_get(c, k, &out), PS_NOT_FOUND);
        ps_key_free(k);
    }

    /* A key of another type: GET's WRONGTYPE error, then the connection is fine. */
    redisContext *r = raw();
    char id[PS_UUID_STR_LEN + 1];
    PS_ASSERT_OK(ps_uuid4(id));
    redisReply *rr = redisCommand(r, "RPUSH %s a b", id);
    assert_non_null(rr);
    assert_int_equal(rr->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rr);
    ps_key *k = NULL;
    const char *f[] = {id};
    PS_ASSERT_OK(ps_key_new("redis", 1, f, &k));
    ps_bytes out = PS_BYTES_INIT;
    ps_status st = ps_connector_get(c, k, &out);
    assert_int_not_equal(st, PS_OK);
    assert_non_null(strstr(ps_last_error(), "WRONGTYPE"));
    assert_non_null(strstr(ps_last_error(), id));
    ps_key *k2 = NULL;
    pst_fill(buf, probe + 7, 77);
    PS_ASSERT_OK(ps_connector_put(c, buf, probe + 7, NULL, &k2));
    PS_ASSERT_OK(ps_connector_get(c, k2, &out));
    assert_int_equal(out.len, probe + 7);
    assert_true(memcmp(out.data, buf, probe + 7) == 0);
    ps_bytes_free(&out);
    ps_key_free(k2);
    rr = redisCommand(r, "DEL %s", id);
    freeReplyObject(rr);
    ps_key_free(k);
    redisFree(r);
    free(buf);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* A user who may GET but not GETRANGE, or not WATCH, or not MULTI/EXEC, still
 * gets every value (each step of the range path falls back to GET). */
static void test_get_ranges_forbidden(void **state)
{
    (void)state;
    static const char *const rules[][2] = {
        {"-getrange", "-getrange"}, {"-watch", "-watch"}, {"-multi", "-exec"}};
    const size_t sizes[] = {0, 10, (size_t)9 * 1024 * 1024 + 5};
    unsigned char *buf = malloc(sizes[2]);
    assert_non_null(buf);
    redisContext *r = raw();
    for (size_t u = 0; u < sizeof rules / sizeof rules[0]; u++) {
        char user[64];
        snprintf(user, sizeof user, "psget%ld_%zu", (long)getpid(), u);
        redisReply *rr =
            redisCommand(r, "ACL SETUSER %s on >pw ~* +@all %s %s", user, rules[u][0], rules[u][1]);
        assert_non_null(rr);
        assert_int_equal(rr->type, REDIS_REPLY_STATUS);
        freeReplyObject(rr);
        char extra[160];
        snprintf(extra, sizeof extra, "\"username\": \"%s\", \"password\": \"pw\"", user);
        ps_connector *c = open_tcp(extra);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            pst_fill(buf, sizes[i], (unsigned)(40 + i));
            ps_key *k = NULL;
            PS_ASSERT_OK(ps_connector_put(c, buf, sizes[i], NULL, &k));
            for (int rep = 0; rep < 2; rep++) {
                ps_bytes out = PS_BYTES_INIT;
                PS_ASSERT_OK(ps_connector_get(c, k, &out));
                assert_int_equal(out.len, sizes[i]);
                if (sizes[i] > 0)
                    assert_true(memcmp(out.data, buf, sizes[i]) == 0);
                ps_bytes_free(&out);
            }
            PS_ASSERT_OK(ps_connector_evict(c, k));
            ps_bytes out = PS_BYTES_INIT;
            PS_ASSERT_STATUS(ps_connector_get(c, k, &out), PS_NOT_FOUND);
            ps_key_free(k);
        }
        PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
        rr = redisCommand(r, "ACL DELUSER %s", user);
        freeReplyObject(rr);
    }
    redisFree(r);
    free(buf);
}

static void test_batch_10000(void **state)
{
    (void)state;
    enum { N = 10000 };
    ps_connector *c = open_tcp(NULL);
    size_t total = 0;
    for (size_t i = 0; i < N; i++)
        total += (i * 37) % 1500;
    unsigned char *pool = malloc(total + 1);
    assert_non_null(pool);
    pst_fill(pool, total, 42);
    ps_iov *items = calloc(N, sizeof *items);
    ps_key **keys = calloc(N, sizeof *keys);
    assert_non_null(items);
    assert_non_null(keys);
    size_t off = 0;
    for (size_t i = 0; i < N; i++) {
        items[i].data = pool + off;
        items[i].len = (i * 37) % 1500; /* includes empty objects */
        off += items[i].len;
    }
    PS_ASSERT_OK(ps_connector_put_batch(c, N, items, NULL, keys));

    /* Read back with every 7th key replaced by a missing one. */
    ps_key **ask = calloc(N, sizeof *ask);
    ps_bytes *outs = calloc(N, sizeof *outs);
    bool *found = calloc(N, sizeof *found);
    assert_non_null(ask);
    assert_non_null(outs);
    assert_non_null(found);
    for (size_t i = 0; i < N; i++) {
        if (i % 7 == 3)
            PS_ASSERT_OK(ps_key_new_uuid("redis", 0, NULL, &ask[i]));
        else
            PS_ASSERT_OK(ps_key_dup(keys[i], &ask[i]));
    }
    PS_ASSERT_OK(ps_connector_get_batch(c, N, (const ps_key *const *)ask, outs, found));
    for (size_t i = 0; i < N; i++) {
        if (i % 7 == 3) {
            assert_false(found[i]);
            assert_int_equal(outs[i].len, 0);
        } else {
            assert_true(found[i]);
            assert_int_equal(outs[i].len, items[i].len);
            if (items[i].len)
                assert_memory_equal(outs[i].data, items[i].data, items[i].len);
        }
    }
    ps_bytes_free_array(outs, N);
    ps_key_free_array(ask, N);
    ps_key_free_array(keys, N);
    free(ask);
    free(outs);
    free(found);
    free(items);
    free(keys);
    free(pool);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* Objects of a few MiB: the batch is split into several MSET/MGET chunks. */
static void test_batch_chunks(void **state)
{
    (void)state;
    enum { N = 12 };
    size_t sz = (size_t)3 * 1024 * 1024 + 5;
    unsigned char *buf = malloc(sz * N);
    assert_non_null(buf);
    pst_fill(buf, sz * N, 3);
    ps_iov items[N];
    ps_key *keys[N];
    for (size_t i = 0; i < N; i++) {
        items[i].data = buf + i * sz;
        items[i].len = sz - i;
    }
    ps_connector *c = open_tcp(NULL);
    PS_ASSERT_OK(ps_connector_put_batch(c, N, items, NULL, keys));
    ps_bytes outs[N];
    bool found[N];
    PS_ASSERT_OK(ps_connector_get_batch(c, N, (const ps_key *const *)keys, outs, found));
    for (size_t i = 0; i < N; i++) {
        assert_true(found[i]);
        assert_int_equal(outs[i].len, items[i].len);
        assert_true(memcmp(outs[i].data, items[i].data, items[i].len) == 0);
    }
    ps_bytes_free_array(outs, N);
    ps_key_free_array(keys, N);
    free(buf);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* ---- databases and the unix socket ----------------------------------------------- */

static void test_db(void **state)
{
    (void)state;
    ps_connector *c = open_tcp("\"db\": 3");
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "in db 3", 7, NULL, &k));
    redisContext *r = raw();
    assert_int_equal(pstr_raw_exists(r, ps_key_field(k, 0)), 0); /* db 0 */
    assert_int_equal(pstr_raw_select(r, 3), 0);
    assert_int_equal(pstr_raw_exists(r, ps_key_field(k, 0)), 1);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
    assert_int_equal(pstr_raw_exists(r, ps_key_field(k, 0)), 0);
    redisFree(r);
    ps_key_free(k);

    /* A database the server does not have: Redis's own words, at open. */
    char *json = pstr_shared_tcp_json("\"db\": 100000");
    ps_connector *bad = NULL;
    PS_ASSERT_STATUS(ps_connector_open("redis", json, &bad), PS_EPROTO);
    assert_non_null(strstr(ps_last_error(), "SELECT 100000"));
    assert_non_null(strstr(ps_last_error(), "out of range"));
    free(json);
}

static void test_unix_socket(void **state)
{
    (void)state;
    if (g_sock[0] == '\0')
        PST_SKIP("redis: the fixture server has no unix socket");
    char *json = pstr_shared_unix_json(NULL);
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("redis", json, &c));
    free(json);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "over the socket", 15, NULL, &k));
    /* The same server over TCP sees it. */
    ps_connector *t = open_tcp(NULL);
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(t, k, &out));
    assert_memory_equal(out.data, "over the socket", 15);
    ps_bytes_free(&out);
    char *cfg = config_text(c);
    assert_non_null(strstr(cfg, "\"unix_socket\""));
    assert_null(strstr(cfg, "hostname"));
    ps_free(cfg);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(t, PS_CLEAR_KEEP));
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* A forked child uses the parent's connector: it must not share the
 * parent's pooled sockets (replies would interleave). */
static void test_fork(void **state)
{
    (void)state;
    ps_connector *c = open_tcp(NULL);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "parent", 6, NULL, &k));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int bad = 0;
        for (int i = 0; i < 200 && !bad; i++) {
            ps_bytes out = PS_BYTES_INIT;
            bad = ps_connector_get(c, k, &out) != PS_OK || out.len != 6 ||
                  memcmp(out.data, "parent", 6) != 0;
            ps_bytes_free(&out);
        }
        _exit(bad);
    }
    int bad = 0;
    for (int i = 0; i < 200 && !bad; i++) {
        bool ex = false;
        bad = ps_connector_exists(c, k, &ex) != PS_OK || !ex;
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(bad, 0);
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    assert_memory_equal(out.data, "parent", 6);
    ps_bytes_free(&out);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

int main(void)
{
    if (!pstr_shared(g_host, sizeof g_host, &g_port, g_sock, sizeof g_sock))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_c_options),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_upstream_layout),
        cmocka_unit_test(test_get_owned),
        cmocka_unit_test(test_clear_only_own_keys),
        cmocka_unit_test(test_100mib),
        cmocka_unit_test(test_get_ranges),
        cmocka_unit_test(test_get_ranges_forbidden),
        cmocka_unit_test(test_batch_10000),
        cmocka_unit_test(test_batch_chunks),
        cmocka_unit_test(test_db),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_fork),
    };
    return pst_exit(cmocka_run_group_tests_name("redis", tests, NULL, NULL));
}
