/*
 * The endpoint connector ("endpoint"): objects in a ProxyStore endpoint,
 * reached over HTTP with upstream ProxyStore's REST API, so it works against
 * `proxystore-endpoint` and against upstream's Python endpoint.
 *
 * Transport: http:// URLs use the library's own HTTP/1.1 client; https://
 * URLs use libcurl, loaded (dlopen "libcurl.so.4") only when a connector
 * first needs it. The environment variable PROXYSTORE_ENDPOINT_HTTP=curl
 * makes connectors opened afterwards use libcurl for http:// too ("builtin"
 * or unset: the built-in client; any other value: open fails with PS_EINVAL).
 *
 * Finding the endpoint (as upstream's EndpointConnector does): every
 * directory under "proxystore_dir" (default: ps_data_dir(), i.e.
 * $PROXYSTORE_HOME, $XDG_DATA_HOME/proxystore or ~/.local/share/proxystore)
 * that holds a config.toml is read, in sorted path order; the first whose
 * "uuid" is one of "endpoints", that has a "host", and whose
 * GET http://host:port/endpoint answers 200 with that uuid is used. With
 * "url" set, that endpoint is used directly (its /endpoint must answer; its
 * uuid must be in "endpoints" when the list is not empty).
 *
 * Options:
 *   "endpoints"      array of endpoint UUID strings (upstream's option);
 *                    required unless "url" is given. Parsed as upstream's
 *                    UUID(s, version=4): 32 hex digits with optional
 *                    hyphens, braces or urn:uuid: prefix; the version and
 *                    variant bits are forced to 4/RFC 4122 (upstream's quirk).
 *   "proxystore_dir" string or null: where to look for endpoint configs
 *   "url"            string or null: "http://host[:port][/prefix]" (or https://)
 *                    of the endpoint; host is a name, an IPv4 literal or a
 *                    bracketed IPv6 literal; every address it resolves to is
 *                    tried in turn
 *   "token"          string or null: bearer token sent as
 *                    "Authorization: Bearer <token>" (for endpoints started
 *                    with one; upstream sends none). It is part of config(),
 *                    so proxies carry it: treat tokens as secrets.
 *   "timeout_ms"     integer >= 0 (0: none; default 0). Built-in client
 *                    (http://): an inactivity timeout: a request fails with
 *                    PS_ETIMEDOUT when one wait for the server (connecting,
 *                    sending, or receiving the next bytes of the response)
 *                    lasts longer than timeout_ms, so a response that keeps
 *                    arriving may take longer in total. libcurl (https://,
 *                    or PROXYSTORE_ENDPOINT_HTTP=curl): a whole-request
 *                    timeout. Connecting gives up after 10 s in any case.
 *
 * Keys: "endpoint:<object_id>/<endpoint_uuid>", like upstream's
 * EndpointKey(object_id, endpoint_id); the object id is a canonical UUID
 * (upstream makes them with str(uuid4())). Operations go to the local endpoint
 * with endpoint=<endpoint_uuid>, so a key made at another site is fetched
 * through this site's endpoint (which forwards to its peers). Keys of any
 * endpoint are therefore accepted.
 *
 * Errors: no matching endpoint → PS_ECONN ("Failed to find an endpoint
 * configuration matching one of the provided endpoint UUIDs", with what was
 * tried); connection refused → PS_ECONN naming the URL; HTTP 401/403 →
 * PS_EAUTH; 404 on get → PS_NOT_FOUND; 413 → PS_ETOOBIG; other HTTP errors →
 * PS_EPROTO with "<Op> failed with error code <status>: <body>"; timeout →
 * PS_ETIMEDOUT.
 *
 * get() sizes its buffer from Content-Length and receives straight into it;
 * the bytes are given back with ps_bytes_free (the built-in client keeps the
 * last released 8-256 MiB buffer for the next get that fits, while any
 * endpoint connector is open). put() sends the caller's bytes without
 * copying them.
 *
 * Connections: kept alive and pooled per connector (at most 16 idle), each
 * used by one thread at a time. A request that fails on a reused connection
 * before any byte of the answer arrived (the server closed it while idle) is
 * sent once more on a new connection; every request of the API is
 * idempotent. After fork() a child never uses a connection of its parent: it
 * opens its own (fork while another thread is inside a request is not
 * supported, as for any mutex). No SIGPIPE is ever raised.
 *
 * Thread safety: thread-safe.
 */
#ifndef PROXYSTORE_CONNECTORS_ENDPOINT_H
#define PROXYSTORE_CONNECTORS_ENDPOINT_H

#include <stddef.h>

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_ENDPOINT_OPTIONS_VERSION 1

/** Options of ps_endpoint_connector_open(), the C form of the JSON options. */
typedef struct ps_endpoint_options {
    unsigned version;             /**< PS_ENDPOINT_OPTIONS_VERSION */
    const char *const *endpoints; /**< endpoint UUIDs (n_endpoints of them) */
    size_t n_endpoints;           /**< required > 0 unless `url` is set */
    const char *proxystore_dir;   /**< NULL: ps_data_dir() */
    const char *url;              /**< NULL: find the endpoint by its config */
    const char *token;            /**< NULL: no Authorization header */
    long timeout_ms;              /**< >= 0; 0 (default): none */
} ps_endpoint_options;

/** Fill `o` with the defaults (no endpoints, no url, no token, no timeout).
 *  Accepts NULL. Ownership: `*o` is the caller's. */
PS_API void ps_endpoint_options_init(ps_endpoint_options *o);

/**
 * Open an endpoint connector: finds the endpoint as described above.
 * Returns PS_EINVAL (NULL options, bad UUID or option, unknown options
 * version), PS_ECONN (no endpoint answers), PS_EAUTH, PS_ETIMEDOUT,
 * PS_EPROTO, PS_ENOMEM.
 * Ownership: `opts` is copied; `*out` is new, close it with
 * ps_connector_close().
 */
PS_API ps_status ps_endpoint_connector_open(const ps_endpoint_options *opts, ps_connector **out);

/**
 * The UUID of the endpoint the connector talks to, in canonical form.
 * Ownership: borrowed; valid until the connector is closed. NULL if `conn`
 * is not an endpoint connector.
 */
PS_API const char *ps_endpoint_connector_uuid(ps_connector *conn);

/** The base URL ("http://host:port") the connector talks to, or NULL. Ownership: borrowed; valid
 * until the connector is closed. */
PS_API const char *ps_endpoint_connector_url(ps_connector *conn);

#ifdef __cplusplus
}
#endif
#endif
