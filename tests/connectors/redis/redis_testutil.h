/*
 * Helpers for the Redis connector tests: the shared fixture server, private
 * servers started by a test, and a raw hiredis client that plays upstream.
 *
 * The shared server comes from the CTest fixture "redis_server"
 * (scripts/redis-test-server): PS_TEST_REDIS_DIR names its directory, with
 * the files "port" and "socket". PS_TEST_REDIS=host:port and
 * PS_TEST_REDIS_SOCKET=path override it (to reuse a running server).
 *
 * Private servers are children of the test process (fork/exec), started with
 * PR_SET_PDEATHSIG so they die with the test even when it crashes, and
 * stopped by PID in the teardown.
 */
#ifndef PS_REDIS_TESTUTIL_H
#define PS_REDIS_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "proxystore/proxystore.h"

/* The shared fixture server. Returns false (and prints why) if unknown. */
bool pstr_shared(char *host, size_t hostsize, int *port, char *sock, size_t socksize);

/* Options JSON for the shared server over TCP (`extra` is appended inside the
 * object, e.g. "\"clear\": true", or NULL). Returns a malloc'd string. */
char *pstr_shared_tcp_json(const char *extra);
/* The same over the unix socket. */
char *pstr_shared_unix_json(const char *extra);

typedef struct pstr_server {
    pid_t pid;
    int port;
    char dir[1024];
    char sock[1200];
    char args[16][128]; /* extra redis-server arguments (kept for restart) */
    int nargs;
} pstr_server;

/* Start a private redis-server on a free loopback port (and a unix socket in
 * a fresh directory) with extra arguments (NULL-terminated, may be NULL).
 * Waits until it answers. Returns 0 on success. */
int pstr_server_start(pstr_server *s, const char *const *extra);
/* Kill the server (SIGKILL) and wait for it; keeps the port and directory. */
void pstr_server_kill(pstr_server *s);
/* Start it again on the same port with the same arguments. */
int pstr_server_restart(pstr_server *s);
/* Stop the server (if running) and remove its directory. */
void pstr_server_stop(pstr_server *s);

/* A raw hiredis connection, as upstream's redis-py would use (NULL on error). */
redisContext *pstr_raw_tcp(const char *host, int port);
redisContext *pstr_raw_unix(const char *path);

/* SET/GET/EXISTS/DEL on a raw connection; return -1 on a transport error. */
int pstr_raw_set(redisContext *c, const char *key, const void *data, size_t len);
/* GET into a malloc'd buffer (*data NULL when missing). Returns 0 or -1. */
int pstr_raw_get(redisContext *c, const char *key, void **data, size_t *len);
/* EXISTS: 1, 0, or -1 on error. */
int pstr_raw_exists(redisContext *c, const char *key);
/* SELECT db; 0 or -1. */
int pstr_raw_select(redisContext *c, int db);
/* DBSIZE; -1 on error. */
long long pstr_raw_dbsize(redisContext *c);

#endif
