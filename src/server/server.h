/*
 * The endpoint's HTTP front on libmicrohttpd: upstream's REST API
 * (docs/protocol.md) over a storage, with forwarding to peer endpoints.
 */
#ifndef PS_ENDPOINT_SERVER_H
#define PS_ENDPOINT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "proxystore/status.h"
#include "storage.h"

/* A peer endpoint: requests naming `uuid` are forwarded to `url`. */
typedef struct ep_peer {
    char uuid[37]; /* canonical */
    char *url;     /* "http://host:port", no trailing slash */
} ep_peer;

typedef struct ep_server_options {
    const char *host;     /* address to bind; NULL: "127.0.0.1" */
    int port;             /* 0: any free port (see ep_server_port) */
    const char *uuid;     /* this endpoint's UUID, canonical */
    const char *name;     /* for logs */
    ep_storage *storage;  /* borrowed; must outlive the server */
    const char *token;    /* bearer token required on every route; NULL: none */
    const ep_peer *peers; /* borrowed array */
    size_t npeers;
    unsigned threads;         /* worker threads; 0: max(4, CPUs) */
    unsigned timeout;         /* idle seconds before a connection is closed; 0: 300 */
    unsigned max_connections; /* 0: 1024 */
    size_t connection_memory; /* bytes for one connection's headers; 0: 64 KiB */
} ep_server_options;

typedef struct ep_server ep_server;

/*
 * Start serving in background threads. Returns PS_EINVAL (bad options, an
 * address that does not resolve), PS_EIO (cannot bind: names host, port and
 * cause), PS_ENOMEM.
 * Ownership: stop with ep_server_stop(). Options are copied.
 */
ps_status ep_server_start(const ep_server_options *opts, ep_server **out);

/* The TCP port the server listens on. */
int ep_server_port(const ep_server *s);

/* Stop accepting, finish or drop the open connections, free. Accepts NULL. */
void ep_server_stop(ep_server *s);

#endif
