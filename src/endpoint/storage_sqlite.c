/*
 * SQLite storage: upstream's SQLiteStorage schema
 *     CREATE TABLE IF NOT EXISTS blobs(key TEXT PRIMARY KEY, value BLOB NOT NULL)
 * so a database written by upstream's endpoint (blobs.db) can be served and
 * the other way round.
 *
 * Durability: journal_mode=WAL and synchronous=FULL, and every set is its own
 * transaction, committed before ep_storage_set() returns: an acknowledged
 * /set survives kill -9 (and, with FULL, power loss on honest disks).
 * ":memory:" keeps the database in memory (tests, as upstream).
 *
 * Thread safety: one connection guarded by a mutex (the connection is opened
 * with SQLITE_OPEN_NOMUTEX; the mutex serializes everything).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "internal.h"
#include "storage_impl.h"

enum { Q_GET, Q_EXISTS, Q_SET, Q_EVICT, Q_CLEAR, Q_COUNT, Q_N };

static const char *const queries[Q_N] = {
    "SELECT value FROM blobs WHERE key = ?",
    "SELECT count(*) FROM blobs WHERE key = ?",
    "INSERT OR REPLACE INTO blobs (key, value) VALUES (?, ?)",
    "DELETE FROM blobs WHERE key = ?",
    "DELETE FROM blobs",
    "SELECT count(*) FROM blobs",
};

typedef struct sq {
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_N];
    char *path;
} sq;

static ps_status sq_err(sq *s, const char *what)
{
    return ps__seterr(PS_EIO, "sqlite %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static void sq_free(sq *s)
{
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    ps_free(s->path);
    ps_free(s);
}

static ps_status sq_exec(sq *s, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        ps_status st = ps__seterr(PS_EIO, "sqlite %s: %s: %s", s->path, sql,
                                  err ? err : sqlite3_errmsg(s->db));
        sqlite3_free(err);
        return st;
    }
    return PS_OK;
}

static ps_status sq_open(const ep_storage_options *o, void **impl)
{
    PS__RETURN_IF(o->database_path == NULL || o->database_path[0] == '\0', PS_EINVAL,
                  "sqlite storage: database_path is required");
    sq *s = ps_calloc(1, sizeof *s);
    if (s == NULL)
        return PS__ENOMEM("sqlite storage");
    s->path = ps_strdup(o->database_path);
    if (s->path == NULL) {
        ps_free(s);
        return PS__ENOMEM("sqlite storage");
    }
    int rc = sqlite3_open_v2(
        s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    ps_status st = PS_OK;
    if (rc != SQLITE_OK)
        st = ps__seterr(PS_EIO, "sqlite %s: open: %s", s->path,
                        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    if (st == PS_OK)
        sqlite3_busy_timeout(s->db, 10000);
    if (st == PS_OK)
        st = sq_exec(s, "PRAGMA journal_mode=WAL");
    if (st == PS_OK)
        st = sq_exec(s, "PRAGMA synchronous=FULL");
    if (st == PS_OK)
        st = sq_exec(s,
                     "CREATE TABLE IF NOT EXISTS blobs(key TEXT PRIMARY KEY, value BLOB NOT NULL)");
    for (int i = 0; i < Q_N && st == PS_OK; i++)
        if (sqlite3_prepare_v2(s->db, queries[i], -1, &s->stmt[i], NULL) != SQLITE_OK)
            st = sq_err(s, queries[i]);
    if (st != PS_OK) {
        sq_free(s);
        return st;
    }
    pthread_mutex_init(&s->lock, NULL);
    *impl = s;
    return PS_OK;
}

static ps_status sq_set(void *impl, const char *key, size_t klen, ep_buf *value)
{
    sq *s = impl;
    ps_status st = PS_OK;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *q = s->stmt[Q_SET];
    /* SQLITE_STATIC: the bytes stay valid until the statement is reset. */
    if (sqlite3_bind_text64(q, 1, key, klen, SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK ||
        sqlite3_bind_blob64(q, 2, value->len ? (const void *)value->data : (const void *)"",
                            value->len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_DONE)
        st = sq_err(s, "set");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    pthread_mutex_unlock(&s->lock);
    ep_buf_unref(value);
    return st;
}

static ps_status sq_get(void *impl, const char *key, size_t klen, ep_buf **out)
{
    sq *s = impl;
    ps_status st = PS_OK;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *q = s->stmt[Q_GET];
    int rc = SQLITE_ERROR;
    if (sqlite3_bind_text64(q, 1, key, klen, SQLITE_STATIC, SQLITE_UTF8) == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(q, 0);
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        ep_buf *b = ep_buf_new(n);
        if (b == NULL) {
            st = ps__seterr(PS_ENOMEM, "out of memory reading %zu bytes from %s", n, s->path);
        } else {
            if (n > 0)
                memcpy(b->data, p, n);
            b->len = n;
            *out = b;
        }
    } else if (rc == SQLITE_DONE) {
        st = PS_NOT_FOUND;
    } else {
        st = sq_err(s, "get");
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    pthread_mutex_unlock(&s->lock);
    return st;
}

static ps_status sq_exists(void *impl, const char *key, size_t klen, bool *out)
{
    sq *s = impl;
    ps_status st = PS_OK;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *q = s->stmt[Q_EXISTS];
    if (sqlite3_bind_text64(q, 1, key, klen, SQLITE_STATIC, SQLITE_UTF8) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0) > 0;
    else
        st = sq_err(s, "exists");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    pthread_mutex_unlock(&s->lock);
    return st;
}

static ps_status sq_evict(void *impl, const char *key, size_t klen)
{
    sq *s = impl;
    ps_status st = PS_OK;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *q = s->stmt[Q_EVICT];
    if (sqlite3_bind_text64(q, 1, key, klen, SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_DONE)
        st = sq_err(s, "evict");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    pthread_mutex_unlock(&s->lock);
    return st;
}

static ps_status sq_clear(void *impl)
{
    sq *s = impl;
    ps_status st = PS_OK;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_step(s->stmt[Q_CLEAR]) != SQLITE_DONE)
        st = sq_err(s, "clear");
    sqlite3_reset(s->stmt[Q_CLEAR]);
    pthread_mutex_unlock(&s->lock);
    return st;
}

static void sq_stats(void *impl, ep_storage_stats *out)
{
    sq *s = impl;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_step(s->stmt[Q_COUNT]) == SQLITE_ROW)
        out->objects = (uint64_t)sqlite3_column_int64(s->stmt[Q_COUNT], 0);
    sqlite3_reset(s->stmt[Q_COUNT]);
    pthread_mutex_unlock(&s->lock);
}

static void sq_close(void *impl, bool cleanup)
{
    (void)cleanup; /* the database is the durable copy: never deleted */
    sq *s = impl;
    pthread_mutex_destroy(&s->lock);
    sq_free(s);
}

const ep_storage_ops ep_storage_sqlite_ops = {
    "sqlite", sq_open, sq_set, sq_get, sq_exists, sq_evict, sq_clear, sq_stats, sq_close,
};
