/*
 * Connections of the redis connector and their pool.
 *
 * hiredis makes a connection (TCP or unix socket, connect timeout, socket
 * timeouts) and owns its fd; we frame RESP on it ourselves (resp.h): writes
 * go out with sendmsg(MSG_NOSIGNAL), replies are read by a ps__resp_reader
 * fed by recv.
 *
 * The pool is a mutex-guarded list of idle connections. A call takes an
 * idle connection (or connects a new one), runs its commands and puts the
 * connection back; one whose connection failed or timed out is freed
 * instead, so the next call reconnects. ps__redis_run retries a call once on
 * a fresh connection when a pooled one turns out to be lost.
 */
#ifndef PS_REDIS_POOL_H
#define PS_REDIS_POOL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "connectors/redis/resp.h"

/* proto-max-bulk-len when the server does not tell (Redis's default). */
#define PS__REDIS_DEFAULT_MAX_BULK ((size_t)512 * 1024 * 1024)
/* Idle connections kept per instance. */
#define PS__REDIS_MAX_IDLE 16

typedef struct ps__redis_pool ps__redis_pool;

/* One connection. */
typedef struct ps__redis_conn {
    redisContext *ctx;
    ps__resp_reader in;         /* replies, read from ctx->fd */
    bool broken;                /* a transport or framing error: never reuse */
    pid_t pid;                  /* the process that connected (a forked child reconnects) */
    const ps__redis_pool *pool; /* settings and names for messages */
} ps__redis_conn;

struct ps__redis_pool {
    /* Where and how to connect: set before the first connection, then only
     * read (by any thread). */
    char *hostname;    /* TCP (NULL with unix_socket) */
    int port;          /* TCP */
    char *unix_socket; /* or NULL */
    long long db;
    char *username;
    char *password;
    long long connect_timeout_ms;
    long long command_timeout_ms;
    char where[PATH_MAX + 16]; /* "host:port" or "unix:path", for messages */

    atomic_size_t max_bulk; /* proto-max-bulk-len, read at connect */

    pthread_mutex_t lock; /* guards idle and nidle */
    ps__redis_conn *idle[PS__REDIS_MAX_IDLE];
    size_t nidle;
};

/* Default settings, no connection. */
void ps__redis_pool_init(ps__redis_pool *p);
/* Close the idle connections, free the settings. */
void ps__redis_pool_fini(ps__redis_pool *p);

/* A new connection, after AUTH and SELECT (and reading proto-max-bulk-len). */
ps_status ps__redis_connect(ps__redis_pool *p, ps__redis_conn **out);
/* Back to the pool, or closed when broken or out of step. */
void ps__redis_release(ps__redis_pool *p, ps__redis_conn *c);

/*
 * Run `fn` on a connection. When it fails because a pooled connection was
 * lost (the server restarted, an idle timeout), run it once more on a fresh
 * connection: every command `fn` sends must be idempotent.
 */
typedef ps_status (*ps__redis_fn)(ps__redis_pool *p, ps__redis_conn *c, void *arg);
ps_status ps__redis_run(ps__redis_pool *p, ps__redis_fn fn, void *arg);

/* Write everything in `o` to the connection (and empty `o`). */
ps_status ps__redis_send(ps__redis_conn *c, ps__resp_out *o, const char *what);
/* ps__resp_read, ps__resp_read_into and ps__resp_read_n on the connection;
 * a failure marks it broken. */
ps_status ps__redis_read(ps__redis_conn *c, const char *what, ps__resp_reply *rep);
ps_status ps__redis_read_into(ps__redis_conn *c, const char *what, ps__resp_reply *rep, char *dst,
                              size_t cap);
ps_status ps__redis_read_n(ps__redis_conn *c, const char *what, ps__resp_reply *reps, size_t n);

/* A Redis error reply: PS_EAUTH for authentication, PS_ENOSPC for OOM,
 * otherwise PS_EPROTO; the message carries Redis's text. */
ps_status ps__redis_reply_error(const ps__redis_pool *p, const char *what,
                                const ps__resp_reply *rep);

#endif
