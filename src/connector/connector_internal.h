/*
 * The connector instance, for the library's own routers (the multi
 * connector) that call an inner connector on a hot path. Not installed;
 * everyone else goes through the ps_connector_* dispatch in connector.c.
 */
#ifndef PS_CONNECTOR_INTERNAL_H
#define PS_CONNECTOR_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "core/internal.h"
#include "proxystore/sys/connector.h"

struct ps_connector {
    const ps_connector_ops *ops;
    void *priv;
    bool serialize; /* the type is not thread-safe: calls hold `lock` */
    pthread_mutex_t lock;
};

/* The slow half of ps__connector_put_routed: a type that needs the lock, or
 * a failed put (`st`, from an unlocked call already made) to clean up. */
ps_status ps__connector_put_routed_slow(ps_connector *conn, const void *data, size_t len,
                                        const ps_put_options *opts, ps_key **key, ps_status st);

/*
 * ps_connector_put() for a router whose own dispatch already checked the
 * arguments and cleared the error: `data` not NULL, `opts` checked, `key`
 * not NULL. Serializes as the type asks; a failure carries a message and
 * leaves `*key` NULL. A thread-safe type that succeeds costs one indirect
 * call.
 */
static inline ps_status ps__connector_put_routed(ps_connector *conn, const void *data, size_t len,
                                                 const ps_put_options *opts, ps_key **key)
{
    *key = NULL;
    if (conn->serialize)
        return ps__connector_put_routed_slow(conn, data, len, opts, key, PS_OK);
    ps_status st = conn->ops->put(conn->priv, data, len, opts, key);
    if (st == PS_OK)
        return PS_OK;
    return ps__connector_put_routed_slow(conn, data, len, opts, key, st);
}

#endif
