/*
 * Dormant connectors across processes that play different hosts.
 *
 * The test re-executes its own binary (/proc/self/exe) three times with
 * PROXYSTORE_HOSTNAME set, each child running one role against the same
 * directories:
 *
 *   a   host "a": a store over a multi connector with three file connectors,
 *       "only-a" (host a, priority 2), "only-b" (host b, priority 2) and
 *       "shared" (hosts a|b, priority 1, takes objects tagged "shared").
 *       Makes two proxies: an untagged one (lands in only-a) and a tagged
 *       one (lands in shared, through the store's put options), writes their
 *       tokens and the multi connector's config() to files.
 *   b   host "b": resolves both tokens in this fresh process (the store is
 *       built from the token's configuration): the shared one round-trips,
 *       the only-a one fails with PS_EINVAL "dormant". Opening the multi
 *       connector from a's config finds only-a dormant and writes back the
 *       same config(). Makes its own tagged and untagged proxies.
 *   a2  host "a" again: resolves b's tagged proxy (shared), is refused b's
 *       untagged one (only-b is dormant here), and still resolves its own.
 *
 * Every child exits 0 on success, else prints what failed and exits 1. The
 * parent test asserts the exit statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "proxystore/connectors/multi.h"
#include "proxystore/proxy.h"
#include "proxystore/sys/connector.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "[%s] line %d: check failed: %s: ", g_role, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, " (last error: %s)\n", ps_last_error());                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static const char *g_role = "parent";
static char g_dir[4096];

static const char DATA_A_UNTAGGED[] = "made on host a, kept on a";
static const char DATA_A_SHARED[] = "made on host a, shared with b";
static const char DATA_B_UNTAGGED[] = "made on host b, kept on b";
static const char DATA_B_SHARED[] = "made on host b, shared with a";

/* ---- files ------------------------------------------------------------------- */

static void write_file(const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "fopen %s: %s", path, strerror(errno));
    fputs(text, f);
    CHECK(fclose(f) == 0, "write %s", path);
}

static char *read_file(const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "fopen %s: %s", path, strerror(errno));
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* ---- roles --------------------------------------------------------------------- */

static ps_store *open_store(void)
{
    char json[16384];
    snprintf(json, sizeof json,
             "{\"connectors\": ["
             "{\"name\": \"only-a\", \"connector\": {\"kind\": \"file\", \"options\": "
             "{\"store_dir\": \"%s/only-a\", \"clear\": false, \"buffering\": -1}}, "
             "\"policy\": {\"host_pattern\": [\"a\"], \"priority\": 2}},"
             "{\"name\": \"only-b\", \"connector\": {\"kind\": \"file\", \"options\": "
             "{\"store_dir\": \"%s/only-b\", \"clear\": false, \"buffering\": -1}}, "
             "\"policy\": {\"host_pattern\": [\"b\"], \"priority\": 2}},"
             "{\"name\": \"shared\", \"connector\": {\"kind\": \"file\", \"options\": "
             "{\"store_dir\": \"%s/shared\", \"clear\": false, \"buffering\": -1}}, "
             "\"policy\": {\"host_pattern\": \"a|b\", \"priority\": 1, "
             "\"subset_tags\": [\"shared\"]}}]}",
             g_dir, g_dir, g_dir);
    ps_connector *c = NULL;
    CHECK(ps_connector_open("multi", json, &c) == PS_OK, "open multi");
    ps_store_options so;
    ps_store_options_init(&so);
    so.cache_size = 0;
    ps_store *s = NULL;
    CHECK(ps_store_new("multi-hosts", c, &so, &s) == PS_OK, "store");
    return s;
}

/* Put through a proxy, with or without the "shared" tag; returns the token. */
static char *make_token(ps_store *s, const char *data, bool shared, const char *want_entry)
{
    static const char *const tag[] = {"shared"};
    ps_put_options po;
    ps_put_options_init(&po);
    if (shared) {
        po.subset_tags = tag;
        po.n_subset_tags = 1;
    }
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.put = &po;
    ps_proxy *p = NULL;
    CHECK(ps_store_proxy(s, data, strlen(data), &o, &p) == PS_OK, "proxy of \"%s\"", data);
    const char *entry = NULL;
    CHECK(ps_multi_key_connector_name(ps_proxy_key(p), &entry) == PS_OK, "key name");
    CHECK(strcmp(entry, want_entry) == 0, "\"%s\" landed in %s, want %s", data, entry, want_entry);
    char *token = NULL;
    CHECK(ps_proxy_encode(p, &token) == PS_OK, "encode");
    ps_proxy_unref(p);
    char *copy = strdup(token);
    ps_free(token);
    return copy;
}

/* Decode and resolve a token; returns the status, checks the bytes on PS_OK. */
static ps_status resolve_token(const char *token, const char *want)
{
    ps_proxy *p = NULL;
    CHECK(ps_proxy_decode(token, &p) == PS_OK, "decode");
    const void *data = NULL;
    size_t len = 0;
    ps_status st = ps_proxy_resolve(p, &data, &len);
    if (st == PS_OK)
        CHECK(len == strlen(want) && memcmp(data, want, len) == 0, "resolved bytes differ");
    ps_proxy_unref(p);
    return st;
}

static void role_a(void)
{
    ps_store *s = open_store();
    ps_connector *c = ps_store_connector(s);
    /* on host a, only-b is dormant */
    bool dormant = false;
    const char *name = NULL;
    CHECK(ps_multi_connector_entry(c, 1, &name, &dormant, NULL) == PS_OK, "entry 1");
    CHECK(strcmp(name, "only-b") == 0 && dormant, "only-b dormant on a");
    char *t1 = make_token(s, DATA_A_UNTAGGED, false, "only-a");
    char *t2 = make_token(s, DATA_A_SHARED, true, "shared");
    /* the store's plain put takes the tags too */
    static const char *const tag[] = {"shared"};
    ps_put_options po;
    ps_put_options_init(&po);
    po.subset_tags = tag;
    po.n_subset_tags = 1;
    ps_key *k = NULL;
    CHECK(ps_store_put(s, "x", 1, &po, &k) == PS_OK, "store put");
    CHECK(ps_multi_key_connector_name(k, &name) == PS_OK && strcmp(name, "shared") == 0,
          "store put landed in %s", name);
    CHECK(ps_store_evict(s, k) == PS_OK, "evict");
    ps_key_free(k);
    write_file("a-untagged.token", t1);
    write_file("a-shared.token", t2);
    char *cfg = NULL;
    CHECK(ps_connector_config(c, &cfg) == PS_OK, "config");
    write_file("a-connector.json", cfg);
    ps_free(cfg);
    free(t1);
    free(t2);
    CHECK(ps_store_close(s, PS_CLEAR_KEEP) == PS_OK, "close");
}

static void role_b(void)
{
    char *t1 = read_file("a-untagged.token");
    char *t2 = read_file("a-shared.token");
    /* the shared connector resolves here */
    CHECK(resolve_token(t2, DATA_A_SHARED) == PS_OK, "resolve a's shared proxy on b");
    /* a's own connector is dormant here */
    ps_status st = resolve_token(t1, DATA_A_UNTAGGED);
    CHECK(st == PS_EINVAL, "resolve a's untagged proxy on b gave %s", ps_status_name(st));
    CHECK(strstr(ps_last_error(), "dormant") != NULL, "message should say dormant");
    /* the same configuration opened here: one dormant entry, same config() */
    char *cfg_a = read_file("a-connector.json");
    json_error_t jerr;
    json_t *j = json_loads(cfg_a, 0, &jerr);
    CHECK(j != NULL, "parse a's config: %s", jerr.text);
    ps_connector *c = NULL;
    CHECK(ps_connector_from_config_json(j, &c) == PS_OK, "open from a's config");
    json_decref(j);
    char *cfg_b = NULL;
    CHECK(ps_connector_config(c, &cfg_b) == PS_OK, "config");
    CHECK(strcmp(cfg_a, cfg_b) == 0, "config differs:\n a: %s\n b: %s", cfg_a, cfg_b);
    CHECK(ps_connector_close(c, PS_CLEAR_KEEP) == PS_OK, "close");
    /* and b's config() round-trips on b */
    j = json_loads(cfg_b, 0, &jerr);
    CHECK(j != NULL, "parse b's config: %s", jerr.text);
    CHECK(ps_connector_from_config_json(j, &c) == PS_OK, "open from b's config");
    json_decref(j);
    char *cfg_b2 = NULL;
    CHECK(ps_connector_config(c, &cfg_b2) == PS_OK, "config");
    CHECK(strcmp(cfg_b, cfg_b2) == 0, "round trip on b differs");
    CHECK(ps_connector_close(c, PS_CLEAR_KEEP) == PS_OK, "close");
    ps_free(cfg_b2);
    ps_free(cfg_b);
    cfg_b = NULL;
    ps_store *s = open_store();
    c = ps_store_connector(s);
    size_t dormant_count = 0;
    for (size_t i = 0; i < ps_multi_connector_count(c); i++) {
        bool d = false;
        CHECK(ps_multi_connector_entry(c, i, NULL, &d, NULL) == PS_OK, "entry");
        dormant_count += d;
    }
    CHECK(dormant_count == 1, "want 1 dormant entry on b, got %zu", dormant_count);
    bool d0 = false;
    CHECK(ps_multi_connector_entry(c, 0, NULL, &d0, NULL) == PS_OK && d0, "only-a dormant");
    CHECK(ps_connector_config(c, &cfg_b) == PS_OK, "config");
    CHECK(strcmp(cfg_a, cfg_b) == 0, "store's config differs:\n a: %s\n b: %s", cfg_a, cfg_b);
    ps_free(cfg_b);
    char *t3 = make_token(s, DATA_B_SHARED, true, "shared");
    char *t4 = make_token(s, DATA_B_UNTAGGED, false, "only-b");
    write_file("b-shared.token", t3);
    write_file("b-untagged.token", t4);
    free(t3);
    free(t4);
    free(cfg_a);
    free(t1);
    free(t2);
    CHECK(ps_store_close(s, PS_CLEAR_KEEP) == PS_OK, "close");
}

static void role_a2(void)
{
    char *t1 = read_file("a-untagged.token");
    char *t3 = read_file("b-shared.token");
    char *t4 = read_file("b-untagged.token");
    CHECK(resolve_token(t3, DATA_B_SHARED) == PS_OK, "resolve b's shared proxy on a");
    ps_status st = resolve_token(t4, DATA_B_UNTAGGED);
    CHECK(st == PS_EINVAL, "resolve b's untagged proxy on a gave %s", ps_status_name(st));
    CHECK(strstr(ps_last_error(), "dormant") != NULL, "message should say dormant");
    CHECK(resolve_token(t1, DATA_A_UNTAGGED) == PS_OK, "a's own proxy");
    free(t1);
    free(t3);
    free(t4);
}

/* ---- the parent test ------------------------------------------------------------- */

static int run_role(const char *role, const char *host)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setenv("PROXYSTORE_HOSTNAME", host, 1);
        execl("/proc/self/exe", "test_multi_hosts", role, g_dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int setup(void **state)
{
    char *dir = pst_mkdtemp("multi-hosts");
    if (dir == NULL)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    pst_rmtree(*state);
    free(*state);
    return 0;
}

static void test_two_hosts(void **state)
{
    (void)state;
    assert_int_equal(run_role("a", "a"), 0);
    assert_int_equal(run_role("b", "b"), 0);
    assert_int_equal(run_role("a2", "a"), 0);
}

int main(int argc, char **argv)
{
    if (argc == 3) {
        g_role = argv[1];
        snprintf(g_dir, sizeof g_dir, "%s", argv[2]);
        if (strcmp(g_role, "a") == 0)
            role_a();
        else if (strcmp(g_role, "b") == 0)
            role_b();
        else if (strcmp(g_role, "a2") == 0)
            role_a2();
        else
            return 2;
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_hosts, setup, teardown),
    };
    return pst_exit(cmocka_run_group_tests_name("multi.hosts", tests, NULL, NULL));
}
