/*
 * The DAOS connector: objects in a pydaos dictionary (DDict) of a DAOS
 * container, through libdaos loaded at run time (connectors/daos/loader.c).
 * See include/proxystore/connectors/daos.h for the contract and
 * spec/daos-abi.md for the facts followed here.
 *
 * Opening does what pydaos's DCont(pool, cont) and DCont.get/dict do:
 *   daos_init; daos_pool_connect2(pool, RO); daos_cont_open2(cont, RW);
 *   query LAYOUT_TYPE (must be PYTHON) and ROOTS; open the root KV
 *   (roots[0] with the KV_HASHED type bits ORed in); look the namespace up
 *   in the root (a 64-byte record {oid.lo, oid.hi, otype, reserved}); when
 *   absent, allocate an OID the way pydaos does (daos_cont_alloc_oids, hi
 *   from 0, or from 100 when lo is 0), encode it with
 *   daos_obj_generate_oid2(KV_HASHED, class 0) and insert the record with
 *   DAOS_COND_KEY_INSERT; if another client won that race (-DER_EXIST),
 *   look the name up again. Then open the dictionary's KV.
 *
 * Objects: dkey = the key's UUID text (no NUL), value = the bytes, through
 * daos_kv_put/get/remove, which gives pydaos's akey '0' single-value
 * layout. Batches keep up to PS_DAOS_MAX_INFLIGHT operations in flight on an
 * event queue; event queues are pooled per connector so concurrent batches
 * from several threads never share one.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "connectors/daos/daos_loader.h"
#include "connector/builtin.h"
#include "core/internal.h"
#include "proxystore/connectors/daos.h"
#include "proxystore/sys/connector.h"

/* First buffer size for a get; a larger value costs one more round trip. */
#define PS__DAOS_GET_INITIAL (64u * 1024u)
/* Key-listing state (pydaos's starting values). */
#define PS__DAOS_LIST_NR  256u
#define PS__DAOS_LIST_BUF 4096u

typedef struct ps__daos {
    const ps__daos_api *api;
    char *pool;
    char *cont;
    char *ns;
    bool clear;
    bool inited;
    daos_handle_t poh;
    daos_handle_t coh;
    daos_handle_t root_oh;
    daos_handle_t oh;
    daos_obj_id_t dict_oid;
    pthread_mutex_t eq_lock;
    daos_handle_t *eqs; /* idle event queues */
    size_t neqs;
    size_t eqs_cap;
} ps__daos;

/* ---- errors -------------------------------------------------------------------- */

static const char *ps__daos_errname(const ps__daos_api *api, int rc)
{
    if (api && api->d_errstr) {
        const char *s = api->d_errstr(rc);
        if (s)
            return s;
    }
    switch (-rc) {
    case DER_NO_PERM:
        return "DER_NO_PERM";
    case DER_NO_HDL:
        return "DER_NO_HDL";
    case DER_INVAL:
        return "DER_INVAL";
    case DER_EXIST:
        return "DER_EXIST";
    case DER_NONEXIST:
        return "DER_NONEXIST";
    case DER_UNREACH:
        return "DER_UNREACH";
    case DER_NOSPACE:
        return "DER_NOSPACE";
    case DER_NOMEM:
        return "DER_NOMEM";
    case DER_TIMEDOUT:
        return "DER_TIMEDOUT";
    case DER_UNINIT:
        return "DER_UNINIT";
    case DER_IO:
        return "DER_IO";
    case DER_KEY2BIG:
        return "DER_KEY2BIG";
    case DER_REC2BIG:
        return "DER_REC2BIG";
    default:
        return "DER_?";
    }
}

static ps_status ps__daos_status(int rc)
{
    switch (-rc) {
    case DER_NO_PERM:
        return PS_EAUTH;
    case DER_NOMEM:
    case DER_FREE_MEM:
        return PS_ENOMEM;
    case DER_NONEXIST:
    case DER_ENOENT:
        return PS_NOT_FOUND;
    case DER_INVAL:
    case DER_NO_HDL:
    case DER_KEY2BIG:
    case DER_EXIST:
        return PS_EINVAL;
    case DER_UNREACH:
    case DER_HG:
    case DER_EXCLUDED:
    case DER_NO_SERVICE:
    case DER_AGENT_INCOMPAT:
    case DER_SHUTDOWN:
        return PS_ECONN;
    case DER_TIMEDOUT:
        return PS_ETIMEDOUT;
    case DER_NOSPACE:
        return PS_ENOSPC;
    case DER_NOSYS:
    case DER_NOTSUPPORTED:
        return PS_ENOTSUP;
    case DER_PROTO:
        return PS_EPROTO;
    case DER_UNINIT:
        return PS_ESTATE;
    default:
        return PS_EIO;
    }
}

/* Message "daos pool/cont/ns: <call>[ key]: DER_X (-n)" and the mapped status. */
static ps_status ps__daos_fail(const ps__daos *d, int rc, const char *call, const char *key)
{
    return ps__seterr(ps__daos_status(rc), "daos %s/%s/%s: %s%s%s: %s (%d)", d->pool, d->cont,
                      d->ns, call, key ? " key " : "", key ? key : "", ps__daos_errname(d->api, rc),
                      rc);
}

/* ---- small helpers -------------------------------------------------------------- */

static char *ps__daos_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = ps_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool ps__daos_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += n + 1;
    }
    return true;
}

/* Suffix of the dkey that marks an empty object (see ps__daos_store). */
#define PS__DAOS_EMPTY_SUFFIX "#empty"

/* The marker dkey of `dkey` (ps_malloc'd), or NULL when out of memory. */
static char *ps__daos_marker(const char *dkey)
{
    size_t n = strlen(dkey);
    char *m = ps_malloc(n + sizeof PS__DAOS_EMPTY_SUFFIX);
    if (m) {
        memcpy(m, dkey, n);
        memcpy(m + n, PS__DAOS_EMPTY_SUFFIX, sizeof PS__DAOS_EMPTY_SUFFIX);
    }
    return m;
}

/* Check that `key` is one of this connector's; `*dkey` gets its dictionary key. */
static ps_status ps__daos_check_key(const ps__daos *d, const ps_key *key, const char **dkey)
{
    PS__RETURN_IF(ps_key_nfields(key) != 4, PS_EINVAL,
                  "daos connector: malformed key \"%.200s\" (want "
                  "daos:<pool>/<container>/<namespace>/<key>)",
                  ps_key_str(key));
    PS__RETURN_IF(strcmp(ps_key_field(key, 0), d->pool) != 0 ||
                      strcmp(ps_key_field(key, 1), d->cont) != 0 ||
                      strcmp(ps_key_field(key, 2), d->ns) != 0,
                  PS_EINVAL,
                  "daos connector: at least one of the pool, container, or namespace of the key "
                  "\"%.200s\" does not match the connector (pool \"%s\", container \"%s\", "
                  "namespace \"%s\")",
                  ps_key_str(key), d->pool, d->cont, d->ns);
    const char *k = ps_key_field(key, 3);
    PS__RETURN_IF(*k == '\0', PS_EINVAL, "daos connector: key \"%.200s\" has an empty object key",
                  ps_key_str(key));
    PS__RETURN_IF(!ps__daos_utf8_ok(k), PS_EINVAL,
                  "daos connector: key \"%.200s\": the object key is not UTF-8 (pydaos could "
                  "not list the dictionary)",
                  ps_key_str(key));
    size_t kl = strlen(k), sl = sizeof PS__DAOS_EMPTY_SUFFIX - 1;
    PS__RETURN_IF(kl >= sl && memcmp(k + kl - sl, PS__DAOS_EMPTY_SUFFIX, sl) == 0, PS_EINVAL,
                  "daos connector: key \"%.200s\": object keys ending in \"%s\" are reserved "
                  "(empty-object markers)",
                  ps_key_str(key), PS__DAOS_EMPTY_SUFFIX);
    *dkey = k;
    return PS_OK;
}

static ps_status ps__daos_new_key(void *priv, ps_key **key)
{
    ps__daos *d = priv;
    char uuid[PS_UUID_STR_LEN + 1];
    PS__FORWARD(ps_uuid4(uuid));
    const char *fields[] = {d->pool, d->cont, d->ns, uuid};
    return ps_key_new("daos", 4, fields, key);
}

/* ---- event queues ------------------------------------------------------------- */

static ps_status ps__daos_eq_acquire(ps__daos *d, daos_handle_t *eq)
{
    pthread_mutex_lock(&d->eq_lock);
    if (d->neqs > 0) {
        *eq = d->eqs[--d->neqs];
        pthread_mutex_unlock(&d->eq_lock);
        return PS_OK;
    }
    pthread_mutex_unlock(&d->eq_lock);
    int rc = d->api->daos_eq_create(eq);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_eq_create", NULL);
    return PS_OK;
}

static void ps__daos_eq_release(ps__daos *d, daos_handle_t eq)
{
    pthread_mutex_lock(&d->eq_lock);
    if (d->neqs == d->eqs_cap) {
        size_t cap = d->eqs_cap ? d->eqs_cap * 2 : 4;
        daos_handle_t *n = ps_realloc(d->eqs, cap * sizeof *n);
        if (n == NULL) {
            pthread_mutex_unlock(&d->eq_lock);
            d->api->daos_eq_destroy(eq, DAOS_EQ_DESTROY_FORCE);
            return;
        }
        d->eqs = n;
        d->eqs_cap = cap;
    }
    d->eqs[d->neqs++] = eq;
    pthread_mutex_unlock(&d->eq_lock);
}

/* ---- batches -------------------------------------------------------------------- */

typedef enum { PS__DAOS_PUT, PS__DAOS_GET, PS__DAOS_REMOVE } ps__daos_opkind;

typedef struct ps__daos_slot {
    daos_event_t ev; /* first member: a polled event pointer is the slot */
    size_t idx;
    daos_size_t size;
    unsigned char *buf;
    size_t cap;
    bool marker_phase; /* GET: the value was absent; checking the empty marker */
    char *marker;      /* GET: that marker's dkey (alive until completion) */
} ps__daos_slot;

typedef struct ps__daos_batch {
    ps__daos *d;
    ps__daos_opkind kind;
    size_t n;
    const char *const *dkeys;
    const ps_iov *items; /* PUT */
    ps_bytes *outs;      /* GET */
    bool *found;         /* GET */
    ps_status st;        /* first error */
} ps__daos_batch;

static void ps__daos_batch_error(ps__daos_batch *b, ps_status st)
{
    if (b->st == PS_OK)
        b->st = st;
}

/* Launch operation s->idx on s->ev. Returns false when it did not start. */
static bool ps__daos_launch(ps__daos_batch *b, ps__daos_slot *s)
{
    const ps__daos_api *api = b->d->api;
    const char *key = b->dkeys[s->idx];
    int rc;
    switch (b->kind) {
    case PS__DAOS_PUT:
        rc = api->daos_kv_put(b->d->oh, DAOS_TX_NONE, 0, key, b->items[s->idx].len,
                              b->items[s->idx].data, &s->ev);
        break;
    case PS__DAOS_REMOVE:
        rc = api->daos_kv_remove(b->d->oh, DAOS_TX_NONE, 0, key, &s->ev);
        break;
    default:
        if (s->marker_phase) {
            s->size = DAOS_REC_ANY; /* NULL buffer: size only */
            rc = api->daos_kv_get(b->d->oh, DAOS_TX_NONE, 0, s->marker, &s->size, NULL, &s->ev);
            break;
        }
        if (s->buf == NULL) {
            s->cap = PS__DAOS_GET_INITIAL;
            s->buf = ps_malloc(s->cap);
            if (s->buf == NULL) {
                ps__daos_batch_error(b, PS__ENOMEM("daos get_batch buffer"));
                return false;
            }
        }
        s->size = s->cap;
        rc = api->daos_kv_get(b->d->oh, DAOS_TX_NONE, 0, key, &s->size, s->buf, &s->ev);
        break;
    }
    if (rc != 0) {
        ps__daos_batch_error(b, ps__daos_fail(b->d, rc,
                                              b->kind == PS__DAOS_PUT      ? "daos_kv_put"
                                              : b->kind == PS__DAOS_REMOVE ? "daos_kv_remove"
                                                                           : "daos_kv_get",
                                              key));
        return false;
    }
    return true;
}

/* Handle a completed operation. Returns true when it was relaunched on the same event. */
static bool ps__daos_complete(ps__daos_batch *b, ps__daos_slot *s)
{
    int err = s->ev.ev_error;
    const char *key = b->dkeys[s->idx];
    if (b->kind != PS__DAOS_GET) {
        if (err != 0)
            ps__daos_batch_error(
                b, ps__daos_fail(b->d, err, b->kind == PS__DAOS_PUT ? "put" : "remove", key));
        return false;
    }
    if (err == -DER_REC2BIG && b->st == PS_OK) {
        /* libdaos set size to the value's length: grow and fetch again. */
        unsigned char *nb = s->size > SIZE_MAX ? NULL : ps_realloc(s->buf, (size_t)s->size);
        if (nb == NULL) {
            ps__daos_batch_error(b, PS__ENOMEM("daos get_batch buffer"));
            return false;
        }
        s->buf = nb;
        s->cap = (size_t)s->size;
        return ps__daos_launch(b, s);
    }
    if (err != 0) {
        ps__daos_batch_error(b, ps__daos_fail(b->d, err, "get", key));
        return false;
    }
    if (s->marker_phase) {
        /* present marker: an empty object; absent: no object */
        b->found[s->idx] = s->size > 0;
        s->marker_phase = false;
        ps_free(s->marker);
        s->marker = NULL;
        return false;
    }
    if (s->size == 0) {
        s->marker = ps__daos_marker(key);
        if (s->marker == NULL) {
            ps__daos_batch_error(b, PS__ENOMEM("daos get_batch marker"));
            return false;
        }
        s->marker_phase = true;
        return ps__daos_launch(b, s);
    }
    size_t len = (size_t)s->size;
    unsigned char *data = s->buf;
    if (len < s->cap / 2) {
        unsigned char *shrunk = ps_realloc(data, len);
        if (shrunk)
            data = shrunk;
    }
    b->outs[s->idx].data = data;
    b->outs[s->idx].len = len;
    b->outs[s->idx].release = NULL;
    b->outs[s->idx].opaque = NULL;
    b->found[s->idx] = true;
    s->buf = NULL;
    s->cap = 0;
    return false;
}

/*
 * Run `b` with up to PS_DAOS_MAX_INFLIGHT operations in flight (pydaos's
 * bput/bget loop): launch while a slot is free, otherwise poll one event and
 * reuse it; after the first error nothing new is launched and what is in
 * flight is drained.
 */
static ps_status ps__daos_run_batch(ps__daos_batch *b)
{
    ps__daos *d = b->d;
    const ps__daos_api *api = d->api;
    if (b->n == 0)
        return PS_OK;
    size_t nslots = b->n < PS_DAOS_MAX_INFLIGHT ? b->n : PS_DAOS_MAX_INFLIGHT;
    ps__daos_slot *slots = ps_calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return PS__ENOMEM("daos batch events");
    ps__daos_slot *free_slots[PS_DAOS_MAX_INFLIGHT];
    size_t nfree = 0, ninit = 0, inflight = 0, next = 0;
    daos_handle_t eq;
    ps_status st = ps__daos_eq_acquire(d, &eq);
    if (st != PS_OK) {
        ps_free(slots);
        return st;
    }
    bool eq_broken = false;
    for (; ninit < nslots; ninit++) {
        int rc = api->daos_event_init(&slots[ninit].ev, eq, NULL);
        if (rc != 0) {
            ps__daos_batch_error(b, ps__daos_fail(d, rc, "daos_event_init", NULL));
            break;
        }
        free_slots[nfree++] = &slots[ninit];
    }
    for (;;) {
        while (b->st == PS_OK && next < b->n && nfree > 0) {
            ps__daos_slot *s = free_slots[--nfree];
            s->idx = next++;
            if (ps__daos_launch(b, s))
                inflight++;
            else
                free_slots[nfree++] = s;
        }
        if (inflight == 0)
            break;
        daos_event_t *evp = NULL;
        int rc = api->daos_eq_poll(eq, 1, DAOS_EQ_WAIT, 1, &evp);
        if (rc < 0) {
            ps__daos_batch_error(b, ps__daos_fail(d, rc, "daos_eq_poll", NULL));
            eq_broken = true;
            break;
        }
        if (rc == 0 || evp == NULL) {
            ps__daos_batch_error(b, ps__seterr(PS_EINTERNAL,
                                               "daos %s/%s/%s: daos_eq_poll returned no event "
                                               "with %zu operations in flight",
                                               d->pool, d->cont, d->ns, inflight));
            eq_broken = true;
            break;
        }
        ps__daos_slot *s = (ps__daos_slot *)(void *)evp;
        inflight--;
        if (ps__daos_complete(b, s))
            inflight++;
        else
            free_slots[nfree++] = s;
    }
    if (eq_broken) {
        /* Operations may still reference the slots: abort them with the queue. */
        api->daos_eq_destroy(eq, DAOS_EQ_DESTROY_FORCE);
    } else {
        for (size_t i = 0; i < ninit; i++)
            api->daos_event_fini(&slots[i].ev);
        ps__daos_eq_release(d, eq);
    }
    for (size_t i = 0; i < nslots; i++) {
        ps_free(slots[i].buf);
        ps_free(slots[i].marker);
    }
    ps_free(slots);
    return b->st;
}

/* ---- operations ------------------------------------------------------------------ */

/*
 * Store a value under `dkey`. A DAOS KV cannot hold an empty value (an update
 * of size 0 removes the key, and pydaos reads an empty value as absent), so
 * an empty object is the marker dkey "<dkey>#empty" holding one NUL byte,
 * with `dkey` itself absent: pydaos then sees the key as absent, which is
 * what it makes of an empty value itself. Unless `fresh` (a key never
 * written), the other form is removed, so set() may switch between the two.
 */
static ps_status ps__daos_store(ps__daos *d, const char *dkey, const void *data, size_t len,
                                bool fresh)
{
    char *marker = ps__daos_marker(dkey);
    if (marker == NULL)
        return PS__ENOMEM("daos marker key");
    const char *target = len > 0 ? dkey : marker;
    const char *other = len > 0 ? marker : dkey;
    ps_status st = PS_OK;
    int rc = d->api->daos_kv_put(d->oh, DAOS_TX_NONE, 0, target, len > 0 ? len : 1,
                                 len > 0 ? data : "", NULL);
    if (rc != 0)
        st = ps__daos_fail(d, rc, "daos_kv_put", target);
    if (st == PS_OK && !fresh) {
        rc = d->api->daos_kv_remove(d->oh, DAOS_TX_NONE, 0, other, NULL);
        if (rc != 0 && rc != -DER_NONEXIST)
            st = ps__daos_fail(d, rc, "daos_kv_remove", other);
    }
    ps_free(marker);
    return st;
}

/* Whether the empty-object marker of `dkey` is present. */
static ps_status ps__daos_marker_present(ps__daos *d, const char *dkey, bool *present)
{
    char *marker = ps__daos_marker(dkey);
    if (marker == NULL)
        return PS__ENOMEM("daos marker key");
    daos_size_t size = DAOS_REC_ANY;
    int rc = d->api->daos_kv_get(d->oh, DAOS_TX_NONE, 0, marker, &size, NULL, NULL);
    ps_status st = rc == 0 ? PS_OK : ps__daos_fail(d, rc, "daos_kv_get (size)", marker);
    *present = rc == 0 && size > 0;
    ps_free(marker);
    return st;
}

static ps_status ps__daos_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                              ps_key **key)
{
    (void)opts;
    ps__daos *d = priv;
    ps_key *k = NULL;
    PS__FORWARD(ps__daos_new_key(d, &k));
    ps_status st = ps__daos_store(d, ps_key_field(k, 3), data, len, true);
    if (st != PS_OK) {
        ps_key_free(k);
        return st;
    }
    *key = k;
    return PS_OK;
}

static ps_status ps__daos_set(void *priv, const ps_key *key, const void *data, size_t len)
{
    ps__daos *d = priv;
    const char *dkey;
    PS__FORWARD(ps__daos_check_key(d, key, &dkey));
    return ps__daos_store(d, dkey, data, len, false);
}

static ps_status ps__daos_get(void *priv, const ps_key *key, ps_bytes *out)
{
    ps__daos *d = priv;
    const char *dkey;
    PS__FORWARD(ps__daos_check_key(d, key, &dkey));
    size_t cap = PS__DAOS_GET_INITIAL;
    unsigned char *buf = ps_malloc(cap);
    if (buf == NULL)
        return PS__ENOMEM("daos get buffer");
    /* The value may be replaced by a larger one between tries: retry a few times. */
    for (int tries = 0; tries < 8; tries++) {
        daos_size_t size = cap;
        int rc = d->api->daos_kv_get(d->oh, DAOS_TX_NONE, 0, dkey, &size, buf, NULL);
        if (rc == -DER_REC2BIG) {
            unsigned char *nb = size > SIZE_MAX ? NULL : ps_realloc(buf, (size_t)size);
            if (nb == NULL) {
                ps_free(buf);
                return ps__seterr(PS_ENOMEM, "daos %s/%s/%s: out of memory reading %llu bytes",
                                  d->pool, d->cont, d->ns, (unsigned long long)size);
            }
            buf = nb;
            cap = (size_t)size;
            continue;
        }
        if (rc != 0) {
            ps_free(buf);
            return ps__daos_fail(d, rc, "daos_kv_get", dkey);
        }
        if (size == 0) {
            ps_free(buf);
            bool empty = false;
            PS__FORWARD(ps__daos_marker_present(d, dkey, &empty));
            return empty ? PS_OK : PS_NOT_FOUND; /* `out` stays empty */
        }
        size_t len = (size_t)size;
        if (len < cap / 2) {
            unsigned char *shrunk = ps_realloc(buf, len);
            if (shrunk)
                buf = shrunk;
        }
        out->data = buf;
        out->len = len;
        out->release = NULL;
        out->opaque = NULL;
        return PS_OK;
    }
    ps_free(buf);
    return ps__seterr(PS_EIO, "daos %s/%s/%s: get key %s: the value kept growing while read",
                      d->pool, d->cont, d->ns, dkey);
}

static ps_status ps__daos_exists(void *priv, const ps_key *key, bool *exists)
{
    ps__daos *d = priv;
    const char *dkey;
    PS__FORWARD(ps__daos_check_key(d, key, &dkey));
    /* A NULL buffer asks for the size only. */
    daos_size_t size = DAOS_REC_ANY;
    int rc = d->api->daos_kv_get(d->oh, DAOS_TX_NONE, 0, dkey, &size, NULL, NULL);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_get (size)", dkey);
    if (size > 0) {
        *exists = true;
        return PS_OK;
    }
    return ps__daos_marker_present(d, dkey, exists);
}

static ps_status ps__daos_evict(void *priv, const ps_key *key)
{
    ps__daos *d = priv;
    const char *dkey;
    PS__FORWARD(ps__daos_check_key(d, key, &dkey));
    int rc = d->api->daos_kv_remove(d->oh, DAOS_TX_NONE, 0, dkey, NULL);
    if (rc != 0 && rc != -DER_NONEXIST)
        return ps__daos_fail(d, rc, "daos_kv_remove", dkey);
    char *marker = ps__daos_marker(dkey);
    if (marker == NULL)
        return PS__ENOMEM("daos marker key");
    rc = d->api->daos_kv_remove(d->oh, DAOS_TX_NONE, 0, marker, NULL);
    ps_status st = PS_OK;
    if (rc != 0 && rc != -DER_NONEXIST)
        st = ps__daos_fail(d, rc, "daos_kv_remove", marker);
    ps_free(marker);
    return st;
}

static ps_status ps__daos_put_batch(void *priv, size_t n, const ps_iov *items,
                                    const ps_put_options *opts, ps_key **keys)
{
    (void)opts;
    ps__daos *d = priv;
    /* Empty objects go to their marker dkeys (see ps__daos_store). */
    const char **dkeys = ps_calloc(n, sizeof *dkeys);
    char **markers = ps_calloc(n, sizeof *markers);
    ps_iov *vals = ps_calloc(n, sizeof *vals);
    ps_status st = PS_OK;
    if (dkeys == NULL || markers == NULL || vals == NULL)
        st = PS__ENOMEM("daos put_batch keys");
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        st = ps__daos_new_key(d, &keys[i]);
        if (st != PS_OK)
            break;
        vals[i] = items[i];
        dkeys[i] = ps_key_field(keys[i], 3);
        if (items[i].len == 0) {
            markers[i] = ps__daos_marker(dkeys[i]);
            if (markers[i] == NULL)
                st = PS__ENOMEM("daos marker key");
            dkeys[i] = markers[i];
            vals[i].data = "";
            vals[i].len = 1;
        }
    }
    if (st == PS_OK) {
        ps__daos_batch b = {.d = d, .kind = PS__DAOS_PUT, .n = n, .dkeys = dkeys, .items = vals};
        st = ps__daos_run_batch(&b);
    }
    /* On failure the core evicts every keys[i] set here, then frees them. */
    for (size_t i = 0; markers && i < n; i++)
        ps_free(markers[i]);
    ps_free(markers);
    ps_free(vals);
    ps_free(dkeys);
    return st;
}

static ps_status ps__daos_get_batch(void *priv, size_t n, const ps_key *const *keys, ps_bytes *outs,
                                    bool *found)
{
    ps__daos *d = priv;
    const char **dkeys = ps_calloc(n ? n : 1, sizeof *dkeys);
    if (dkeys == NULL)
        return PS__ENOMEM("daos get_batch keys");
    ps_status st = PS_OK;
    for (size_t i = 0; i < n && st == PS_OK; i++) {
        found[i] = false;
        st = ps__daos_check_key(d, keys[i], &dkeys[i]);
    }
    if (st == PS_OK) {
        ps__daos_batch b = {
            .d = d, .kind = PS__DAOS_GET, .n = n, .dkeys = dkeys, .outs = outs, .found = found};
        st = ps__daos_run_batch(&b);
    }
    if (st != PS_OK) {
        ps_bytes_free_array(outs, n);
        for (size_t i = 0; i < n; i++)
            found[i] = false;
    }
    ps_free(dkeys);
    return st;
}

/*
 * Remove every key of the dictionary: list them all with anchors (as
 * pydaos's DDictIter does), then remove them in batches.
 */
static ps_status ps__daos_clear_all(ps__daos *d)
{
    const ps__daos_api *api = d->api;
    daos_key_desc_t *kds = ps_calloc(PS__DAOS_LIST_NR, sizeof *kds);
    size_t cap = PS__DAOS_LIST_BUF;
    char *buf = ps_malloc(cap);
    char **names = NULL;
    size_t nnames = 0, names_cap = 0;
    ps_status st = PS_OK;
    if (kds == NULL || buf == NULL) {
        st = PS__ENOMEM("daos key listing");
        goto out;
    }
    daos_anchor_t anchor;
    daos_anchor_init(&anchor, 0);
    while (!daos_anchor_is_eof(&anchor)) {
        uint32_t nr = PS__DAOS_LIST_NR;
        d_iov_t iov;
        d_iov_set(&iov, buf, cap);
        d_sg_list_t sgl = {.sg_nr = 1, .sg_nr_out = 0, .sg_iovs = &iov};
        int rc = api->daos_kv_list(d->oh, DAOS_TX_NONE, &nr, kds, &sgl, &anchor, NULL);
        if (rc == -DER_KEY2BIG) {
            size_t need = (size_t)kds[0].kd_key_len;
            size_t ncap = need > cap * 2 ? need : cap * 2;
            char *nb = ps_realloc(buf, ncap);
            if (nb == NULL) {
                st = PS__ENOMEM("daos key listing");
                goto out;
            }
            buf = nb;
            cap = ncap;
            continue;
        }
        if (rc != 0) {
            st = ps__daos_fail(d, rc, "daos_kv_list", NULL);
            goto out;
        }
        size_t off = 0;
        for (uint32_t i = 0; i < nr; i++) {
            size_t kl = (size_t)kds[i].kd_key_len;
            if (kl > cap - off) {
                st = ps__seterr(PS_EPROTO,
                                "daos %s/%s/%s: daos_kv_list returned keys past its buffer",
                                d->pool, d->cont, d->ns);
                goto out;
            }
            if (nnames == names_cap) {
                size_t nc = names_cap ? names_cap * 2 : 64;
                char **nn = ps_realloc(names, nc * sizeof *nn);
                if (nn == NULL) {
                    st = PS__ENOMEM("daos key listing");
                    goto out;
                }
                names = nn;
                names_cap = nc;
            }
            char *name = ps_malloc(kl + 1);
            if (name == NULL) {
                st = PS__ENOMEM("daos key listing");
                goto out;
            }
            memcpy(name, buf + off, kl);
            name[kl] = '\0';
            names[nnames++] = name;
            off += kl;
        }
    }
    if (nnames > 0) {
        ps__daos_batch b = {
            .d = d, .kind = PS__DAOS_REMOVE, .n = nnames, .dkeys = (const char *const *)names};
        st = ps__daos_run_batch(&b);
    }
out:
    for (size_t i = 0; i < nnames; i++)
        ps_free(names[i]);
    ps_free(names);
    ps_free(buf);
    ps_free(kds);
    return st;
}

/* ---- open and close ----------------------------------------------------------------- */

/* Release every handle of `d` and `d` itself. */
static void ps__daos_teardown(ps__daos *d)
{
    const ps__daos_api *api = d->api;
    if (api) {
        for (size_t i = 0; i < d->neqs; i++)
            api->daos_eq_destroy(d->eqs[i], 0);
        if (daos_handle_is_valid(d->oh))
            api->daos_kv_close(d->oh, NULL);
        if (daos_handle_is_valid(d->root_oh))
            api->daos_kv_close(d->root_oh, NULL);
        if (daos_handle_is_valid(d->coh))
            api->daos_cont_close(d->coh, NULL);
        if (daos_handle_is_valid(d->poh))
            api->daos_pool_disconnect(d->poh, NULL);
        if (d->inited)
            api->daos_fini();
    }
    pthread_mutex_destroy(&d->eq_lock);
    ps_free(d->eqs);
    ps_free(d->pool);
    ps_free(d->cont);
    ps_free(d->ns);
    ps_free(d);
}

/* Open the root KV from the container's ROOTS property, checking the layout type. */
static ps_status ps__daos_open_root(ps__daos *d)
{
    const ps__daos_api *api = d->api;
    daos_prop_t *prop = api->daos_prop_alloc(2);
    if (prop == NULL)
        return PS__ENOMEM("daos container properties");
    prop->dpp_entries[0].dpe_type = DAOS_PROP_CO_LAYOUT_TYPE;
    prop->dpp_entries[1].dpe_type = DAOS_PROP_CO_ROOTS;
    int rc = api->daos_cont_query(d->coh, NULL, prop, NULL);
    if (rc != 0) {
        api->daos_prop_free(prop);
        return ps__daos_fail(d, rc, "daos_cont_query", NULL);
    }
    const struct daos_prop_entry *layout = &prop->dpp_entries[0];
    const struct daos_prop_entry *roots = &prop->dpp_entries[1];
    ps_status st = PS_OK;
    daos_obj_id_t root = {0, 0};
    if (layout->dpe_type != DAOS_PROP_CO_LAYOUT_TYPE ||
        (layout->dpe_flags & DAOS_PROP_ENTRY_NOT_SET) ||
        layout->dpe_val != DAOS_PROP_CO_LAYOUT_PYTHON) {
        uint64_t v = (layout->dpe_flags & DAOS_PROP_ENTRY_NOT_SET) ? 0 : layout->dpe_val;
        static const char *const names[] = {"UNKNOWN", "POSIX", "HDF5", "PYTHON"};
        st = ps__seterr(PS_EINVAL,
                        "daos pool \"%s\" container \"%s\": layout type is %s (%llu), not PYTHON "
                        "(3); the DAOS connector (like pydaos) needs a container made with `daos "
                        "cont create %s <label> --type PYTHON`",
                        d->pool, d->cont, v < 4 ? names[v] : "other", (unsigned long long)v,
                        d->pool);
    } else if (roots->dpe_type != DAOS_PROP_CO_ROOTS || roots->dpe_val_ptr == NULL) {
        st = ps__seterr(PS_EPROTO, "daos pool \"%s\" container \"%s\": no ROOTS property", d->pool,
                        d->cont);
    } else {
        memcpy(&root, &((const struct daos_prop_co_roots *)roots->dpe_val_ptr)->cr_oids[0],
               sizeof root);
        if (root.lo == 0 && root.hi == 0)
            st = ps__seterr(PS_EPROTO,
                            "daos pool \"%s\" container \"%s\": the root object id is zero",
                            d->pool, d->cont);
    }
    api->daos_prop_free(prop);
    PS__FORWARD(st);
    /* The root OID has type bits 0; pydaos opens it as a hashed KV. */
    root.hi |= (uint64_t)DAOS_OT_KV_HASHED << 56;
    rc = api->daos_kv_open(d->coh, root, DAOS_OO_RW, &d->root_oh, NULL);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_open (root)", NULL);
    return PS_OK;
}

/* Look the namespace up in the root KV. `*present` false when absent. */
static ps_status ps__daos_lookup_ns(ps__daos *d, bool *present)
{
    unsigned char rec[PS__DAOS_ROOT_RECORD_SIZE];
    daos_size_t size = sizeof rec;
    int rc = d->api->daos_kv_get(d->root_oh, DAOS_TX_NONE, 0, d->ns, &size, rec, NULL);
    if (rc == -DER_REC2BIG)
        return ps__seterr(PS_EPROTO,
                          "daos %s/%s: root entry \"%s\" has %llu bytes, not %d: not a pydaos "
                          "dictionary",
                          d->pool, d->cont, d->ns, (unsigned long long)size,
                          PS__DAOS_ROOT_RECORD_SIZE);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_get (root entry)", d->ns);
    if (size == 0) {
        *present = false;
        return PS_OK;
    }
    PS__RETURN_IF(size != sizeof rec, PS_EPROTO,
                  "daos %s/%s: root entry \"%s\" has %llu bytes, not %d: not a pydaos dictionary",
                  d->pool, d->cont, d->ns, (unsigned long long)size, PS__DAOS_ROOT_RECORD_SIZE);
    uint32_t otype;
    memcpy(&d->dict_oid.lo, rec + 0, 8);
    memcpy(&d->dict_oid.hi, rec + 8, 8);
    memcpy(&otype, rec + 16, 4);
    PS__RETURN_IF(otype == PS__DAOS_PYDAOS_ARRAY, PS_EINVAL,
                  "daos %s/%s: \"%s\" is a pydaos DArray, not a dictionary", d->pool, d->cont,
                  d->ns);
    PS__RETURN_IF(otype != PS__DAOS_PYDAOS_DICT, PS_EPROTO,
                  "daos %s/%s: root entry \"%s\" has unknown object type %u", d->pool, d->cont,
                  d->ns, otype);
    PS__RETURN_IF(!daos_is_kv(d->dict_oid), PS_EPROTO,
                  "daos %s/%s: root entry \"%s\" names object %llu.%llu, which is not a KV",
                  d->pool, d->cont, d->ns, (unsigned long long)d->dict_oid.hi,
                  (unsigned long long)d->dict_oid.lo);
    *present = true;
    return PS_OK;
}

/*
 * Create the namespace dictionary as pydaos's DCont.dict does. Sets
 * `*raced` when another client inserted the name first.
 */
static ps_status ps__daos_create_ns(ps__daos *d, bool *raced)
{
    const ps__daos_api *api = d->api;
    uint64_t lo = 0;
    int rc = api->daos_cont_alloc_oids(d->coh, 1, &lo, NULL);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_cont_alloc_oids", NULL);
    /* pydaos keeps hi < 100 free when lo is 0; one OID per allocation here. */
    daos_obj_id_t oid = {.lo = lo, .hi = lo == 0 ? 100 : 0};
    rc = api->daos_obj_generate_oid2(d->coh, &oid, DAOS_OT_KV_HASHED, OC_UNKNOWN, 0, 0);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_obj_generate_oid2", NULL);
    unsigned char rec[PS__DAOS_ROOT_RECORD_SIZE];
    memset(rec, 0, sizeof rec); /* reserved fields zeroed (pydaos leaves garbage) */
    uint32_t otype = PS__DAOS_PYDAOS_DICT;
    memcpy(rec + 0, &oid.lo, 8);
    memcpy(rec + 8, &oid.hi, 8);
    memcpy(rec + 16, &otype, 4);
    rc = api->daos_kv_put(d->root_oh, DAOS_TX_NONE, DAOS_COND_KEY_INSERT, d->ns, sizeof rec, rec,
                          NULL);
    if (rc == -DER_EXIST) {
        *raced = true;
        return PS_OK;
    }
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_put (root entry)", d->ns);
    *raced = false;
    d->dict_oid = oid;
    return PS_OK;
}

static ps_status ps__daos_open_ns(ps__daos *d)
{
    bool present = false;
    PS__FORWARD(ps__daos_lookup_ns(d, &present));
    if (!present) {
        bool raced = false;
        PS__FORWARD(ps__daos_create_ns(d, &raced));
        if (raced) {
            PS__FORWARD(ps__daos_lookup_ns(d, &present));
            PS__RETURN_IF(!present, PS_EPROTO,
                          "daos %s/%s: root entry \"%s\" exists for insert but not for get",
                          d->pool, d->cont, d->ns);
        }
    }
    int rc = d->api->daos_kv_open(d->coh, d->dict_oid, DAOS_OO_RW, &d->oh, NULL);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_kv_open (dictionary)", d->ns);
    return PS_OK;
}

static ps_status ps__daos_connect(ps__daos *d)
{
    const ps__daos_api *api = d->api;
    int rc = api->daos_init();
    if (rc != 0)
        return ps__seterr(PS_EUNAVAILABLE, "daos connector: daos_init failed: %s (%d)",
                          ps__daos_errname(api, rc), rc);
    d->inited = true;
    /* A read-only pool handle is enough to open the container read-write (pydaos 2.6). */
    rc = api->daos_pool_connect2(d->pool, NULL, DAOS_PC_RO, &d->poh, NULL, NULL);
    if (rc == -DER_NONEXIST || rc == -DER_INVAL)
        return ps__seterr(PS_EINVAL, "daos pool \"%s\": cannot connect: %s (%d)", d->pool,
                          ps__daos_errname(api, rc), rc);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_pool_connect", NULL);
    rc = api->daos_cont_open2(d->poh, d->cont, DAOS_COO_RW, &d->coh, NULL, NULL);
    if (rc == -DER_NONEXIST || rc == -DER_INVAL)
        return ps__seterr(PS_EINVAL, "daos pool \"%s\" container \"%s\": cannot open: %s (%d)",
                          d->pool, d->cont, ps__daos_errname(api, rc), rc);
    if (rc != 0)
        return ps__daos_fail(d, rc, "daos_cont_open", NULL);
    PS__FORWARD(ps__daos_open_root(d));
    return ps__daos_open_ns(d);
}

static ps_status ps__daos_open(json_t *options, void **priv)
{
    static const char *const fields[] = {"pool", "container", "namespace", "clear", NULL};
    static const char what[] = "daos connector options";
    PS__FORWARD(ps__json_check_fields(options, what, fields));
    const char *pool = NULL, *cont = NULL, *ns = NULL;
    bool clear = false;
    PS__FORWARD(ps__json_get_string(options, what, "pool", &pool));
    PS__FORWARD(ps__json_get_string(options, what, "container", &cont));
    PS__FORWARD(ps__json_get_string(options, what, "namespace", &ns));
    PS__FORWARD(ps__json_get_bool(options, what, "clear", &clear));
    PS__RETURN_IF(pool == NULL || *pool == '\0', PS_EINVAL,
                  "daos connector: option \"pool\" (label or UUID) is required");
    PS__RETURN_IF(cont == NULL || *cont == '\0', PS_EINVAL,
                  "daos connector: option \"container\" (label or UUID) is required");
    PS__RETURN_IF(ns == NULL || *ns == '\0', PS_EINVAL,
                  "daos connector: option \"namespace\" (dictionary name) is required");
    PS__RETURN_IF(!ps__daos_utf8_ok(ns), PS_EINVAL,
                  "daos connector: namespace is not valid UTF-8 (pydaos could not read it)");

    const ps__daos_api *api = NULL;
    PS__FORWARD(ps__daos_load(&api));

    ps__daos *d = ps_calloc(1, sizeof *d);
    if (d == NULL)
        return PS__ENOMEM("daos connector");
    pthread_mutex_init(&d->eq_lock, NULL);
    d->clear = clear;
    d->pool = ps__daos_strdup(pool);
    d->cont = ps__daos_strdup(cont);
    d->ns = ps__daos_strdup(ns);
    if (d->pool == NULL || d->cont == NULL || d->ns == NULL) {
        ps__daos_teardown(d);
        return PS__ENOMEM("daos connector");
    }
    d->api = api;
    ps_status st = ps__daos_connect(d);
    if (st != PS_OK) {
        ps__daos_teardown(d);
        return st;
    }
    *priv = d;
    return PS_OK;
}

static ps_status ps__daos_close(void *priv, ps_clear clear)
{
    ps__daos *d = priv;
    ps_status st = PS_OK;
    if (clear == PS_CLEAR_ALL)
        st = ps__daos_clear_all(d);
    ps__daos_teardown(d);
    return st;
}

static bool ps__daos_default_clear(void *priv)
{
    return ((ps__daos *)priv)->clear;
}

static ps_status ps__daos_config(void *priv, json_t **options)
{
    ps__daos *d = priv;
    json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "pool", d->pool, "container", d->cont,
                          "namespace", d->ns, "clear", d->clear);
    if (o == NULL)
        return PS__ENOMEM("daos connector config");
    *options = o;
    return PS_OK;
}

const ps_connector_ops ps__connector_daos = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "daos",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = ps__daos_open,
    .close = ps__daos_close,
    .default_clear = ps__daos_default_clear,
    .config = ps__daos_config,
    .put = ps__daos_put,
    .get = ps__daos_get,
    .exists = ps__daos_exists,
    .evict = ps__daos_evict,
    .put_batch = ps__daos_put_batch,
    .get_batch = ps__daos_get_batch,
    .new_key = ps__daos_new_key,
    .set = ps__daos_set,
};

void ps_daos_options_init(ps_daos_options *o)
{
    if (o != NULL)
        *o = (ps_daos_options){.version = PS_DAOS_OPTIONS_VERSION};
}

ps_status ps_daos_connector_open(const ps_daos_options *opts, ps_connector **out)
{
    PS__TYPED_OPEN_CHECK("ps_daos_connector_open", opts, PS_DAOS_OPTIONS_VERSION, out);
    PS__RETURN_IF(opts->pool == NULL || opts->container == NULL || opts->namespace_ == NULL,
                  PS_EINVAL, "ps_daos_connector_open: pool, container and namespace are required");
    PS__RETURN_IF(!ps__daos_utf8_ok(opts->pool) || !ps__daos_utf8_ok(opts->container) ||
                      !ps__daos_utf8_ok(opts->namespace_),
                  PS_EINVAL, "ps_daos_connector_open: pool, container and namespace must be UTF-8");
    return ps__connector_open_pack(out, &ps__connector_daos, "ps_daos_connector_open",
                                   "{s:s, s:s, s:s, s:b}", "pool", opts->pool, "container",
                                   opts->container, "namespace", opts->namespace_, "clear",
                                   opts->clear);
}
