/*
 * Proxies (upstream StoreFactory + Proxy + the Store.proxy* methods).
 *
 * State machine, guarded by the proxy's mutex:
 *
 *   UNRESOLVED --resolve/resolve_async--> RESOLVING --fetch ok--> RESOLVED
 *        ^                                    |
 *        +-------------- fetch failed --------+
 *
 * Exactly one thread fetches (the one that moved the proxy to RESOLVING, or
 * a pool thread for resolve_async); others wait on the condition variable.
 * When a fetch fails, its status and message are kept: the threads that
 * waited for it return them, and so does the next resolve after a failed
 * asynchronous fetch (upstream: the next call consumes the future). The
 * target never changes once set, so the pointer handed out by resolve stays
 * valid as long as the caller holds a reference.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/internal.h"
#include "proxy/proxy_internal.h"
#include "proxystore/codec.h"
#include "proxystore/metrics.h"
#include "proxystore/proxy.h"

enum { PS__UNRESOLVED, PS__RESOLVING, PS__RESOLVED };

struct ps_proxy {
    atomic_uint refs;
    atomic_bool locked;
    ps_key *key;
    char *config;     /* store configuration, compact JSON */
    char *store_name; /* from config */
    char *codec;      /* decoder override or NULL */
    bool evict;
    bool metrics;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    int state;
    unsigned long fetches; /* number of finished fetches that failed */
    ps_status fail_st;     /* last failed fetch */
    char *fail_msg;
    bool async_failed; /* a failed asynchronous fetch nobody has seen yet */
    ps_bytes target;   /* valid in PS__RESOLVED */
};

void ps_proxy_options_init(ps_proxy_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->version = PS_PROXY_OPTIONS_VERSION;
    o->populate_target = PS_POPULATE_DEFAULT;
}

static ps_status ps__check_opts(const ps_proxy_options *o)
{
    if (o == NULL)
        return PS_OK;
    PS__RETURN_IF(o->version != PS_PROXY_OPTIONS_VERSION, PS_EINVAL,
                  "proxy options: unknown version %u (call ps_proxy_options_init)", o->version);
    PS__RETURN_IF(o->evict && o->lifetime, PS_EINVAL,
                  "The evict and lifetime parameters are mutually exclusive. Only set one of "
                  "evict or lifetime.");
    PS__RETURN_IF(o->lifetime, PS_ENOTSUP, "proxy options: lifetimes are not implemented");
    PS__RETURN_IF(o->populate_target < PS_POPULATE_DEFAULT || o->populate_target > PS_POPULATE_YES,
                  PS_EINVAL, "proxy options: populate_target must be -1, 0 or 1, not %d",
                  o->populate_target);
    if (o->codec)
        PS__RETURN_IF(ps_codec_find(o->codec) == NULL, PS_EINVAL,
                      "proxy options: unknown codec \"%.40s\"", o->codec);
    return PS_OK;
}

/* Make a proxy from copies of its parts; `config` is normalized here. */
static ps_status ps__proxy_make(const ps_key *key, const char *config, const char *codec,
                                bool evict, bool locked, ps_proxy **out)
{
    *out = NULL;
    json_t *cfg = NULL;
    PS__FORWARD(ps__json_parse_object(config, "proxy: store configuration", &cfg));
    json_t *name = json_object_get(cfg, "name");
    json_t *conn = json_object_get(cfg, "connector");
    json_t *metrics = json_object_get(cfg, "metrics");
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        strlen(json_string_value(name)) != json_string_length(name)) {
        json_decref(cfg);
        return ps__seterr(PS_EINVAL, "proxy: store configuration has no \"name\"");
    }
    if (!json_is_object(conn) || !json_is_string(json_object_get(conn, "kind"))) {
        json_decref(cfg);
        return ps__seterr(PS_EINVAL, "proxy: store configuration has no connector \"kind\"");
    }
    if (metrics != NULL && !json_is_boolean(metrics)) {
        json_decref(cfg);
        return ps__seterr(PS_EINVAL, "proxy: store configuration: \"metrics\" must be a boolean");
    }
    ps_proxy *p = ps_calloc(1, sizeof *p);
    if (p == NULL) {
        json_decref(cfg);
        return PS__ENOMEM("proxy");
    }
    atomic_init(&p->refs, 1);
    atomic_init(&p->locked, locked);
    p->evict = evict;
    p->metrics = json_is_true(metrics);
    p->state = PS__UNRESOLVED;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    ps_status st = ps_key_dup(key, &p->key);
    if (st == PS_OK)
        st = ps__json_dump(cfg, &p->config);
    if (st == PS_OK && (p->store_name = ps_strdup(json_string_value(name))) == NULL)
        st = PS__ENOMEM("proxy store name");
    if (st == PS_OK && codec && (p->codec = ps_strdup(codec)) == NULL)
        st = PS__ENOMEM("proxy codec");
    json_decref(cfg);
    if (st != PS_OK) {
        ps_proxy_unref(p);
        return st;
    }
    *out = p;
    return PS_OK;
}

ps_status ps_proxy_new(const ps_key *key, const char *store_config_json,
                       const ps_proxy_options *opts, ps_proxy **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_proxy_new: out is NULL");
    *out = NULL;
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_proxy_new: key is NULL");
    PS__RETURN_IF(store_config_json == NULL, PS_EINVAL,
                  "ps_proxy_new: store configuration is NULL");
    PS__FORWARD(ps__check_opts(opts));
    return ps__proxy_make(key, store_config_json, opts ? opts->codec : NULL,
                          opts ? opts->evict : false, false, out);
}

ps_proxy *ps_proxy_ref(ps_proxy *proxy)
{
    if (proxy)
        atomic_fetch_add_explicit(&proxy->refs, 1, memory_order_relaxed);
    return proxy;
}

void ps_proxy_unref(ps_proxy *proxy)
{
    if (proxy == NULL)
        return;
    if (atomic_fetch_sub_explicit(&proxy->refs, 1, memory_order_acq_rel) != 1)
        return;
    ps_bytes_free(&proxy->target);
    ps_key_free(proxy->key);
    ps_free(proxy->config);
    ps_free(proxy->store_name);
    ps_free(proxy->codec);
    ps_free(proxy->fail_msg);
    pthread_cond_destroy(&proxy->cond);
    pthread_mutex_destroy(&proxy->lock);
    ps_free(proxy);
}

/* ---- making proxies from a store ------------------------------------------ */

static bool ps__populate(ps_store *store, const ps_proxy_options *o)
{
    if (o && o->populate_target != PS_POPULATE_DEFAULT)
        return o->populate_target == PS_POPULATE_YES;
    ps_store_options so;
    ps_store_options_init(&so);
    ps_store_options_of(store, &so); /* cannot fail: both are valid */
    return so.populate_target != PS_POPULATE_NO;
}

/* Proxies of `n` stored keys, sharing one configuration. */
static ps_status ps__proxies_for_keys(ps_store *store, size_t n, const ps_key *const *keys,
                                      const ps_iov *items, const ps_proxy_options *o, bool locked,
                                      ps_proxy **out)
{
    char *config = NULL;
    PS__FORWARD(ps_store_config(store, &config));
    bool populate = items != NULL && ps__populate(store, o);
    ps_status st = PS_OK;
    size_t i = 0;
    for (; i < n && st == PS_OK; i++) {
        st = ps__proxy_make(keys[i], config, o ? o->codec : NULL, o ? o->evict : false, locked,
                            &out[i]);
        if (st == PS_OK && populate) {
            st = ps_bytes_copy(items[i].data, items[i].len, &out[i]->target);
            if (st == PS_OK)
                out[i]->state = PS__RESOLVED;
        }
    }
    ps_free(config);
    if (st != PS_OK) {
        for (size_t j = 0; j < n; j++) {
            ps_proxy_unref(out[j]);
            out[j] = NULL;
        }
    }
    return st;
}

static ps_status ps__store_proxy(ps_store *store, const void *data, size_t len,
                                 const ps_proxy_options *o, bool locked, ps_proxy **out,
                                 const char *fn)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    PS__RETURN_IF(store == NULL, PS_EINVAL, "%s: store is NULL", fn);
    PS__RETURN_IF(data == NULL && len > 0, PS_EINVAL, "%s: data is NULL", fn);
    PS__FORWARD(ps__check_opts(o));
    uint64_t t0 = ps_now_ns();
    ps_key *key = NULL;
    PS__FORWARD(ps_store_put(store, data ? data : "", len, o ? o->put : NULL, &key));
    ps_iov item = {data ? data : "", len};
    const ps_key *keys[1] = {key};
    ps_status st = ps__proxies_for_keys(store, 1, keys, &item, o, locked, out);
    if (st != PS_OK) {
        /* do not leave an object nobody can name */
        char msg[PS__ERRMSG_SIZE];
        strcpy(msg, ps_last_error());
        ps_store_evict(store, key);
        ps__seterr(st, "%s", msg);
    }
    ps_key_free(key);
    if (st == PS_OK)
        ps_store_metrics_add_time(store, "store.proxy", ps_now_ns() - t0);
    return st;
}

ps_status ps_store_proxy(ps_store *store, const void *data, size_t len,
                         const ps_proxy_options *opts, ps_proxy **out)
{
    return ps__store_proxy(store, data, len, opts, false, out, "ps_store_proxy");
}

ps_status ps_store_locked_proxy(ps_store *store, const void *data, size_t len,
                                const ps_proxy_options *opts, ps_proxy **out)
{
    return ps__store_proxy(store, data, len, opts, true, out, "ps_store_locked_proxy");
}

ps_status ps_store_proxy_batch(ps_store *store, size_t n, const ps_iov *items,
                               const ps_proxy_options *opts, ps_proxy **out)
{
    PS__RETURN_IF(n > 0 && (out == NULL || items == NULL), PS_EINVAL,
                  "ps_store_proxy_batch: items or out is NULL");
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    PS__RETURN_IF(store == NULL, PS_EINVAL, "ps_store_proxy_batch: store is NULL");
    for (size_t i = 0; i < n; i++)
        PS__RETURN_IF(items[i].data == NULL && items[i].len > 0, PS_EINVAL,
                      "ps_store_proxy_batch: item %zu has NULL data", i);
    PS__FORWARD(ps__check_opts(opts));
    if (n == 0)
        return PS_OK;
    uint64_t t0 = ps_now_ns();
    ps_key **keys = ps_calloc(n, sizeof *keys);
    if (keys == NULL)
        return PS__ENOMEM("proxy batch keys");
    ps_status st = ps_store_put_batch(store, n, items, opts ? opts->put : NULL, keys);
    if (st == PS_OK) {
        st = ps__proxies_for_keys(store, n, (const ps_key *const *)keys, items, opts, false, out);
        if (st != PS_OK) {
            char msg[PS__ERRMSG_SIZE];
            strcpy(msg, ps_last_error());
            for (size_t i = 0; i < n; i++)
                ps_store_evict(store, keys[i]);
            ps__seterr(st, "%s", msg);
        }
        ps_key_free_array(keys, n);
    }
    ps_free(keys);
    if (st == PS_OK)
        ps_store_metrics_add_time(store, "store.proxy_batch", ps_now_ns() - t0);
    return st;
}

ps_status ps_store_proxy_from_key(ps_store *store, const ps_key *key, const ps_proxy_options *opts,
                                  ps_proxy **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_store_proxy_from_key: out is NULL");
    *out = NULL;
    PS__RETURN_IF(store == NULL, PS_EINVAL, "ps_store_proxy_from_key: store is NULL");
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_store_proxy_from_key: key is NULL");
    PS__FORWARD(ps__check_opts(opts));
    const ps_key *keys[1] = {key};
    return ps__proxies_for_keys(store, 1, keys, NULL, opts, false, out);
}

/* ---- resolving ---------------------------------------------------------------- */

ps_status ps_proxy_get_store(ps_proxy *proxy, ps_store **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_proxy_get_store: out is NULL");
    *out = NULL;
    PS__RETURN_IF(proxy == NULL, PS_EINVAL, "ps_proxy_get_store: proxy is NULL");
    ps_status st = ps_store_get_or_create(proxy->config, out);
    if (st != PS_OK)
        ps__preferr(st, "Cannot resolve target object with key='%s': store '%s'",
                    ps_key_str(proxy->key), proxy->store_name);
    return st;
}

/* Fetch the target: find or build the store, get, evict if asked. */
static ps_status ps__fetch(ps_proxy *p, ps_bytes *out)
{
    uint64_t t0 = ps_now_ns();
    ps_store *store = NULL;
    PS__FORWARD(ps_proxy_get_store(p, &store));
    ps_get_options go;
    ps_get_options_init(&go);
    go.codec = p->codec;
    ps_status st = ps_store_get(store, p->key, &go, out);
    if (st == PS_NOT_FOUND)
        ps__seterr(st,
                   "Cannot resolve target object with key='%s' from Store(name='%s') because "
                   "there is no object associated with the key.",
                   ps_key_str(p->key), p->store_name);
    if (st == PS_OK && p->evict) {
        st = ps_store_evict(store, p->key);
        if (st != PS_OK)
            ps_bytes_free(out);
    }
    if (st == PS_OK)
        ps_store_metrics_add_time(store, "factory.resolve", ps_now_ns() - t0);
    ps_store_unref(store);
    return st;
}

/* Record the end of a fetch; called with the lock held. */
static void ps__finish_fetch(ps_proxy *p, ps_status st, ps_bytes *b, bool async)
{
    if (st == PS_OK) {
        p->target = *b;
        p->state = PS__RESOLVED;
    } else {
        p->state = PS__UNRESOLVED;
        p->fetches++;
        p->fail_st = st;
        ps_free(p->fail_msg);
        p->fail_msg = ps_strdup(ps_last_error());
        p->async_failed = async;
    }
    pthread_cond_broadcast(&p->cond);
}

/* Return the kept failure of the last fetch; called with the lock held. */
static ps_status ps__fail(ps_proxy *p)
{
    p->async_failed = false;
    if (p->fail_msg)
        return ps__seterr(p->fail_st, "%s", p->fail_msg);
    return ps__seterr(p->fail_st, "Cannot resolve target object with key='%s': %s",
                      ps_key_str(p->key), ps_strerror(p->fail_st));
}

static ps_status ps__locked_err(const ps_proxy *p)
{
    return ps__seterr(PS_ESTATE,
                      "proxy of key='%s' is locked: call ps_proxy_unlock() before resolving it",
                      ps_key_str(p->key));
}

ps_status ps_proxy_resolve(ps_proxy *proxy, const void **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    PS__RETURN_IF(proxy == NULL, PS_EINVAL, "ps_proxy_resolve: proxy is NULL");
    if (atomic_load(&proxy->locked))
        return ps__locked_err(proxy);
    ps_status st = PS_OK;
    pthread_mutex_lock(&proxy->lock);
    for (;;) {
        if (proxy->state == PS__RESOLVED)
            break;
        if (proxy->state == PS__RESOLVING) {
            unsigned long seen = proxy->fetches;
            while (proxy->state == PS__RESOLVING)
                pthread_cond_wait(&proxy->cond, &proxy->lock);
            if (proxy->state != PS__RESOLVED && proxy->fetches != seen) {
                st = ps__fail(proxy); /* the fetch we waited for failed */
                break;
            }
            continue;
        }
        if (proxy->async_failed) {
            st = ps__fail(proxy);
            break;
        }
        proxy->state = PS__RESOLVING;
        pthread_mutex_unlock(&proxy->lock);
        ps_bytes b = PS_BYTES_INIT;
        ps_clear_error();
        st = ps__fetch(proxy, &b);
        pthread_mutex_lock(&proxy->lock);
        ps__finish_fetch(proxy, st, &b, false);
        if (st != PS_OK)
            break;
    }
    if (st == PS_OK) {
        if (data)
            *data = proxy->target.data;
        if (len)
            *len = proxy->target.len;
    }
    pthread_mutex_unlock(&proxy->lock);
    return st;
}

static void ps__async_job(void *arg)
{
    ps_proxy *p = arg;
    ps_bytes b = PS_BYTES_INIT;
    ps_clear_error();
    ps_status st = ps__fetch(p, &b);
    pthread_mutex_lock(&p->lock);
    ps__finish_fetch(p, st, &b, true);
    pthread_mutex_unlock(&p->lock);
    ps_proxy_unref(p);
}

ps_status ps_proxy_resolve_async(ps_proxy *proxy)
{
    PS__RETURN_IF(proxy == NULL, PS_EINVAL, "ps_proxy_resolve_async: proxy is NULL");
    if (atomic_load(&proxy->locked))
        return ps__locked_err(proxy);
    pthread_mutex_lock(&proxy->lock);
    if (proxy->state != PS__UNRESOLVED) {
        pthread_mutex_unlock(&proxy->lock);
        return PS_OK;
    }
    proxy->state = PS__RESOLVING;
    proxy->async_failed = false;
    pthread_mutex_unlock(&proxy->lock);
    ps_proxy_ref(proxy);
    ps_status st = ps__pool_submit(ps__async_job, proxy);
    if (st != PS_OK) {
        pthread_mutex_lock(&proxy->lock);
        proxy->state = PS__UNRESOLVED;
        pthread_cond_broadcast(&proxy->cond);
        pthread_mutex_unlock(&proxy->lock);
        ps_proxy_unref(proxy);
    }
    return st;
}

bool ps_proxy_is_resolved(ps_proxy *proxy)
{
    if (proxy == NULL)
        return false;
    pthread_mutex_lock(&proxy->lock);
    bool r = proxy->state == PS__RESOLVED;
    pthread_mutex_unlock(&proxy->lock);
    return r;
}

ps_status ps_proxy_unlock(ps_proxy *proxy)
{
    PS__RETURN_IF(proxy == NULL, PS_EINVAL, "ps_proxy_unlock: proxy is NULL");
    atomic_store(&proxy->locked, false);
    return PS_OK;
}

bool ps_proxy_is_locked(ps_proxy *proxy)
{
    return proxy && atomic_load(&proxy->locked);
}

/* ---- parts ------------------------------------------------------------------------ */

const ps_key *ps_proxy_key(const ps_proxy *proxy)
{
    return proxy ? proxy->key : NULL;
}

const char *ps_proxy_store_name(const ps_proxy *proxy)
{
    return proxy ? proxy->store_name : NULL;
}

const char *ps_proxy_store_config(const ps_proxy *proxy)
{
    return proxy ? proxy->config : NULL;
}

const char *ps_proxy_codec(const ps_proxy *proxy)
{
    return proxy ? proxy->codec : NULL;
}

bool ps_proxy_evicts(const ps_proxy *proxy)
{
    return proxy && proxy->evict;
}

bool ps_proxy_metrics(const ps_proxy *proxy)
{
    return proxy && proxy->metrics;
}

ps_status ps_proxy_to_json(ps_proxy *proxy, char **json)
{
    PS__RETURN_IF(json == NULL, PS_EINVAL, "ps_proxy_to_json: out is NULL");
    *json = NULL;
    PS__RETURN_IF(proxy == NULL, PS_EINVAL, "ps_proxy_to_json: proxy is NULL");
    json_t *cfg = NULL;
    PS__FORWARD(ps__json_parse_object(proxy->config, "proxy store configuration", &cfg));
    json_t *o = json_object();
    if (o == NULL) {
        json_decref(cfg);
        return PS__ENOMEM("proxy JSON");
    }
    int bad = json_object_set_new(o, "key", json_string(ps_key_str(proxy->key)));
    bad |= json_object_set_new(o, "store", cfg);
    bad |= json_object_set_new(o, "evict", json_boolean(proxy->evict));
    bad |= json_object_set_new(o, "codec", proxy->codec ? json_string(proxy->codec) : json_null());
    bad |= json_object_set_new(o, "locked", json_boolean(ps_proxy_is_locked(proxy)));
    bad |= json_object_set_new(o, "resolved", json_boolean(ps_proxy_is_resolved(proxy)));
    ps_status st = bad ? PS__ENOMEM("proxy JSON") : ps__json_dump(o, json);
    json_decref(o);
    return st;
}

/* ---- tokens ----------------------------------------------------------------------- */

ps_status ps_proxy_encode(ps_proxy *proxy, char **token)
{
    PS__RETURN_IF(token == NULL, PS_EINVAL, "ps_proxy_encode: out is NULL");
    *token = NULL;
    PS__RETURN_IF(proxy == NULL, PS_EINVAL, "ps_proxy_encode: proxy is NULL");
    ps__token t = {proxy->key, proxy->config, proxy->codec, proxy->evict,
                   ps_proxy_is_locked(proxy)};
    return ps__token_encode(&t, token);
}

ps_status ps_proxy_decode(const char *token, ps_proxy **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_proxy_decode: out is NULL");
    *out = NULL;
    PS__RETURN_IF(token == NULL, PS_EINVAL, "ps_proxy_decode: token is NULL");
    size_t len = strnlen(token, PS_PROXY_TOKEN_MAX + 1);
    ps__token t;
    PS__FORWARD(ps__token_decode(token, len, &t));
    ps_status st = ps__proxy_make(t.key, t.config, t.codec, t.evict, t.locked, out);
    ps__token_clear(&t);
    return st;
}
