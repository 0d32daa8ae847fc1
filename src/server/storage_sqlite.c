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
 * Thread safety: one writing connection and, for file databases, a few
 * reading connections (WAL lets readers run beside the writer), each opened
 * with SQLITE_OPEN_NOMUTEX and guarded by its own mutex. Gets and exists
 * checks go to the readers round-robin; a reader sees every set that
 * returned before its statement started. ":memory:" uses the writer only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <sqlite3.h>

#include "core/internal.h"
#include "storage_impl.h"

#define SQ_READERS 4

enum { Q_GET, Q_EXISTS, Q_SET, Q_EVICT, Q_CLEAR, Q_COUNT, Q_N };

static const char *const queries[Q_N] = {
    "SELECT value FROM blobs WHERE key = ?",
    "SELECT count(*) FROM blobs WHERE key = ?",
    "INSERT OR REPLACE INTO blobs (key, value) VALUES (?, ?)",
    "DELETE FROM blobs WHERE key = ?",
    "DELETE FROM blobs",
    "SELECT count(*) FROM blobs",
};

typedef struct sqconn {
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_N];
    int ready;
} sqconn;

typedef struct sq {
    sqconn writer;
    sqconn readers[SQ_READERS];
    int nreaders;
    atomic_uint next;
    char *path;
} sq;

static ps_status sq_err(const sq *s, const sqconn *c, const char *what)
{
    return ps__seterr(PS_EIO, "sqlite %s: %s: %s", s->path, what, sqlite3_errmsg(c->db));
}

static void conn_close(sqconn *c)
{
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close(c->db);
    if (c->ready)
        pthread_mutex_destroy(&c->lock);
    memset(c, 0, sizeof *c);
}

static void sq_free(sq *s)
{
    for (int i = 0; i < s->nreaders; i++)
        conn_close(&s->readers[i]);
    conn_close(&s->writer);
    ps_free(s->path);
    ps_free(s);
}

static ps_status sq_exec(const sq *s, sqconn *c, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        ps_status st = ps__seterr(PS_EIO, "sqlite %s: %s: %s", s->path, sql,
                                  err ? err : sqlite3_errmsg(c->db));
        sqlite3_free(err);
        return st;
    }
    return PS_OK;
}

/* Open one connection; the writer also sets the journal mode and the table up. */
static ps_status conn_open(const sq *s, sqconn *c, int writer)
{
    int rc = sqlite3_open_v2(
        s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return ps__seterr(PS_EIO, "sqlite %s: open: %s", s->path,
                          c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(c->db, 10000);
    if (writer) {
        PS__FORWARD(sq_exec(s, c, "PRAGMA journal_mode=WAL"));
        PS__FORWARD(sq_exec(s, c, "PRAGMA synchronous=FULL"));
        PS__FORWARD(sq_exec(
            s, c, "CREATE TABLE IF NOT EXISTS blobs(key TEXT PRIMARY KEY, value BLOB NOT NULL)"));
    }
    for (int i = 0; i < Q_N; i++)
        if (sqlite3_prepare_v2(c->db, queries[i], -1, &c->stmt[i], NULL) != SQLITE_OK)
            return sq_err(s, c, queries[i]);
    pthread_mutex_init(&c->lock, NULL);
    c->ready = 1;
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
    atomic_init(&s->next, 0);
    ps_status st = conn_open(s, &s->writer, 1);
    int in_memory = strcmp(s->path, ":memory:") == 0 || strstr(s->path, "mode=memory") != NULL;
    for (int i = 0; st == PS_OK && !in_memory && i < SQ_READERS; i++) {
        s->nreaders++;
        st = conn_open(s, &s->readers[i], 0);
    }
    if (st != PS_OK) {
        sq_free(s);
        return st;
    }
    *impl = s;
    return PS_OK;
}

/* A reader (or the writer when there are none), locked. */
static sqconn *reader(sq *s)
{
    sqconn *c = &s->writer;
    if (s->nreaders > 0)
        c = &s->readers[atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed) %
                        (unsigned)s->nreaders];
    pthread_mutex_lock(&c->lock);
    return c;
}

static void done(sqconn *c, sqlite3_stmt *q)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    pthread_mutex_unlock(&c->lock);
}

static ps_status sq_set(void *impl, const char *key, size_t klen, ep_buf *value)
{
    sq *s = impl;
    ps_status st = PS_OK;
    sqconn *c = &s->writer;
    pthread_mutex_lock(&c->lock);
    sqlite3_stmt *q = c->stmt[Q_SET];
    /* SQLITE_STATIC: the bytes stay valid until the statement is reset. */
    if (sqlite3_bind_text64(q, 1, key, klen, SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK ||
        sqlite3_bind_blob64(q, 2, value->len ? (const void *)value->data : (const void *)"",
                            value->len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_DONE)
        st = sq_err(s, c, "set");
    done(c, q);
    ep_buf_unref(value);
    return st;
}

static ps_status sq_get(void *impl, const char *key, size_t klen, ep_buf **out)
{
    sq *s = impl;
    ps_status st = PS_OK;
    sqconn *c = reader(s);
    sqlite3_stmt *q = c->stmt[Q_GET];
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
        st = sq_err(s, c, "get");
    }
    done(c, q);
    return st;
}

static ps_status sq_exists(void *impl, const char *key, size_t klen, bool *out)
{
    sq *s = impl;
    ps_status st = PS_OK;
    sqconn *c = reader(s);
    sqlite3_stmt *q = c->stmt[Q_EXISTS];
    if (sqlite3_bind_text64(q, 1, key, klen, SQLITE_STATIC, SQLITE_UTF8) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0) > 0;
    else
        st = sq_err(s, c, "exists");
    done(c, q);
    return st;
}

static ps_status sq_evict(void *impl, const char *key, size_t klen)
{
    sq *s = impl;
    ps_status st = PS_OK;
    sqconn *c = &s->writer;
    pthread_mutex_lock(&c->lock);
    sqlite3_stmt *q = c->stmt[Q_EVICT];
    if (sqlite3_bind_text64(q, 1, key, klen, SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_DONE)
        st = sq_err(s, c, "evict");
    done(c, q);
    return st;
}

static ps_status sq_clear(void *impl)
{
    sq *s = impl;
    ps_status st = PS_OK;
    sqconn *c = &s->writer;
    pthread_mutex_lock(&c->lock);
    if (sqlite3_step(c->stmt[Q_CLEAR]) != SQLITE_DONE)
        st = sq_err(s, c, "clear");
    done(c, c->stmt[Q_CLEAR]);
    return st;
}

static void sq_stats(void *impl, ep_storage_stats *out)
{
    sq *s = impl;
    sqconn *c = &s->writer;
    pthread_mutex_lock(&c->lock);
    if (sqlite3_step(c->stmt[Q_COUNT]) == SQLITE_ROW)
        out->objects = (uint64_t)sqlite3_column_int64(c->stmt[Q_COUNT], 0);
    done(c, c->stmt[Q_COUNT]);
}

static void sq_close(void *impl, bool cleanup)
{
    (void)cleanup; /* the database is the durable copy: never deleted */
    sq_free(impl);
}

const ep_storage_ops ep_storage_sqlite_ops = {
    "sqlite", sq_open, sq_set, sq_get, sq_exists, sq_evict, sq_clear, sq_stats, sq_close,
};
