/*
 * The HTTP client (src/http/: built-in HTTP/1.1 and libcurl transports)
 * against a real server: tests/http/server.py (python3), started on a free
 * 127.0.0.1 port and killed by PID at the end, also when a test fails. It
 * answers chunked bodies, bodies split into many small writes, HTTP/1.0,
 * Connection: close, connections closed between requests, malformed and
 * oversized responses and stalls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "testutil.h"
#include "proxystore/connectors/endpoint.h"

#define SERVER_UUID "3e7a5c1d-2b4f-4a6e-9c8d-7f0e1a2b3c4d"

static pid_t srv_pid = -1;
static int srv_port;
static char base[64];
static char *tmp;

static void kill_server(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGKILL);
        waitpid(srv_pid, NULL, 0);
        srv_pid = -1;
    }
}

static void on_fatal(int sig)
{
    if (srv_pid > 0)
        kill(srv_pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGABRT, on_fatal);
    signal(SIGSEGV, on_fatal);
    signal(SIGPIPE, SIG_DFL); /* the client must never raise it */
    atexit(kill_server);
    tmp = pst_mkdtemp("http-client");
    if (tmp == NULL)
        return -1;
    char port_file[1200];
    snprintf(port_file, sizeof port_file, "%s/port", tmp);
    srv_pid = fork();
    if (srv_pid < 0)
        return -1;
    if (srv_pid == 0) {
        execlp("python3", "python3", PS_TEST_SOURCE_DIR "/tests/http/server.py", port_file,
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", &srv_port) == 1;
            fclose(f);
            if (ok) {
                snprintf(base, sizeof base, "http://127.0.0.1:%d", srv_port);
                return 0;
            }
        }
        if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid) {
            srv_pid = -1;
            fprintf(stderr, "server.py exited early\n");
            return -1;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "server.py did not start\n");
    return -1;
}

static int group_teardown(void **state)
{
    (void)state;
    kill_server();
    pst_rmtree(tmp);
    free(tmp);
    return 0;
}

static ps__http_client *client_for(const char *url, long long timeout_ms, const char *auth)
{
    ps__http_client *c = NULL;
    ps__http_options o = {.timeout_ms = timeout_ms, .auth_header = auth, .pool_max = 4};
    PS_ASSERT_OK(ps__http_client_new(url, &o, &c));
    return c;
}

static ps__http_client *client(long long timeout_ms)
{
    return client_for(base, timeout_ms, NULL);
}

static ps_status get(ps__http_client *c, const char *target, ps__http_response *r)
{
    return ps__http_request(c, "GET", target, NULL, 0, r);
}

/* GET `target`, expect 200 and return the body (caller frees with ps_free). */
static unsigned char *get_ok(ps__http_client *c, const char *target, size_t *len)
{
    ps__http_response r;
    PS_ASSERT_OK(get(c, target, &r));
    assert_int_equal(r.status, 200);
    *len = r.len;
    return r.body;
}

static void check_seeded(const unsigned char *p, size_t n, size_t want, unsigned seed)
{
    assert_int_equal(n, want);
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(((i % 251) * 7 + 3 + seed) % 251))
            fail_msg("byte %zu of %zu differs", i, n);
}

static void check_pattern(const unsigned char *p, size_t n, size_t want)
{
    check_seeded(p, n, want, 0);
}

static void get_pattern(ps__http_client *c, const char *route, size_t n, const char *extra)
{
    char target[256];
    snprintf(target, sizeof target, "%s?n=%zu%s", route, n, extra ? extra : "");
    size_t len = 0;
    unsigned char *b = get_ok(c, target, &len);
    check_pattern(b, len, n);
    if (n == 0)
        assert_null(b);
    ps_free(b);
}

/* "conn=N req=M ..." bodies from /whoami and friends. */
static void whoami(ps__http_client *c, const char *target, int *conn, int *req)
{
    size_t len = 0;
    unsigned char *b = get_ok(c, target, &len);
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)len, (const char *)b);
    ps_free(b);
    assert_int_equal(sscanf(text, "conn=%d req=%d", conn, req), 2);
}

static uint64_t connects(ps__http_client *c)
{
    ps__http_stats s;
    ps__http_client_stats(c, &s);
    return s.connects;
}

static void expect_error(ps__http_client *c, const char *target, ps_status want, const char *text)
{
    ps__http_response r = {0};
    ps_status st = get(c, target, &r);
    if (st != want)
        fail_msg("GET %s returned %s, want %s (%s)", target, ps_status_name(st),
                 ps_status_name(want), ps_last_error());
    assert_null(r.body);
    if (text && strstr(ps_last_error(), text) == NULL)
        fail_msg("GET %s: message \"%s\" lacks \"%s\"", target, ps_last_error(), text);
    /* the client stays usable */
    size_t len = 0;
    unsigned char *b = get_ok(c, "/cl?n=10", &len);
    check_pattern(b, len, 10);
    ps_free(b);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_urls(void **state)
{
    (void)state;
    ps__http_client *c = client_for("http://127.0.0.1:1", 0, NULL);
    assert_string_equal(ps__http_client_origin(c), "127.0.0.1:1");
    ps__http_client_free(c);
    c = client_for("http://[::1]:8080/a/b//", 0, NULL);
    assert_string_equal(ps__http_client_origin(c), "[::1]:8080");
    ps__http_client_free(c);
    c = client_for("http://example.org", 0, "Authorization: Bearer x");
    assert_string_equal(ps__http_client_origin(c), "example.org:80");
    ps__http_client_free(c);
    const char *bad[] = {"https:/x",        "http://",      "http://:80",    "http://h:0",
                         "http://h:99999",  "http://h:12a", "http://h:",     "http://[::1",
                         "http://[::1]x",   "http://u@h:1", "http://h/a b",  "http://h?x=1",
                         "http://h/p#frag", "ftp://h",      "http://h\r\n:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c = NULL;
        PS_ASSERT_STATUS(ps__http_client_new(bad[i], NULL, &c), PS_EINVAL);
        assert_null(c);
    }
    ps__http_options two_lines = {.auth_header = "X: a\r\nY: b"};
    PS_ASSERT_STATUS(ps__http_client_new("http://h:1", &two_lines, &c), PS_EINVAL);
    c = client(0);
    ps__http_response r;
    PS_ASSERT_STATUS(ps__http_request(c, "GET", "no-slash", NULL, 0, &r), PS_EINVAL);
    PS_ASSERT_STATUS(ps__http_request(c, "GET", "/a b", NULL, 0, &r), PS_EINVAL);
    PS_ASSERT_STATUS(ps__http_request(c, "G T", "/", NULL, 0, &r), PS_EINVAL);
    PS_ASSERT_STATUS(ps__http_request(c, "", "/", NULL, 0, &r), PS_EINVAL);
    PS_ASSERT_STATUS(ps__http_request(c, "POST", "/", NULL, 5, &r), PS_EINVAL);
    ps__http_client_free(c);
}

static void test_content_length(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    size_t sizes[] = {0, 1, 1000, 16383, 16384, 100000, 3 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        get_pattern(c, "/cl", sizes[i], NULL);
    /* one keep-alive connection for all of them */
    assert_int_equal(connects(c), 1);
    ps__http_client_free(c);
}

static void test_chunked(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    get_pattern(c, "/chunked", 1000, "&piece=100");
    get_pattern(c, "/chunked", 0, NULL);
    get_pattern(c, "/chunked", 1, "&piece=1");
    get_pattern(c, "/chunked", 300000, "&piece=70000"); /* large chunks: received directly */
    get_pattern(c, "/chunked", 5000, "&piece=3");
    assert_int_equal(connects(c), 1); /* chunked responses keep the connection */
    ps__http_client_free(c);
}

static void test_split_writes(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    get_pattern(c, "/split", 3000, "&step=7");
    get_pattern(c, "/split", 200000, "&step=997");
    get_pattern(c, "/split", 10, "&step=1");
    get_pattern(c, "/split-chunked", 3000, NULL);
    assert_int_equal(connects(c), 1);
    ps__http_client_free(c);
}

static void test_connection_close(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    size_t len = 0;
    unsigned char *b = get_ok(c, "/close", &len);
    assert_true(len > 8 && memcmp(b, "closing ", 8) == 0);
    ps_free(b);
    int conn1, req1, conn2, req2;
    whoami(c, "/whoami", &conn1, &req1);
    assert_int_equal(req1, 1); /* a new connection: the closed one was not pooled */
    whoami(c, "/whoami", &conn2, &req2);
    assert_int_equal(conn2, conn1);
    assert_int_equal(req2, 2);
    assert_int_equal(connects(c), 2);
    ps__http_client_free(c);
}

static void test_http10(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    get_pattern(c, "/http10", 5000, NULL); /* read to EOF */
    get_pattern(c, "/http10", 0, NULL);
    get_pattern(c, "/http10", 1 << 20, NULL);
    assert_int_equal(connects(c), 3);
    int a, ra, b, rb;
    whoami(c, "/http10-keepalive", &a, &ra);
    whoami(c, "/http10-keepalive", &b, &rb);
    assert_int_equal(a, b); /* HTTP/1.0 with Connection: keep-alive is reused */
    assert_int_equal(rb, ra + 1);
    whoami(c, "/http10-cl", &a, &ra);
    whoami(c, "/http10-cl", &b, &rb);
    assert_int_not_equal(a, b); /* plain HTTP/1.0 is not */
    assert_int_equal(rb, 1);
    ps__http_client_free(c);
}

static void test_retry_stale_connection(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    int a, ra, b, rb;
    whoami(c, "/drop-after", &a, &ra);
    sleep_ms(200); /* the server has closed the pooled connection by now */
    whoami(c, "/whoami", &b, &rb);
    assert_int_not_equal(a, b);
    assert_int_equal(rb, 1);
    ps__http_stats s;
    ps__http_client_stats(c, &s);
    assert_int_equal(s.retries, 1);
    assert_int_equal(s.connects, 2);
    /* a POST with a body is retried the same way */
    whoami(c, "/drop-after", &a, &ra);
    sleep_ms(200);
    static unsigned char big[1 << 20];
    ps__http_response r;
    PS_ASSERT_OK(ps__http_request(c, "POST", "/echo", big, sizeof big, &r));
    assert_int_equal(r.status, 200);
    assert_true(r.len > sizeof big);
    ps_free(r.body);
    ps__http_client_stats(c, &s);
    assert_int_equal(s.retries, 2);
    ps__http_client_free(c);
}

static void test_malformed(void **state)
{
    (void)state;
    ps__http_client *c = client(5000);
    expect_error(c, "/bad-status", PS_EPROTO, "malformed status line");
    expect_error(c, "/bad-status2", PS_EPROTO, "ICY 200 OK");
    expect_error(c, "/bad-version", PS_EPROTO, "status line");
    expect_error(c, "/bad-header", PS_EPROTO, "NoColonHere");
    expect_error(c, "/bad-header-name", PS_EPROTO, "header field");
    expect_error(c, "/bad-cl", PS_EPROTO, "Content-Length");
    expect_error(c, "/neg-cl", PS_EPROTO, "Content-Length");
    expect_error(c, "/cl-overflow", PS_EPROTO, "overflows");
    expect_error(c, "/cl-conflict", PS_EPROTO, "conflicting");
    expect_error(c, "/bad-chunk", PS_EPROTO, "chunk-size");
    expect_error(c, "/chunk-overflow", PS_EPROTO, "overflows");
    expect_error(c, "/chunk-nocrlf", PS_EPROTO, "CRLF");
    expect_error(c, "/bad-te", PS_EPROTO, "Transfer-Encoding");
    expect_error(c, "/huge-header", PS_EPROTO, "larger than 65536");
    expect_error(c, "/endless-header", PS_EPROTO, "larger than 65536");
    expect_error(c, "/huge-chunk-line", PS_EPROTO, "larger than 65536");
    /* well-formed oddities */
    size_t len = 0;
    unsigned char *b = get_ok(c, "/dup-cl-same", &len);
    assert_int_equal(len, 5);
    assert_memory_equal(b, "hello", 5);
    ps_free(b);
    b = get_ok(c, "/big-header", &len); /* 40 KiB of header: within the limit */
    assert_int_equal(len, 2);
    ps_free(b);
    b = get_ok(c, "/continue", &len); /* a 100 Continue before the answer */
    assert_int_equal(len, 14);
    assert_memory_equal(b, "after continue", 14);
    ps_free(b);
    ps__http_response r;
    PS_ASSERT_OK(get(c, "/nocontent", &r));
    assert_int_equal(r.status, 204);
    assert_int_equal(r.len, 0);
    PS_ASSERT_OK(get(c, "/status?code=503", &r));
    assert_int_equal(r.status, 503);
    assert_int_equal(r.len, 15);
    assert_memory_equal(r.body, "status body 503", 15);
    ps_free(r.body);
    ps__http_client_free(c);
}

/* ps_set_allocator() first frees a spare body with the allocator that made it. */
static void *watched;
static bool watched_freed;

static void *watch_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *watch_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    return realloc(p, size);
}

static void watch_free(void *ctx, void *p)
{
    (void)ctx;
    if (p != NULL && p == watched)
        watched_freed = true;
    free(p);
}

static void test_spare_freed_on_allocator_change(void **state)
{
    (void)state;
    const char *max = getenv("PROXYSTORE_ENDPOINT_SPARE_MAX");
    if (max != NULL && strcmp(max, "0") == 0)
        skip();
    ps_allocator a = {PS_ALLOCATOR_VERSION, NULL, watch_malloc, watch_realloc, watch_free};
    PS_ASSERT_OK(ps_set_allocator(&a));
    ps__http_client *c = client(0);
    ps__http_response r;
    PS_ASSERT_OK(get(c, "/cl?n=12000000&seed=5", &r));
    watched = r.body;
    watched_freed = false;
    ps__http_body_release(r.body, r.cap); /* kept as the spare */
    assert_false(watched_freed);
    PS_ASSERT_OK(ps_set_allocator(NULL)); /* frees it, through watch_free */
    assert_true(watched_freed);
    watched = NULL;
    ps__http_client_free(c); /* its other memory came from malloc: compatible */
}

static void test_eof_mid_response(void **state)
{
    (void)state;
    ps__http_client *c = client(5000);
    char origin[64];
    snprintf(origin, sizeof origin, "127.0.0.1:%d", srv_port);
    expect_error(c, "/eof-mid", PS_ECONN, "in the middle of the response");
    expect_error(c, "/eof-mid", PS_ECONN, origin);
    expect_error(c, "/eof-head", PS_ECONN, "in the middle");
    expect_error(c, "/chunk-eof", PS_ECONN, "in the middle");
    /* A chunk announced as 2^47 bytes is not allocated up front (an ASan
     * build would abort on the attempt): the body grows with what arrives. */
    expect_error(c, "/huge-chunk", PS_ECONN, "in the middle");
    ps__http_client_free(c);
}

static void test_timeout(void **state)
{
    (void)state;
    ps__http_client *c = client(300);
    expect_error(c, "/stall?s=3", PS_ETIMEDOUT, "300 ms");
    expect_error(c, "/stall-mid?s=3", PS_ETIMEDOUT, "timeout");
    ps__http_client_free(c);
    /* no timeout: a server that gives up without answering is PS_ECONN */
    c = client(0);
    expect_error(c, "/stall?s=0.2", PS_ECONN, "before answering");
    ps__http_client_free(c);
}

static void test_refused(void **state)
{
    (void)state;
    int port = pst_free_port();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    ps__http_client *c = client_for(url, 0, NULL);
    ps__http_response r;
    PS_ASSERT_STATUS(get(c, "/x", &r), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), url + 7));
    assert_non_null(strstr(ps_last_error(), strerror(ECONNREFUSED)));
    ps__http_client_free(c);
    /* an IPv6 literal: nothing listens on [::1] (or there is no IPv6) */
    snprintf(url, sizeof url, "http://[::1]:%d", port);
    c = client_for(url, 0, NULL);
    PS_ASSERT_STATUS(get(c, "/x", &r), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), "[::1]"));
    ps__http_client_free(c);
}

static void test_hostname_and_prefix(void **state)
{
    (void)state;
    char url[96];
    /* "localhost" may resolve to ::1 first: every address is tried */
    snprintf(url, sizeof url, "http://localhost:%d/pfx/", srv_port);
    ps__http_client *c = client_for(url, 0, "Authorization: Bearer tok");
    size_t len = 0;
    unsigned char *b = get_ok(c, "/whoami?x=a%20b", &len);
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)len, (const char *)b);
    ps_free(b);
    assert_non_null(strstr(text, "auth=Bearer tok"));
    assert_non_null(strstr(text, "path=a b"));
    ps__http_client_free(c);
}

static void test_post(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    size_t n = 4u << 20;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    pst_fill(data, n, 7);
    ps__http_response r;
    PS_ASSERT_OK(ps__http_request(c, "POST", "/echo", data, n, &r));
    assert_int_equal(r.status, 200);
    const char *info = "method=POST len=4194304 type=application/octet-stream expect=- ";
    size_t il = strlen(info);
    assert_int_equal(r.len, il + n);
    assert_memory_equal(r.body, info, il);
    assert_memory_equal(r.body + il, data, n);
    ps_free(r.body);
    PS_ASSERT_OK(ps__http_request(c, "POST", "/echo", NULL, 0, &r));
    info = "method=POST len=0 type=application/octet-stream expect=- ";
    assert_int_equal(r.len, strlen(info));
    assert_memory_equal(r.body, info, strlen(info));
    ps_free(r.body);
    PS_ASSERT_OK(ps__http_request(c, "GET", "/echo", NULL, 0, &r));
    info = "method=GET len=- type=- expect=- ";
    assert_int_equal(r.len, strlen(info));
    assert_memory_equal(r.body, info, strlen(info));
    ps_free(r.body);
    assert_int_equal(connects(c), 1);
    free(data);
    ps__http_client_free(c);
}

/* An allocator that refuses anything of 1 GiB or more. */
static void *small_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return size >= (1u << 30) ? NULL : malloc(size);
}

static void *small_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    return size >= (1u << 30) ? NULL : realloc(p, size);
}

static void small_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static void test_body_allocation_failure(void **state)
{
    (void)state;
    ps__http_client *c = client(5000);
    ps_allocator a = {PS_ALLOCATOR_VERSION, NULL, small_malloc, small_realloc, small_free};
    PS_ASSERT_OK(ps_set_allocator(&a));
    ps__http_response r = {0};
    ps_status st = get(c, "/huge-length", &r);
    PS_ASSERT_OK(ps_set_allocator(NULL));
    assert_int_equal(st, PS_ENOMEM);
    assert_non_null(strstr(ps_last_error(), "4611686018427387904"));
    assert_null(r.body);
    ps__http_client_free(c);
}

/* A released large body is reused for the next one that fits, and fully
 * overwritten. */
static void test_spare_buffer(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    ps__http_response r;
    PS_ASSERT_OK(get(c, "/cl?n=10485760&seed=1", &r));
    check_seeded(r.body, r.len, 10485760, 1);
    assert_int_equal(r.cap, 10485760);
    void *first = r.body;
    ps__http_body_release(r.body, r.cap);
    const char *max = getenv("PROXYSTORE_ENDPOINT_SPARE_MAX");
    if (max != NULL && strcmp(max, "0") == 0) { /* http.client.nospare: nothing is kept */
        PS_ASSERT_OK(get(c, "/cl?n=10000000&seed=2", &r));
        assert_int_equal(r.cap, 10000000); /* new memory of its own size */
        check_seeded(r.body, r.len, 10000000, 2);
        ps__http_body_release(r.body, r.cap);
        ps__http_client_free(c);
        return;
    }
    PS_ASSERT_OK(get(c, "/cl?n=10000000&seed=2", &r)); /* within 1/8: the spare */
    assert_ptr_equal(r.body, first);
    assert_int_equal(r.cap, 10485760);
    check_seeded(r.body, r.len, 10000000, 2);
    ps__http_body_release(r.body, r.cap);
    PS_ASSERT_OK(get(c, "/cl?n=4000000&seed=3", &r)); /* too small for it: new memory */
    assert_ptr_not_equal(r.body, first);
    assert_int_equal(r.cap, 4000000);
    check_seeded(r.body, r.len, 4000000, 3);
    ps__http_body_release(r.body, r.cap);
    PS_ASSERT_OK(get(c, "/cl?n=20000000&seed=4", &r)); /* too large */
    assert_ptr_not_equal(r.body, first);
    check_seeded(r.body, r.len, 20000000, 4);
    ps__http_body_release(r.body, r.cap);
    ps__http_body_release(NULL, 0);
    ps__http_client_free(c); /* frees the spare (the leak checker would see it) */
}

/* A child forked while `c` holds a pooled connection opens its own (it
 * never uses or closes the parent's), and the parent's connection keeps
 * serving afterwards. */
static void check_fork_keeps_connection(ps__http_client *c)
{
    int a, ra;
    whoami(c, "/whoami", &a, &ra); /* leaves one pooled connection */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ps__http_response r;
        int code = 0;
        for (int i = 0; i < 3 && code == 0; i++) {
            if (get(c, "/whoami", &r) != PS_OK || r.status != 200)
                code = 1;
            int conn = 0, req = 0;
            char text[128];
            snprintf(text, sizeof text, "%.*s", (int)r.len, (const char *)r.body);
            ps_free(r.body);
            if (code == 0 &&
                (sscanf(text, "conn=%d req=%d", &conn, &req) != 2 || conn == a || req != i + 1))
                code = 2;
        }
        ps__http_client_free(c);
        _exit(code);
    }
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    int b, rb;
    whoami(c, "/whoami", &b, &rb);
    assert_int_equal(b, a); /* the parent's connection is intact */
    assert_int_equal(rb, ra + 1);
}

static void test_fork(void **state)
{
    (void)state;
    ps__http_client *c = client(0);
    check_fork_keeps_connection(c);
    ps__http_stats s;
    ps__http_client_stats(c, &s);
    assert_int_equal(s.retries, 0);
    ps__http_client_free(c);
}

/* A client of `transport` for the test server; NULL (after PST_SKIP) when
 * libcurl is needed and missing. */
static ps__http_client *client_via(ps__http_transport transport, const char *auth)
{
    ps__http_client *c = NULL;
    ps__http_options o = {.auth_header = auth, .pool_max = 4, .transport = transport};
    ps_status st = ps__http_client_new(base, &o, &c);
    if (st == PS_EUNAVAILABLE)
        return NULL;
    PS_ASSERT_OK(st);
    return c;
}

/* Request targets, per-request header lines, the response's Content-Type,
 * POST bodies and HEAD: the same through both transports. */
static void check_requests(ps__http_client *c)
{
    char *t = NULL;
    PS_ASSERT_OK(ps__http_target(&t, "/headers", "key", "a b&c=d/%\xc3\xa9", "skipped",
                                 (const char *)NULL, "endpoint", "u-1.x_~", (const char *)NULL));
    assert_string_equal(t, "/headers?key=a%20b%26c%3Dd%2F%25%C3%A9&endpoint=u-1.x_~");
    ps__http_response r;
    PS_ASSERT_OK(
        ps__http_request_hdr(c, "GET", t, "X-One: 1\r\nX-Two: two words\r\n", NULL, 0, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/plain; charset=x");
    char want[512];
    snprintf(want, sizeof want,
             "method=GET one=1 two=two words auth=Bearer x type=- fwd=- target=%s body=0", t);
    assert_int_equal(r.len, strlen(want));
    assert_memory_equal(r.body, want, r.len);
    ps__http_body_release(r.body, r.cap);
    /* the extra lines are for that request only */
    PS_ASSERT_OK(ps__http_request(c, "POST", "/headers", "hello", 5, &r));
    const char *post = "method=POST one=- two=- auth=Bearer x type=application/octet-stream fwd=- "
                       "target=/headers body=5";
    assert_int_equal(r.len, strlen(post));
    assert_memory_equal(r.body, post, r.len);
    ps__http_body_release(r.body, r.cap);
    PS_ASSERT_OK(ps__http_request(c, "HEAD", "/cl?n=1000", NULL, 0, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_null(r.body);
    ps_free(t);
    const char *bad[] = {"X-One: 1",     "Bad Name: x\r\n", "X: a\rb\r\n",
                         "X: a\r\n\r\n", ": v\r\n",         "X: a\nY: b\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        PS_ASSERT_STATUS(ps__http_request_hdr(c, "GET", "/headers", bad[i], NULL, 0, &r),
                         PS_EINVAL);
    PS_ASSERT_STATUS(ps__http_target(NULL, "/", (const char *)NULL), PS_EINVAL);
}

static void test_requests_builtin(void **state)
{
    (void)state;
    ps__http_client *c = client_via(PS__HTTP_AUTO, "Authorization: Bearer x");
    check_requests(c);
    ps__http_client_free(c);
}

/* The libcurl transport (last tests: they load libcurl into the process). */
static void test_requests_curl(void **state)
{
    (void)state;
    ps__http_client *c = client_via(PS__HTTP_CURL, "Authorization: Bearer x");
    if (c == NULL)
        PST_SKIP("libcurl.so.4 cannot be loaded");
    check_requests(c);
    /* pooled handles keep their connection */
    int a, ra, b, rb;
    whoami(c, "/whoami", &a, &ra);
    whoami(c, "/whoami", &b, &rb);
    assert_int_equal(b, a);
    assert_int_equal(rb, ra + 1);
    /* errors: a refused connection, a timeout */
    ps__http_client_free(c);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", pst_free_port());
    ps__http_options o = {.transport = PS__HTTP_CURL, .timeout_ms = 300};
    PS_ASSERT_OK(ps__http_client_new(url, &o, &c));
    ps__http_response r;
    PS_ASSERT_STATUS(ps__http_request(c, "GET", "/", NULL, 0, &r), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), ps__http_client_origin(c)));
    ps__http_client_free(c);
    PS_ASSERT_OK(ps__http_client_new(base, &o, &c));
    PS_ASSERT_STATUS(ps__http_request(c, "GET", "/stall?s=3", NULL, 0, &r), PS_ETIMEDOUT);
    ps__http_client_free(c);
    /* https:// URLs take libcurl without being asked; port 443 by default */
    PS_ASSERT_OK(ps__http_client_new("https://example.org/p/", NULL, &c));
    assert_string_equal(ps__http_client_origin(c), "example.org:443");
    ps__http_client_free(c);
}

/* fork() with a pooled libcurl handle: the child never uses the parent's
 * handle (its connection is the parent's), the parent's stays usable. */
static void test_fork_curl(void **state)
{
    (void)state;
    ps__http_client *c = client_via(PS__HTTP_CURL, NULL);
    if (c == NULL)
        PST_SKIP("libcurl.so.4 cannot be loaded");
    check_fork_keeps_connection(c);
    ps__http_client_free(c);
}

static bool libcurl_loaded(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "libcurl"))
            found = true;
    fclose(f);
    return found;
}

static void test_connector_without_libcurl(void **state)
{
    (void)state;
    char opts[256];
    snprintf(opts, sizeof opts, "{\"url\": \"%s/\", \"timeout_ms\": 5000}", base);
    ps_connector *conn = NULL;
    PS_ASSERT_OK(ps_connector_open("endpoint", opts, &conn));
    assert_string_equal(ps_endpoint_connector_uuid(conn), SERVER_UUID);
    assert_string_equal(ps_endpoint_connector_url(conn), base);
    /* the test server has no /get: 404 is "not found" */
    ps_key *k = NULL;
    PS_ASSERT_OK(ps_key_parse("endpoint:0b7f3c2a-1d4e-4f5a-8b6c-7d8e9f0a1b2c/" SERVER_UUID, &k));
    ps_bytes out;
    PS_ASSERT_STATUS(ps_connector_get(conn, k, &out), PS_NOT_FOUND);
    bool ex = false;
    PS_ASSERT_STATUS(ps_connector_exists(conn, k, &ex), PS_EPROTO);
    assert_non_null(strstr(ps_last_error(), "error code 404"));
    ps_key_free(k);
    ps_connector_close(conn, PS_CLEAR_DEFAULT);
    assert_false(libcurl_loaded());
    /* refused: PS_ECONN naming the URL */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", pst_free_port());
    snprintf(opts, sizeof opts, "{\"url\": \"%s\"}", url);
    PS_ASSERT_STATUS(ps_connector_open("endpoint", opts, &conn), PS_ECONN);
    assert_non_null(strstr(ps_last_error(), url));
    /* an unknown transport name */
    setenv("PROXYSTORE_ENDPOINT_HTTP", "carrier-pigeon", 1);
    PS_ASSERT_STATUS(ps_connector_open("endpoint", opts, &conn), PS_EINVAL);
    assert_non_null(strstr(ps_last_error(), "PROXYSTORE_ENDPOINT_HTTP"));
    unsetenv("PROXYSTORE_ENDPOINT_HTTP");
    assert_false(libcurl_loaded());
}

/* PROXYSTORE_ENDPOINT_HTTP=curl: the same connector through libcurl (last:
 * it loads libcurl into the process). */
static void test_connector_forced_curl(void **state)
{
    (void)state;
    char opts[256];
    snprintf(opts, sizeof opts, "{\"url\": \"%s\"}", base);
    setenv("PROXYSTORE_ENDPOINT_HTTP", "curl", 1);
    ps_connector *conn = NULL;
    ps_status st = ps_connector_open("endpoint", opts, &conn);
    unsetenv("PROXYSTORE_ENDPOINT_HTTP");
    PS_ASSERT_OK(st);
    assert_string_equal(ps_endpoint_connector_uuid(conn), SERVER_UUID);
    ps_connector_close(conn, PS_CLEAR_DEFAULT);
    assert_true(libcurl_loaded());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connector_without_libcurl), /* first: nothing loaded libcurl */
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_split_writes),
        cmocka_unit_test(test_connection_close),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_retry_stale_connection),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_eof_mid_response),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_hostname_and_prefix),
        cmocka_unit_test(test_post),
        cmocka_unit_test(test_body_allocation_failure),
        cmocka_unit_test(test_spare_buffer),
        cmocka_unit_test(test_spare_freed_on_allocator_change),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_requests_builtin),
        cmocka_unit_test(test_connector_forced_curl),
        cmocka_unit_test(test_requests_curl),
        cmocka_unit_test(test_fork_curl),
    };
    const char *filter = getenv("PS_TEST_FILTER");
    if (filter != NULL && *filter != '\0')
        cmocka_set_test_filter(filter);
    return pst_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
