/*
 * The Redis connector ("redis"), on hiredis 0.14 (Debian 12).
 *
 * Layout: upstream ProxyStore's. Each object is a Redis string named by a
 * bare UUID text, holding the raw bytes: put/set is SET, get is GET,
 * exists is EXISTS, evict is DEL, put_batch is MSET and get_batch is MGET.
 * Our key is "redis:<uuid>"; it carries no server or database (see
 * docs/connectors-redis.md for why).
 *
 * Connections: a mutex-guarded pool of blocking hiredis contexts. A call
 * takes an idle context (or connects a new one), runs its commands and puts
 * the context back; a context whose connection failed or timed out is freed
 * instead, so the next call reconnects. A call that fails on a pooled
 * context because the connection was lost is retried once on a fresh one
 * (every command we send is idempotent). Hence PS_CONNECTOR_THREADSAFE.
 *
 * Protocol: hiredis makes the connections (TCP or unix socket, connect
 * timeout, socket timeouts) and we frame RESP2 on its socket ourselves:
 *  - writes go out with sendmsg(MSG_NOSIGNAL): large values straight from
 *    the caller's buffer (no copy into an output buffer), and a closed
 *    socket never raises SIGPIPE;
 *  - replies are parsed by a small reader (rd_read) that reads a bulk
 *    string's bytes straight into the ps_malloc buffer handed out as the
 *    result. hiredis 0.14's reader would read 16 KiB at a time into a
 *    buffer grown 1 MiB at a time (realloc copies) and then copy the bulk
 *    into the reply: a 100 MiB GET ran at a quarter of the speed of a SET.
 *
 * Batches are pipelined: all chunks (at most RD_CHUNK_KEYS keys or about
 * RD_CHUNK_BYTES bytes each) are written before the first reply is read, so
 * a batch costs one round trip.
 *
 * close(clear) deletes the keys this instance wrote (tracked in a set of
 * 16-byte UUIDs), never FLUSHDB as upstream does.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "connector/builtin.h"
#include "core/internal.h"
#include "proxystore/connectors/redis.h"
#include "proxystore/sys/connector.h"

#define RD_DEFAULT_HOST "localhost"
#define RD_DEFAULT_PORT 6379
/* proto-max-bulk-len when the server does not tell (Redis's default). */
#define RD_DEFAULT_MAX_BULK ((size_t)512 * 1024 * 1024)
/* Values shorter than this are copied into the command buffer; longer ones
 * are sent from the caller's memory. */
#define RD_COPY_MAX ((size_t)16 * 1024)
/* Batch chunking: one MSET/MGET/DEL per chunk. */
#define RD_CHUNK_KEYS  1024
#define RD_CHUNK_BYTES ((size_t)4 * 1024 * 1024)
/* Idle connections kept per instance. */
#define RD_MAX_IDLE 16
/* iovecs per sendmsg (IOV_MAX is 1024 on Linux). */
#define RD_IOV_MAX  512
#define RD_UUID_LEN 36

/* ---- set of written keys (16-byte UUIDs, linear probing) ------------------ */

typedef struct rd_uuid {
    unsigned char b[16];
} rd_uuid;

typedef struct rd_set {
    rd_uuid *slots;
    unsigned char *used;
    size_t cap; /* power of two, or 0 */
    size_t n;
} rd_set;

static size_t rd_set_home(const rd_set *s, const rd_uuid *u)
{
    return (size_t)ps__hash64(u->b, sizeof u->b) & (s->cap - 1);
}

static bool rd_set_find(const rd_set *s, const rd_uuid *u, size_t *at)
{
    if (s->cap == 0)
        return false;
    for (size_t i = rd_set_home(s, u);; i = (i + 1) & (s->cap - 1)) {
        if (!s->used[i])
            return false;
        if (memcmp(s->slots[i].b, u->b, 16) == 0) {
            *at = i;
            return true;
        }
    }
}

static void rd_set_place(rd_set *s, const rd_uuid *u)
{
    size_t i = rd_set_home(s, u);
    while (s->used[i])
        i = (i + 1) & (s->cap - 1);
    s->slots[i] = *u;
    s->used[i] = 1;
    s->n++;
}

static ps_status rd_set_grow(rd_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    rd_set t = {ps_calloc(cap, sizeof(rd_uuid)), ps_calloc(cap, 1), cap, 0};
    if (t.slots == NULL || t.used == NULL) {
        ps_free(t.slots);
        ps_free(t.used);
        return PS__ENOMEM("redis: set of written keys");
    }
    for (size_t i = 0; i < s->cap; i++)
        if (s->used[i])
            rd_set_place(&t, &s->slots[i]);
    ps_free(s->slots);
    ps_free(s->used);
    *s = t;
    return PS_OK;
}

static ps_status rd_set_add(rd_set *s, const rd_uuid *u)
{
    size_t at;
    if (rd_set_find(s, u, &at))
        return PS_OK;
    if ((s->n + 1) * 4 > s->cap * 3)
        PS__FORWARD(rd_set_grow(s));
    rd_set_place(s, u);
    return PS_OK;
}

/* Remove with backward shifting, so no tombstones are needed. */
static void rd_set_remove(rd_set *s, const rd_uuid *u)
{
    size_t i;
    if (!rd_set_find(s, u, &i))
        return;
    size_t mask = s->cap - 1;
    for (size_t j = (i + 1) & mask; s->used[j]; j = (j + 1) & mask) {
        size_t k = rd_set_home(s, &s->slots[j]);
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->used[i] = 0;
    s->n--;
}

static void rd_set_free(rd_set *s)
{
    ps_free(s->slots);
    ps_free(s->used);
    memset(s, 0, sizeof *s);
}

/* ---- RESP output: a command buffer plus references to caller memory ------ */

typedef struct rd_seg {
    const char *ext; /* caller memory, or NULL: bytes at buf + off */
    size_t off;
    size_t len;
} rd_seg;

typedef struct rd_out {
    char *buf;
    size_t len, cap;
    rd_seg *segs;
    size_t nsegs, capsegs;
    bool oom;
} rd_out;

static void rd_out_reset(rd_out *o)
{
    o->len = 0;
    o->nsegs = 0;
}

static void rd_out_free(rd_out *o)
{
    ps_free(o->buf);
    ps_free(o->segs);
    memset(o, 0, sizeof *o);
}

static rd_seg *rd_out_seg(rd_out *o)
{
    if (o->nsegs == o->capsegs) {
        size_t cap = o->capsegs ? o->capsegs * 2 : 64;
        rd_seg *s = ps_realloc(o->segs, cap * sizeof *s);
        if (s == NULL) {
            o->oom = true;
            return NULL;
        }
        o->segs = s;
        o->capsegs = cap;
    }
    return &o->segs[o->nsegs++];
}

static void rd_out_copy(rd_out *o, const void *data, size_t len)
{
    if (o->oom || len == 0)
        return;
    if (o->len + len > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + len)
            cap *= 2;
        char *b = ps_realloc(o->buf, cap);
        if (b == NULL) {
            o->oom = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, data, len);
    rd_seg *last = o->nsegs ? &o->segs[o->nsegs - 1] : NULL;
    if (last && last->ext == NULL && last->off + last->len == o->len) {
        last->len += len;
    } else {
        rd_seg *s = rd_out_seg(o);
        if (s == NULL)
            return;
        s->ext = NULL;
        s->off = o->len;
        s->len = len;
    }
    o->len += len;
}

static void rd_out_ref(rd_out *o, const void *data, size_t len)
{
    if (o->oom || len == 0)
        return;
    rd_seg *s = rd_out_seg(o);
    if (s == NULL)
        return;
    s->ext = data;
    s->off = 0;
    s->len = len;
}

static void rd_out_begin(rd_out *o, size_t nargs)
{
    char h[32];
    int n = snprintf(h, sizeof h, "*%zu\r\n", nargs);
    rd_out_copy(o, h, (size_t)n);
}

static void rd_out_arg(rd_out *o, const void *data, size_t len)
{
    char h[32];
    int n = snprintf(h, sizeof h, "$%zu\r\n", len);
    rd_out_copy(o, h, (size_t)n);
    if (len < RD_COPY_MAX)
        rd_out_copy(o, data, len);
    else
        rd_out_ref(o, data, len);
    rd_out_copy(o, "\r\n", 2);
}

static void rd_out_str(rd_out *o, const char *s)
{
    rd_out_arg(o, s, strlen(s));
}

/* ---- the instance ------------------------------------------------------- */

/* Our read buffer per connection; bulk payloads larger than half of it are
 * read straight into their final buffer. */
#define RD_RBUF ((size_t)64 * 1024)

/* One connection: hiredis made it (TCP or unix socket, connect timeout,
 * socket timeouts) and owns the fd; we frame RESP on it ourselves. */
typedef struct rd_conn {
    redisContext *ctx;
    char *buf;       /* RD_RBUF bytes */
    size_t pos, len; /* unread bytes: buf[pos..len) */
    bool broken;     /* a transport or framing error: never reuse */
    pid_t pid;       /* the process that connected (a forked child reconnects) */
} rd_conn;

typedef struct rd {
    char *hostname;    /* TCP (NULL with unix_socket) */
    int port;          /* TCP */
    char *unix_socket; /* or NULL */
    long long db;
    char *username;
    char *password;
    bool clear;
    long long connect_timeout_ms;
    long long command_timeout_ms;
    char where[PATH_MAX + 16]; /* "host:port" or "unix:path", for messages */

    atomic_size_t max_bulk; /* proto-max-bulk-len, read at connect */

    pthread_mutex_t pool_lock;
    rd_conn *idle[RD_MAX_IDLE];
    size_t nidle;

    pthread_mutex_t set_lock;
    rd_set written;
} rd;

/* The UUID of one of our keys, or PS_EINVAL for a malformed key. */
static ps_status rd_key_id(const ps_key *key, const char **id)
{
    const char *f = ps_key_nfields(key) == 1 ? ps_key_field(key, 0) : NULL;
    PS__RETURN_IF(f == NULL || !ps_uuid_is_canonical(f), PS_EINVAL,
                  "redis connector: key \"%.200s\" is not a redis object key (want redis:<uuid>)",
                  ps_key_str(key));
    *id = f;
    return PS_OK;
}

static void rd_track(rd *r, const char *id)
{
    rd_uuid u;
    if (!ps__uuid_parse(id, u.b)) /* checked by the caller already */
        return;
    pthread_mutex_lock(&r->set_lock);
    /* Out of memory only costs close(clear) this key: not worth failing. */
    if (rd_set_add(&r->written, &u) != PS_OK)
        ps_clear_error();
    pthread_mutex_unlock(&r->set_lock);
}

static void rd_untrack(rd *r, const char *id)
{
    rd_uuid u;
    if (!ps__uuid_parse(id, u.b)) /* checked by the caller already */
        return;
    pthread_mutex_lock(&r->set_lock);
    rd_set_remove(&r->written, &u);
    pthread_mutex_unlock(&r->set_lock);
}

/* ---- replies ---------------------------------------------------------------- */

enum { RD_STATUS, RD_ERROR, RD_INT, RD_BULK, RD_NIL, RD_ARRAY };

typedef struct rd_reply {
    int type;
    long long integer; /* RD_INT */
    char *str;         /* STATUS/ERROR text or BULK bytes (ps_malloc, NUL-terminated) */
    size_t len;
    size_t n; /* RD_ARRAY */
    struct rd_reply *elems;
} rd_reply;

static void rd_reply_clear(rd_reply *rep)
{
    ps_free(rep->str);
    for (size_t i = 0; i < rep->n; i++)
        rd_reply_clear(&rep->elems[i]);
    ps_free(rep->elems);
    memset(rep, 0, sizeof *rep);
}

static const char *rd_type_name(int type)
{
    static const char *const names[] = {"status",      "error", "integer",
                                        "bulk string", "nil",   "array"};
    return type >= 0 && type <= RD_ARRAY ? names[type] : "?";
}

/* ---- errors -------------------------------------------------------------- */

/* A Redis error reply: PS_EAUTH for authentication, PS_ENOSPC for OOM,
 * otherwise PS_EPROTO; the message carries Redis's text. */
static ps_status rd_reply_error(const rd *r, const char *what, const rd_reply *rep)
{
    const char *text = rep->str ? rep->str : "";
    ps_status st = PS_EPROTO;
    if (strncmp(text, "NOAUTH", 6) == 0 || strncmp(text, "WRONGPASS", 9) == 0)
        st = PS_EAUTH;
    else if (strncmp(text, "OOM", 3) == 0)
        st = PS_ENOSPC;
    return ps__seterr(st, "redis %s: %s: %s", r->where, what, text);
}

static ps_status rd_unexpected(const rd *r, const char *what, const rd_reply *rep)
{
    if (rep->type == RD_ERROR)
        return rd_reply_error(r, what, rep);
    return ps__seterr(PS_EPROTO, "redis %s: %s: unexpected %s reply", r->where, what,
                      rd_type_name(rep->type));
}

/* A failed recv/send (`got` 0 is end of file); the connection is dropped. */
static ps_status rd_io_error(const rd *r, rd_conn *c, const char *what, ssize_t got, int e)
{
    c->broken = true;
    if (got == 0)
        return ps__seterr(PS_ECONN, "redis %s: %s: connection lost: the server closed it", r->where,
                          what);
    if (e == EAGAIN || e == EWOULDBLOCK)
        return ps__seterr(PS_ETIMEDOUT, "redis %s: %s: no reply within %lld ms", r->where, what,
                          r->command_timeout_ms);
    return ps__seterr(PS_ECONN, "redis %s: %s: connection lost: %s", r->where, what, strerror(e));
}

static ps_status rd_proto(const rd *r, rd_conn *c, const char *what, const char *why)
{
    c->broken = true;
    return ps__seterr(PS_EPROTO, "redis %s: %s: protocol error: %s", r->where, what, why);
}

/* ---- sending ---------------------------------------------------------------- */

static ps_status rd_read(const rd *r, rd_conn *c, const char *what, rd_reply *rep, int depth);

/* Write everything in `o` to the socket (and empty `o`). */
static ps_status rd_send(const rd *r, rd_conn *c, rd_out *o, const char *what)
{
    if (o->oom) {
        rd_out_reset(o);
        o->oom = false;
        return PS__ENOMEM("redis command");
    }
    size_t i = 0, skip = 0;
    struct iovec iov[RD_IOV_MAX];
    while (i < o->nsegs) {
        size_t k = 0;
        for (size_t j = i; j < o->nsegs && k < RD_IOV_MAX; j++, k++) {
            const char *base = o->segs[j].ext ? o->segs[j].ext : o->buf + o->segs[j].off;
            size_t off = (j == i) ? skip : 0;
            iov[k].iov_base = (void *)(uintptr_t)(base + off);
            iov[k].iov_len = o->segs[j].len - off;
        }
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = iov;
        m.msg_iovlen = k;
        ssize_t w = sendmsg(c->ctx->fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            rd_out_reset(o);
            c->broken = true;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return ps__seterr(PS_ETIMEDOUT, "redis %s: %s: could not send within %lld ms",
                                  r->where, what, r->command_timeout_ms);
            /* The server may have said why before closing: show it. */
            rd_reply rep;
            if ((e == EPIPE || e == ECONNRESET) && rd_read(r, c, what, &rep, 0) == PS_OK) {
                bool said = rep.type == RD_ERROR;
                if (said)
                    ps__seterr(PS_ECONN, "redis %s: %s: connection closed by the server: %s",
                               r->where, what, rep.str);
                rd_reply_clear(&rep);
                if (said)
                    return PS_ECONN;
            }
            return ps__seterr(PS_ECONN, "redis %s: %s: send failed: %s", r->where, what,
                              strerror(e));
        }
        size_t left = (size_t)w;
        while (left > 0 && i < o->nsegs) {
            size_t rem = o->segs[i].len - skip;
            if (left >= rem) {
                left -= rem;
                i++;
                skip = 0;
            } else {
                skip += left;
                left = 0;
            }
        }
    }
    rd_out_reset(o);
    return PS_OK;
}

/* ---- receiving: a RESP2 reader for the replies our commands get ------------ */

static ssize_t rd_recv_some(rd_conn *c, void *dst, size_t n)
{
    for (;;) {
        ssize_t got = recv(c->ctx->fd, dst, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        return got;
    }
}

/* Read more bytes into the buffer (after moving the unread ones to the front). */
static ps_status rd_fill(const rd *r, rd_conn *c, const char *what)
{
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->len == RD_RBUF)
        return rd_proto(r, c, what, "reply line too long");
    ssize_t got = rd_recv_some(c, c->buf + c->len, RD_RBUF - c->len);
    if (got <= 0)
        return rd_io_error(r, c, what, got, errno);
    c->len += (size_t)got;
    return PS_OK;
}

/* The next line without its CRLF, NUL-terminated in the buffer: valid until
 * the next read. */
static ps_status rd_line(const rd *r, rd_conn *c, const char *what, char **line, size_t *n)
{
    for (;;) {
        char *start = c->buf + c->pos;
        char *cr = c->len > c->pos ? memmem(start, c->len - c->pos, "\r\n", 2) : NULL;
        if (cr) {
            *cr = '\0';
            *line = start;
            *n = (size_t)(cr - start);
            c->pos = (size_t)(cr - c->buf) + 2;
            return PS_OK;
        }
        PS__FORWARD(rd_fill(r, c, what));
    }
}

/* Exactly n bytes into dst: first what is buffered, then large rests
 * straight from the socket (never reading past them). */
static ps_status rd_exact(const rd *r, rd_conn *c, const char *what, char *dst, size_t n)
{
    while (n > 0) {
        size_t have = c->len - c->pos;
        if (have > 0) {
            size_t k = have < n ? have : n;
            memcpy(dst, c->buf + c->pos, k);
            c->pos += k;
            dst += k;
            n -= k;
            continue;
        }
        c->pos = c->len = 0;
        if (n < RD_RBUF / 2) {
            PS__FORWARD(rd_fill(r, c, what));
            continue;
        }
        ssize_t got = rd_recv_some(c, dst, n);
        if (got <= 0)
            return rd_io_error(r, c, what, got, errno);
        dst += got;
        n -= (size_t)got;
    }
    return PS_OK;
}

static bool rd_parse_ll(const char *s, long long *v)
{
    if (*s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return errno == 0 && end && *end == '\0';
}

/* Read one reply. A failure other than an error reply leaves the connection
 * broken (the stream is out of step). With `dst`, a bulk reply goes straight
 * into dst (it must not be longer than `cap`; rep->str stays NULL). */
static ps_status rd_read_ex(const rd *r, rd_conn *c, const char *what, rd_reply *rep, int depth,
                            char *dst, size_t cap)
{
    memset(rep, 0, sizeof *rep);
    char *line;
    size_t n;
    PS__FORWARD(rd_line(r, c, what, &line, &n));
    if (n == 0)
        return rd_proto(r, c, what, "empty reply line");
    long long v = 0;
    switch (line[0]) {
    case '+':
    case '-':
        rep->type = line[0] == '+' ? RD_STATUS : RD_ERROR;
        rep->str = ps_malloc(n);
        if (rep->str == NULL) {
            c->broken = true;
            return PS__ENOMEM("redis reply");
        }
        memcpy(rep->str, line + 1, n); /* with the NUL */
        rep->len = n - 1;
        return PS_OK;
    case ':':
        if (!rd_parse_ll(line + 1, &v))
            return rd_proto(r, c, what, "bad integer reply");
        rep->type = RD_INT;
        rep->integer = v;
        return PS_OK;
    case '$': {
        if (!rd_parse_ll(line + 1, &v) || v < -1)
            return rd_proto(r, c, what, "bad bulk length");
        if (v == -1) {
            rep->type = RD_NIL;
            return PS_OK;
        }
        if ((unsigned long long)v >= SIZE_MAX)
            return rd_proto(r, c, what, "bulk length too large");
        size_t len = (size_t)v;
        if (dst) {
            if (len > cap)
                return rd_proto(r, c, what, "range reply longer than asked for");
            char crlf[2];
            PS__FORWARD(rd_exact(r, c, what, dst, len));
            PS__FORWARD(rd_exact(r, c, what, crlf, 2));
            if (crlf[0] != '\r' || crlf[1] != '\n')
                return rd_proto(r, c, what, "bulk string not followed by CRLF");
            rep->type = RD_BULK;
            rep->len = len;
            return PS_OK;
        }
        char *data = ps_malloc(len + 1);
        if (data == NULL) {
            c->broken = true;
            return ps__seterr(PS_ENOMEM, "redis %s: %s: out of memory for a reply of %zu bytes",
                              r->where, what, len);
        }
        ps__advise_hugepages(data, len); /* a large value: fewer page faults */
        char crlf[2];
        ps_status st = rd_exact(r, c, what, data, len);
        if (st == PS_OK)
            st = rd_exact(r, c, what, crlf, 2);
        if (st == PS_OK && (crlf[0] != '\r' || crlf[1] != '\n'))
            st = rd_proto(r, c, what, "bulk string not followed by CRLF");
        if (st != PS_OK) {
            ps_free(data);
            return st;
        }
        data[len] = '\0';
        rep->type = RD_BULK;
        rep->str = data;
        rep->len = len;
        return PS_OK;
    }
    case '*': {
        if (!rd_parse_ll(line + 1, &v) || v < -1 || v > (long long)(SIZE_MAX / sizeof(rd_reply)))
            return rd_proto(r, c, what, "bad array length");
        if (v == -1) {
            rep->type = RD_NIL;
            return PS_OK;
        }
        if (depth >= 4)
            return rd_proto(r, c, what, "arrays nested too deep");
        rep->type = RD_ARRAY;
        if (v == 0)
            return PS_OK;
        rep->elems = ps_calloc((size_t)v, sizeof *rep->elems);
        if (rep->elems == NULL) {
            c->broken = true;
            return PS__ENOMEM("redis reply array");
        }
        for (size_t i = 0; i < (size_t)v; i++) {
            ps_status st = rd_read_ex(r, c, what, &rep->elems[i], depth + 1, NULL, 0);
            rep->n = i + 1;
            if (st != PS_OK) {
                rd_reply_clear(rep);
                return st;
            }
        }
        return PS_OK;
    }
    default:
        return rd_proto(r, c, what, "unknown reply type");
    }
}

static ps_status rd_read(const rd *r, rd_conn *c, const char *what, rd_reply *rep, int depth)
{
    return rd_read_ex(r, c, what, rep, depth, NULL, 0);
}

/* Read `n` replies, keeping the stream in step; on failure all are freed. */
static ps_status rd_read_n(const rd *r, rd_conn *c, const char *what, rd_reply *reps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ps_status st = rd_read(r, c, what, &reps[i], 0);
        if (st != PS_OK) {
            for (size_t j = 0; j < i; j++)
                rd_reply_clear(&reps[j]);
            return st;
        }
    }
    return PS_OK;
}

/* ---- connections ---------------------------------------------------------- */

static struct timeval rd_tv(long long ms)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

/* AUTH, SELECT and CONFIG GET proto-max-bulk-len, in one round trip. */
static ps_status rd_handshake(rd *r, rd_conn *c)
{
    rd_out o;
    memset(&o, 0, sizeof o);
    size_t n = 0;
    if (r->password) {
        rd_out_begin(&o, r->username ? 3 : 2);
        rd_out_str(&o, "AUTH");
        if (r->username)
            rd_out_str(&o, r->username);
        rd_out_str(&o, r->password);
        n++;
    }
    char db[32];
    snprintf(db, sizeof db, "%lld", r->db);
    if (r->db != 0) {
        rd_out_begin(&o, 2);
        rd_out_str(&o, "SELECT");
        rd_out_str(&o, db);
        n++;
    }
    rd_out_begin(&o, 3);
    rd_out_str(&o, "CONFIG");
    rd_out_str(&o, "GET");
    rd_out_str(&o, "proto-max-bulk-len");
    n++;
    rd_reply reps[3];
    ps_status st = rd_send(r, c, &o, "connect");
    rd_out_free(&o);
    if (st == PS_OK)
        st = rd_read_n(r, c, "connect", reps, n);
    if (st != PS_OK)
        return st;
    size_t i = 0;
    if (r->password) {
        const rd_reply *a = &reps[i++];
        if (a->type == RD_ERROR)
            st = ps__seterr(PS_EAUTH, "redis %s: AUTH refused: %s", r->where, a->str);
    }
    if (st == PS_OK && r->db != 0 && reps[i].type == RD_ERROR) {
        char what[64];
        snprintf(what, sizeof what, "SELECT %s", db);
        st = rd_reply_error(r, what, &reps[i]);
    }
    if (r->db != 0)
        i++;
    if (st == PS_OK) {
        const rd_reply *cfg = &reps[i];
        size_t limit = RD_DEFAULT_MAX_BULK;
        long long v = 0;
        if (cfg->type == RD_ARRAY && cfg->n == 2 && cfg->elems[1].type == RD_BULK &&
            rd_parse_ll(cfg->elems[1].str, &v) && v > 0)
            limit = (size_t)v;
        else if (cfg->type == RD_ERROR && strncmp(cfg->str, "NOAUTH", 6) == 0)
            st = ps__seterr(PS_EAUTH, "redis %s: the server requires a password: %s", r->where,
                            cfg->str);
        /* Any other answer (CONFIG renamed away, ACL NOPERM): keep the default. */
        atomic_store(&r->max_bulk, limit);
    }
    for (size_t j = 0; j < n; j++)
        rd_reply_clear(&reps[j]);
    return st;
}

static void rd_conn_free(rd_conn *c)
{
    if (c == NULL)
        return;
    if (c->ctx)
        redisFree(c->ctx);
    ps_free(c->buf);
    ps_free(c);
}

static ps_status rd_connect(rd *r, rd_conn **out)
{
    *out = NULL;
    rd_conn *c = ps_calloc(1, sizeof *c);
    if (c == NULL || (c->buf = ps_malloc(RD_RBUF)) == NULL) {
        rd_conn_free(c);
        return PS__ENOMEM("redis connection");
    }
    struct timeval tv = rd_tv(r->connect_timeout_ms);
    if (r->unix_socket)
        c->ctx = r->connect_timeout_ms > 0 ? redisConnectUnixWithTimeout(r->unix_socket, tv)
                                           : redisConnectUnix(r->unix_socket);
    else
        c->ctx = r->connect_timeout_ms > 0 ? redisConnectWithTimeout(r->hostname, r->port, tv)
                                           : redisConnect(r->hostname, r->port);
    if (c->ctx == NULL) {
        rd_conn_free(c);
        return PS__ENOMEM("redis context");
    }
    ps_status st = PS_OK;
    if (c->ctx->err) {
        if (strstr(c->ctx->errstr, "timed out") != NULL)
            st = ps__seterr(PS_ETIMEDOUT, "redis %s: cannot connect within %lld ms: %s", r->where,
                            r->connect_timeout_ms, c->ctx->errstr);
        else
            st = ps__seterr(PS_ECONN, "redis %s: cannot connect: %s", r->where, c->ctx->errstr);
    } else if (r->command_timeout_ms > 0 &&
               redisSetTimeout(c->ctx, rd_tv(r->command_timeout_ms)) != REDIS_OK) {
        st = ps__seterr(PS_ECONN, "redis %s: cannot set the socket timeout: %s", r->where,
                        c->ctx->errstr);
    }
    /* Notice a silently dead peer on an idle pooled connection (TCP only). */
    if (st == PS_OK && !r->unix_socket)
        (void)redisEnableKeepAlive(c->ctx);
    c->pid = getpid();
    if (st == PS_OK)
        st = rd_handshake(r, c);
    if (st != PS_OK) {
        rd_conn_free(c);
        return st;
    }
    *out = c;
    return PS_OK;
}

static ps_status rd_acquire(rd *r, rd_conn **c, bool *reused)
{
    pid_t self = getpid();
    pthread_mutex_lock(&r->pool_lock);
    while (r->nidle > 0) {
        rd_conn *idle = r->idle[--r->nidle];
        if (idle->pid != self) {
            /* Inherited through fork(): the socket is shared with the parent.
             * Close our copy (the parent's stays open) and connect anew. */
            rd_conn_free(idle);
            continue;
        }
        pthread_mutex_unlock(&r->pool_lock);
        *c = idle;
        *reused = true;
        return PS_OK;
    }
    pthread_mutex_unlock(&r->pool_lock);
    *reused = false;
    return rd_connect(r, c);
}

static void rd_release(rd *r, rd_conn *c)
{
    /* Unread bytes would be a reply out of step: drop such a connection. */
    if (c->broken || c->pos != c->len) {
        rd_conn_free(c);
        return;
    }
    c->pos = c->len = 0;
    pthread_mutex_lock(&r->pool_lock);
    if (r->nidle < RD_MAX_IDLE) {
        r->idle[r->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&r->pool_lock);
    rd_conn_free(c);
}

/*
 * Run `fn` on a connection. When it fails because a pooled connection was
 * lost (the server restarted, an idle timeout), run it once more on a fresh
 * connection: all our commands are idempotent.
 */
typedef ps_status (*rd_fn)(rd *r, rd_conn *c, void *arg);

static ps_status rd_run(rd *r, rd_fn fn, void *arg)
{
    for (int attempt = 0;; attempt++) {
        rd_conn *c = NULL;
        bool reused = false;
        PS__FORWARD(rd_acquire(r, &c, &reused));
        ps_status st = fn(r, c, arg);
        bool broken = c->broken;
        rd_release(r, c);
        if (st == PS_ECONN && broken && reused && attempt == 0)
            continue;
        return st;
    }
}

/* ---- limits ---------------------------------------------------------------- */

static ps_status rd_check_size(const rd *r, size_t len, const char *what)
{
    size_t limit = atomic_load(&r->max_bulk);
    PS__RETURN_IF(len > limit, PS_ETOOBIG,
                  "redis %s: %s: object of %zu bytes exceeds the server's proto-max-bulk-len "
                  "of %zu bytes",
                  r->where, what, len, limit);
    return PS_OK;
}

/* ---- single-key operations ------------------------------------------------ */

typedef struct rd_one {
    const char *id;
    const void *data; /* SET */
    size_t len;
    ps_bytes *out; /* GET */
    bool *exists;  /* EXISTS */
} rd_one;

/* Send one command on key `id` (with a value for SET) and read its reply. */
static ps_status rd_cmd(rd *r, rd_conn *c, const char *cmd, const rd_one *a, rd_reply *rep,
                        char *what, size_t whatsize)
{
    snprintf(what, whatsize, "%s %s", cmd, a->id);
    rd_out o;
    memset(&o, 0, sizeof o);
    rd_out_begin(&o, a->data ? 3 : 2);
    rd_out_str(&o, cmd);
    rd_out_arg(&o, a->id, RD_UUID_LEN);
    if (a->data)
        rd_out_arg(&o, a->data, a->len);
    ps_status st = rd_send(r, c, &o, what);
    rd_out_free(&o);
    if (st == PS_OK)
        st = rd_read(r, c, what, rep, 0);
    return st;
}

static ps_status rd_do_set(rd *r, rd_conn *c, void *arg)
{
    char what[64];
    rd_reply rep;
    PS__FORWARD(rd_cmd(r, c, "SET", arg, &rep, what, sizeof what));
    ps_status st = rep.type == RD_STATUS ? PS_OK : rd_unexpected(r, what, &rep);
    rd_reply_clear(&rep);
    return st;
}

/* Hand a bulk reply's buffer out as the result: no copy. */
static void rd_take_bulk(rd_reply *rep, ps_bytes *out)
{
    out->data = rep->str;
    out->len = rep->len;
    out->release = NULL; /* ps_malloc'd: ps_bytes_free -> ps_free */
    out->opaque = NULL;
    rep->str = NULL;
}

/*
 * GET of a large value is slow on the server side: Redis (7.0) copies the
 * whole value into one reply buffer, and one that large is fresh memory
 * (page faults) on every GET, so a 100 MiB GET runs at a third of the rate
 * the same server sends 1 MiB values. So a get first asks for at most
 * RD_PROBE bytes with GETRANGE (one round trip, like GET, for every value
 * shorter than that). A value at least RD_PROBE long is then read again under
 * WATCH in RD_RANGE pieces, RD_RANGE_WINDOW requests in flight, and an empty
 * MULTI/EXEC sent behind the last piece tells whether the key changed while
 * it was read (EXEC is nil then). Anything unexpected on the way (an empty
 * probe: missing or empty value; GETRANGE, WATCH or MULTI forbidden or
 * unknown; a changed value) falls back to a plain GET, whose answer is the
 * one GET always gave. Other replies to the probe (WRONGTYPE, a broken reply)
 * are reported as GET's would be. RD_PROBE stays below 7 MiB: Redis's reply
 * buffer for it is then below jemalloc's 8 MiB "oversize" class and reused,
 * so the probe costs what a GET of that size costs.
 */
#define RD_PROBE        ((size_t)6 * 1024 * 1024 + 1)
#define RD_RANGE        ((size_t)1024 * 1024)
#define RD_RANGE_WINDOW 2

static void rd_out_range(rd_out *o, const char *id, size_t first, size_t last)
{
    char a[32], b[32];
    int na = snprintf(a, sizeof a, "%zu", first);
    int nb = snprintf(b, sizeof b, "%zu", last);
    rd_out_begin(o, 4);
    rd_out_str(o, "GETRANGE");
    rd_out_arg(o, id, RD_UUID_LEN);
    rd_out_arg(o, a, (size_t)na);
    rd_out_arg(o, b, (size_t)nb);
}

static void rd_out_cmd(rd_out *o, const char *cmd, const char *id)
{
    rd_out_begin(o, id ? 2 : 1);
    rd_out_str(o, cmd);
    if (id)
        rd_out_arg(o, id, RD_UUID_LEN);
}

/* Plain GET (after an UNWATCH when a WATCH may be pending). */
static ps_status rd_get_plain(rd *r, rd_conn *c, rd_one *a, const char *what, bool unwatch)
{
    rd_out o;
    memset(&o, 0, sizeof o);
    if (unwatch)
        rd_out_cmd(&o, "UNWATCH", NULL);
    rd_out_cmd(&o, "GET", a->id);
    ps_status st = rd_send(r, c, &o, what);
    rd_out_free(&o);
    rd_reply rep;
    if (st == PS_OK && unwatch) {
        st = rd_read(r, c, what, &rep, 0);
        if (st == PS_OK)
            rd_reply_clear(&rep); /* any answer: the GET below is what counts */
    }
    if (st == PS_OK)
        st = rd_read(r, c, what, &rep, 0);
    if (st != PS_OK)
        return st;
    if (rep.type == RD_BULK)
        rd_take_bulk(&rep, a->out);
    else if (rep.type == RD_NIL)
        st = PS_NOT_FOUND;
    else
        st = rd_unexpected(r, what, &rep);
    rd_reply_clear(&rep);
    return st;
}

/* The large-value path (see above). PS_OK with `*done` false: use GET. */
static ps_status rd_get_ranges(rd *r, rd_conn *c, rd_one *a, const char *what, bool *done)
{
    *done = false;
    rd_out o;
    memset(&o, 0, sizeof o);
    rd_out_cmd(&o, "WATCH", a->id);
    rd_out_cmd(&o, "STRLEN", a->id);
    ps_status st = rd_send(r, c, &o, what);
    rd_reply reps[2];
    if (st == PS_OK)
        st = rd_read_n(r, c, what, reps, 2);
    if (st != PS_OK) {
        rd_out_free(&o);
        return st;
    }
    bool ok = reps[0].type == RD_STATUS && reps[1].type == RD_INT && reps[1].integer > 0 &&
              (unsigned long long)reps[1].integer < SIZE_MAX;
    size_t len = ok ? (size_t)reps[1].integer : 0;
    rd_reply_clear(&reps[0]);
    rd_reply_clear(&reps[1]);
    char *data = ok ? ps_malloc(len + 1) : NULL;
    if (data == NULL) {
        rd_out_free(&o);
        if (!ok)
            return PS_OK;
        c->broken = true; /* the WATCH stays behind: do not reuse */
        return ps__seterr(PS_ENOMEM, "redis %s: %s: out of memory for a reply of %zu bytes",
                          r->where, what, len);
    }
    ps__advise_hugepages(data, len);
    size_t n = (len + RD_RANGE - 1) / RD_RANGE, sent = 0;
    bool same = true;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        for (; sent < n && sent < i + RD_RANGE_WINDOW; sent++) {
            size_t off = sent * RD_RANGE, k = len - off < RD_RANGE ? len - off : RD_RANGE;
            rd_out_range(&o, a->id, off, off + k - 1);
            if (sent + 1 == n) {
                rd_out_cmd(&o, "MULTI", NULL);
                rd_out_cmd(&o, "EXEC", NULL);
            }
        }
        if (o.nsegs > 0 || o.oom)
            st = rd_send(r, c, &o, what);
        if (st != PS_OK)
            break;
        size_t off = i * RD_RANGE, k = len - off < RD_RANGE ? len - off : RD_RANGE;
        rd_reply rep;
        st = rd_read_ex(r, c, what, &rep, 0, data + off, k);
        if (st == PS_OK) {
            same = same && rep.type == RD_BULK && rep.len == k;
            rd_reply_clear(&rep);
        }
    }
    rd_out_free(&o);
    if (st == PS_OK)
        st = rd_read_n(r, c, what, reps, 2); /* MULTI, EXEC */
    if (st != PS_OK) {
        ps_free(data);
        return st;
    }
    /* EXEC answers an array when nothing changed since WATCH, nil otherwise */
    same = same && reps[0].type == RD_STATUS && reps[1].type == RD_ARRAY;
    rd_reply_clear(&reps[0]);
    rd_reply_clear(&reps[1]);
    if (!same) {
        ps_free(data);
        return PS_OK;
    }
    data[len] = '\0';
    a->out->data = data;
    a->out->len = len;
    a->out->release = NULL; /* ps_malloc'd: ps_bytes_free -> ps_free */
    a->out->opaque = NULL;
    *done = true;
    return PS_OK;
}

static ps_status rd_do_get(rd *r, rd_conn *c, void *arg)
{
    rd_one *a = arg;
    char what[64];
    snprintf(what, sizeof what, "GET %s", a->id);
    rd_out o;
    memset(&o, 0, sizeof o);
    rd_out_range(&o, a->id, 0, RD_PROBE - 1);
    ps_status st = rd_send(r, c, &o, what);
    rd_out_free(&o);
    rd_reply rep;
    if (st == PS_OK)
        st = rd_read(r, c, what, &rep, 0);
    if (st != PS_OK)
        return st;
    if (rep.type == RD_BULK && rep.len > 0 && rep.len < RD_PROBE) {
        rd_take_bulk(&rep, a->out); /* the whole value */
        rd_reply_clear(&rep);
        return PS_OK;
    }
    bool large = rep.type == RD_BULK && rep.len == RD_PROBE;
    /* GET answers these as GETRANGE did (WRONGTYPE, a broken reply...); an
     * empty value, or GETRANGE not allowed or not known, asks GET. */
    bool ask =
        large || (rep.type == RD_BULK && rep.len == 0) ||
        (rep.type == RD_ERROR && rep.str &&
         (strncmp(rep.str, "NOPERM", 6) == 0 || strncmp(rep.str, "ERR unknown command", 19) == 0));
    if (!ask) {
        st = rd_unexpected(r, what, &rep);
        rd_reply_clear(&rep);
        return st;
    }
    rd_reply_clear(&rep);
    bool done = false;
    if (large) {
        PS__FORWARD(rd_get_ranges(r, c, a, what, &done));
        if (done)
            return PS_OK;
    }
    return rd_get_plain(r, c, a, what, large);
}

static ps_status rd_do_exists(rd *r, rd_conn *c, void *arg)
{
    rd_one *a = arg;
    char what[64];
    rd_reply rep;
    PS__FORWARD(rd_cmd(r, c, "EXISTS", a, &rep, what, sizeof what));
    ps_status st = PS_OK;
    if (rep.type == RD_INT)
        *a->exists = rep.integer > 0;
    else
        st = rd_unexpected(r, what, &rep);
    rd_reply_clear(&rep);
    return st;
}

static ps_status rd_do_del(rd *r, rd_conn *c, void *arg)
{
    char what[64];
    rd_reply rep;
    PS__FORWARD(rd_cmd(r, c, "DEL", arg, &rep, what, sizeof what));
    ps_status st = rep.type == RD_INT ? PS_OK : rd_unexpected(r, what, &rep);
    rd_reply_clear(&rep);
    return st;
}

/* ---- batches ------------------------------------------------------------------ */

/* Split n items into chunks: ends[k] is one past the last item of chunk k. */
static size_t rd_chunks(size_t n, const ps_iov *items, size_t *ends)
{
    size_t nchunks = 0, count = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = items ? items[i].len : 0;
        if (count > 0 && (count == RD_CHUNK_KEYS || bytes + len > RD_CHUNK_BYTES)) {
            ends[nchunks++] = i;
            count = 0;
            bytes = 0;
        }
        count++;
        bytes += len;
    }
    if (count > 0)
        ends[nchunks++] = n;
    return nchunks;
}

typedef struct rd_batch {
    size_t n;
    const char *const *ids; /* n UUIDs */
    const ps_iov *items;    /* MSET values, or NULL */
    ps_bytes *outs;         /* MGET results */
    bool *found;
} rd_batch;

/* Pipelined MSET (items) or MGET (outs) or DEL (neither), chunked. */
static ps_status rd_do_batch(rd *r, rd_conn *c, void *arg)
{
    rd_batch *b = arg;
    const char *cmd = b->items ? "MSET" : b->outs ? "MGET" : "DEL";
    char what[64];
    snprintf(what, sizeof what, "%s of %zu keys", cmd, b->n);
    size_t *ends = ps_calloc(b->n, sizeof *ends);
    if (ends == NULL)
        return PS__ENOMEM("redis batch");
    size_t nchunks = rd_chunks(b->n, b->items, ends);
    rd_reply *reps = ps_calloc(nchunks, sizeof *reps);
    if (reps == NULL) {
        ps_free(ends);
        return PS__ENOMEM("redis batch replies");
    }
    rd_out o;
    memset(&o, 0, sizeof o);
    ps_status st = PS_OK;
    /* Write every chunk, then read every reply: one round trip. */
    for (size_t k = 0, start = 0; k < nchunks && st == PS_OK; start = ends[k], k++) {
        size_t m = ends[k] - start;
        rd_out_begin(&o, 1 + m * (b->items ? 2 : 1));
        rd_out_str(&o, cmd);
        for (size_t i = start; i < ends[k]; i++) {
            rd_out_arg(&o, b->ids[i], RD_UUID_LEN);
            if (b->items)
                rd_out_arg(&o, b->items[i].data, b->items[i].len);
        }
        st = rd_send(r, c, &o, what);
    }
    rd_out_free(&o);
    if (st == PS_OK)
        st = rd_read_n(r, c, what, reps, nchunks);
    else
        nchunks = 0; /* nothing read */
    /* Check every reply before handing anything out. */
    for (size_t k = 0, start = 0; k < nchunks && st == PS_OK; start = ends[k], k++) {
        const rd_reply *rep = &reps[k];
        if (b->items) {
            if (rep->type != RD_STATUS)
                st = rd_unexpected(r, what, rep);
        } else if (b->outs) {
            if (rep->type != RD_ARRAY || rep->n != ends[k] - start) {
                st = rd_unexpected(r, what, rep);
                continue;
            }
            for (size_t i = 0; i < rep->n && st == PS_OK; i++)
                if (rep->elems[i].type != RD_BULK && rep->elems[i].type != RD_NIL)
                    st = rd_unexpected(r, what, &rep->elems[i]);
        } else if (rep->type != RD_INT) {
            st = rd_unexpected(r, what, rep);
        }
    }
    if (st == PS_OK && b->outs) {
        for (size_t k = 0, start = 0; k < nchunks; start = ends[k], k++) {
            for (size_t i = 0; i < reps[k].n; i++) {
                if (reps[k].elems[i].type == RD_BULK) {
                    rd_take_bulk(&reps[k].elems[i], &b->outs[start + i]);
                    b->found[start + i] = true;
                }
            }
        }
    }
    for (size_t k = 0; k < nchunks; k++)
        rd_reply_clear(&reps[k]);
    ps_free(reps);
    ps_free(ends);
    return st;
}

/* ---- the vtable ------------------------------------------------------------ */

static void rd_free(rd *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nidle; i++)
        rd_conn_free(r->idle[i]);
    pthread_mutex_destroy(&r->pool_lock);
    pthread_mutex_destroy(&r->set_lock);
    rd_set_free(&r->written);
    ps_free(r->hostname);
    ps_free(r->unix_socket);
    ps_free(r->username);
    ps_free(r->password);
    ps_free(r);
}

static const char *const rd_fields[] = {
    "hostname",           "port",     "unix_socket", "db",
    "username",           "password", "clear",       "connect_timeout_ms",
    "command_timeout_ms", NULL};

#define RD_WHAT "redis connector options"

static ps_status rd_dup(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return PS_OK;
    *out = ps_strdup(s);
    return *out ? PS_OK : PS__ENOMEM("redis options");
}

static ps_status rd_parse(json_t *options, rd *r)
{
    PS__FORWARD(ps__json_check_fields(options, RD_WHAT, rd_fields));
    const char *host = NULL, *sock = NULL, *user = NULL, *pass = NULL;
    long long port = RD_DEFAULT_PORT;
    PS__FORWARD(ps__json_get_string(options, RD_WHAT, "hostname", &host));
    PS__FORWARD(ps__json_get_int(options, RD_WHAT, "port", &port));
    PS__FORWARD(ps__json_get_string(options, RD_WHAT, "unix_socket", &sock));
    PS__FORWARD(ps__json_get_int(options, RD_WHAT, "db", &r->db));
    PS__FORWARD(ps__json_get_string(options, RD_WHAT, "username", &user));
    PS__FORWARD(ps__json_get_string(options, RD_WHAT, "password", &pass));
    PS__FORWARD(ps__json_get_bool(options, RD_WHAT, "clear", &r->clear));
    PS__FORWARD(ps__json_get_int(options, RD_WHAT, "connect_timeout_ms", &r->connect_timeout_ms));
    PS__FORWARD(ps__json_get_int(options, RD_WHAT, "command_timeout_ms", &r->command_timeout_ms));

    bool tcp_given = json_object_get(options, "hostname") || json_object_get(options, "port");
    PS__RETURN_IF(sock && tcp_given, PS_EINVAL,
                  RD_WHAT ": give either \"unix_socket\" or \"hostname\"/\"port\", not both");
    if (sock) {
        PS__RETURN_IF(*sock == '\0', PS_EINVAL, RD_WHAT ": \"unix_socket\" is empty");
        struct sockaddr_un sa;
        PS__RETURN_IF(strlen(sock) >= sizeof sa.sun_path, PS_EINVAL,
                      RD_WHAT ": \"unix_socket\" path is longer than %zu bytes: %.200s",
                      sizeof sa.sun_path - 1, sock);
    } else {
        if (host == NULL)
            host = RD_DEFAULT_HOST;
        PS__RETURN_IF(*host == '\0' || strlen(host) > 255, PS_EINVAL,
                      RD_WHAT ": \"hostname\" must have 1 to 255 characters");
        PS__RETURN_IF(port < 1 || port > 65535, PS_EINVAL,
                      RD_WHAT ": \"port\" must be 1..65535, not %lld", port);
    }
    PS__RETURN_IF(r->db < 0 || r->db > INT_MAX, PS_EINVAL,
                  RD_WHAT ": \"db\" must be a database number >= 0, not %lld", r->db);
    PS__RETURN_IF(user && !pass, PS_EINVAL, RD_WHAT ": \"username\" needs a \"password\"");
    PS__RETURN_IF(r->connect_timeout_ms < 0 || r->connect_timeout_ms > INT_MAX, PS_EINVAL,
                  RD_WHAT ": \"connect_timeout_ms\" must be 0..%d, not %lld", INT_MAX,
                  r->connect_timeout_ms);
    PS__RETURN_IF(r->command_timeout_ms < 0 || r->command_timeout_ms > INT_MAX, PS_EINVAL,
                  RD_WHAT ": \"command_timeout_ms\" must be 0..%d, not %lld", INT_MAX,
                  r->command_timeout_ms);
    r->port = sock ? 0 : (int)port;
    PS__FORWARD(rd_dup(sock ? NULL : host, &r->hostname));
    PS__FORWARD(rd_dup(sock, &r->unix_socket));
    PS__FORWARD(rd_dup(user, &r->username));
    PS__FORWARD(rd_dup(pass, &r->password));
    if (sock)
        snprintf(r->where, sizeof r->where, "unix:%s", sock);
    else if (strchr(host, ':'))
        snprintf(r->where, sizeof r->where, "[%s]:%d", host, r->port);
    else
        snprintf(r->where, sizeof r->where, "%s:%d", host, r->port);
    return PS_OK;
}

static ps_status rd_open(json_t *options, void **priv)
{
    rd *r = ps_calloc(1, sizeof *r);
    if (r == NULL)
        return PS__ENOMEM("redis connector");
    pthread_mutex_init(&r->pool_lock, NULL);
    pthread_mutex_init(&r->set_lock, NULL);
    r->connect_timeout_ms = PS_REDIS_DEFAULT_CONNECT_TIMEOUT_MS;
    r->command_timeout_ms = PS_REDIS_DEFAULT_COMMAND_TIMEOUT_MS;
    atomic_init(&r->max_bulk, RD_DEFAULT_MAX_BULK);
    ps_status st = rd_parse(options, r);
    /* Connect once: report an unreachable server or a wrong password now,
     * and learn proto-max-bulk-len before the first put. */
    rd_conn *c = NULL;
    if (st == PS_OK)
        st = rd_connect(r, &c);
    if (st != PS_OK) {
        rd_free(r);
        return st;
    }
    rd_release(r, c);
    *priv = r;
    return PS_OK;
}

static ps_status rd_clear(rd *r)
{
    /* Snapshot the written keys as text, then DEL them in pipelined chunks. */
    pthread_mutex_lock(&r->set_lock);
    size_t n = r->written.n;
    char *text = n ? ps_malloc(n * (RD_UUID_LEN + 1)) : NULL;
    const char **ids = n ? ps_malloc(n * sizeof *ids) : NULL;
    size_t k = 0;
    if (text && ids) {
        for (size_t i = 0; i < r->written.cap; i++) {
            if (r->written.used[i]) {
                ps__uuid_format(r->written.slots[i].b, text + k * (RD_UUID_LEN + 1));
                ids[k] = text + k * (RD_UUID_LEN + 1);
                k++;
            }
        }
    }
    pthread_mutex_unlock(&r->set_lock);
    ps_status st = PS_OK;
    if (n > 0 && (text == NULL || ids == NULL)) {
        st = PS__ENOMEM("redis close(clear)");
    } else if (n > 0) {
        rd_batch b = {k, ids, NULL, NULL, NULL};
        st = rd_run(r, rd_do_batch, &b);
        if (st != PS_OK)
            ps__preferr(st, "redis %s: close(clear) could not delete %zu keys", r->where, k);
    }
    ps_free(text);
    ps_free(ids);
    return st;
}

static ps_status rd_close(void *priv, ps_clear clear)
{
    rd *r = priv;
    ps_status st = clear == PS_CLEAR_ALL ? rd_clear(r) : PS_OK;
    rd_free(r);
    return st;
}

static bool rd_default_clear(void *priv)
{
    return ((rd *)priv)->clear;
}

static ps_status rd_config(void *priv, json_t **options)
{
    rd *r = priv;
    json_t *o = json_object();
    if (o == NULL)
        return PS__ENOMEM("redis config");
    int bad = 0;
    if (r->unix_socket) {
        bad |= json_object_set_new(o, "unix_socket", json_string(r->unix_socket));
    } else {
        bad |= json_object_set_new(o, "hostname", json_string(r->hostname));
        bad |= json_object_set_new(o, "port", json_integer(r->port));
    }
    bad |= json_object_set_new(o, "clear", json_boolean(r->clear));
    if (r->db != 0)
        bad |= json_object_set_new(o, "db", json_integer(r->db));
    if (r->username)
        bad |= json_object_set_new(o, "username", json_string(r->username));
    if (r->password)
        bad |= json_object_set_new(o, "password", json_string(r->password));
    if (r->connect_timeout_ms != PS_REDIS_DEFAULT_CONNECT_TIMEOUT_MS)
        bad |= json_object_set_new(o, "connect_timeout_ms", json_integer(r->connect_timeout_ms));
    if (r->command_timeout_ms != PS_REDIS_DEFAULT_COMMAND_TIMEOUT_MS)
        bad |= json_object_set_new(o, "command_timeout_ms", json_integer(r->command_timeout_ms));
    if (bad) {
        json_decref(o);
        return PS__ENOMEM("redis config");
    }
    *options = o;
    return PS_OK;
}

static ps_status rd_set_op(void *priv, const ps_key *key, const void *data, size_t len)
{
    rd *r = priv;
    const char *id = NULL;
    PS__FORWARD(rd_key_id(key, &id));
    PS__FORWARD(rd_check_size(r, len, "set"));
    rd_one a = {id, data, len, NULL, NULL};
    PS__FORWARD(rd_run(r, rd_do_set, &a));
    rd_track(r, id);
    return PS_OK;
}

static ps_status rd_new_key(void *priv, ps_key **key)
{
    (void)priv;
    return ps_key_new_uuid("redis", 0, NULL, key);
}

static ps_status rd_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                        ps_key **key)
{
    rd *r = priv;
    (void)opts;
    PS__FORWARD(rd_check_size(r, len, "put"));
    ps_key *k = NULL;
    PS__FORWARD(ps_key_new_uuid("redis", 0, NULL, &k));
    ps_status st = rd_set_op(r, k, data, len);
    if (st != PS_OK) {
        ps_key_free(k);
        return st;
    }
    *key = k;
    return PS_OK;
}

static ps_status rd_get(void *priv, const ps_key *key, ps_bytes *out)
{
    rd *r = priv;
    const char *id = NULL;
    PS__FORWARD(rd_key_id(key, &id));
    rd_one a = {id, NULL, 0, out, NULL};
    return rd_run(r, rd_do_get, &a);
}

static ps_status rd_exists(void *priv, const ps_key *key, bool *exists)
{
    rd *r = priv;
    const char *id = NULL;
    PS__FORWARD(rd_key_id(key, &id));
    rd_one a = {id, NULL, 0, NULL, exists};
    return rd_run(r, rd_do_exists, &a);
}

static ps_status rd_evict(void *priv, const ps_key *key)
{
    rd *r = priv;
    const char *id = NULL;
    PS__FORWARD(rd_key_id(key, &id));
    rd_one a = {id, NULL, 0, NULL, NULL};
    PS__FORWARD(rd_run(r, rd_do_del, &a));
    rd_untrack(r, id);
    return PS_OK;
}

static ps_status rd_put_batch(void *priv, size_t n, const ps_iov *items, const ps_put_options *opts,
                              ps_key **keys)
{
    rd *r = priv;
    (void)opts;
    for (size_t i = 0; i < n; i++) {
        char what[64];
        snprintf(what, sizeof what, "put_batch item %zu", i);
        PS__FORWARD(rd_check_size(r, items[i].len, what));
    }
    const char **ids = ps_malloc(n * sizeof *ids);
    if (ids == NULL)
        return PS__ENOMEM("redis put_batch");
    ps_status st = PS_OK;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        st = ps_key_new_uuid("redis", 0, NULL, &keys[i]);
        if (st == PS_OK)
            ids[i] = ps_key_field(keys[i], 0);
    }
    if (st == PS_OK) {
        rd_batch b = {n, ids, items, NULL, NULL};
        st = rd_run(r, rd_do_batch, &b);
        if (st != PS_OK) {
            /* Some chunks may have been stored: delete them, best effort,
             * then return no keys (the core has nothing left to roll back). */
            char msg[PS__ERRMSG_SIZE];
            snprintf(msg, sizeof msg, "%s", ps_last_error());
            rd_batch d = {n, ids, NULL, NULL, NULL};
            rd_run(r, rd_do_batch, &d);
            ps__seterr(st, "%s", msg);
        }
    }
    if (st == PS_OK) {
        for (size_t i = 0; i < n; i++)
            rd_track(r, ids[i]);
    } else {
        ps_key_free_array(keys, n);
    }
    ps_free(ids);
    return st;
}

static ps_status rd_get_batch(void *priv, size_t n, const ps_key *const *keys, ps_bytes *outs,
                              bool *found)
{
    rd *r = priv;
    const char **ids = ps_malloc(n * sizeof *ids);
    if (ids == NULL)
        return PS__ENOMEM("redis get_batch");
    ps_status st = PS_OK;
    for (size_t i = 0; i < n && st == PS_OK; i++)
        st = rd_key_id(keys[i], &ids[i]);
    if (st == PS_OK) {
        rd_batch b = {n, ids, NULL, outs, found};
        st = rd_run(r, rd_do_batch, &b);
    }
    ps_free(ids);
    return st;
}

const ps_connector_ops ps__connector_redis = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "redis",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = rd_open,
    .close = rd_close,
    .default_clear = rd_default_clear,
    .config = rd_config,
    .put = rd_put,
    .get = rd_get,
    .exists = rd_exists,
    .evict = rd_evict,
    .put_batch = rd_put_batch,
    .get_batch = rd_get_batch,
    .new_key = rd_new_key,
    .set = rd_set_op,
};

/* ---- C options ------------------------------------------------------------ */

void ps_redis_options_init(ps_redis_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->version = PS_REDIS_OPTIONS_VERSION;
    o->connect_timeout_ms = PS_REDIS_DEFAULT_CONNECT_TIMEOUT_MS;
    o->command_timeout_ms = PS_REDIS_DEFAULT_COMMAND_TIMEOUT_MS;
}

ps_status ps_redis_connector_open(const ps_redis_options *opts, ps_connector **out)
{
    static const char fn[] = "ps_redis_connector_open";
    ps_redis_options defaults;
    if (opts == NULL) {
        ps_redis_options_init(&defaults);
        opts = &defaults;
    }
    PS__TYPED_OPEN_CHECK(fn, opts, PS_REDIS_OPTIONS_VERSION, out);
    if (opts->unix_socket != NULL)
        return ps__connector_open_pack(
            out, &ps__connector_redis, fn, "{s:s, s:I, s:s*, s:s*, s:b, s:I, s:I}", "unix_socket",
            opts->unix_socket, "db", (json_int_t)opts->db, "username", opts->username, "password",
            opts->password, "clear", opts->clear, "connect_timeout_ms",
            (json_int_t)opts->connect_timeout_ms, "command_timeout_ms",
            (json_int_t)opts->command_timeout_ms);
    return ps__connector_open_pack(
        out, &ps__connector_redis, fn, "{s:s, s:I, s:I, s:s*, s:s*, s:b, s:I, s:I}", "hostname",
        opts->hostname ? opts->hostname : RD_DEFAULT_HOST, "port",
        (json_int_t)(opts->port ? opts->port : RD_DEFAULT_PORT), "db", (json_int_t)opts->db,
        "username", opts->username, "password", opts->password, "clear", opts->clear,
        "connect_timeout_ms", (json_int_t)opts->connect_timeout_ms, "command_timeout_ms",
        (json_int_t)opts->command_timeout_ms);
}
