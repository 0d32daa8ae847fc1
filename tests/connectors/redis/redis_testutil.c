#include "redis_testutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static bool read_line(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool ok = fgets(out, (int)size, f) != NULL;
    fclose(f);
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok && out[0] != '\0';
}

bool pstr_shared(char *host, size_t hostsize, int *port, char *sock, size_t socksize)
{
    const char *env = getenv("PS_TEST_REDIS");
    const char *envs = getenv("PS_TEST_REDIS_SOCKET");
    if (env && *env) {
        const char *colon = strrchr(env, ':');
        if (colon == NULL) {
            fprintf(stderr, "PS_TEST_REDIS must be host:port, not %s\n", env);
            return false;
        }
        snprintf(host, hostsize, "%.*s", (int)(colon - env), env);
        *port = atoi(colon + 1);
        snprintf(sock, socksize, "%s", envs ? envs : "");
        return true;
    }
    const char *dir = getenv("PS_TEST_REDIS_DIR");
    if (dir == NULL || *dir == '\0') {
        fprintf(stderr, "PS_TEST_REDIS_DIR is not set: run through ctest (fixture "
                        "redis_server) or set PS_TEST_REDIS=host:port\n");
        return false;
    }
    char path[2048], line[1024];
    snprintf(path, sizeof path, "%s/port", dir);
    if (!read_line(path, line, sizeof line)) {
        fprintf(stderr, "cannot read %s: is the redis_server fixture running?\n", path);
        return false;
    }
    *port = atoi(line);
    snprintf(host, hostsize, "127.0.0.1");
    snprintf(path, sizeof path, "%s/socket", dir);
    if (!read_line(path, sock, socksize))
        sock[0] = '\0';
    return true;
}

char *pstr_shared_tcp_json(const char *extra)
{
    char host[256], sock[1024];
    int port = 0;
    if (!pstr_shared(host, sizeof host, &port, sock, sizeof sock))
        return NULL;
    char *out = malloc(2048);
    if (out)
        snprintf(out, 2048, "{\"hostname\": \"%s\", \"port\": %d%s%s}", host, port,
                 extra ? ", " : "", extra ? extra : "");
    return out;
}

char *pstr_shared_unix_json(const char *extra)
{
    char host[256], sock[1024];
    int port = 0;
    if (!pstr_shared(host, sizeof host, &port, sock, sizeof sock) || sock[0] == '\0')
        return NULL;
    char *out = malloc(2048);
    if (out)
        snprintf(out, 2048, "{\"unix_socket\": \"%s\"%s%s}", sock, extra ? ", " : "",
                 extra ? extra : "");
    return out;
}

/* ---- private servers ------------------------------------------------------ */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static pid_t spawn(pstr_server *s)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[48];
    int n = 0;
    argv[n++] = "redis-server";
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--unixsocket";
    argv[n++] = s->sock;
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--dir";
    argv[n++] = s->dir;
    argv[n++] = "--loglevel";
    argv[n++] = "warning";
    for (int i = 0; i < s->nargs; i++)
        argv[n++] = s->args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        /* Die with the test process, whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char log[1300];
        snprintf(log, sizeof log, "%s/redis.log", s->dir);
        FILE *f = freopen(log, "a", stdout);
        (void)f;
        execvp("redis-server", (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return pid;
}

/* Wait until the server answers on its unix socket and TCP port. */
static int wait_ready(pstr_server *s)
{
    for (int i = 0; i < 200; i++) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1; /* exited: the port was probably taken */
        }
        struct stat st;
        if (stat(s->sock, &st) == 0) {
            redisContext *c = redisConnect("127.0.0.1", s->port);
            bool ok = c && !c->err;
            if (ok) {
                redisReply *r = redisCommand(c, "PING");
                ok = r != NULL; /* PONG, or NOAUTH with requirepass: alive */
                if (r)
                    freeReplyObject(r);
            }
            if (c)
                redisFree(c);
            if (ok)
                return 0;
        }
        sleep_ms(25);
    }
    return -1;
}

/* Show (and forget) the server's log after a failed start. */
static void dump_log(const pstr_server *s)
{
    char path[1300], line[512];
    snprintf(path, sizeof path, "%s/redis.log", s->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fprintf(stderr, "redis-server on port %d did not start; its log:\n", s->port);
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  %s", line);
    fclose(f);
    unlink(path);
}

int pstr_server_start(pstr_server *s, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    char *dir = pst_mkdtemp("redis");
    if (dir == NULL)
        return -1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    free(dir);
    snprintf(s->sock, sizeof s->sock, "%s/redis.sock", s->dir);
    for (int i = 0; extra && extra[i] && i < 16; i++) {
        snprintf(s->args[i], sizeof s->args[i], "%s", extra[i]);
        s->nargs++;
    }
    for (int attempt = 0; attempt < 10; attempt++) {
        s->port = pst_free_port();
        if (s->port <= 0)
            continue;
        s->pid = spawn(s);
        if (s->pid > 0 && wait_ready(s) == 0)
            return 0;
        pstr_server_kill(s);
        dump_log(s);
    }
    return -1;
}

void pstr_server_kill(pstr_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGCONT);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    unlink(s->sock);
}

int pstr_server_restart(pstr_server *s)
{
    pstr_server_kill(s);
    for (int attempt = 0; attempt < 50; attempt++) {
        s->pid = spawn(s);
        if (s->pid > 0 && wait_ready(s) == 0)
            return 0;
        pstr_server_kill(s);
        sleep_ms(100);
    }
    return -1;
}

void pstr_server_stop(pstr_server *s)
{
    pstr_server_kill(s);
    if (s->dir[0])
        pst_rmtree(s->dir);
    s->dir[0] = '\0';
}

/* ---- raw client ------------------------------------------------------------- */

redisContext *pstr_raw_tcp(const char *host, int port)
{
    redisContext *c = redisConnect(host, port);
    if (c && c->err) {
        fprintf(stderr, "raw connect %s:%d: %s\n", host, port, c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

redisContext *pstr_raw_unix(const char *path)
{
    redisContext *c = redisConnectUnix(path);
    if (c && c->err) {
        fprintf(stderr, "raw connect %s: %s\n", path, c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

int pstr_raw_set(redisContext *c, const char *key, const void *data, size_t len)
{
    redisReply *r = redisCommand(c, "SET %s %b", key, data, len);
    int rc = (r && r->type == REDIS_REPLY_STATUS) ? 0 : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

int pstr_raw_get(redisContext *c, const char *key, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    redisReply *r = redisCommand(c, "GET %s", key);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING) {
        *data = malloc(r->len + 1);
        if (*data == NULL) {
            rc = -1;
        } else {
            memcpy(*data, r->str, r->len);
            *len = r->len;
        }
    } else if (r->type != REDIS_REPLY_NIL) {
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

int pstr_raw_exists(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "EXISTS %s", key);
    int rc = (r && r->type == REDIS_REPLY_INTEGER) ? (r->integer > 0) : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

int pstr_raw_select(redisContext *c, int db)
{
    redisReply *r = redisCommand(c, "SELECT %d", db);
    int rc = (r && r->type == REDIS_REPLY_STATUS) ? 0 : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

long long pstr_raw_dbsize(redisContext *c)
{
    redisReply *r = redisCommand(c, "DBSIZE");
    long long n = (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}
