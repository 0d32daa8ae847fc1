/* Forwarding a request to a peer endpoint over HTTP (libcurl). */
#ifndef PS_ENDPOINT_FORWARD_H
#define PS_ENDPOINT_FORWARD_H

#include <stddef.h>

#include "proxystore/status.h"
#include "storage.h"

/* Header set on forwarded requests; a server never forwards such a request again. */
#define EP_FORWARDED_HEADER "X-ProxyStore-Forwarded"

typedef struct ep_fwd_reply {
    long status;            /* the peer's HTTP status */
    ep_buf *body;           /* the peer's body (never NULL on success) */
    char content_type[128]; /* the peer's Content-Type, "" if none */
} ep_fwd_reply;

/*
 * Send `POST` (post != 0) or `GET` `<base><path>?key=<key>&endpoint=<peer>`
 * to a peer, with `body` (may be NULL) as application/octet-stream, and the
 * `authorization` header value when not NULL, and EP_FORWARDED_HEADER. Proxies from the environment
 * are not used (as upstream). Each thread keeps one libcurl handle, so
 * connections to a peer are reused.
 * Returns PS_ECONN (or PS_ETIMEDOUT) with libcurl's message when no answer
 * came back; any HTTP answer is PS_OK with its status in `out`.
 * Ownership: release out->body with ep_buf_unref().
 */
ps_status ep_forward(const char *base, const char *path, int post, const char *key,
                     const char *peer_uuid, const char *authorization, const ep_buf *body,
                     unsigned timeout_s, ep_fwd_reply *out);

#endif
