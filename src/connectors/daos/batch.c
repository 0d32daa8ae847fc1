/*
 * Batches keep up to PS_DAOS_MAX_INFLIGHT operations in flight on an event
 * queue; event queues are pooled per connector so concurrent batches from
 * several threads never share one.
 */
#include <stdint.h>
#include <string.h>

#include "connectors/daos/daos_internal.h"
#include "core/internal.h"
#include "proxystore/connectors/daos.h"

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

typedef struct ps__daos_slot {
    daos_event_t ev; /* first member: a polled event pointer is the slot */
    size_t idx;
    daos_size_t size;
    unsigned char *buf;
    size_t cap;
    bool marker_phase; /* GET: the value was absent; checking the empty marker */
    char *marker;      /* GET: that marker's dkey (alive until completion) */
} ps__daos_slot;

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
ps_status ps__daos_run_batch(ps__daos_batch *b)
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
