/*
 * The commands the redis connector's operations send, and the checks of
 * their replies. Each ps__redis_do_* is a ps__redis_fn: ps__redis_run calls
 * it on a pooled connection (and once more on a fresh one when the pooled
 * one was lost), so every command here is idempotent.
 *
 * Layout: upstream ProxyStore's. Each object is a Redis string named by a
 * bare UUID text, holding the raw bytes: put/set is SET, get is GET (see the
 * range path below), exists is EXISTS, evict is DEL, put_batch is MSET and
 * get_batch is MGET.
 */
#include <stdio.h>
#include <string.h>

#include "connectors/redis/redis_internal.h"

/* Batch chunking: one MSET/MGET/DEL per chunk. */
#define RD_CHUNK_KEYS  1024
#define RD_CHUNK_BYTES ((size_t)4 * 1024 * 1024)

static ps_status rd_unexpected(const ps__redis_pool *p, const char *what, const ps__resp_reply *rep)
{
    if (rep->type == PS__RESP_ERROR)
        return ps__redis_reply_error(p, what, rep);
    return ps__seterr(PS_EPROTO, "redis %s: %s: unexpected %s reply", p->where, what,
                      ps__resp_type_name(rep->type));
}

static void rd_out_cmd(ps__resp_out *o, const char *cmd, const char *id)
{
    ps__resp_out_begin(o, id ? 2 : 1);
    ps__resp_out_str(o, cmd);
    if (id)
        ps__resp_out_arg(o, id, PS__REDIS_UUID_LEN);
}

/* ---- single-key commands ---------------------------------------------------- */

/* Send one command on key `a->id` (with a value for SET) and read its reply. */
static ps_status rd_cmd(ps__redis_conn *c, const char *cmd, const ps__redis_one *a,
                        ps__resp_reply *rep, char *what, size_t whatsize)
{
    snprintf(what, whatsize, "%s %s", cmd, a->id);
    ps__resp_out o;
    memset(&o, 0, sizeof o);
    ps__resp_out_begin(&o, a->data ? 3 : 2);
    ps__resp_out_str(&o, cmd);
    ps__resp_out_arg(&o, a->id, PS__REDIS_UUID_LEN);
    if (a->data)
        ps__resp_out_arg(&o, a->data, a->len);
    ps_status st = ps__redis_send(c, &o, what);
    ps__resp_out_free(&o);
    if (st == PS_OK)
        st = ps__redis_read(c, what, rep);
    return st;
}

ps_status ps__redis_do_set(ps__redis_pool *p, ps__redis_conn *c, void *arg)
{
    char what[64];
    ps__resp_reply rep;
    PS__FORWARD(rd_cmd(c, "SET", arg, &rep, what, sizeof what));
    ps_status st = rep.type == PS__RESP_STATUS ? PS_OK : rd_unexpected(p, what, &rep);
    ps__resp_reply_clear(&rep);
    return st;
}

ps_status ps__redis_do_exists(ps__redis_pool *p, ps__redis_conn *c, void *arg)
{
    ps__redis_one *a = arg;
    char what[64];
    ps__resp_reply rep;
    PS__FORWARD(rd_cmd(c, "EXISTS", a, &rep, what, sizeof what));
    ps_status st = PS_OK;
    if (rep.type == PS__RESP_INT)
        *a->exists = rep.integer > 0;
    else
        st = rd_unexpected(p, what, &rep);
    ps__resp_reply_clear(&rep);
    return st;
}

ps_status ps__redis_do_del(ps__redis_pool *p, ps__redis_conn *c, void *arg)
{
    char what[64];
    ps__resp_reply rep;
    PS__FORWARD(rd_cmd(c, "DEL", arg, &rep, what, sizeof what));
    ps_status st = rep.type == PS__RESP_INT ? PS_OK : rd_unexpected(p, what, &rep);
    ps__resp_reply_clear(&rep);
    return st;
}

/* ---- GET ---------------------------------------------------------------------- */

/* Hand a ps_malloc'd buffer of len bytes (+ NUL) out as the result. */
static void rd_give(char *data, size_t len, ps_bytes *out)
{
    out->data = data;
    out->len = len;
    out->release = NULL; /* ps_malloc'd: ps_bytes_free -> ps_free */
    out->opaque = NULL;
}

/* Hand a bulk reply's buffer out as the result: no copy. */
static void rd_take_bulk(ps__resp_reply *rep, ps_bytes *out)
{
    rd_give(rep->str, rep->len, out);
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

static void rd_out_range(ps__resp_out *o, const char *id, size_t first, size_t last)
{
    char a[32], b[32];
    int na = snprintf(a, sizeof a, "%zu", first);
    int nb = snprintf(b, sizeof b, "%zu", last);
    ps__resp_out_begin(o, 4);
    ps__resp_out_str(o, "GETRANGE");
    ps__resp_out_arg(o, id, PS__REDIS_UUID_LEN);
    ps__resp_out_arg(o, a, (size_t)na);
    ps__resp_out_arg(o, b, (size_t)nb);
}

/* Plain GET (after an UNWATCH when a WATCH may be pending). */
static ps_status rd_get_plain(ps__redis_pool *p, ps__redis_conn *c, ps__redis_one *a,
                              const char *what, bool unwatch)
{
    ps__resp_out o;
    memset(&o, 0, sizeof o);
    if (unwatch)
        rd_out_cmd(&o, "UNWATCH", NULL);
    rd_out_cmd(&o, "GET", a->id);
    ps_status st = ps__redis_send(c, &o, what);
    ps__resp_out_free(&o);
    ps__resp_reply rep;
    if (st == PS_OK && unwatch) {
        st = ps__redis_read(c, what, &rep);
        if (st == PS_OK)
            ps__resp_reply_clear(&rep); /* any answer: the GET below is what counts */
    }
    if (st == PS_OK)
        st = ps__redis_read(c, what, &rep);
    if (st != PS_OK)
        return st;
    if (rep.type == PS__RESP_BULK)
        rd_take_bulk(&rep, a->out);
    else if (rep.type == PS__RESP_NIL)
        st = PS_NOT_FOUND;
    else
        st = rd_unexpected(p, what, &rep);
    ps__resp_reply_clear(&rep);
    return st;
}

/* WATCH the key and ask its length: `*len` 0 when the range path cannot go on. */
static ps_status rd_range_watch(ps__redis_conn *c, const ps__redis_one *a, const char *what,
                                size_t *len)
{
    *len = 0;
    ps__resp_out o;
    memset(&o, 0, sizeof o);
    rd_out_cmd(&o, "WATCH", a->id);
    rd_out_cmd(&o, "STRLEN", a->id);
    ps_status st = ps__redis_send(c, &o, what);
    ps__resp_out_free(&o);
    ps__resp_reply reps[2];
    if (st == PS_OK)
        st = ps__redis_read_n(c, what, reps, 2);
    if (st != PS_OK)
        return st;
    if (reps[0].type == PS__RESP_STATUS && reps[1].type == PS__RESP_INT && reps[1].integer > 0 &&
        (unsigned long long)reps[1].integer < SIZE_MAX)
        *len = (size_t)reps[1].integer;
    ps__resp_reply_clear(&reps[0]);
    ps__resp_reply_clear(&reps[1]);
    return PS_OK;
}

/* Queue the GETRANGE of piece `i` of n (and MULTI/EXEC behind the last). */
static void rd_range_request(ps__resp_out *o, const char *id, size_t len, size_t i, size_t n)
{
    size_t off = i * RD_RANGE, k = len - off < RD_RANGE ? len - off : RD_RANGE;
    rd_out_range(o, id, off, off + k - 1);
    if (i + 1 == n) {
        rd_out_cmd(o, "MULTI", NULL);
        rd_out_cmd(o, "EXEC", NULL);
    }
}

/* Read the value's `len` bytes into `data` in pieces, RD_RANGE_WINDOW
 * requests in flight; `*same` turns false when a piece is not what was
 * asked for. On PS_OK the MULTI and EXEC replies are still to be read. */
static ps_status rd_range_pieces(ps__redis_conn *c, const ps__redis_one *a, const char *what,
                                 char *data, size_t len, bool *same)
{
    ps__resp_out o;
    memset(&o, 0, sizeof o);
    size_t n = (len + RD_RANGE - 1) / RD_RANGE, sent = 0;
    ps_status st = PS_OK;
    *same = true;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        for (; sent < n && sent < i + RD_RANGE_WINDOW; sent++)
            rd_range_request(&o, a->id, len, sent, n);
        if (o.nsegs > 0 || o.oom)
            st = ps__redis_send(c, &o, what);
        if (st != PS_OK)
            break;
        size_t off = i * RD_RANGE, k = len - off < RD_RANGE ? len - off : RD_RANGE;
        ps__resp_reply rep;
        st = ps__redis_read_into(c, what, &rep, data + off, k);
        if (st == PS_OK) {
            *same = *same && rep.type == PS__RESP_BULK && rep.len == k;
            ps__resp_reply_clear(&rep);
        }
    }
    ps__resp_out_free(&o);
    return st;
}

/* The replies to MULTI and EXEC: EXEC answers an array when nothing
 * changed since WATCH, nil otherwise. */
static ps_status rd_range_unchanged(ps__redis_conn *c, const char *what, bool *same)
{
    ps__resp_reply reps[2];
    PS__FORWARD(ps__redis_read_n(c, what, reps, 2));
    *same = *same && reps[0].type == PS__RESP_STATUS && reps[1].type == PS__RESP_ARRAY;
    ps__resp_reply_clear(&reps[0]);
    ps__resp_reply_clear(&reps[1]);
    return PS_OK;
}

/* The large-value path (see above). PS_OK with `*done` false: use GET. */
static ps_status rd_get_ranges(const ps__redis_pool *p, ps__redis_conn *c, ps__redis_one *a,
                               const char *what, bool *done)
{
    *done = false;
    size_t len = 0;
    PS__FORWARD(rd_range_watch(c, a, what, &len));
    if (len == 0)
        return PS_OK;
    char *data = ps_malloc(len + 1);
    if (data == NULL) {
        c->broken = true; /* the WATCH stays behind: do not reuse */
        return ps__seterr(PS_ENOMEM, "redis %s: %s: out of memory for a reply of %zu bytes",
                          p->where, what, len);
    }
    ps__advise_hugepages(data, len);
    bool same = true;
    ps_status st = rd_range_pieces(c, a, what, data, len, &same);
    if (st == PS_OK)
        st = rd_range_unchanged(c, what, &same);
    if (st != PS_OK || !same) {
        ps_free(data);
        return st;
    }
    data[len] = '\0';
    rd_give(data, len, a->out);
    *done = true;
    return PS_OK;
}

/* The probe's answer asks GET: the value is large, empty or missing, or
 * GETRANGE is not allowed or not known. */
static bool rd_probe_asks_get(const ps__resp_reply *rep)
{
    if (rep->type == PS__RESP_BULK)
        return rep->len == RD_PROBE || rep->len == 0;
    return rep->type == PS__RESP_ERROR && rep->str &&
           (strncmp(rep->str, "NOPERM", 6) == 0 ||
            strncmp(rep->str, "ERR unknown command", 19) == 0);
}

ps_status ps__redis_do_get(ps__redis_pool *p, ps__redis_conn *c, void *arg)
{
    ps__redis_one *a = arg;
    char what[64];
    snprintf(what, sizeof what, "GET %s", a->id);
    ps__resp_out o;
    memset(&o, 0, sizeof o);
    rd_out_range(&o, a->id, 0, RD_PROBE - 1);
    ps_status st = ps__redis_send(c, &o, what);
    ps__resp_out_free(&o);
    ps__resp_reply rep;
    if (st == PS_OK)
        st = ps__redis_read(c, what, &rep);
    if (st != PS_OK)
        return st;
    if (rep.type == PS__RESP_BULK && rep.len > 0 && rep.len < RD_PROBE) {
        rd_take_bulk(&rep, a->out); /* the whole value */
        ps__resp_reply_clear(&rep);
        return PS_OK;
    }
    bool large = rep.type == PS__RESP_BULK && rep.len == RD_PROBE;
    /* GET answers the others as GETRANGE did (WRONGTYPE, a broken reply...). */
    if (!rd_probe_asks_get(&rep)) {
        st = rd_unexpected(p, what, &rep);
        ps__resp_reply_clear(&rep);
        return st;
    }
    ps__resp_reply_clear(&rep);
    bool done = false;
    if (large) {
        PS__FORWARD(rd_get_ranges(p, c, a, what, &done));
        if (done)
            return PS_OK;
    }
    return rd_get_plain(p, c, a, what, large);
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

/* Write every chunk's command (before any reply is read). */
static ps_status rd_batch_send(ps__redis_conn *c, const ps__redis_batch *b, const char *cmd,
                               const char *what, const size_t *ends, size_t nchunks)
{
    ps__resp_out o;
    memset(&o, 0, sizeof o);
    ps_status st = PS_OK;
    for (size_t k = 0, start = 0; k < nchunks && st == PS_OK; start = ends[k], k++) {
        size_t m = ends[k] - start;
        ps__resp_out_begin(&o, 1 + m * (b->items ? 2 : 1));
        ps__resp_out_str(&o, cmd);
        for (size_t i = start; i < ends[k]; i++) {
            ps__resp_out_arg(&o, b->ids[i], PS__REDIS_UUID_LEN);
            if (b->items)
                ps__resp_out_arg(&o, b->items[i].data, b->items[i].len);
        }
        st = ps__redis_send(c, &o, what);
    }
    ps__resp_out_free(&o);
    return st;
}

/* One chunk's reply: OK to MSET, an array of bulk or nil per key to MGET,
 * an integer to DEL. */
static ps_status rd_batch_check(const ps__redis_pool *p, const ps__redis_batch *b, const char *what,
                                const ps__resp_reply *rep, size_t nkeys)
{
    if (b->items)
        return rep->type == PS__RESP_STATUS ? PS_OK : rd_unexpected(p, what, rep);
    if (!b->outs)
        return rep->type == PS__RESP_INT ? PS_OK : rd_unexpected(p, what, rep);
    if (rep->type != PS__RESP_ARRAY || rep->n != nkeys)
        return rd_unexpected(p, what, rep);
    for (size_t i = 0; i < rep->n; i++)
        if (rep->elems[i].type != PS__RESP_BULK && rep->elems[i].type != PS__RESP_NIL)
            return rd_unexpected(p, what, &rep->elems[i]);
    return PS_OK;
}

/* Hand the MGET values out. */
static void rd_batch_take(const ps__redis_batch *b, ps__resp_reply *reps, const size_t *ends,
                          size_t nchunks)
{
    for (size_t k = 0, start = 0; k < nchunks; start = ends[k], k++) {
        for (size_t i = 0; i < reps[k].n; i++) {
            if (reps[k].elems[i].type == PS__RESP_BULK) {
                rd_take_bulk(&reps[k].elems[i], &b->outs[start + i]);
                b->found[start + i] = true;
            }
        }
    }
}

ps_status ps__redis_do_batch(ps__redis_pool *p, ps__redis_conn *c, void *arg)
{
    ps__redis_batch *b = arg;
    const char *cmd = b->items ? "MSET" : b->outs ? "MGET" : "DEL";
    char what[64];
    snprintf(what, sizeof what, "%s of %zu keys", cmd, b->n);
    size_t *ends = ps_calloc(b->n, sizeof *ends);
    if (ends == NULL)
        return PS__ENOMEM("redis batch");
    size_t nchunks = rd_chunks(b->n, b->items, ends);
    ps__resp_reply *reps = ps_calloc(nchunks, sizeof *reps);
    if (reps == NULL) {
        ps_free(ends);
        return PS__ENOMEM("redis batch replies");
    }
    /* Write every chunk, then read every reply: one round trip. */
    ps_status st = rd_batch_send(c, b, cmd, what, ends, nchunks);
    if (st == PS_OK)
        st = ps__redis_read_n(c, what, reps, nchunks);
    else
        nchunks = 0; /* nothing read */
    /* Check every reply before handing anything out. */
    for (size_t k = 0, start = 0; k < nchunks && st == PS_OK; start = ends[k], k++)
        st = rd_batch_check(p, b, what, &reps[k], ends[k] - start);
    if (st == PS_OK && b->outs)
        rd_batch_take(b, reps, ends, nchunks);
    for (size_t k = 0; k < nchunks; k++)
        ps__resp_reply_clear(&reps[k]);
    ps_free(reps);
    ps_free(ends);
    return st;
}
