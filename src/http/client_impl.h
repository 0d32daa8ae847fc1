/*
 * What the HTTP client's files share (client.c: clients, pool, fork, spare
 * buffer; h1.c: the built-in HTTP/1.1 transport; curl.c: libcurl). Private
 * to src/http/.
 */
#ifndef PS_HTTP_CLIENT_IMPL_H
#define PS_HTTP_CLIENT_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "http/http.h"

/* A pooled connection: a socket of the built-in transport, or a libcurl
 * handle (which keeps its own connection). */
typedef struct ps__http_conn {
    int fd;             /* -1 for a libcurl handle */
    void *curl;         /* the libcurl handle, or NULL */
    pid_t pid;          /* the process that opened it */
    unsigned char *buf; /* received, not consumed yet: buf[pos, end) */
    size_t pos, end, cap;
} ps__http_conn;

struct ps__http_client {
    bool curl;     /* libcurl transport */
    char *base;    /* libcurl: scheme://authority/prefix, the URL of target "" */
    void *hdr_get; /* libcurl: header lists of GET and POST requests */
    void *hdr_post;
    char *host;      /* for getaddrinfo (no brackets) */
    char port[8];    /* decimal */
    char *authority; /* Host header: as in the URL */
    char *origin;    /* host:port for messages (IPv6 in brackets) */
    char *prefix;    /* "" or "/p/q" */
    char *auth;      /* header line or NULL */
    long long timeout_ms;
    size_t pool_max;
    pthread_mutex_t lock;
    ps__http_conn **pool;
    size_t npool;
    atomic_uint_fast64_t connects, reuses, retries;
    bool counted;                        /* in http_clients and the list below */
    struct ps__http_client *prev, *next; /* every live client (http_spare_lock) */
};

/* RFC 9110 token characters (method, header names). */
static inline bool ps__http_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Not allowed in a URL or target as we send it: controls, space, non-ASCII. */
static inline bool ps__http_bad_char(unsigned char ch)
{
    return ch <= 0x20 || ch >= 0x7f;
}

/* Copy `s` to `o`; returns the end (no NUL written). */
static inline char *ps__http_put(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

/* This process's pid (kept up to date across fork). */
pid_t ps__http_self(void);

/* An idle connection of this process from the pool, or NULL; connections
 * inherited across fork() are closed (this process's copies only). */
ps__http_conn *ps__http_conn_take(ps__http_client *c);

/* Back to the pool (or closed when the pool is full or it is another
 * process's). */
void ps__http_conn_give(ps__http_client *c, ps__http_conn *k);

/* Close a connection (NULL is fine). */
void ps__http_conn_close(ps__http_conn *k);

/* A body buffer of `n` bytes (the spare body buffer when it fits), its size
 * in *cap; NULL when out of memory. ps__http_body_release takes it. */
unsigned char *ps__http_body_alloc(size_t n, size_t *cap);

/* One request through the built-in transport (arguments checked). */
ps_status ps__http_h1_request(ps__http_client *c, const char *method, const char *target,
                              const char *headers, const void *body, size_t len,
                              ps__http_response *resp);

#endif
