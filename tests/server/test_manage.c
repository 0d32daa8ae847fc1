/*
 * proxystore-endpoint management end to end, in a private $PROXYSTORE_HOME:
 * configure -> list STOPPED -> start (daemon) -> list RUNNING -> /endpoint
 * answers the uuid -> test put/get/exists/evict -> stop -> remove, plus the
 * error paths and exit codes of upstream's commands, HANGING PID files,
 * --persist (SQLite across restarts) and config.toml read by Python's tomllib.
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
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "eptest.h"
#include "testutil.h"

static char *home;
static char *bin;
static char out[65536];

/* Run a shell command; its stdout+stderr land in `out`. Returns the exit code. */
static int vrun(const char *fmt, va_list ap)
{
    char cmd[8192];
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    char file[4200];
    snprintf(file, sizeof file, "%s/cli.out", home);
    int rc = pst_system("%s > '%s' 2>&1", cmd, file);
    FILE *f = fopen(file, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    if (f)
        fclose(f);
    out[n] = '\0';
    return rc;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vrun(fmt, ap);
    va_end(ap);
    return rc;
}

/* Run the CLI with `args` (shell words). */
static int cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cli(const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return run("'%s' %s", bin, args);
}

#define ASSERT_OUT(s)                                                                              \
    do {                                                                                           \
        if (strstr(out, (s)) == NULL)                                                              \
            fail_msg("output lacks \"%s\":\n%s", (s), out);                                        \
    } while (0)

static int setup(void **state)
{
    (void)state;
    home = pst_mkdtemp("ephome");
    bin = pst_bin_path("proxystore-endpoint");
    setenv("PROXYSTORE_HOME", home, 1);
    return home && bin ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    /* Stop whatever a failed test left running, by the PIDs in the PID files. */
    const char *names[] = {"ep1", "ep2", "ep3"};
    for (int i = 0; i < 3; i++) {
        char pidf[4200];
        snprintf(pidf, sizeof pidf, "%s/%s/daemon.pid", home, names[i]);
        FILE *f = fopen(pidf, "r");
        long pid = 0;
        if (f && fscanf(f, "%ld", &pid) == 1 && pid > 1)
            kill((pid_t)pid, SIGKILL);
        if (f)
            fclose(f);
    }
    pst_rmtree(home);
    free(home);
    free(bin);
    return 0;
}

static void config_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s/config.toml", home, name);
}

/* The uuid and port from a config.toml, via Python's tomllib. */
static void read_uuid_port(const char *name, char *uuid, int *port)
{
    char path[4200];
    config_path(path, sizeof path, name);
    assert_int_equal(
        run("python3 -c 'import tomllib,sys; d=tomllib.load(open(sys.argv[1],\"rb\")); "
            "print(d[\"uuid\"], d[\"port\"])' '%s'",
            path),
        0);
    assert_int_equal(sscanf(out, "%36s %d", uuid, port), 2);
}

static void test_lifecycle(void **state)
{
    (void)state;
    assert_int_equal(cli("list"), 0);
    ASSERT_OUT("No valid endpoint configurations in ");
    ASSERT_OUT(home);

    int port = pst_free_port();
    assert_int_equal(cli("configure ep1 --port %d", port), 0);
    ASSERT_OUT("INFO: Configured endpoint: ep1 <");
    ASSERT_OUT("proxystore-endpoint start ep1");
    /* config.toml matches upstream's layout and types (spec 1.10). */
    char path[4200];
    config_path(path, sizeof path, "ep1");
    assert_int_equal(
        pst_system(
            "python3 - '%s' %d <<'EOF'\n"
            "import sys, tomllib, uuid\n"
            "d = tomllib.load(open(sys.argv[1], 'rb'))\n"
            "assert d['name'] == 'ep1' and type(d['port']) is int and d['port'] == "
            "int(sys.argv[2]), d\n"
            "assert uuid.UUID(d['uuid'], version=4) and 'host' not in d, d\n"
            "assert d['host_type'] == 'ip', d\n"
            "r = d['relay']\n"
            "assert r['address'] == 'wss://relay.proxystore.dev' and r['peer_channels'] == 1, r\n"
            "assert r['verify_certificate'] is True, r\n"
            "assert r['auth'] == {'method': 'globus', 'kwargs': {}}, r\n"
            "assert d['storage'] == {'max_object_size': 100000000}, d\n"
            "assert list(d) == ['name', 'uuid', 'port', 'host_type', 'relay', 'storage'], list(d)\n"
            "EOF",
            path, port),
        0);

    assert_int_equal(cli("configure ep1"), 1);
    ASSERT_OUT("ERROR: An endpoint named ep1 already exists.");
    assert_int_equal(cli("configure 'bad name'"), 1);
    ASSERT_OUT("Name must only contain alphanumeric characters");
    assert_int_equal(cli("configure ep9 --peer-channels 0"), 1);
    ASSERT_OUT("Peer channels must be >= 1.");

    char uuid[40];
    int p2;
    read_uuid_port("ep1", uuid, &p2);
    assert_int_equal(cli("list"), 0);
    ASSERT_OUT("NAME               STATUS  UUID");
    char line[200];
    snprintf(line, sizeof line, "ep1                STOPPED %s", uuid);
    ASSERT_OUT(line);

    /* start: a daemon, with a PID file and a log file; host written into the config. */
    assert_int_equal(cli("start ep1"), 0);
    ASSERT_OUT("Starting endpoint process as daemon.");
    assert_int_equal(cli("list"), 0);
    snprintf(line, sizeof line, "ep1                RUNNING %s", uuid);
    ASSERT_OUT(line);
    assert_int_equal(cli("start ep1"), 1);
    ASSERT_OUT("ERROR: Endpoint ep1 is already running.");
    assert_int_equal(
        pst_system("python3 - '%s' <<'EOF'\n"
                   "import sys, tomllib\n"
                   "d = tomllib.load(open(sys.argv[1], 'rb'))\n"
                   "assert isinstance(d['host'], str) and d['host'], d\n"
                   "assert list(d)[:5] == ['name', 'uuid', 'port', 'host', 'host_type'], list(d)\n"
                   "EOF",
                   path),
        0);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/endpoint", port);
    ept_reply r;
    assert_int_equal(ept_http("GET", url, NULL, 0, 0, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    char want[100];
    snprintf(want, sizeof want, "{\"uuid\": \"%s\"}", uuid);
    assert_string_equal(r.body, want);
    ept_reply_free(&r);
    char logf[4200];
    snprintf(logf, sizeof logf, "%s/ep1/log.txt", home);
    assert_int_equal(
        pst_system("grep -q 'INFO  (proxystore.endpoint) :: Serving endpoint %s' '%s'", uuid, logf),
        0);

    /* test put/get/exists/evict through the CLI. */
    assert_int_equal(cli("test ep1 put 'hello world'"), 0);
    char *k = strstr(out, "Put object in endpoint with key ");
    assert_non_null(k);
    char key[40];
    assert_int_equal(sscanf(k + strlen("Put object in endpoint with key "), "%36s", key), 1);
    assert_int_equal(cli("test ep1 get %s", key), 0);
    ASSERT_OUT("INFO: Result: hello world");
    assert_int_equal(cli("test ep1 exists %s", key), 0);
    ASSERT_OUT("Object exists: True");
    assert_int_equal(cli("test ep1 --remote %s exists %s", uuid, key), 0);
    ASSERT_OUT("Object exists: True");
    assert_int_equal(cli("test ep1 --remote not-a-uuid exists %s", key), 1);
    ASSERT_OUT("Endpoint returned HTTP error code 400. not-a-uuid is not a valid UUID4");
    assert_int_equal(cli("test ep1 evict %s", key), 0);
    ASSERT_OUT("Evicted object from endpoint.");
    assert_int_equal(cli("test ep1 get %s", key), 0);
    ASSERT_OUT("Object does not exist.");
    /* Keys the CLI must escape: stored under "a b&c=d/%" by hand, then read,
     * checked and evicted by the CLI. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/set?key=a%%20b%%26c%%3Dd%%2F%%25", port);
    assert_int_equal(ept_http("POST", url, "US\nspaced", 9, 0, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ept_reply_free(&r);
    assert_int_equal(cli("test ep1 get 'a b&c=d/%%'"), 0);
    ASSERT_OUT("INFO: Result: spaced");
    assert_int_equal(cli("test ep1 exists 'a b&c=d/%%'"), 0);
    ASSERT_OUT("Object exists: True");
    assert_int_equal(cli("test ep1 evict 'a b&c=d/%%'"), 0);
    assert_int_equal(cli("test ep1 exists 'a b&c=d/%%'"), 0);
    ASSERT_OUT("Object exists: False");
    assert_int_equal(cli("test nope get %s", key), 1);
    ASSERT_OUT("An endpoint named nope does not exist.");

    /* remove refuses a running endpoint; stop; then remove. */
    assert_int_equal(cli("remove ep1"), 1);
    ASSERT_OUT("Endpoint must be stopped before removing.");
    char pidf[4200];
    snprintf(pidf, sizeof pidf, "%s/ep1/daemon.pid", home);
    FILE *f = fopen(pidf, "r");
    assert_non_null(f);
    long pid = 0;
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    assert_int_equal(cli("stop ep1"), 0);
    ASSERT_OUT("Endpoint ep1 has been stopped.");
    assert_int_not_equal(kill((pid_t)pid, 0), 0);
    assert_int_not_equal(access(pidf, F_OK), 0);
    assert_int_equal(cli("test ep1 get %s", key), 1);
    ASSERT_OUT("Unable to connect to endpoint at http://");
    assert_int_equal(cli("stop ep1"), 0);
    ASSERT_OUT("Endpoint ep1 is not running.");
    assert_int_equal(cli("list"), 0);
    snprintf(line, sizeof line, "ep1                STOPPED %s", uuid);
    ASSERT_OUT(line);

    /* A PID file without its process: HANGING. */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    f = fopen(pidf, "w");
    fprintf(f, "%ld\n", (long)dead);
    fclose(f);
    assert_int_equal(cli("list"), 0);
    snprintf(line, sizeof line, "ep1                HANGING %s", uuid);
    ASSERT_OUT(line);
    assert_int_equal(cli("remove ep1"), 1);
    /* Upstream compares the config's host (an IP) with the host name here. */
    assert_int_equal(pst_system("PROXYSTORE_HOSTNAME=elsewhere '%s' stop ep1 >/dev/null", bin), 1);
    /* start clears a stale PID file of this host and starts; attached mode too. */
    assert_int_equal(cli("start ep1"), 0);
    assert_int_equal(cli("list"), 0);
    snprintf(line, sizeof line, "ep1                RUNNING %s", uuid);
    ASSERT_OUT(line);
    assert_int_equal(cli("stop ep1"), 0);

    assert_int_equal(cli("remove ep1"), 0);
    ASSERT_OUT("Removed endpoint named ep1.");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/ep1", home);
    assert_int_not_equal(access(dir, F_OK), 0);
    assert_int_equal(cli("list"), 0);
    ASSERT_OUT("No valid endpoint configurations");

    /* Unknown endpoints. */
    assert_int_equal(cli("start nope"), 1);
    ASSERT_OUT("A valid endpoint named nope does not exist.");
    assert_int_equal(cli("stop nope"), 1);
    assert_int_equal(cli("remove nope"), 1);
    ASSERT_OUT("An endpoint named nope does not exist.");
}

/* --persist: SQLite under the endpoint directory survives a restart. */
static void test_persist(void **state)
{
    (void)state;
    int port = pst_free_port();
    assert_int_equal(cli("configure ep2 --persist --port %d --no-relay-server", port), 0);
    char path[4200];
    config_path(path, sizeof path, "ep2");
    assert_int_equal(pst_system("python3 - '%s' '%s' <<'EOF'\n"
                                "import sys, tomllib\n"
                                "d = tomllib.load(open(sys.argv[1], 'rb'))\n"
                                "assert d['storage']['database_path'] == sys.argv[2] + "
                                "'/ep2/blobs.db', d\n"
                                "assert 'address' not in d['relay'], d\n"
                                "EOF",
                                path, home),
                     0);
    assert_int_equal(cli("start ep2"), 0);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/set?key=kept", port);
    ept_reply r;
    assert_int_equal(ept_http("POST", url, "durable", 7, 0, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ept_reply_free(&r);
    assert_int_equal(cli("stop ep2"), 0);
    assert_int_equal(cli("start ep2"), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/get?key=kept", port);
    assert_int_equal(ept_http("GET", url, NULL, 0, 0, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "durable");
    ept_reply_free(&r);
    assert_int_equal(cli("stop ep2"), 0);
    char db[4200];
    snprintf(db, sizeof db, "%s/ep2/blobs.db", home);
    assert_int_equal(access(db, F_OK), 0);
    assert_int_equal(cli("remove ep2"), 0);
}

/* Our extra keys: spill settings, token, peers; and a start that fails. */
static void test_extras(void **state)
{
    (void)state;
    int port = pst_free_port();
    char dump[4200];
    snprintf(dump, sizeof dump, "%s/dump3", home);
    assert_int_equal(cli("configure ep3 --port %d --max-memory 1MB --dump-dir '%s' --token tok "
                         "--peer 6ba7b810-9dad-41d1-80b4-00c04fd430c8=http://127.0.0.1:1 "
                         "--max-object-size 2MB --host 127.0.0.1",
                         port, dump),
                     0);
    char path[4200];
    config_path(path, sizeof path, "ep3");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* it holds a token */
    assert_int_equal(
        pst_system("python3 - '%s' '%s' <<'EOF'\n"
                   "import sys, tomllib\n"
                   "d = tomllib.load(open(sys.argv[1], 'rb'))\n"
                   "assert d['host'] == '127.0.0.1' and d['host_type'] == 'static', d\n"
                   "assert d['storage'] == {'max_object_size': 2000000, 'max_memory': 1000000, "
                   "'dump_dir': sys.argv[2]}, d\n"
                   "assert d['auth'] == {'token': 'tok'}, d\n"
                   "assert d['peers'] == {'6ba7b810-9dad-41d1-80b4-00c04fd430c8': "
                   "'http://127.0.0.1:1'}, d\n"
                   "EOF",
                   path, dump),
        0);
    assert_int_equal(cli("start ep3"), 0);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    ept_reply r;
    assert_int_equal(ept_http("GET", url, NULL, 0, 0, 0, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    ept_reply_free(&r);
    assert_int_equal(cli("test ep3 put token-ok"), 0); /* the CLI sends the token */
    assert_int_equal(cli("test ep3 --remote 6ba7b810-9dad-41d1-80b4-00c04fd430c8 get k"), 1);
    ASSERT_OUT("Request to peer 6ba7b810-9dad-41d1-80b4-00c04fd430c8 failed");
    assert_int_equal(cli("stop ep3"), 0);

    /* A port already taken: start reports the failure and exits 1. */
    ept_server blocker;
    assert_int_equal(ept_start(&blocker, NULL), 0);
    FILE *f = fopen(path, "r");
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char portline[64], newline[64];
    snprintf(portline, sizeof portline, "port = %d\n", port);
    snprintf(newline, sizeof newline, "port = %d\n", blocker.port);
    char *at = strstr(text, portline);
    assert_non_null(at);
    char patched[4200];
    snprintf(patched, sizeof patched, "%.*s%s%s", (int)(at - text), text, newline,
             at + strlen(portline));
    f = fopen(path, "w");
    fputs(patched, f);
    fclose(f);
    assert_int_equal(cli("start ep3"), 1);
    ASSERT_OUT("The endpoint daemon failed to start: cannot serve on 127.0.0.1 port");
    assert_int_equal(ept_stop(&blocker), 0);
    pst_rmtree(blocker.dir);
    assert_int_equal(cli("list"), 0);
    ASSERT_OUT("ep3                STOPPED");

    /* A broken config is UNKNOWN to start and skipped by list. */
    f = fopen(path, "a");
    fputs("port = 1.5\n", f);
    fclose(f);
    assert_int_equal(cli("start ep3"), 1);
    assert_int_equal(cli("list"), 0);
    ASSERT_OUT("No valid endpoint configurations");
    assert_int_equal(cli("remove ep3"), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_persist),
        cmocka_unit_test(test_extras),
    };
    int rc = cmocka_run_group_tests_name("endpoint.manage", tests, setup, teardown);
    curl_global_cleanup();
    return pst_exit(rc);
}
