/*
 * Connections of the redis connector and their pool (see pool.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "connectors/redis/pool.h"
#include "proxystore/connectors/redis.h"

/* iovecs per sendmsg (IOV_MAX is 1024 on Linux). */
#define RD_IOV_MAX 512

void ps__redis_pool_init(ps__redis_pool *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->connect_timeout_ms = PS_REDIS_DEFAULT_CONNECT_TIMEOUT_MS;
    p->command_timeout_ms = PS_REDIS_DEFAULT_COMMAND_TIMEOUT_MS;
    atomic_init(&p->max_bulk, PS__REDIS_DEFAULT_MAX_BULK);
}

static void rd_conn_free(ps__redis_conn *c);

void ps__redis_pool_fini(ps__redis_pool *p)
{
    for (size_t i = 0; i < p->nidle; i++)
        rd_conn_free(p->idle[i]);
    p->nidle = 0;
    pthread_mutex_destroy(&p->lock);
    ps_free(p->hostname);
    ps_free(p->unix_socket);
    ps_free(p->username);
    ps_free(p->password);
}

/* ---- errors ------------------------------------------------------------------ */

ps_status ps__redis_reply_error(const ps__redis_pool *p, const char *what,
                                const ps__resp_reply *rep)
{
    const char *text = rep->str ? rep->str : "";
    ps_status st = PS_EPROTO;
    if (strncmp(text, "NOAUTH", 6) == 0 || strncmp(text, "WRONGPASS", 9) == 0)
        st = PS_EAUTH;
    else if (strncmp(text, "OOM", 3) == 0)
        st = PS_ENOSPC;
    return ps__seterr(st, "redis %s: %s: %s", p->where, what, text);
}

/* A failed recv (`got` 0 is end of file); the connection is dropped. */
static ps_status rd_io_error(ps__redis_conn *c, const char *what, ssize_t got, int e)
{
    const ps__redis_pool *p = c->pool;
    c->broken = true;
    if (got == 0)
        return ps__seterr(PS_ECONN, "redis %s: %s: connection lost: the server closed it", p->where,
                          what);
    if (e == EAGAIN || e == EWOULDBLOCK)
        return ps__seterr(PS_ETIMEDOUT, "redis %s: %s: no reply within %lld ms", p->where, what,
                          p->command_timeout_ms);
    return ps__seterr(PS_ECONN, "redis %s: %s: connection lost: %s", p->where, what, strerror(e));
}

/* ---- sending ---------------------------------------------------------------- */

/* sendmsg failed with `e`: the connection is dropped. The server may have
 * said why before closing: show it. */
static ps_status rd_send_failed(ps__redis_conn *c, const char *what, int e)
{
    const ps__redis_pool *p = c->pool;
    c->broken = true;
    if (e == EAGAIN || e == EWOULDBLOCK)
        return ps__seterr(PS_ETIMEDOUT, "redis %s: %s: could not send within %lld ms", p->where,
                          what, p->command_timeout_ms);
    ps__resp_reply rep;
    if ((e == EPIPE || e == ECONNRESET) && ps__redis_read(c, what, &rep) == PS_OK) {
        bool said = rep.type == PS__RESP_ERROR;
        if (said)
            ps__seterr(PS_ECONN, "redis %s: %s: connection closed by the server: %s", p->where,
                       what, rep.str);
        ps__resp_reply_clear(&rep);
        if (said)
            return PS_ECONN;
    }
    return ps__seterr(PS_ECONN, "redis %s: %s: send failed: %s", p->where, what, strerror(e));
}

ps_status ps__redis_send(ps__redis_conn *c, ps__resp_out *o, const char *what)
{
    if (o->oom) {
        ps__resp_out_reset(o);
        o->oom = false;
        return PS__ENOMEM("redis command");
    }
    size_t seg = 0, skip = 0;
    struct iovec iov[RD_IOV_MAX];
    while (seg < o->nsegs) {
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = iov;
        m.msg_iovlen = ps__resp_out_iov(o, seg, skip, iov, RD_IOV_MAX);
        ssize_t w = sendmsg(c->ctx->fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            ps__resp_out_reset(o);
            return rd_send_failed(c, what, e);
        }
        ps__resp_out_advance(o, &seg, &skip, (size_t)w);
    }
    ps__resp_out_reset(o);
    return PS_OK;
}

/* ---- receiving ---------------------------------------------------------------- */

/* The reader's source: recv on the connection's socket. */
static ps_status rd_recv(ps__resp_reader *rd, const char *what, void *dst, size_t n, size_t *got)
{
    ps__redis_conn *c = rd->ctx;
    for (;;) {
        ssize_t k = recv(c->ctx->fd, dst, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return rd_io_error(c, what, k, errno);
        *got = (size_t)k;
        return PS_OK;
    }
}

ps_status ps__redis_read(ps__redis_conn *c, const char *what, ps__resp_reply *rep)
{
    ps_status st = ps__resp_read(&c->in, what, rep);
    if (st != PS_OK)
        c->broken = true; /* the stream is out of step */
    return st;
}

ps_status ps__redis_read_into(ps__redis_conn *c, const char *what, ps__resp_reply *rep, char *dst,
                              size_t cap)
{
    ps_status st = ps__resp_read_into(&c->in, what, rep, dst, cap);
    if (st != PS_OK)
        c->broken = true;
    return st;
}

ps_status ps__redis_read_n(ps__redis_conn *c, const char *what, ps__resp_reply *reps, size_t n)
{
    ps_status st = ps__resp_read_n(&c->in, what, reps, n);
    if (st != PS_OK)
        c->broken = true;
    return st;
}

/* ---- connecting ---------------------------------------------------------------- */

static struct timeval rd_tv(long long ms)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

/* AUTH (with a password), SELECT (with a db) and CONFIG GET
 * proto-max-bulk-len, pipelined; returns how many commands. */
static size_t rd_handshake_request(const ps__redis_pool *p, ps__resp_out *o, const char *db)
{
    size_t n = 0;
    if (p->password) {
        ps__resp_out_begin(o, p->username ? 3 : 2);
        ps__resp_out_str(o, "AUTH");
        if (p->username)
            ps__resp_out_str(o, p->username);
        ps__resp_out_str(o, p->password);
        n++;
    }
    if (p->db != 0) {
        ps__resp_out_begin(o, 2);
        ps__resp_out_str(o, "SELECT");
        ps__resp_out_str(o, db);
        n++;
    }
    ps__resp_out_begin(o, 3);
    ps__resp_out_str(o, "CONFIG");
    ps__resp_out_str(o, "GET");
    ps__resp_out_str(o, "proto-max-bulk-len");
    n++;
    return n;
}

/* The replies to rd_handshake_request. */
static ps_status rd_handshake_check(ps__redis_pool *p, const ps__resp_reply *reps, const char *db)
{
    size_t i = 0;
    ps_status st = PS_OK;
    if (p->password) {
        const ps__resp_reply *a = &reps[i++];
        if (a->type == PS__RESP_ERROR)
            st = ps__seterr(PS_EAUTH, "redis %s: AUTH refused: %s", p->where, a->str);
    }
    if (st == PS_OK && p->db != 0 && reps[i].type == PS__RESP_ERROR) {
        char what[64];
        snprintf(what, sizeof what, "SELECT %s", db);
        st = ps__redis_reply_error(p, what, &reps[i]);
    }
    if (p->db != 0)
        i++;
    if (st != PS_OK)
        return st;
    const ps__resp_reply *cfg = &reps[i];
    size_t limit = PS__REDIS_DEFAULT_MAX_BULK;
    long long v = 0;
    if (cfg->type == PS__RESP_ARRAY && cfg->n == 2 && cfg->elems[1].type == PS__RESP_BULK &&
        ps__resp_parse_ll(cfg->elems[1].str, &v) && v > 0)
        limit = (size_t)v;
    else if (cfg->type == PS__RESP_ERROR && strncmp(cfg->str, "NOAUTH", 6) == 0)
        st = ps__seterr(PS_EAUTH, "redis %s: the server requires a password: %s", p->where,
                        cfg->str);
    /* Any other answer (CONFIG renamed away, ACL NOPERM): keep the default. */
    atomic_store(&p->max_bulk, limit);
    return st;
}

/* AUTH, SELECT and CONFIG GET proto-max-bulk-len, in one round trip. */
static ps_status rd_handshake(ps__redis_pool *p, ps__redis_conn *c)
{
    char db[32];
    snprintf(db, sizeof db, "%lld", p->db);
    ps__resp_out o;
    memset(&o, 0, sizeof o);
    size_t n = rd_handshake_request(p, &o, db);
    ps__resp_reply reps[3];
    ps_status st = ps__redis_send(c, &o, "connect");
    ps__resp_out_free(&o);
    if (st == PS_OK)
        st = ps__redis_read_n(c, "connect", reps, n);
    if (st != PS_OK)
        return st;
    st = rd_handshake_check(p, reps, db);
    for (size_t j = 0; j < n; j++)
        ps__resp_reply_clear(&reps[j]);
    return st;
}

static void rd_conn_free(ps__redis_conn *c)
{
    if (c == NULL)
        return;
    if (c->ctx)
        redisFree(c->ctx);
    ps__resp_reader_free(&c->in);
    ps_free(c);
}

/* hiredis connects (with the timeouts); a failure leaves a message. */
static ps_status rd_open_socket(const ps__redis_pool *p, ps__redis_conn *c)
{
    struct timeval tv = rd_tv(p->connect_timeout_ms);
    if (p->unix_socket)
        c->ctx = p->connect_timeout_ms > 0 ? redisConnectUnixWithTimeout(p->unix_socket, tv)
                                           : redisConnectUnix(p->unix_socket);
    else
        c->ctx = p->connect_timeout_ms > 0 ? redisConnectWithTimeout(p->hostname, p->port, tv)
                                           : redisConnect(p->hostname, p->port);
    if (c->ctx == NULL)
        return PS__ENOMEM("redis context");
    ps_status st = PS_OK;
    if (c->ctx->err) {
        if (strstr(c->ctx->errstr, "timed out") != NULL)
            st = ps__seterr(PS_ETIMEDOUT, "redis %s: cannot connect within %lld ms: %s", p->where,
                            p->connect_timeout_ms, c->ctx->errstr);
        else
            st = ps__seterr(PS_ECONN, "redis %s: cannot connect: %s", p->where, c->ctx->errstr);
    } else if (p->command_timeout_ms > 0 &&
               redisSetTimeout(c->ctx, rd_tv(p->command_timeout_ms)) != REDIS_OK) {
        st = ps__seterr(PS_ECONN, "redis %s: cannot set the socket timeout: %s", p->where,
                        c->ctx->errstr);
    }
    /* Notice a silently dead peer on an idle pooled connection (TCP only). */
    if (st == PS_OK && !p->unix_socket)
        (void)redisEnableKeepAlive(c->ctx);
    return st;
}

ps_status ps__redis_connect(ps__redis_pool *p, ps__redis_conn **out)
{
    *out = NULL;
    ps__redis_conn *c = ps_calloc(1, sizeof *c);
    if (c == NULL)
        return PS__ENOMEM("redis connection");
    c->pool = p;
    ps_status st = ps__resp_reader_init(&c->in, PS__RESP_READ_BUF, p->where, rd_recv, c);
    if (st != PS_OK) {
        rd_conn_free(c);
        return st;
    }
    st = rd_open_socket(p, c);
    c->pid = getpid();
    if (st == PS_OK)
        st = rd_handshake(p, c);
    if (st != PS_OK) {
        rd_conn_free(c);
        return st;
    }
    *out = c;
    return PS_OK;
}

/* ---- the pool ------------------------------------------------------------------- */

static ps_status rd_acquire(ps__redis_pool *p, ps__redis_conn **c, bool *reused)
{
    pid_t self = getpid();
    pthread_mutex_lock(&p->lock);
    while (p->nidle > 0) {
        ps__redis_conn *idle = p->idle[--p->nidle];
        if (idle->pid != self) {
            /* Inherited through fork(): the socket is shared with the parent.
             * Close our copy (the parent's stays open) and connect anew. */
            rd_conn_free(idle);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        *c = idle;
        *reused = true;
        return PS_OK;
    }
    pthread_mutex_unlock(&p->lock);
    *reused = false;
    return ps__redis_connect(p, c);
}

void ps__redis_release(ps__redis_pool *p, ps__redis_conn *c)
{
    /* Unread bytes would be a reply out of step: drop such a connection. */
    if (c->broken || ps__resp_reader_unread(&c->in) != 0) {
        rd_conn_free(c);
        return;
    }
    ps__resp_reader_discard(&c->in);
    pthread_mutex_lock(&p->lock);
    if (p->nidle < PS__REDIS_MAX_IDLE) {
        p->idle[p->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    rd_conn_free(c);
}

ps_status ps__redis_run(ps__redis_pool *p, ps__redis_fn fn, void *arg)
{
    for (int attempt = 0;; attempt++) {
        ps__redis_conn *c = NULL;
        bool reused = false;
        PS__FORWARD(rd_acquire(p, &c, &reused));
        ps_status st = fn(p, c, arg);
        bool broken = c->broken;
        ps__redis_release(p, c);
        if (st == PS_ECONN && broken && reused && attempt == 0)
            continue;
        return st;
    }
}
