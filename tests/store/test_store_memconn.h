/*
 * A tiny in-memory connector for the store tests ("memt"), registered through
 * ps_connector_register() so the store tests do not depend on the real
 * connectors. It counts opens and calls so tests can check what reached the
 * connector. A second type, "memtnd", is the same without new_key/set (not
 * deferrable).
 *
 * Options: {"tag": "<text>"} (echoed by config, default none),
 *          {"fail_open": true} (open fails with PS_ECONN).
 * Include once per test program, then call memt_register() in a setup.
 */
#ifndef TEST_STORE_MEMCONN_H
#define TEST_STORE_MEMCONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "proxystore/sys/connector.h"

#define MEMT_BUCKETS 256

typedef struct memt_obj {
    struct memt_obj *next;
    char *key; /* canonical text */
    void *data;
    size_t len;
} memt_obj;

typedef struct memt {
    pthread_mutex_t lock;
    memt_obj *buckets[MEMT_BUCKETS];
    char tag[64];
    bool has_tag;
} memt;

/* Counters over every instance (reset with memt_reset_counters). */
static atomic_long memt_opens, memt_closes, memt_gets, memt_puts, memt_exists_calls, memt_evicts,
    memt_sets;

static inline void memt_reset_counters(void)
{
    atomic_store(&memt_opens, 0);
    atomic_store(&memt_closes, 0);
    atomic_store(&memt_gets, 0);
    atomic_store(&memt_puts, 0);
    atomic_store(&memt_exists_calls, 0);
    atomic_store(&memt_evicts, 0);
    atomic_store(&memt_sets, 0);
}

static size_t memt_bucket(const char *k)
{
    size_t h = 5381;
    for (; *k; k++)
        h = h * 33 + (unsigned char)*k;
    return h % MEMT_BUCKETS;
}

static ps_status memt_open(json_t *options, void **priv)
{
    const char *k;
    json_t *v;
    json_object_foreach(options, k, v)
    {
        if (strcmp(k, "tag") != 0 && strcmp(k, "fail_open") != 0)
            return ps_error(PS_EINVAL, "memt: unknown option \"%s\"", k);
    }
    json_t *fail = json_object_get(options, "fail_open");
    if (fail && json_is_true(fail))
        return ps_error(PS_ECONN, "memt: open failed as asked");
    memt *m = ps_calloc(1, sizeof *m);
    if (m == NULL)
        return PS_ENOMEM;
    json_t *tag = json_object_get(options, "tag");
    if (tag) {
        if (!json_is_string(tag)) {
            ps_free(m);
            return ps_error(PS_EINVAL, "memt: tag must be a string");
        }
        snprintf(m->tag, sizeof m->tag, "%s", json_string_value(tag));
        m->has_tag = true;
    }
    pthread_mutex_init(&m->lock, NULL);
    atomic_fetch_add(&memt_opens, 1);
    *priv = m;
    return PS_OK;
}

static ps_status memt_close(void *priv, ps_clear clear)
{
    (void)clear;
    memt *m = priv;
    for (size_t i = 0; i < MEMT_BUCKETS; i++) {
        memt_obj *o = m->buckets[i];
        while (o) {
            memt_obj *n = o->next;
            ps_free(o->key);
            ps_free(o->data);
            ps_free(o);
            o = n;
        }
    }
    pthread_mutex_destroy(&m->lock);
    ps_free(m);
    atomic_fetch_add(&memt_closes, 1);
    return PS_OK;
}

static ps_status memt_config(void *priv, json_t **options)
{
    memt *m = priv;
    *options = m->has_tag ? json_pack("{s:s}", "tag", m->tag) : json_object();
    return *options ? PS_OK : PS_ENOMEM;
}

/* Store (or overwrite) under key text `k`. Locked by the caller. */
static ps_status memt_store(memt *m, const char *k, const void *data, size_t len)
{
    memt_obj **pp = &m->buckets[memt_bucket(k)];
    while (*pp && strcmp((*pp)->key, k) != 0)
        pp = &(*pp)->next;
    void *copy = ps_malloc(len ? len : 1);
    if (copy == NULL)
        return PS_ENOMEM;
    memcpy(copy, data, len);
    if (*pp) {
        ps_free((*pp)->data);
        (*pp)->data = copy;
        (*pp)->len = len;
        return PS_OK;
    }
    memt_obj *o = ps_calloc(1, sizeof *o);
    char *kc = ps_strdup(k);
    if (o == NULL || kc == NULL) {
        ps_free(o);
        ps_free(kc);
        ps_free(copy);
        return PS_ENOMEM;
    }
    o->key = kc;
    o->data = copy;
    o->len = len;
    *pp = o;
    return PS_OK;
}

static memt_obj **memt_find(memt *m, const ps_key *key)
{
    const char *k = ps_key_str(key);
    memt_obj **pp = &m->buckets[memt_bucket(k)];
    while (*pp && strcmp((*pp)->key, k) != 0)
        pp = &(*pp)->next;
    return pp;
}

static ps_status memt_new_key_impl(const char *type, ps_key **key)
{
    return ps_key_new_uuid(type, 0, NULL, key);
}

static ps_status memt_put_typed(const char *type, void *priv, const void *data, size_t len,
                                ps_key **key)
{
    memt *m = priv;
    ps_status st = memt_new_key_impl(type, key);
    if (st != PS_OK)
        return st;
    pthread_mutex_lock(&m->lock);
    st = memt_store(m, ps_key_str(*key), data, len);
    pthread_mutex_unlock(&m->lock);
    if (st != PS_OK) {
        ps_key_free(*key);
        *key = NULL;
    }
    atomic_fetch_add(&memt_puts, 1);
    return st;
}

static ps_status memt_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                          ps_key **key)
{
    (void)opts;
    return memt_put_typed("memt", priv, data, len, key);
}

static ps_status memtnd_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                            ps_key **key)
{
    (void)opts;
    return memt_put_typed("memtnd", priv, data, len, key);
}

static ps_status memt_get(void *priv, const ps_key *key, ps_bytes *out)
{
    memt *m = priv;
    atomic_fetch_add(&memt_gets, 1);
    pthread_mutex_lock(&m->lock);
    memt_obj *o = *memt_find(m, key);
    ps_status st = o ? ps_bytes_copy(o->data, o->len, out) : PS_NOT_FOUND;
    pthread_mutex_unlock(&m->lock);
    return st;
}

static ps_status memt_exists(void *priv, const ps_key *key, bool *exists)
{
    memt *m = priv;
    atomic_fetch_add(&memt_exists_calls, 1);
    pthread_mutex_lock(&m->lock);
    *exists = *memt_find(m, key) != NULL;
    pthread_mutex_unlock(&m->lock);
    return PS_OK;
}

static ps_status memt_evict(void *priv, const ps_key *key)
{
    memt *m = priv;
    atomic_fetch_add(&memt_evicts, 1);
    pthread_mutex_lock(&m->lock);
    memt_obj **pp = memt_find(m, key);
    memt_obj *o = *pp;
    if (o) {
        *pp = o->next;
        ps_free(o->key);
        ps_free(o->data);
        ps_free(o);
    }
    pthread_mutex_unlock(&m->lock);
    return PS_OK;
}

static ps_status memt_new_key(void *priv, ps_key **key)
{
    (void)priv;
    return memt_new_key_impl("memt", key);
}

static ps_status memt_set(void *priv, const ps_key *key, const void *data, size_t len)
{
    memt *m = priv;
    atomic_fetch_add(&memt_sets, 1);
    pthread_mutex_lock(&m->lock);
    ps_status st = memt_store(m, ps_key_str(key), data, len);
    pthread_mutex_unlock(&m->lock);
    return st;
}

static const ps_connector_ops memt_ops = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "memt",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = memt_open,
    .close = memt_close,
    .config = memt_config,
    .put = memt_put,
    .get = memt_get,
    .exists = memt_exists,
    .evict = memt_evict,
    .new_key = memt_new_key,
    .set = memt_set,
};

static const ps_connector_ops memtnd_ops = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "memtnd",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = memt_open,
    .close = memt_close,
    .config = memt_config,
    .put = memtnd_put,
    .get = memt_get,
    .exists = memt_exists,
    .evict = memt_evict,
};

/* Register both types (idempotent). */
static inline void memt_register(void)
{
    ps_status st = ps_connector_register(&memt_ops);
    assert_true(st == PS_OK || st == PS_EEXIST);
    st = ps_connector_register(&memtnd_ops);
    assert_true(st == PS_OK || st == PS_EEXIST);
}

/* Open a "memt" connector and wrap it in a store. */
static inline ps_store *memt_store_new(const char *name, const ps_store_options *opts)
{
    ps_connector *c = NULL;
    ps_status st = ps_connector_open("memt", NULL, &c);
    if (st != PS_OK)
        fail_msg("open memt: %s", ps_last_error());
    ps_store *s = NULL;
    st = ps_store_new(name, c, opts, &s);
    if (st != PS_OK) {
        ps_connector_close(c, PS_CLEAR_KEEP);
        fail_msg("ps_store_new: %s: %s", ps_status_name(st), ps_last_error());
    }
    return s;
}

#endif
