/*
 * The Redis connector ("redis"): objects in a Redis server, through hiredis.
 *
 * Layout (the same as upstream ProxyStore's RedisConnector): every object is
 * one Redis string whose name is a bare UUID4 text ("3f2c...-...") and whose
 * value is the object's raw bytes. Objects written by Python ProxyStore are
 * read here and the other way round. Our key text is "redis:<uuid>".
 *
 * JSON options (ps_connector_open("redis", json, &conn)); see
 * docs/connectors-redis.md for the full reference:
 *
 *   "hostname"            string, default "localhost"       (upstream name)
 *   "port"                integer 1..65535, default 6379    (upstream name)
 *   "unix_socket"         string, a unix socket path (instead of hostname/port)
 *   "db"                  integer >= 0, default 0 (SELECT)
 *   "username"            string, ACL user for AUTH (Redis >= 6)
 *   "password"            string, AUTH password (written into config()!)
 *   "clear"               bool, default false: close() deletes what we wrote
 *   "connect_timeout_ms"  integer >= 0, default 10000 (0: no limit)
 *   "command_timeout_ms"  integer >= 0, default 60000 (0: no limit)
 *
 * Thread safety: an instance is thread-safe (PS_CONNECTOR_THREADSAFE); it
 * keeps a mutex-guarded pool of hiredis connections, one per concurrent
 * caller.
 *
 * Memory: hiredis 0.14 allocates with the C library's malloc and aborts the
 * process when that fails, so this connector is outside the library's
 * out-of-memory guarantee (ps_set_allocator does not reach hiredis).
 */
#ifndef PROXYSTORE_CONNECTORS_REDIS_H
#define PROXYSTORE_CONNECTORS_REDIS_H

#include <stdbool.h>

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_REDIS_OPTIONS_VERSION 1

/** Default command (socket read/write) timeout, in milliseconds. */
#define PS_REDIS_DEFAULT_COMMAND_TIMEOUT_MS 60000
/** Default connect timeout, in milliseconds. */
#define PS_REDIS_DEFAULT_CONNECT_TIMEOUT_MS 10000

/**
 * Options for ps_redis_connector_open(), the C form of the JSON options above.
 * Initialize with ps_redis_options_init(); strings are borrowed for the call.
 */
typedef struct ps_redis_options {
    unsigned version;        /**< PS_REDIS_OPTIONS_VERSION */
    const char *hostname;    /**< NULL: "localhost" (ignored with unix_socket) */
    int port;                /**< 0: 6379 */
    const char *unix_socket; /**< NULL: use TCP */
    int db;                  /**< database number (SELECT), >= 0 */
    const char *username;    /**< NULL: AUTH without a user name */
    const char *password;    /**< NULL: no AUTH */
    bool clear;              /**< close(PS_CLEAR_DEFAULT) deletes our objects */
    int connect_timeout_ms;  /**< >= 0; 0: no limit */
    int command_timeout_ms;  /**< >= 0; 0: no limit */
} ps_redis_options;

/** Fill `o` with the defaults (TCP localhost:6379, db 0, default timeouts).
 *  Accepts NULL. Ownership: `*o` is the caller's. */
PS_API void ps_redis_options_init(ps_redis_options *o);

/**
 * Open a Redis connector from options (NULL: the defaults). Connects once to
 * check the server, the password and the database, and reads
 * proto-max-bulk-len.
 * Returns PS_OK, PS_EINVAL (bad options, unknown options version), PS_ECONN
 * (cannot connect), PS_ETIMEDOUT, PS_EAUTH (password refused), PS_EPROTO
 * (SELECT refused).
 * Ownership: `opts` is copied; `*out` is new; close it with
 * ps_connector_close().
 */
PS_API ps_status ps_redis_connector_open(const ps_redis_options *opts, ps_connector **out);

#ifdef __cplusplus
}
#endif
#endif
