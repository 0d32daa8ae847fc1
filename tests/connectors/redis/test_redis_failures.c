/*
 * Redis connector failures, each on a private redis-server this program
 * starts (and kills by PID in the teardown): the server killed and
 * restarted mid-test, a dropped connection, passwords, proto-max-bulk-len,
 * a stopped (SIGSTOP) server and timeouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redis_testutil.h"
#include "testutil.h"
#include "proxystore/connectors/redis.h"
#include "proxystore/sys/connector.h"

static int server_setup(void **state, const char *const *args)
{
    pstr_server *s = calloc(1, sizeof *s);
    if (s == NULL || pstr_server_start(s, args) != 0) {
        fprintf(stderr, "cannot start a private redis-server\n");
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int plain_setup(void **state)
{
    return server_setup(state, NULL);
}

static int teardown(void **state)
{
    pstr_server *s = *state;
    if (s) {
        pstr_server_stop(s);
        free(s);
    }
    return 0;
}

static ps_connector *open_on(const pstr_server *s, const char *extra)
{
    char json[512];
    snprintf(json, sizeof json, "{\"hostname\": \"127.0.0.1\", \"port\": %d%s%s}", s->port,
             extra ? ", " : "", extra ? extra : "");
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_connector_open("redis", json, &c));
    return c;
}

static void assert_msg_has(const char *needle)
{
    if (strstr(ps_last_error(), needle) == NULL)
        fail_msg("message \"%s\" does not contain \"%s\"", ps_last_error(), needle);
}

/* ---- the server goes away and comes back ---------------------------------------- */

static void test_restart(void **state)
{
    pstr_server *s = *state;
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", s->port);
    ps_connector *c = open_on(s, NULL);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "before", 6, NULL, &k));

    pstr_server_kill(s);
    ps_bytes out = PS_BYTES_INIT;
    bool ex = true;
    PS_ASSERT_STATUS(ps_connector_get(c, k, &out), PS_ECONN);
    assert_msg_has(where);
    assert_msg_has("refused"); /* the stale connection was retried: the cause */
    PS_ASSERT_STATUS(ps_connector_exists(c, k, &ex), PS_ECONN);
    assert_msg_has(where);
    ps_key *k2 = NULL;
    PS_ASSERT_STATUS(ps_connector_put(c, "x", 1, NULL, &k2), PS_ECONN);
    assert_null(k2);
    ps_iov items[2] = {{"a", 1}, {"b", 1}};
    ps_key *keys[2];
    PS_ASSERT_STATUS(ps_connector_put_batch(c, 2, items, NULL, keys), PS_ECONN);
    assert_null(keys[0]);

    assert_int_equal(pstr_server_restart(s), 0);
    /* Recovery on the next call; the old object died with the server. */
    PS_ASSERT_STATUS(ps_connector_get(c, k, &out), PS_NOT_FOUND);
    PS_ASSERT_OK(ps_connector_put(c, "after", 5, NULL, &k2));
    PS_ASSERT_OK(ps_connector_get(c, k2, &out));
    assert_memory_equal(out.data, "after", 5);
    ps_bytes_free(&out);
    ps_key_free(k);
    ps_key_free(k2);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* The server is killed while a call is under way on another connection's
 * data: the first call after the kill fails, the first after restart works. */
static void test_restart_between_calls(void **state)
{
    pstr_server *s = *state;
    ps_connector *c = open_on(s, NULL);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "v", 1, NULL, &k));
    /* A pooled connection to the old server survives the restart: the call
     * finds it dead, reconnects and succeeds without an error. */
    assert_int_equal(pstr_server_restart(s), 0);
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_false(ex);
    ps_key_free(k);
    /* close(clear) with the server gone: the error says what was not
     * deleted, and the connector is freed anyway (ASan checks the leak). */
    PS_ASSERT_OK(ps_connector_put(c, "w", 1, NULL, &k));
    pstr_server_kill(s);
    PS_ASSERT_STATUS(ps_connector_close(c, PS_CLEAR_ALL), PS_ECONN);
    assert_msg_has("close(clear) could not delete 2 keys"); /* both it wrote */
    ps_key_free(k);
}

/* CLIENT KILL drops our connection: the next call reconnects by itself. */
static void test_dropped_connection(void **state)
{
    pstr_server *s = *state;
    ps_connector *c = open_on(s, NULL);
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "kept", 4, NULL, &k));
    redisContext *r = pstr_raw_tcp("127.0.0.1", s->port);
    assert_non_null(r);
    redisReply *rep = redisCommand(r, "CLIENT KILL TYPE normal SKIPME yes");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_true(rep->integer >= 1);
    freeReplyObject(rep);
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    assert_memory_equal(out.data, "kept", 4);
    ps_bytes_free(&out);
    redisFree(r);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* ---- passwords -------------------------------------------------------------------- */

static int password_setup(void **state)
{
    static const char *const args[] = {"--requirepass", "s3cret", "--user", "alice", "on",
                                       ">alicepw",      "~*",     "&*",     "+@all", NULL};
    return server_setup(state, args);
}

static void test_password(void **state)
{
    pstr_server *s = *state;
    char json[512];
    ps_connector *c = NULL;

    snprintf(json, sizeof json, "{\"hostname\": \"127.0.0.1\", \"port\": %d}", s->port);
    PS_ASSERT_STATUS(ps_connector_open("redis", json, &c), PS_EAUTH);
    assert_null(c);
    assert_msg_has("NOAUTH");

    snprintf(json, sizeof json,
             "{\"hostname\": \"127.0.0.1\", \"port\": %d, \"password\": \"wrong\"}", s->port);
    PS_ASSERT_STATUS(ps_connector_open("redis", json, &c), PS_EAUTH);
    assert_msg_has("WRONGPASS"); /* Redis's own text */
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", s->port);
    assert_msg_has(where);

    snprintf(json, sizeof json,
             "{\"hostname\": \"127.0.0.1\", \"port\": %d, \"password\": \"s3cret\"}", s->port);
    PS_ASSERT_OK(ps_connector_open("redis", json, &c));
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "secret", 6, NULL, &k));
    /* The password is in the configuration, so a proxy resolves elsewhere. */
    char *cfg = NULL;
    PS_ASSERT_OK(ps_connector_config(c, &cfg));
    assert_non_null(strstr(cfg, "\"password\":\"s3cret\""));
    ps_connector *c2 = NULL;
    json_t *j = json_loads(cfg, 0, NULL);
    char *opts = json_dumps(json_object_get(j, "options"), 0);
    PS_ASSERT_OK(ps_connector_open("redis", opts, &c2));
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_OK(ps_connector_get(c2, k, &out));
    assert_memory_equal(out.data, "secret", 6);
    ps_bytes_free(&out);
    free(opts);
    json_decref(j);
    ps_free(cfg);
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_KEEP));

    /* An ACL user (Redis >= 6): AUTH user password. */
    snprintf(json, sizeof json,
             "{\"hostname\": \"127.0.0.1\", \"port\": %d, \"username\": \"alice\", "
             "\"password\": \"alicepw\"}",
             s->port);
    PS_ASSERT_OK(ps_connector_open("redis", json, &c2));
    PS_ASSERT_OK(ps_connector_get(c2, k, &out));
    ps_bytes_free(&out);
    PS_ASSERT_OK(ps_connector_close(c2, PS_CLEAR_KEEP));
    snprintf(json, sizeof json,
             "{\"hostname\": \"127.0.0.1\", \"port\": %d, \"username\": \"alice\", "
             "\"password\": \"s3cret\"}",
             s->port);
    PS_ASSERT_STATUS(ps_connector_open("redis", json, &c2), PS_EAUTH);
    assert_msg_has("WRONGPASS");

    /* The password changes under a live connector: later connections fail
     * with PS_EAUTH (after the old ones are dropped). */
    redisContext *r = pstr_raw_tcp("127.0.0.1", s->port);
    assert_non_null(r);
    redisReply *rep = redisCommand(r, "AUTH s3cret");
    freeReplyObject(rep);
    rep = redisCommand(r, "CONFIG SET requirepass other");
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = redisCommand(r, "CLIENT KILL TYPE normal SKIPME yes");
    freeReplyObject(rep);
    redisFree(r);
    PS_ASSERT_STATUS(ps_connector_get(c, k, &out), PS_EAUTH);
    assert_msg_has("WRONGPASS");

    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_KEEP));
}

/* ---- proto-max-bulk-len ---------------------------------------------------------- */

static int small_bulk_setup(void **state)
{
    static const char *const args[] = {"--proto-max-bulk-len", "1mb", NULL};
    return server_setup(state, args);
}

static void test_too_big(void **state)
{
    pstr_server *s = *state;
    ps_connector *c = open_on(s, NULL);
    size_t mib = 1024 * 1024;
    unsigned char *buf = calloc(1, mib + 1);
    assert_non_null(buf);
    ps_key *k = NULL;
    PS_ASSERT_STATUS(ps_connector_put(c, buf, mib + 1, NULL, &k), PS_ETOOBIG);
    assert_null(k);
    assert_msg_has("proto-max-bulk-len");
    assert_msg_has("1048576");
    ps_iov items[3] = {{"a", 1}, {buf, mib + 1}, {"b", 1}};
    ps_key *keys[3];
    PS_ASSERT_STATUS(ps_connector_put_batch(c, 3, items, NULL, keys), PS_ETOOBIG);
    assert_msg_has("1048576");
    PS_ASSERT_OK(ps_connector_new_key(c, &k));
    PS_ASSERT_STATUS(ps_connector_set(c, k, buf, mib + 1), PS_ETOOBIG);
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_false(ex);
    ps_key_free(k);
    /* Nothing was sent. */
    redisContext *r = pstr_raw_tcp("127.0.0.1", s->port);
    assert_non_null(r);
    assert_int_equal(pstr_raw_dbsize(r), 0);
    /* At the limit it works. */
    PS_ASSERT_OK(ps_connector_put(c, buf, mib, NULL, &k));
    assert_int_equal(pstr_raw_dbsize(r), 1);
    ps_key_free(k);
    redisFree(r);
    free(buf);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

static int no_config_setup(void **state)
{
    static const char *const args[] = {"--rename-command", "CONFIG", "", NULL};
    return server_setup(state, args);
}

/* CONFIG is not available: the limit falls back to 512 MiB. */
static void test_limit_fallback(void **state)
{
    pstr_server *s = *state;
    ps_connector *c = open_on(s, NULL);
    size_t big = (size_t)512 * 1024 * 1024 + 1;
    /* Untouched anonymous pages: nothing is read before the size check. */
    void *p = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(p != MAP_FAILED);
    ps_key *k = NULL;
    PS_ASSERT_STATUS(ps_connector_put(c, p, big, NULL, &k), PS_ETOOBIG);
    assert_msg_has("536870912");
    munmap(p, big);
    PS_ASSERT_OK(ps_connector_put(c, "small", 5, NULL, &k));
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* ---- timeouts ------------------------------------------------------------------- */

static void test_timeout(void **state)
{
    pstr_server *s = *state;
    ps_connector *c = open_on(s, "\"command_timeout_ms\": 300, \"connect_timeout_ms\": 300");
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_connector_put(c, "t", 1, NULL, &k));

    kill(s->pid, SIGSTOP);
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(c, k, &out), PS_ETIMEDOUT);
    assert_msg_has("300 ms");
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", s->port);
    assert_msg_has(where);
    /* A new connection: TCP connects (the kernel accepts), the handshake
     * gets no answer. */
    char json[256];
    snprintf(json, sizeof json,
             "{\"hostname\": \"127.0.0.1\", \"port\": %d, \"command_timeout_ms\": 200}", s->port);
    ps_connector *c2 = NULL;
    PS_ASSERT_STATUS(ps_connector_open("redis", json, &c2), PS_ETIMEDOUT);
    kill(s->pid, SIGCONT);

    /* The timed-out connection was dropped (its late reply would be out of
     * step): the next call works. */
    PS_ASSERT_OK(ps_connector_get(c, k, &out));
    assert_memory_equal(out.data, "t", 1);
    ps_bytes_free(&out);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* ---- error replies ---------------------------------------------------------------- */

static int maxmemory_setup(void **state)
{
    static const char *const args[] = {"--maxmemory", "2mb", "--maxmemory-policy", "noeviction",
                                       NULL};
    return server_setup(state, args);
}

/* An error reply is reported with Redis's text; the connection stays usable. */
static void test_error_reply(void **state)
{
    pstr_server *s = *state;
    ps_connector *c = open_on(s, NULL);
    size_t n = (size_t)4 * 1024 * 1024;
    unsigned char *buf = calloc(1, n);
    assert_non_null(buf);
    ps_key *k = NULL;
    ps_status st = ps_connector_put(c, buf, n, NULL, &k);
    /* Redis checks maxmemory before running the command: OOM. */
    assert_int_equal(st, PS_ENOSPC);
    assert_msg_has("OOM");
    assert_null(k);
    /* Commands that need no memory still work on the same connector. */
    PS_ASSERT_OK(ps_connector_new_key(c, &k));
    bool ex = true;
    PS_ASSERT_OK(ps_connector_exists(c, k, &ex));
    assert_false(ex);
    ps_bytes out = PS_BYTES_INIT;
    PS_ASSERT_STATUS(ps_connector_get(c, k, &out), PS_NOT_FOUND);
    free(buf);
    ps_key_free(k);
    PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_ALL));
}

/* ---- a fake server that breaks the protocol -------------------------------------- */

/*
 * Each connection gets the handshake's answer (CONFIG GET), then `script`
 * as the answer to the next command, then is closed. Runs on a thread until
 * `stop`; accepts any number of connections (the connector reconnects).
 */
typedef struct fake_server {
    int lfd;
    int port;
    const char *script;
    size_t script_len;
    atomic_int stop;
    pthread_t th;
} fake_server;

static void *fake_run(void *arg)
{
    fake_server *f = arg;
    static const char hello[] = "*2\r\n$18\r\nproto-max-bulk-len\r\n$9\r\n536870912\r\n";
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {f->lfd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[4096];
        if (recv(fd, buf, sizeof buf, 0) > 0 &&
            send(fd, hello, sizeof hello - 1, MSG_NOSIGNAL) > 0 && recv(fd, buf, sizeof buf, 0) > 0)
            send(fd, f->script, f->script_len, MSG_NOSIGNAL);
        close(fd);
    }
    return NULL;
}

static void fake_start(fake_server *f, const char *script, size_t len)
{
    memset(f, 0, sizeof *f);
    atomic_init(&f->stop, 0);
    f->script = script;
    f->script_len = len;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &alen), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_run, f), 0);
}

static void fake_stop(fake_server *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->th, NULL);
    close(f->lfd);
}

static void test_broken_replies(void **state)
{
    (void)state;
    static const struct {
        const char *op; /* "get" or "exists" */
        const char *reply;
        ps_status want;
        const char *needle;
    } cases[] = {
        {"get", "?what\r\n", PS_EPROTO, "unknown reply type"},
        {"get", "$5\r\nab", PS_ECONN, "connection lost"},
        {"get", "$5\r\nabcdeXY", PS_EPROTO, "not followed by CRLF"},
        {"get", "$-7\r\n", PS_EPROTO, "bad bulk length"},
        {"get", "*1\r\n$1\r\nx\r\n", PS_EPROTO, "unexpected array reply"},
        {"get", "-ERR something odd\r\n", PS_EPROTO, "ERR something odd"},
        {"get", "", PS_ECONN, "closed"},
        {"exists", ":12x\r\n", PS_EPROTO, "bad integer"},
        {"exists", "$1\r\n1\r\n", PS_EPROTO, "unexpected bulk string reply"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_server f;
        fake_start(&f, cases[i].reply, strlen(cases[i].reply));
        char json[128];
        snprintf(json, sizeof json,
                 "{\"hostname\": \"127.0.0.1\", \"port\": %d, \"command_timeout_ms\": 2000}",
                 f.port);
        ps_connector *c = NULL;
        PS_ASSERT_OK(ps_connector_open("redis", json, &c));
        ps_key *k = NULL;
        PS_ASSERT_OK(ps_key_new_uuid("redis", 0, NULL, &k));
        ps_bytes out = PS_BYTES_INIT;
        bool ex = false;
        ps_status st = strcmp(cases[i].op, "get") == 0 ? ps_connector_get(c, k, &out)
                                                       : ps_connector_exists(c, k, &ex);
        if (st != cases[i].want || strstr(ps_last_error(), cases[i].needle) == NULL)
            fail_msg("reply %zu (\"%s\"): got %s \"%s\", want %s with \"%s\"", i, cases[i].reply,
                     ps_status_name(st), ps_last_error(), ps_status_name(cases[i].want),
                     cases[i].needle);
        assert_null(out.data);
        ps_key_free(k);
        PS_ASSERT_OK(ps_connector_close(c, PS_CLEAR_KEEP));
        fake_stop(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart, plain_setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_between_calls, plain_setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_connection, plain_setup, teardown),
        cmocka_unit_test_setup_teardown(test_password, password_setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, small_bulk_setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_fallback, no_config_setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, plain_setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reply, maxmemory_setup, teardown),
        cmocka_unit_test(test_broken_replies),
    };
    return pst_exit(cmocka_run_group_tests_name("redis.failures", tests, NULL, NULL));
}
