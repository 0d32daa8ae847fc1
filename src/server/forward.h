/* Forwarding a request to a peer endpoint, through the library's HTTP client
 * (src/http/). */
#ifndef PS_ENDPOINT_FORWARD_H
#define PS_ENDPOINT_FORWARD_H

#include <stddef.h>

#include "http/http.h"
#include "proxystore/status.h"
#include "server.h"
#include "storage.h"

/* Header set on forwarded requests; a server never forwards such a request again. */
#define EP_FORWARDED_HEADER "X-ProxyStore-Forwarded"

/* One HTTP client per peer, each made at the first request to that peer. */
typedef struct ep_forwarder ep_forwarder;

/*
 * A forwarder for `npeers` peers (borrowed: they must outlive it) with
 * `timeout_s` as the clients' timeout (0: 300 s). No connection is made and
 * libcurl is not loaded here. PS_ENOMEM.
 * Ownership: *out is freed with ep_forwarder_free.
 */
ps_status ep_forwarder_new(const ep_peer *peers, size_t npeers, unsigned timeout_s,
                           ep_forwarder **out);

/* Free the clients and the forwarder (NULL is fine). No request may be running. */
void ep_forwarder_free(ep_forwarder *f);

/*
 * Send `POST` (post != 0) or `GET` `<url of peer i><path>?key=<key>&endpoint=<uuid of peer i>`
 * to peer `i`, with `body` (may be NULL) as application/octet-stream, the
 * `authorization` header value when not NULL, and EP_FORWARDED_HEADER.
 * Proxies from the environment are not used (as upstream). Connections to a
 * peer are pooled and reused (http:// through the built-in client, https://
 * through libcurl loaded at the first such request).
 * Returns PS_ECONN, PS_ETIMEDOUT, PS_EPROTO, ... with the client's message
 * when no answer came back; any HTTP answer is PS_OK with its status, body
 * and Content-Type in `out`.
 * Ownership: release out->body with ps__http_body_release(out->body, out->cap).
 */
ps_status ep_forward(ep_forwarder *f, size_t i, const char *path, int post, const char *key,
                     const char *authorization, const ep_buf *body, ps__http_response *out);

#endif
