/*
 * The Redis connector ("redis"), on hiredis 0.14 (Debian 12): options,
 * open/close/config, and the operations of the ps_connector_ops table.
 *
 * Layout: upstream ProxyStore's. Each object is a Redis string named by a
 * bare UUID text, holding the raw bytes (commands.c sends the commands). Our
 * key is "redis:<uuid>"; it carries no server or database (see
 * docs/connectors-redis.md for why).
 *
 * Connections come from a mutex-guarded pool (pool.c); an operation that
 * fails on a pooled connection because the connection was lost is retried
 * once on a fresh one (every command we send is idempotent). Hence
 * PS_CONNECTOR_THREADSAFE. RESP2 is framed by our own writer and reader
 * (resp.c) on the socket hiredis connected.
 *
 * close(clear) deletes the keys this instance wrote (tracked in a set of
 * 16-byte UUIDs, keyset.c), never FLUSHDB as upstream does.
 *
 * redis_internal.h lists the files and what each holds.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "connector/builtin.h"
#include "connectors/redis/redis_internal.h"
#include "core/internal.h"
#include "proxystore/connectors/redis.h"
#include "proxystore/sys/connector.h"

#define RD_DEFAULT_HOST "localhost"
#define RD_DEFAULT_PORT 6379

/* ---- the instance ------------------------------------------------------- */

typedef struct rd {
    ps__redis_pool pool; /* connections; its settings come from the options */
    bool clear;

    pthread_mutex_t set_lock;
    ps__redis_keyset written;
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
    ps__redis_uuid u;
    if (!ps__uuid_parse(id, u.b)) /* checked by the caller already */
        return;
    pthread_mutex_lock(&r->set_lock);
    /* Out of memory only costs close(clear) this key: not worth failing. */
    if (ps__redis_keyset_add(&r->written, &u) != PS_OK)
        ps_clear_error();
    pthread_mutex_unlock(&r->set_lock);
}

static void rd_untrack(rd *r, const char *id)
{
    ps__redis_uuid u;
    if (!ps__uuid_parse(id, u.b)) /* checked by the caller already */
        return;
    pthread_mutex_lock(&r->set_lock);
    ps__redis_keyset_remove(&r->written, &u);
    pthread_mutex_unlock(&r->set_lock);
}

static ps_status rd_check_size(const rd *r, size_t len, const char *what)
{
    size_t limit = atomic_load(&r->pool.max_bulk);
    PS__RETURN_IF(len > limit, PS_ETOOBIG,
                  "redis %s: %s: object of %zu bytes exceeds the server's proto-max-bulk-len "
                  "of %zu bytes",
                  r->pool.where, what, len, limit);
    return PS_OK;
}

/* ---- the vtable ------------------------------------------------------------ */

static void rd_free(rd *r)
{
    if (r == NULL)
        return;
    ps__redis_pool_fini(&r->pool);
    pthread_mutex_destroy(&r->set_lock);
    ps__redis_keyset_free(&r->written);
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
    ps__redis_pool *p = &r->pool;
    PS__FORWARD(ps__json_check_fields(options, RD_WHAT, rd_fields));
    const char *host = NULL, *sock = NULL, *user = NULL, *pass = NULL;
    long long port = RD_DEFAULT_PORT;
    PS__FORWARD(ps__json_get_string(options, RD_WHAT, "hostname", &host));
    PS__FORWARD(ps__json_get_int(options, RD_WHAT, "port", &port));
    PS__FORWARD(ps__json_get_string(options, RD_WHAT, "unix_socket", &sock));
    PS__FORWARD(ps__json_get_int(options, RD_WHAT, "db", &p->db));
    PS__FORWARD(ps__json_get_string(options, RD_WHAT, "username", &user));
    PS__FORWARD(ps__json_get_string(options, RD_WHAT, "password", &pass));
    PS__FORWARD(ps__json_get_bool(options, RD_WHAT, "clear", &r->clear));
    PS__FORWARD(ps__json_get_int(options, RD_WHAT, "connect_timeout_ms", &p->connect_timeout_ms));
    PS__FORWARD(ps__json_get_int(options, RD_WHAT, "command_timeout_ms", &p->command_timeout_ms));

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
    PS__RETURN_IF(p->db < 0 || p->db > INT_MAX, PS_EINVAL,
                  RD_WHAT ": \"db\" must be a database number >= 0, not %lld", p->db);
    PS__RETURN_IF(user && !pass, PS_EINVAL, RD_WHAT ": \"username\" needs a \"password\"");
    PS__RETURN_IF(p->connect_timeout_ms < 0 || p->connect_timeout_ms > INT_MAX, PS_EINVAL,
                  RD_WHAT ": \"connect_timeout_ms\" must be 0..%d, not %lld", INT_MAX,
                  p->connect_timeout_ms);
    PS__RETURN_IF(p->command_timeout_ms < 0 || p->command_timeout_ms > INT_MAX, PS_EINVAL,
                  RD_WHAT ": \"command_timeout_ms\" must be 0..%d, not %lld", INT_MAX,
                  p->command_timeout_ms);
    p->port = sock ? 0 : (int)port;
    PS__FORWARD(rd_dup(sock ? NULL : host, &p->hostname));
    PS__FORWARD(rd_dup(sock, &p->unix_socket));
    PS__FORWARD(rd_dup(user, &p->username));
    PS__FORWARD(rd_dup(pass, &p->password));
    if (sock)
        snprintf(p->where, sizeof p->where, "unix:%s", sock);
    else if (strchr(host, ':'))
        snprintf(p->where, sizeof p->where, "[%s]:%d", host, p->port);
    else
        snprintf(p->where, sizeof p->where, "%s:%d", host, p->port);
    return PS_OK;
}

static ps_status rd_open(json_t *options, void **priv)
{
    rd *r = ps_calloc(1, sizeof *r);
    if (r == NULL)
        return PS__ENOMEM("redis connector");
    ps__redis_pool_init(&r->pool);
    pthread_mutex_init(&r->set_lock, NULL);
    ps_status st = rd_parse(options, r);
    /* Connect once: report an unreachable server or a wrong password now,
     * and learn proto-max-bulk-len before the first put. */
    ps__redis_conn *c = NULL;
    if (st == PS_OK)
        st = ps__redis_connect(&r->pool, &c);
    if (st != PS_OK) {
        rd_free(r);
        return st;
    }
    ps__redis_release(&r->pool, c);
    *priv = r;
    return PS_OK;
}

static ps_status rd_clear(rd *r)
{
    /* Snapshot the written keys as text, then DEL them in pipelined chunks. */
    pthread_mutex_lock(&r->set_lock);
    size_t n = r->written.n;
    char *text = n ? ps_malloc(n * (PS__REDIS_UUID_LEN + 1)) : NULL;
    const char **ids = n ? ps_malloc(n * sizeof *ids) : NULL;
    size_t k = text && ids ? ps__redis_keyset_text(&r->written, text, ids) : 0;
    pthread_mutex_unlock(&r->set_lock);
    ps_status st = PS_OK;
    if (n > 0 && (text == NULL || ids == NULL)) {
        st = PS__ENOMEM("redis close(clear)");
    } else if (n > 0) {
        ps__redis_batch b = {k, ids, NULL, NULL, NULL};
        st = ps__redis_run(&r->pool, ps__redis_do_batch, &b);
        if (st != PS_OK)
            ps__preferr(st, "redis %s: close(clear) could not delete %zu keys", r->pool.where, k);
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
    const ps__redis_pool *p = &r->pool;
    json_t *o = json_object();
    if (o == NULL)
        return PS__ENOMEM("redis config");
    int bad = 0;
    if (p->unix_socket) {
        bad |= json_object_set_new(o, "unix_socket", json_string(p->unix_socket));
    } else {
        bad |= json_object_set_new(o, "hostname", json_string(p->hostname));
        bad |= json_object_set_new(o, "port", json_integer(p->port));
    }
    bad |= json_object_set_new(o, "clear", json_boolean(r->clear));
    if (p->db != 0)
        bad |= json_object_set_new(o, "db", json_integer(p->db));
    if (p->username)
        bad |= json_object_set_new(o, "username", json_string(p->username));
    if (p->password)
        bad |= json_object_set_new(o, "password", json_string(p->password));
    if (p->connect_timeout_ms != PS_REDIS_DEFAULT_CONNECT_TIMEOUT_MS)
        bad |= json_object_set_new(o, "connect_timeout_ms", json_integer(p->connect_timeout_ms));
    if (p->command_timeout_ms != PS_REDIS_DEFAULT_COMMAND_TIMEOUT_MS)
        bad |= json_object_set_new(o, "command_timeout_ms", json_integer(p->command_timeout_ms));
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
    ps__redis_one a = {id, data, len, NULL, NULL};
    PS__FORWARD(ps__redis_run(&r->pool, ps__redis_do_set, &a));
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
    ps__redis_one a = {id, NULL, 0, out, NULL};
    return ps__redis_run(&r->pool, ps__redis_do_get, &a);
}

static ps_status rd_exists(void *priv, const ps_key *key, bool *exists)
{
    rd *r = priv;
    const char *id = NULL;
    PS__FORWARD(rd_key_id(key, &id));
    ps__redis_one a = {id, NULL, 0, NULL, exists};
    return ps__redis_run(&r->pool, ps__redis_do_exists, &a);
}

static ps_status rd_evict(void *priv, const ps_key *key)
{
    rd *r = priv;
    const char *id = NULL;
    PS__FORWARD(rd_key_id(key, &id));
    ps__redis_one a = {id, NULL, 0, NULL, NULL};
    PS__FORWARD(ps__redis_run(&r->pool, ps__redis_do_del, &a));
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
        ps__redis_batch b = {n, ids, items, NULL, NULL};
        st = ps__redis_run(&r->pool, ps__redis_do_batch, &b);
        if (st != PS_OK) {
            /* Some chunks may have been stored: delete them, best effort,
             * then return no keys (the core has nothing left to roll back). */
            char msg[PS__ERRMSG_SIZE];
            snprintf(msg, sizeof msg, "%s", ps_last_error());
            ps__redis_batch d = {n, ids, NULL, NULL, NULL};
            ps__redis_run(&r->pool, ps__redis_do_batch, &d);
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
        ps__redis_batch b = {n, ids, NULL, outs, found};
        st = ps__redis_run(&r->pool, ps__redis_do_batch, &b);
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
