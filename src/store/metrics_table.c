/*
 * Metrics table: an open-addressing (linear probing) hash table of named
 * metrics, keyed by (kind, name), behind one mutex. The table doubles at
 * half load; names are copied on first use only.
 */
#include <pthread.h>
#include <string.h>

#include "store/metrics_table.h"

typedef struct ps__metric {
    char *name; /* NULL: empty slot */
    uint64_t hash;
    ps__metric_kind kind;
    ps_time_stats t; /* PS__METRIC_TIME */
    uint64_t value;  /* counters and attributes */
} ps__metric;

struct ps__metrics {
    pthread_mutex_t lock;
    ps__metric *slots;
    size_t cap; /* power of two, or 0 */
    size_t used;
};

#define PS__METRICS_MIN_CAP 32

ps_status ps__metrics_new(ps__metrics **out)
{
    ps__metrics *m = ps_calloc(1, sizeof *m);
    if (m == NULL)
        return PS__ENOMEM("metrics table");
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return PS_OK;
}

static void ps__metrics_clear_locked(ps__metrics *m)
{
    for (size_t i = 0; i < m->cap; i++)
        ps_free(m->slots[i].name);
    ps_free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->used = 0;
}

void ps__metrics_free(ps__metrics *m)
{
    if (m == NULL)
        return;
    ps__metrics_clear_locked(m);
    pthread_mutex_destroy(&m->lock);
    ps_free(m);
}

void ps__metrics_reset(ps__metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    ps__metrics_clear_locked(m);
    pthread_mutex_unlock(&m->lock);
}

static uint64_t ps__metric_hash(ps__metric_kind kind, const char *name)
{
    return ps__hash64(name, strlen(name)) ^ ((uint64_t)kind * 0x9e3779b97f4a7c15ull);
}

/* The slot holding (kind, name), or the empty slot where it would go.
 * Requires cap > 0. */
static ps__metric *ps__probe(ps__metric *slots, size_t cap, ps__metric_kind kind, const char *name,
                             uint64_t h)
{
    size_t i = h & (cap - 1);
    for (;;) {
        ps__metric *s = &slots[i];
        if (s->name == NULL || (s->hash == h && s->kind == kind && strcmp(s->name, name) == 0))
            return s;
        i = (i + 1) & (cap - 1);
    }
}

static bool ps__grow(ps__metrics *m)
{
    size_t ncap = m->cap ? m->cap * 2 : PS__METRICS_MIN_CAP;
    ps__metric *ns = ps_calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        ps__metric *s = &m->slots[i];
        if (s->name)
            *ps__probe(ns, ncap, s->kind, s->name, s->hash) = *s;
    }
    ps_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return true;
}

/* The slot for (kind, name), created on first use; NULL if out of memory
 * (the record is then dropped: metrics never fail an operation). */
static ps__metric *ps__lookup_or_add(ps__metrics *m, ps__metric_kind kind, const char *name)
{
    uint64_t h = ps__metric_hash(kind, name);
    if (m->cap) {
        ps__metric *s = ps__probe(m->slots, m->cap, kind, name, h);
        if (s->name)
            return s;
    }
    if ((m->used + 1) * 2 > m->cap && !ps__grow(m))
        return NULL;
    ps__metric *s = ps__probe(m->slots, m->cap, kind, name, h);
    s->name = ps_strdup(name);
    if (s->name == NULL)
        return NULL;
    s->hash = h;
    s->kind = kind;
    memset(&s->t, 0, sizeof s->t);
    s->value = 0;
    m->used++;
    return s;
}

void ps__metrics_add_time(ps__metrics *m, const char *name, uint64_t ns)
{
    if (m == NULL || name == NULL)
        return;
    double ms = (double)ns / 1e6;
    double now = ps__wall_time();
    pthread_mutex_lock(&m->lock);
    ps__metric *s = ps__lookup_or_add(m, PS__METRIC_TIME, name);
    if (s) {
        ps_time_stats *t = &s->t;
        if (t->count == 0 || ms < t->min_ms)
            t->min_ms = ms;
        if (t->count == 0 || ms > t->max_ms)
            t->max_ms = ms;
        t->count++;
        t->total_ms += ms;
        t->avg_ms = t->total_ms / (double)t->count;
        t->last_ms = ms;
        t->last_timestamp = now;
    }
    pthread_mutex_unlock(&m->lock);
}

void ps__metrics_add_counter(ps__metrics *m, const char *name, uint64_t n)
{
    if (m == NULL || name == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    ps__metric *s = ps__lookup_or_add(m, PS__METRIC_COUNTER, name);
    if (s)
        s->value += n;
    pthread_mutex_unlock(&m->lock);
}

void ps__metrics_set_attribute(ps__metrics *m, const char *name, uint64_t value)
{
    if (m == NULL || name == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    ps__metric *s = ps__lookup_or_add(m, PS__METRIC_ATTRIBUTE, name);
    if (s)
        s->value = value;
    pthread_mutex_unlock(&m->lock);
}

static ps__metric *ps__lookup(ps__metrics *m, ps__metric_kind kind, const char *name)
{
    if (m->cap == 0)
        return NULL;
    ps__metric *s = ps__probe(m->slots, m->cap, kind, name, ps__metric_hash(kind, name));
    return s->name ? s : NULL;
}

ps_status ps__metrics_get_time(ps__metrics *m, const char *name, ps_time_stats *out)
{
    pthread_mutex_lock(&m->lock);
    ps__metric *s = ps__lookup(m, PS__METRIC_TIME, name);
    if (s)
        *out = s->t;
    pthread_mutex_unlock(&m->lock);
    return s ? PS_OK : PS_NOT_FOUND;
}

ps_status ps__metrics_get_value(ps__metrics *m, ps__metric_kind kind, const char *name,
                                uint64_t *out)
{
    pthread_mutex_lock(&m->lock);
    ps__metric *s = ps__lookup(m, kind, name);
    if (s)
        *out = s->value;
    pthread_mutex_unlock(&m->lock);
    return s ? PS_OK : PS_NOT_FOUND;
}

static json_t *ps__time_json(const ps_time_stats *t)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)t->count,
                     "total_time_ms", t->total_ms, "avg_time_ms", t->avg_ms, "min_time_ms",
                     t->min_ms, "max_time_ms", t->max_ms, "last_time_ms", t->last_ms,
                     "last_timestamp", t->last_timestamp);
}

ps_status ps__metrics_json(ps__metrics *m, char **json)
{
    json_t *times = json_object(), *counters = json_object(), *attrs = json_object();
    json_t *root = json_object();
    ps_status st = PS_OK;
    if (!times || !counters || !attrs || !root) {
        st = PS__ENOMEM("metrics JSON");
        goto out;
    }
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->cap && st == PS_OK; i++) {
        ps__metric *s = &m->slots[i];
        if (s->name == NULL)
            continue;
        json_t *v = NULL, *parent = NULL;
        switch (s->kind) {
        case PS__METRIC_TIME:
            v = ps__time_json(&s->t);
            parent = times;
            break;
        case PS__METRIC_COUNTER:
            v = json_integer((json_int_t)s->value);
            parent = counters;
            break;
        case PS__METRIC_ATTRIBUTE:
            v = json_integer((json_int_t)s->value);
            parent = attrs;
            break;
        }
        if (v == NULL || json_object_set_new(parent, s->name, v) != 0)
            st = PS__ENOMEM("metrics JSON");
    }
    pthread_mutex_unlock(&m->lock);
    if (st != PS_OK)
        goto out;
    if (json_object_set(root, "times", times) || json_object_set(root, "counters", counters) ||
        json_object_set(root, "attributes", attrs)) {
        st = PS__ENOMEM("metrics JSON");
        goto out;
    }
    st = ps__json_dump(root, json);
out:
    json_decref(times);
    json_decref(counters);
    json_decref(attrs);
    json_decref(root);
    return st;
}
