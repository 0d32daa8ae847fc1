/*
 * The endpoint connector ("endpoint"): objects in a ProxyStore endpoint,
 * reached over HTTP (libcurl) with upstream ProxyStore's REST API, so it
 * works against `proxystore-endpoint` and against upstream's Python endpoint.
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
 *   "url"            string or null: "http://host:port" of the endpoint
 *   "token"          string or null: bearer token sent as
 *                    "Authorization: Bearer <token>" (for endpoints started
 *                    with one; upstream sends none). It is part of config(),
 *                    so proxies carry it: treat tokens as secrets.
 *   "timeout_ms"     integer >= 0: whole-request timeout (0: none; default 0);
 *                    connecting gives up after 10 s in any case
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
 * get() sizes its buffer from Content-Length and receives straight into it.
 * put() sends the caller's bytes without copying them.
 *
 * Thread safety: thread-safe; libcurl easy handles are pooled per connector
 * (each used by one thread at a time) and keep their connections alive.
 */
#ifndef PROXYSTORE_CONNECTORS_ENDPOINT_H
#define PROXYSTORE_CONNECTORS_ENDPOINT_H

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The UUID of the endpoint the connector talks to, in canonical form.
 * Ownership: borrowed; valid until the connector is closed. NULL if `conn`
 * is not an endpoint connector.
 */
PS_API const char *ps_endpoint_connector_uuid(ps_connector *conn);

/** The base URL ("http://host:port") the connector talks to, or NULL. */
PS_API const char *ps_endpoint_connector_url(ps_connector *conn);

#ifdef __cplusplus
}
#endif
#endif
