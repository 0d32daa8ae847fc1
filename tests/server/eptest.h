/* Helpers for the endpoint server tests: run the real program, talk HTTP. */
#ifndef PS_EPTEST_H
#define PS_EPTEST_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ept_server {
    pid_t pid;
    int port;
    char url[64];
    char dir[1024]; /* a temporary directory owned by this server */
} ept_server;

/*
 * Start `proxystore-endpoint serve --port 0 --port-file ... <args>` (args is
 * a NULL-terminated list) and wait until it listens. Returns 0 or -1.
 * The server's stderr goes to <dir>/server.log.
 */
int ept_start(ept_server *s, const char *const *args);

/* SIGTERM (then SIGKILL after 10 s) and reap. Returns the exit status, or
 * 128+signal. Safe to call twice. */
int ept_stop(ept_server *s);

/* SIGKILL and reap. */
void ept_kill9(ept_server *s);

/* VmRSS of the process in KiB (from /proc/PID/status), -1 on error. */
long ept_rss_kib(pid_t pid);

typedef struct ept_reply {
    long status;
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
    char ctype[128];
} ept_reply;

/*
 * One HTTP request with libcurl. `method` "GET"/"POST"/...; `body` may be
 * NULL. With `chunked`, the body is sent with Transfer-Encoding: chunked in
 * pieces of `piece` bytes (0: all at once). `header` is one extra header
 * line or NULL. Returns 0, or -1 when no HTTP answer came back.
 */
int ept_http(const char *method, const char *url, const void *body, size_t len, int chunked,
             size_t piece, const char *header, ept_reply *out);

void ept_reply_free(ept_reply *r);

/* Connect to 127.0.0.1:port; -1 on error. */
int ept_connect(int port);

/* Send `n` bytes; 0 or -1. */
int ept_send(int fd, const void *data, size_t n);

/* Read until the peer closes or `timeout_ms` passes; returns a malloc'd
 * NUL-terminated buffer (possibly empty). */
char *ept_recv_all(int fd, int timeout_ms);

#endif
