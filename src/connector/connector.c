/*
 * The connector registry and the dispatch wrappers.
 *
 * Every public ps_connector_* call goes through here: arguments are checked,
 * keys of another type are refused, calls into types that are not
 * thread-safe are serialized with the instance's mutex, batches fall back to
 * loops, and a failure always leaves a message.
 */
#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "connector/builtin.h"
#include "connector/connector_internal.h"
#include "core/internal.h"

#define PS__MAX_TYPES 64

static pthread_mutex_t ps__types_lock = PTHREAD_MUTEX_INITIALIZER;
static const ps_connector_ops *ps__types[PS__MAX_TYPES];
static size_t ps__ntypes;

static bool ps__type_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return false;
    return true;
}

static ps_status ps__type_add(const ps_connector_ops *ops)
{
    PS__RETURN_IF(ops == NULL, PS_EINVAL, "ps_connector_register: ops is NULL");
    PS__RETURN_IF(ops->version != PS_CONNECTOR_OPS_VERSION, PS_EINVAL,
                  "ps_connector_register: unknown ops version %u", ops->version);
    PS__RETURN_IF(!ps__type_name_ok(ops->name), PS_EINVAL,
                  "ps_connector_register: invalid type name (want [a-z0-9_]{1,32})");
    PS__RETURN_IF(!ops->open || !ops->close || !ops->config || !ops->put || !ops->get ||
                      !ops->exists || !ops->evict,
                  PS_EINVAL, "ps_connector_register: \"%s\" lacks a required function", ops->name);
    PS__RETURN_IF((ops->new_key == NULL) != (ops->set == NULL), PS_EINVAL,
                  "ps_connector_register: \"%s\" must have both new_key and set, or neither",
                  ops->name);
    ps_status st = PS_OK;
    pthread_mutex_lock(&ps__types_lock);
    for (size_t i = 0; i < ps__ntypes; i++) {
        if (strcmp(ps__types[i]->name, ops->name) == 0) {
            st = ps__seterr(PS_EEXIST, "connector type \"%s\" is already registered", ops->name);
            goto out;
        }
    }
    if (ps__ntypes == PS__MAX_TYPES) {
        st = ps__seterr(PS_ENOSPC, "ps_connector_register: at most %d types", PS__MAX_TYPES);
        goto out;
    }
    ps__types[ps__ntypes++] = ops;
out:
    pthread_mutex_unlock(&ps__types_lock);
    return st;
}

/* The builtin types (builtin.c), registered once, on the registry's first use. */
static pthread_once_t ps__types_once = PTHREAD_ONCE_INIT;

static void ps__types_add_builtin(void)
{
    for (size_t i = 0; i < ps__builtin_connector_count; i++)
        ps__type_add(ps__builtin_connectors[i].ops);
}

static void ps__types_init(void)
{
    pthread_once(&ps__types_once, ps__types_add_builtin);
}

ps_status ps_connector_register(const ps_connector_ops *ops)
{
    ps__types_init();
    return ps__type_add(ops);
}

/*
 * Upstream accepts "file", "FILE", "FileConnector" and the dotted class path
 * "proxystore.connectors.file.FileConnector". Reduce all of these to "file".
 */
static void ps__normalize_kind(const char *kind, char *out, size_t size)
{
    const char *base = strrchr(kind, '.');
    base = base ? base + 1 : kind;
    size_t n = strlen(base);
    static const char suffix[] = "connector";
    if (n > sizeof suffix - 1 && strcasecmp(base + n - (sizeof suffix - 1), suffix) == 0)
        n -= sizeof suffix - 1;
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)base[i]);
    out[n] = '\0';
}

const ps_connector_ops *ps_connector_find(const char *kind)
{
    ps__types_init();
    if (kind == NULL || *kind == '\0')
        return NULL;
    char norm[64];
    ps__normalize_kind(kind, norm, sizeof norm);
    const ps_connector_ops *found = NULL;
    pthread_mutex_lock(&ps__types_lock);
    for (size_t i = 0; i < ps__ntypes; i++)
        if (strcmp(ps__types[i]->name, norm) == 0)
            found = ps__types[i];
    pthread_mutex_unlock(&ps__types_lock);
    return found;
}

size_t ps_connector_type_count(void)
{
    ps__types_init();
    pthread_mutex_lock(&ps__types_lock);
    size_t n = ps__ntypes;
    pthread_mutex_unlock(&ps__types_lock);
    return n;
}

const char *ps_connector_type_name(size_t i)
{
    ps__types_init();
    const char *name = NULL;
    pthread_mutex_lock(&ps__types_lock);
    if (i < ps__ntypes)
        name = ps__types[i]->name;
    pthread_mutex_unlock(&ps__types_lock);
    return name;
}

/* ---- instances ----------------------------------------------------------- */

ps_status ps_connector_open_json(const ps_connector_ops *ops, json_t *options, ps_connector **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_connector_open: out is NULL");
    *out = NULL;
    PS__RETURN_IF(ops == NULL, PS_EINVAL, "ps_connector_open: ops is NULL");
    PS__RETURN_IF(options != NULL && !json_is_object(options), PS_EINVAL,
                  "connector %s: options must be a JSON object", ops->name);
    ps_connector *c = ps_calloc(1, sizeof *c);
    if (c == NULL)
        return PS__ENOMEM("connector");
    json_t *empty = NULL;
    if (options == NULL) {
        empty = json_object();
        options = empty;
    }
    ps_clear_error();
    ps_status st = options ? ops->open(options, &c->priv) : PS__ENOMEM("options");
    json_decref(empty);
    if (st != PS_OK) {
        if (ps__errmsg_empty())
            ps__seterr(st, "connector %s: open failed: %s", ops->name, ps_strerror(st));
        ps_free(c);
        return st;
    }
    c->ops = ops;
    c->serialize = !(ops->flags & PS_CONNECTOR_THREADSAFE);
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return PS_OK;
}

ps_status ps_connector_open(const char *kind, const char *options_json, ps_connector **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_connector_open: out is NULL");
    *out = NULL;
    PS__RETURN_IF(kind == NULL, PS_EINVAL, "ps_connector_open: kind is NULL");
    const ps_connector_ops *ops = ps_connector_find(kind);
    PS__RETURN_IF(ops == NULL, PS_EINVAL, "unknown connector type \"%.64s\"", kind);
    json_t *opts = NULL;
    if (options_json != NULL)
        PS__FORWARD(ps__json_parse_object(options_json, "connector options", &opts));
    ps_status st = ps_connector_open_json(ops, opts, out);
    json_decref(opts);
    return st;
}

ps_status ps_connector_from_config_json(json_t *config, ps_connector **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_connector_from_config: out is NULL");
    *out = NULL;
    PS__RETURN_IF(!json_is_object(config), PS_EINVAL, "connector config: expected a JSON object");
    static const char *const fields[] = {"kind", "options", NULL};
    PS__FORWARD(ps__json_check_fields(config, "connector config", fields));
    const char *kind = NULL;
    PS__FORWARD(ps__json_get_string(config, "connector config", "kind", &kind));
    PS__RETURN_IF(kind == NULL, PS_EINVAL, "connector config: missing \"kind\"");
    const ps_connector_ops *ops = ps_connector_find(kind);
    PS__RETURN_IF(ops == NULL, PS_EINVAL, "unknown connector type \"%.64s\"", kind);
    json_t *opts = json_object_get(config, "options");
    PS__RETURN_IF(opts != NULL && !json_is_object(opts), PS_EINVAL,
                  "connector config: \"options\" must be an object");
    return ps_connector_open_json(ops, opts, out);
}

void *ps_connector_priv(ps_connector *conn, const ps_connector_ops *ops)
{
    return (conn != NULL && ops != NULL && conn->ops == ops) ? conn->priv : NULL;
}

ps_status ps_connector_close(ps_connector *conn, ps_clear clear)
{
    if (conn == NULL)
        return PS_OK;
    PS__RETURN_IF(clear != PS_CLEAR_DEFAULT && clear != PS_CLEAR_KEEP && clear != PS_CLEAR_ALL,
                  PS_EINVAL, "ps_connector_close: invalid clear value %d", (int)clear);
    if (clear == PS_CLEAR_DEFAULT)
        clear = (conn->ops->default_clear && conn->ops->default_clear(conn->priv)) ? PS_CLEAR_ALL
                                                                                   : PS_CLEAR_KEEP;
    ps_clear_error();
    ps_status st = conn->ops->close(conn->priv, clear);
    if (st != PS_OK && ps__errmsg_empty())
        ps__seterr(st, "connector %s: close failed", conn->ops->name);
    pthread_mutex_destroy(&conn->lock);
    ps_free(conn);
    return st;
}

const char *ps_connector_kind(const ps_connector *conn)
{
    return conn ? conn->ops->name : NULL;
}

bool ps_connector_is_threadsafe(const ps_connector *conn)
{
    return conn && (conn->ops->flags & PS_CONNECTOR_THREADSAFE);
}

bool ps_connector_is_deferrable(const ps_connector *conn)
{
    return conn && conn->ops->new_key && conn->ops->set;
}

void ps_put_options_init(ps_put_options *o)
{
    if (o) {
        memset(o, 0, sizeof *o);
        o->version = PS_PUT_OPTIONS_VERSION;
    }
}

static ps_status ps__check_put_opts(const ps_put_options *o)
{
    if (o == NULL)
        return PS_OK;
    PS__RETURN_IF(o->version != PS_PUT_OPTIONS_VERSION, PS_EINVAL,
                  "put options: unknown version %u (call ps_put_options_init)", o->version);
    PS__RETURN_IF(o->n_subset_tags && !o->subset_tags, PS_EINVAL, "put options: subset_tags NULL");
    PS__RETURN_IF(o->n_superset_tags && !o->superset_tags, PS_EINVAL,
                  "put options: superset_tags NULL");
    for (size_t i = 0; i < o->n_subset_tags; i++)
        PS__RETURN_IF(o->subset_tags[i] == NULL, PS_EINVAL, "put options: subset tag %zu NULL", i);
    for (size_t i = 0; i < o->n_superset_tags; i++)
        PS__RETURN_IF(o->superset_tags[i] == NULL, PS_EINVAL, "put options: superset tag %zu NULL",
                      i);
    return PS_OK;
}

static ps_status ps__check_key(const ps_connector *c, const ps_key *key, const char *op)
{
    PS__RETURN_IF(key == NULL, PS_EINVAL, "%s connector: %s: key is NULL", c->ops->name, op);
    PS__RETURN_IF(strcmp(ps_key_type(key), c->ops->name) != 0, PS_EINVAL,
                  "%s connector: %s: key \"%.200s\" belongs to a %s connector", c->ops->name, op,
                  ps_key_str(key), ps_key_type(key));
    return PS_OK;
}

#define PS__LOCK(c)                                                                                \
    do {                                                                                           \
        if ((c)->serialize)                                                                        \
            pthread_mutex_lock(&(c)->lock);                                                        \
    } while (0)
#define PS__UNLOCK(c)                                                                              \
    do {                                                                                           \
        if ((c)->serialize)                                                                        \
            pthread_mutex_unlock(&(c)->lock);                                                      \
    } while (0)

/* Make sure a failure carries a message. */
static ps_status ps__finish(const ps_connector *c, const char *op, ps_status st)
{
    if (st != PS_OK && st != PS_NOT_FOUND && ps__errmsg_empty())
        ps__seterr(st, "%s connector: %s failed: %s", c->ops->name, op, ps_strerror(st));
    return st;
}

#define PS__CHECK_CONN(c, op)                                                                      \
    PS__RETURN_IF((c) == NULL, PS_EINVAL, "ps_connector_%s: connector is NULL", op)

ps_status ps_connector_put(ps_connector *conn, const void *data, size_t len,
                           const ps_put_options *opts, ps_key **key)
{
    PS__CHECK_CONN(conn, "put");
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_connector_put: key out-pointer is NULL");
    *key = NULL;
    PS__RETURN_IF(data == NULL && len > 0, PS_EINVAL, "ps_connector_put: data is NULL");
    PS__FORWARD(ps__check_put_opts(opts));
    ps_clear_error();
    PS__LOCK(conn);
    ps_status st = conn->ops->put(conn->priv, data ? data : "", len, opts, key);
    PS__UNLOCK(conn);
    if (st != PS_OK && *key) {
        ps_key_free(*key);
        *key = NULL;
    }
    return ps__finish(conn, "put", st);
}

ps_status ps__connector_put_routed_slow(ps_connector *conn, const void *data, size_t len,
                                        const ps_put_options *opts, ps_key **key, ps_status st)
{
    if (conn->serialize) { /* not called yet: call it under the lock */
        PS__LOCK(conn);
        st = conn->ops->put(conn->priv, data, len, opts, key);
        PS__UNLOCK(conn);
    }
    if (st != PS_OK && *key) {
        ps_key_free(*key);
        *key = NULL;
    }
    return ps__finish(conn, "put", st);
}

ps_status ps_connector_get(ps_connector *conn, const ps_key *key, ps_bytes *out)
{
    PS__CHECK_CONN(conn, "get");
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_connector_get: out is NULL");
    ps_bytes empty = PS_BYTES_INIT;
    *out = empty;
    PS__FORWARD(ps__check_key(conn, key, "get"));
    ps_clear_error();
    PS__LOCK(conn);
    ps_status st = conn->ops->get(conn->priv, key, out);
    PS__UNLOCK(conn);
    if (st != PS_OK)
        ps_bytes_free(out);
    return ps__finish(conn, "get", st);
}

ps_status ps_connector_exists(ps_connector *conn, const ps_key *key, bool *exists)
{
    PS__CHECK_CONN(conn, "exists");
    PS__RETURN_IF(exists == NULL, PS_EINVAL, "ps_connector_exists: out is NULL");
    *exists = false;
    PS__FORWARD(ps__check_key(conn, key, "exists"));
    ps_clear_error();
    PS__LOCK(conn);
    ps_status st = conn->ops->exists(conn->priv, key, exists);
    PS__UNLOCK(conn);
    if (st != PS_OK)
        *exists = false;
    return ps__finish(conn, "exists", st);
}

ps_status ps_connector_evict(ps_connector *conn, const ps_key *key)
{
    PS__CHECK_CONN(conn, "evict");
    PS__FORWARD(ps__check_key(conn, key, "evict"));
    ps_clear_error();
    PS__LOCK(conn);
    ps_status st = conn->ops->evict(conn->priv, key);
    PS__UNLOCK(conn);
    if (st == PS_NOT_FOUND)
        st = PS_OK;
    return ps__finish(conn, "evict", st);
}

ps_status ps_connector_put_batch(ps_connector *conn, size_t n, const ps_iov *items,
                                 const ps_put_options *opts, ps_key **keys)
{
    PS__CHECK_CONN(conn, "put_batch");
    PS__RETURN_IF(n > 0 && (items == NULL || keys == NULL), PS_EINVAL,
                  "ps_connector_put_batch: items or keys is NULL");
    for (size_t i = 0; i < n; i++) {
        keys[i] = NULL;
        PS__RETURN_IF(items[i].data == NULL && items[i].len > 0, PS_EINVAL,
                      "ps_connector_put_batch: item %zu has NULL data", i);
    }
    PS__FORWARD(ps__check_put_opts(opts));
    if (n == 0)
        return PS_OK;
    ps_clear_error();
    ps_status st = PS_OK;
    PS__LOCK(conn);
    if (conn->ops->put_batch) {
        st = conn->ops->put_batch(conn->priv, n, items, opts, keys);
    } else {
        for (size_t i = 0; i < n && st == PS_OK; i++)
            st = conn->ops->put(conn->priv, items[i].data ? items[i].data : "", items[i].len, opts,
                                &keys[i]);
    }
    if (st != PS_OK) {
        /* Roll back what was written; keep the first error's message. */
        char msg[PS__ERRMSG_SIZE];
        strcpy(msg, ps_last_error());
        for (size_t i = 0; i < n; i++)
            if (keys[i])
                conn->ops->evict(conn->priv, keys[i]);
        ps_key_free_array(keys, n);
        ps__seterr(st, "%s", msg);
    }
    PS__UNLOCK(conn);
    return ps__finish(conn, "put_batch", st);
}

ps_status ps_connector_get_batch(ps_connector *conn, size_t n, const ps_key *const *keys,
                                 ps_bytes *outs, bool *found)
{
    PS__CHECK_CONN(conn, "get_batch");
    PS__FORWARD(ps__batch_outputs_init("ps_connector_get_batch", n, keys, outs, found));
    for (size_t i = 0; i < n; i++)
        PS__FORWARD(ps__check_key(conn, keys[i], "get_batch"));
    if (n == 0)
        return PS_OK;
    bool *f = found;
    if (f == NULL) {
        f = ps_calloc(n, sizeof *f);
        if (f == NULL)
            return PS__ENOMEM("get_batch flags");
    }
    ps_clear_error();
    ps_status st = PS_OK;
    PS__LOCK(conn);
    if (conn->ops->get_batch) {
        st = conn->ops->get_batch(conn->priv, n, keys, outs, f);
    } else {
        for (size_t i = 0; i < n && st == PS_OK; i++) {
            st = conn->ops->get(conn->priv, keys[i], &outs[i]);
            f[i] = (st == PS_OK);
            if (st == PS_NOT_FOUND) {
                outs[i] = (ps_bytes)PS_BYTES_INIT;
                st = PS_OK;
            }
        }
    }
    PS__UNLOCK(conn);
    if (st != PS_OK) {
        ps_bytes_free_array(outs, n);
        for (size_t i = 0; i < n; i++)
            f[i] = false;
    }
    if (f != found)
        ps_free(f);
    return ps__finish(conn, "get_batch", st);
}

ps_status ps_connector_new_key(ps_connector *conn, ps_key **key)
{
    PS__CHECK_CONN(conn, "new_key");
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_connector_new_key: out is NULL");
    *key = NULL;
    PS__RETURN_IF(!ps_connector_is_deferrable(conn), PS_ENOTSUP,
                  "%s connector: new_key/set (deferred put) is not supported", conn->ops->name);
    ps_clear_error();
    PS__LOCK(conn);
    ps_status st = conn->ops->new_key(conn->priv, key);
    PS__UNLOCK(conn);
    return ps__finish(conn, "new_key", st);
}

ps_status ps_connector_set(ps_connector *conn, const ps_key *key, const void *data, size_t len)
{
    PS__CHECK_CONN(conn, "set");
    PS__RETURN_IF(data == NULL && len > 0, PS_EINVAL, "ps_connector_set: data is NULL");
    PS__RETURN_IF(!ps_connector_is_deferrable(conn), PS_ENOTSUP,
                  "%s connector: new_key/set (deferred put) is not supported", conn->ops->name);
    PS__FORWARD(ps__check_key(conn, key, "set"));
    ps_clear_error();
    PS__LOCK(conn);
    ps_status st = conn->ops->set(conn->priv, key, data ? data : "", len);
    PS__UNLOCK(conn);
    return ps__finish(conn, "set", st);
}

ps_status ps_connector_config_json(ps_connector *conn, json_t **config)
{
    PS__CHECK_CONN(conn, "config");
    PS__RETURN_IF(config == NULL, PS_EINVAL, "ps_connector_config: out is NULL");
    *config = NULL;
    json_t *opts = NULL;
    ps_clear_error();
    PS__LOCK(conn);
    ps_status st = conn->ops->config(conn->priv, &opts);
    PS__UNLOCK(conn);
    if (st != PS_OK)
        return ps__finish(conn, "config", st);
    json_t *cfg = json_pack("{s:s, s:o}", "kind", conn->ops->name, "options", opts);
    if (cfg == NULL)
        return PS__ENOMEM("connector config");
    *config = cfg;
    return PS_OK;
}

ps_status ps_connector_config(ps_connector *conn, char **json)
{
    PS__RETURN_IF(json == NULL, PS_EINVAL, "ps_connector_config: out is NULL");
    *json = NULL;
    json_t *cfg;
    PS__FORWARD(ps_connector_config_json(conn, &cfg));
    ps_status st = ps__json_dump(cfg, json);
    json_decref(cfg);
    return st;
}
