/* Peer forwarding through the library's HTTP client: one client per peer,
 * made at the first request to it. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "forward.h"

#define FWD_POOL_MAX 16

struct ep_forwarder {
    pthread_mutex_t lock; /* guards the making of clients */
    const ep_peer *peers;
    size_t npeers;
    long long timeout_ms;
    ps__http_client **http; /* per peer, NULL until first used */
};

ps_status ep_forwarder_new(const ep_peer *peers, size_t npeers, unsigned timeout_s,
                           ep_forwarder **out)
{
    PS__RETURN_IF(out == NULL || (peers == NULL && npeers > 0), PS_EINVAL,
                  "forward: NULL argument");
    ep_forwarder *f = ps_calloc(1, sizeof *f);
    if (f == NULL || (f->http = ps_calloc(npeers ? npeers : 1, sizeof *f->http)) == NULL) {
        ps_free(f);
        return PS__ENOMEM("forwarder");
    }
    pthread_mutex_init(&f->lock, NULL);
    f->peers = peers;
    f->npeers = npeers;
    f->timeout_ms = (long long)(timeout_s ? timeout_s : 300) * 1000;
    *out = f;
    return PS_OK;
}

void ep_forwarder_free(ep_forwarder *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->npeers; i++)
        ps__http_client_free(f->http[i]);
    pthread_mutex_destroy(&f->lock);
    ps_free(f->http);
    ps_free(f);
}

/* The client of peer i, made now if it is the first request to it. */
static ps_status fwd_client(ep_forwarder *f, size_t i, ps__http_client **out)
{
    ps_status st = PS_OK;
    pthread_mutex_lock(&f->lock);
    if (f->http[i] == NULL) {
        ps__http_options o = {.timeout_ms = f->timeout_ms, .pool_max = FWD_POOL_MAX};
        st = ps__http_client_new(f->peers[i].url, &o, &f->http[i]);
    }
    *out = f->http[i];
    pthread_mutex_unlock(&f->lock);
    return st;
}

ps_status ep_forward(ep_forwarder *f, size_t i, const char *path, int post, const char *key,
                     const char *authorization, const ep_buf *body, ps__http_response *out)
{
    PS__RETURN_IF(f == NULL || i >= f->npeers || path == NULL || key == NULL || out == NULL,
                  PS_EINVAL, "forward: bad argument");
    memset(out, 0, sizeof *out);
    ps__http_client *http = NULL;
    PS__FORWARD(fwd_client(f, i, &http));
    char *target = NULL;
    PS__FORWARD(ps__http_target(&target, path, "key", key, "endpoint", f->peers[i].uuid,
                                (const char *)NULL));
    char headers[1100] = EP_FORWARDED_HEADER ": 1\r\n";
    if (authorization != NULL) {
        size_t n = strlen(headers);
        int w = snprintf(headers + n, sizeof headers - n, "Authorization: %s\r\n", authorization);
        if (w < 0 || (size_t)w >= sizeof headers - n) {
            ps_free(target);
            return ps__seterr(PS_EINVAL, "forward: Authorization header too long");
        }
    }
    const void *data = body && body->len ? body->data : NULL;
    size_t len = body ? body->len : 0;
    ps_status st =
        ps__http_request_hdr(http, post ? "POST" : "GET", target, headers, data, len, out);
    ps_free(target);
    return st;
}
