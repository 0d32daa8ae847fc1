/*
 * RESP2 for the redis connector: the request writer and the reply reader
 * (see resp.h). No sockets here: the reader gets its bytes from a callback.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/redis/resp.h"

/* ---- writing requests ------------------------------------------------------- */

void ps__resp_out_reset(ps__resp_out *o)
{
    o->len = 0;
    o->nsegs = 0;
}

void ps__resp_out_free(ps__resp_out *o)
{
    ps_free(o->buf);
    ps_free(o->segs);
    memset(o, 0, sizeof *o);
}

static ps__resp_seg *resp_out_seg(ps__resp_out *o)
{
    if (o->nsegs == o->capsegs) {
        size_t cap = o->capsegs ? o->capsegs * 2 : 64;
        ps__resp_seg *s = ps_realloc(o->segs, cap * sizeof *s);
        if (s == NULL) {
            o->oom = true;
            return NULL;
        }
        o->segs = s;
        o->capsegs = cap;
    }
    return &o->segs[o->nsegs++];
}

static void resp_out_copy(ps__resp_out *o, const void *data, size_t len)
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
    ps__resp_seg *last = o->nsegs ? &o->segs[o->nsegs - 1] : NULL;
    if (last && last->ext == NULL && last->off + last->len == o->len) {
        last->len += len;
    } else {
        ps__resp_seg *s = resp_out_seg(o);
        if (s == NULL)
            return;
        s->ext = NULL;
        s->off = o->len;
        s->len = len;
    }
    o->len += len;
}

static void resp_out_ref(ps__resp_out *o, const void *data, size_t len)
{
    if (o->oom || len == 0)
        return;
    ps__resp_seg *s = resp_out_seg(o);
    if (s == NULL)
        return;
    s->ext = data;
    s->off = 0;
    s->len = len;
}

void ps__resp_out_begin(ps__resp_out *o, size_t nargs)
{
    char h[32];
    int n = snprintf(h, sizeof h, "*%zu\r\n", nargs);
    resp_out_copy(o, h, (size_t)n);
}

void ps__resp_out_arg(ps__resp_out *o, const void *data, size_t len)
{
    char h[32];
    int n = snprintf(h, sizeof h, "$%zu\r\n", len);
    resp_out_copy(o, h, (size_t)n);
    if (len < PS__RESP_COPY_MAX)
        resp_out_copy(o, data, len);
    else
        resp_out_ref(o, data, len);
    resp_out_copy(o, "\r\n", 2);
}

void ps__resp_out_str(ps__resp_out *o, const char *s)
{
    ps__resp_out_arg(o, s, strlen(s));
}

size_t ps__resp_out_iov(const ps__resp_out *o, size_t seg, size_t skip, struct iovec *iov,
                        size_t max)
{
    size_t k = 0;
    for (size_t j = seg; j < o->nsegs && k < max; j++, k++) {
        const char *base = o->segs[j].ext ? o->segs[j].ext : o->buf + o->segs[j].off;
        size_t off = (j == seg) ? skip : 0;
        iov[k].iov_base = (void *)(uintptr_t)(base + off);
        iov[k].iov_len = o->segs[j].len - off;
    }
    return k;
}

void ps__resp_out_advance(const ps__resp_out *o, size_t *seg, size_t *skip, size_t n)
{
    size_t i = *seg, s = *skip;
    while (n > 0 && i < o->nsegs) {
        size_t rem = o->segs[i].len - s;
        if (n >= rem) {
            n -= rem;
            i++;
            s = 0;
        } else {
            s += n;
            n = 0;
        }
    }
    *seg = i;
    *skip = s;
}

/* ---- replies ------------------------------------------------------------------ */

void ps__resp_reply_clear(ps__resp_reply *rep)
{
    ps_free(rep->str);
    for (size_t i = 0; i < rep->n; i++)
        ps__resp_reply_clear(&rep->elems[i]);
    ps_free(rep->elems);
    memset(rep, 0, sizeof *rep);
}

const char *ps__resp_type_name(int type)
{
    static const char *const names[] = {"status",      "error", "integer",
                                        "bulk string", "nil",   "array"};
    return type >= 0 && type <= PS__RESP_ARRAY ? names[type] : "?";
}

bool ps__resp_parse_ll(const char *s, long long *v)
{
    if (*s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return errno == 0 && end && *end == '\0';
}

/* ---- the reader: buffering -------------------------------------------------------- */

ps_status ps__resp_reader_init(ps__resp_reader *rd, size_t cap, const char *where,
                               ps__resp_recv_fn recv, void *ctx)
{
    memset(rd, 0, sizeof *rd);
    PS__RETURN_IF(cap < 16 || recv == NULL, PS_EINVAL,
                  "redis reply reader: a buffer of at least 16 bytes and a source are needed");
    rd->buf = ps_malloc(cap);
    if (rd->buf == NULL)
        return PS__ENOMEM("redis connection");
    rd->cap = cap;
    rd->where = where ? where : "";
    rd->recv = recv;
    rd->ctx = ctx;
    return PS_OK;
}

void ps__resp_reader_free(ps__resp_reader *rd)
{
    ps_free(rd->buf);
    memset(rd, 0, sizeof *rd);
}

size_t ps__resp_reader_unread(const ps__resp_reader *rd)
{
    return rd->len - rd->pos;
}

void ps__resp_reader_discard(ps__resp_reader *rd)
{
    rd->pos = rd->len = 0;
}

static ps_status resp_proto(const ps__resp_reader *rd, const char *what, const char *why)
{
    return ps__seterr(PS_EPROTO, "redis %s: %s: protocol error: %s", rd->where, what, why);
}

/* 1..n bytes from the source. */
static ps_status resp_recv(ps__resp_reader *rd, const char *what, void *dst, size_t n, size_t *got)
{
    *got = 0;
    PS__FORWARD(rd->recv(rd, what, dst, n, got));
    PS__RETURN_IF(*got == 0 || *got > n, PS_EINTERNAL,
                  "redis %s: %s: the reply source returned %zu bytes for a read of %zu", rd->where,
                  what, *got, n);
    return PS_OK;
}

/* Read more bytes into the buffer (after moving the unread ones to the front). */
static ps_status resp_fill(ps__resp_reader *rd, const char *what)
{
    if (rd->pos > 0) {
        memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
        rd->len -= rd->pos;
        rd->pos = 0;
    }
    if (rd->len == rd->cap)
        return resp_proto(rd, what, "reply line too long");
    size_t got = 0;
    PS__FORWARD(resp_recv(rd, what, rd->buf + rd->len, rd->cap - rd->len, &got));
    rd->len += got;
    return PS_OK;
}

/* The next line without its CRLF, NUL-terminated in the buffer: valid until
 * the next read. */
static ps_status resp_line(ps__resp_reader *rd, const char *what, char **line, size_t *n)
{
    for (;;) {
        char *start = rd->buf + rd->pos;
        char *cr = rd->len > rd->pos ? memmem(start, rd->len - rd->pos, "\r\n", 2) : NULL;
        if (cr) {
            *cr = '\0';
            *line = start;
            *n = (size_t)(cr - start);
            rd->pos = (size_t)(cr - rd->buf) + 2;
            return PS_OK;
        }
        PS__FORWARD(resp_fill(rd, what));
    }
}

/* Exactly n bytes into dst: first what is buffered, then large rests
 * straight from the source (never reading past them). */
static ps_status resp_exact(ps__resp_reader *rd, const char *what, char *dst, size_t n)
{
    while (n > 0) {
        size_t have = rd->len - rd->pos;
        if (have > 0) {
            size_t k = have < n ? have : n;
            memcpy(dst, rd->buf + rd->pos, k);
            rd->pos += k;
            dst += k;
            n -= k;
            continue;
        }
        rd->pos = rd->len = 0;
        if (n < rd->cap / 2) {
            PS__FORWARD(resp_fill(rd, what));
            continue;
        }
        size_t got = 0;
        PS__FORWARD(resp_recv(rd, what, dst, n, &got));
        dst += got;
        n -= got;
    }
    return PS_OK;
}

/* ---- the reader: one reply per type ------------------------------------------------- */

/* "+text" or "-text": the line is `n` bytes with its type byte. */
static ps_status resp_read_text(ps__resp_reply *rep, const char *line, size_t n)
{
    rep->type = line[0] == '+' ? PS__RESP_STATUS : PS__RESP_ERROR;
    rep->str = ps_malloc(n);
    if (rep->str == NULL)
        return PS__ENOMEM("redis reply");
    memcpy(rep->str, line + 1, n); /* with the NUL */
    rep->len = n - 1;
    return PS_OK;
}

static ps_status resp_read_int(ps__resp_reader *rd, const char *what, ps__resp_reply *rep,
                               const char *line)
{
    long long v = 0;
    if (!ps__resp_parse_ll(line + 1, &v))
        return resp_proto(rd, what, "bad integer reply");
    rep->type = PS__RESP_INT;
    rep->integer = v;
    return PS_OK;
}

static ps_status resp_read_crlf(ps__resp_reader *rd, const char *what)
{
    char crlf[2];
    PS__FORWARD(resp_exact(rd, what, crlf, 2));
    if (crlf[0] != '\r' || crlf[1] != '\n')
        return resp_proto(rd, what, "bulk string not followed by CRLF");
    return PS_OK;
}

/* A bulk string's `len` bytes into the caller's `dst` of `cap` bytes. */
static ps_status resp_read_bulk_into(ps__resp_reader *rd, const char *what, ps__resp_reply *rep,
                                     size_t len, char *dst, size_t cap)
{
    if (len > cap)
        return resp_proto(rd, what, "range reply longer than asked for");
    PS__FORWARD(resp_exact(rd, what, dst, len));
    PS__FORWARD(resp_read_crlf(rd, what));
    rep->type = PS__RESP_BULK;
    rep->len = len;
    return PS_OK;
}

/* A bulk string's `len` bytes into a new buffer, the reply's str. */
static ps_status resp_read_bulk_alloc(ps__resp_reader *rd, const char *what, ps__resp_reply *rep,
                                      size_t len)
{
    char *data = ps_malloc(len + 1);
    if (data == NULL)
        return ps__seterr(PS_ENOMEM, "redis %s: %s: out of memory for a reply of %zu bytes",
                          rd->where, what, len);
    ps__advise_hugepages(data, len); /* a large value: fewer page faults */
    ps_status st = resp_exact(rd, what, data, len);
    if (st == PS_OK)
        st = resp_read_crlf(rd, what);
    if (st != PS_OK) {
        ps_free(data);
        return st;
    }
    data[len] = '\0';
    rep->type = PS__RESP_BULK;
    rep->str = data;
    rep->len = len;
    return PS_OK;
}

/* "$<len>" then len bytes and CRLF, or "$-1" (nil). */
static ps_status resp_read_bulk(ps__resp_reader *rd, const char *what, ps__resp_reply *rep,
                                const char *line, char *dst, size_t cap)
{
    long long v = 0;
    if (!ps__resp_parse_ll(line + 1, &v) || v < -1)
        return resp_proto(rd, what, "bad bulk length");
    if (v == -1) {
        rep->type = PS__RESP_NIL;
        return PS_OK;
    }
    if ((unsigned long long)v >= SIZE_MAX)
        return resp_proto(rd, what, "bulk length too large");
    if (dst)
        return resp_read_bulk_into(rd, what, rep, (size_t)v, dst, cap);
    return resp_read_bulk_alloc(rd, what, rep, (size_t)v);
}

static ps_status resp_read_reply(ps__resp_reader *rd, const char *what, ps__resp_reply *rep,
                                 int depth, char *dst, size_t cap);

/* "*<n>" then n replies, or "*-1" (nil). */
static ps_status resp_read_array(ps__resp_reader *rd, const char *what, ps__resp_reply *rep,
                                 const char *line, int depth)
{
    long long v = 0;
    if (!ps__resp_parse_ll(line + 1, &v) || v < -1 ||
        v > (long long)(SIZE_MAX / sizeof(ps__resp_reply)))
        return resp_proto(rd, what, "bad array length");
    if (v == -1) {
        rep->type = PS__RESP_NIL;
        return PS_OK;
    }
    if (depth >= PS__RESP_MAX_DEPTH)
        return resp_proto(rd, what, "arrays nested too deep");
    rep->type = PS__RESP_ARRAY;
    if (v == 0)
        return PS_OK;
    rep->elems = ps_calloc((size_t)v, sizeof *rep->elems);
    if (rep->elems == NULL)
        return PS__ENOMEM("redis reply array");
    for (size_t i = 0; i < (size_t)v; i++) {
        ps_status st = resp_read_reply(rd, what, &rep->elems[i], depth + 1, NULL, 0);
        rep->n = i + 1;
        if (st != PS_OK) {
            ps__resp_reply_clear(rep);
            return st;
        }
    }
    return PS_OK;
}

/* One reply, `depth` arrays down; with `dst`, a bulk reply goes there. */
static ps_status resp_read_reply(ps__resp_reader *rd, const char *what, ps__resp_reply *rep,
                                 int depth, char *dst, size_t cap)
{
    memset(rep, 0, sizeof *rep);
    char *line;
    size_t n;
    PS__FORWARD(resp_line(rd, what, &line, &n));
    if (n == 0)
        return resp_proto(rd, what, "empty reply line");
    switch (line[0]) {
    case '+':
    case '-':
        return resp_read_text(rep, line, n);
    case ':':
        return resp_read_int(rd, what, rep, line);
    case '$':
        return resp_read_bulk(rd, what, rep, line, dst, cap);
    case '*':
        return resp_read_array(rd, what, rep, line, depth);
    default:
        return resp_proto(rd, what, "unknown reply type");
    }
}

ps_status ps__resp_read(ps__resp_reader *rd, const char *what, ps__resp_reply *rep)
{
    return resp_read_reply(rd, what, rep, 0, NULL, 0);
}

ps_status ps__resp_read_into(ps__resp_reader *rd, const char *what, ps__resp_reply *rep, char *dst,
                             size_t cap)
{
    return resp_read_reply(rd, what, rep, 0, dst, cap);
}

ps_status ps__resp_read_n(ps__resp_reader *rd, const char *what, ps__resp_reply *reps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ps_status st = ps__resp_read(rd, what, &reps[i]);
        if (st != PS_OK) {
            for (size_t j = 0; j < i; j++)
                ps__resp_reply_clear(&reps[j]);
            return st;
        }
    }
    return PS_OK;
}

/* ---- a byte buffer as the source ------------------------------------------------ */

ps_status ps__resp_mem_recv(ps__resp_reader *rd, const char *what, void *dst, size_t n, size_t *got)
{
    ps__resp_mem *m = rd->ctx;
    size_t left = m->len - m->pos;
    if (left == 0)
        return ps__seterr(PS_ECONN, "redis %s: %s: connection lost: end of input", rd->where, what);
    size_t k = left < n ? left : n;
    if (m->step > 0 && k > m->step)
        k = m->step;
    memcpy(dst, m->data + m->pos, k);
    m->pos += k;
    *got = k;
    return PS_OK;
}
