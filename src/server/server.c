/*
 * HTTP front of the endpoint on libmicrohttpd (internal epoll thread pool).
 *
 * Request flow (MHD calls the access handler several times per request):
 *  1. First call: /set is checked right away (authentication, route, the
 *     `key` and `endpoint` parameters in upstream's order and texts); an
 *     announced Content-Length over the storage's limit is refused before
 *     any of the body is read: answered 413 at once when the client waits
 *     for "100 Continue" or the body is huge, else drained and discarded and
 *     then answered 413 (so a client still sending gets the answer). Otherwise
 *     a buffer of exactly that size (or a growing one for chunked bodies) is
 *     prepared. Other requests are answered on the next call, once complete
 *     (answering in the first call makes libmicrohttpd close the connection).
 *  2. Body calls: bytes are appended to that buffer, which later becomes the
 *     stored blob itself (no second copy). A chunked body that grows past the
 *     limit is dropped and the rest of it discarded, then answered 413.
 *  3. Last call: store (or forward) and answer.
 * The request context is freed in the completion callback, also when the
 * client vanished mid-body or timed out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "eputil.h"
#include "forward.h"
#include "core/internal.h"
#include "server.h"

#define TEXT_TYPE  "text/html; charset=utf-8"
#define JSON_TYPE  "application/json"
#define BYTES_TYPE "application/octet-stream"

/* Beyond limit*2 + this many bytes, an oversized body is cut off. */
#define DISCARD_SLACK (64u << 20)

enum route { R_ROOT, R_ENDPOINT, R_EXISTS, R_GET, R_SET, R_EVICT, R_COUNT };

static const struct {
    const char *path;
    const char *method; /* GET or POST */
} routes[R_COUNT] = {
    [R_ROOT] = {"/", "GET"},   [R_ENDPOINT] = {"/endpoint", "GET"}, [R_EXISTS] = {"/exists", "GET"},
    [R_GET] = {"/get", "GET"}, [R_SET] = {"/set", "POST"},          [R_EVICT] = {"/evict", "POST"},
};

struct ep_server {
    struct MHD_Daemon *d;
    ep_storage *storage;
    char uuid[37];
    char *name;
    char *token_header; /* "Bearer <token>" or NULL */
    ep_peer *peers;
    size_t npeers;
    ep_forwarder *fwd; /* HTTP clients of the peers */
    unsigned timeout;
    int port;
    char deferred; /* its address marks requests answered on the next call */
};

typedef struct req {
    enum route route;
    char *key;
    const ep_peer *peer;
    char *auth; /* the Authorization header, passed on to peers */
    ep_buf *body;
    uint64_t received;
    uint64_t limit; /* 0: none */
    int too_big;
    ps_status fail; /* an error while receiving (ENOMEM) */
    char msg[256];
} req;

/* ---- responses ---------------------------------------------------------------- */

static enum MHD_Result reply_copy(struct MHD_Connection *c, unsigned status, const char *type,
                                  const void *data, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    if (type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply_copy(c, status, TEXT_TYPE, text, strlen(text));
}

static enum MHD_Result reply_html_error(struct MHD_Connection *c, unsigned status,
                                        const char *title, const char *detail, const char *allow)
{
    char page[1024];
    snprintf(page, sizeof page,
             "<!doctype html>\n<html lang=en>\n<title>%u %s</title>\n<h1>%s</h1>\n<p>%s</p>\n",
             status, title, title, detail);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(page), page, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, TEXT_TYPE);
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void unref_cb(void *cls)
{
    ep_buf_unref(cls);
}

/* Send a blob without copying it; the response holds a reference. */
static enum MHD_Result reply_buf(struct MHD_Connection *c, unsigned status, const char *type,
                                 ep_buf *b)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data, unref_cb, b);
    if (r == NULL) {
        ep_buf_unref(b);
        return MHD_NO;
    }
    if (type != NULL && type[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A storage failure: 413 for too big, 500 otherwise; the message is the body. */
static enum MHD_Result reply_failure(struct MHD_Connection *c, ps_status st, const char *what)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%s", ps_last_error()[0] ? ps_last_error() : ps_strerror(st));
    if (st == PS_ETOOBIG)
        return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    ep_log(EP_LOG_ERROR, "%s failed: %s", what, msg);
    return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
}

/* ---- forwarding ------------------------------------------------------------- */

/* A peer's response body, given to libmicrohttpd without a copy. */
typedef struct fwd_body {
    void *data;
    size_t cap;
} fwd_body;

static void fwd_body_free(void *cls)
{
    fwd_body *b = cls;
    ps__http_body_release(b->data, b->cap);
    ps_free(b);
}

static enum MHD_Result reply_peer(struct MHD_Connection *c, ps__http_response *pr)
{
    unsigned code = pr->status >= 100 && pr->status <= 599 ? (unsigned)pr->status : 502u;
    const char *type = pr->content_type[0] ? pr->content_type : NULL;
    fwd_body *b = pr->body ? ps_malloc(sizeof *b) : NULL;
    if (b == NULL) {
        enum MHD_Result ret = pr->body == NULL
                                  ? reply_copy(c, code, type, "", 0)
                                  : reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        ps__http_body_release(pr->body, pr->cap);
        return ret;
    }
    b->data = pr->body;
    b->cap = pr->cap;
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback_cls(pr->len, b->data, fwd_body_free, b);
    if (r == NULL) {
        fwd_body_free(b);
        return MHD_NO;
    }
    if (type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result forward(ep_server *s, struct MHD_Connection *c, req *r)
{
    ps__http_response pr;
    size_t i = (size_t)(r->peer - s->peers);
    ps_status st = ep_forward(s->fwd, i, routes[r->route].path, r->route >= R_SET, r->key, r->auth,
                              r->body, &pr);
    if (st != PS_OK) {
        char msg[1200];
        snprintf(msg, sizeof msg, "Request to peer %s failed: %s", r->peer->uuid, ps_last_error());
        ep_log(EP_LOG_WARNING, "%s", msg);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
    }
    ep_log(EP_LOG_DEBUG, "forwarded %s to peer %s: HTTP %d", routes[r->route].path, r->peer->uuid,
           pr.status);
    return reply_peer(c, &pr);
}

/* ---- local operations ---------------------------------------------------------- */

static enum MHD_Result do_local(ep_server *s, struct MHD_Connection *c, req *r)
{
    ps_status st;
    bool ex = false;
    ep_buf *b = NULL;
    switch (r->route) {
    case R_EXISTS:
        st = ep_storage_exists(s->storage, r->key, &ex);
        if (st != PS_OK)
            return reply_failure(c, st, "exists");
        return ex ? reply_copy(c, MHD_HTTP_OK, JSON_TYPE, "{\"exists\": true}", 16)
                  : reply_copy(c, MHD_HTTP_OK, JSON_TYPE, "{\"exists\": false}", 17);
    case R_GET:
        st = ep_storage_get(s->storage, r->key, &b);
        if (st == PS_NOT_FOUND)
            return reply_text(c, MHD_HTTP_NOT_FOUND, "no data associated with request key");
        if (st != PS_OK)
            return reply_failure(c, st, "get");
        return reply_buf(c, MHD_HTTP_OK, BYTES_TYPE, b);
    case R_EVICT:
        st = ep_storage_evict(s->storage, r->key);
        if (st != PS_OK)
            return reply_failure(c, st, "evict");
        return reply_text(c, MHD_HTTP_OK, "");
    case R_SET:
        b = r->body;
        r->body = NULL;
        st = ep_storage_set(s->storage, r->key, b);
        if (st != PS_OK)
            return reply_failure(c, st, "set");
        return reply_text(c, MHD_HTTP_OK, "");
    default:
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "unexpected route");
    }
}

/* ---- the access handler ------------------------------------------------------------ */

/* Constant-time comparison of the Authorization header with the token. */
static int auth_ok(const ep_server *s, const char *got)
{
    if (s->token_header == NULL)
        return 1;
    if (got == NULL)
        return 0;
    size_t a = strlen(s->token_header), b = strlen(got);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < a; i++)
        diff |= (unsigned char)(s->token_header[i] ^ (i < b ? got[i] : 0));
    return diff == 0;
}

static const char *get_arg(struct MHD_Connection *c, const char *name, size_t *len)
{
    const char *v = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, &n) !=
        MHD_YES)
        return NULL;
    if (v == NULL) { /* "?key" without '=' is the empty string, as in Python */
        v = "";
        n = 0;
    }
    *len = n;
    return v;
}

/* First call for a data route: parameters, then either answer or prepare. */
static enum MHD_Result begin_data(ep_server *s, struct MHD_Connection *c, enum route rt,
                                  void **req_cls)
{
    size_t klen = 0, elen = 0;
    const char *key = get_arg(c, "key", &klen);
    if (key == NULL)
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "request missing key");
    char msg[EP_MAX_KEY_LEN + 128];
    if (klen > EP_MAX_KEY_LEN) {
        snprintf(msg, sizeof msg, "key is %zu bytes long; the limit is %d bytes", klen,
                 EP_MAX_KEY_LEN);
        return reply_text(c, MHD_HTTP_BAD_REQUEST, msg);
    }
    if (memchr(key, '\0', klen) != NULL)
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "key contains a NUL character");
    const char *ep = get_arg(c, "endpoint", &elen);
    const ep_peer *peer = NULL;
    if (ep != NULL) {
        char u[37];
        if (!ep_parse_uuid4(ep, elen, u)) {
            size_t shown = elen > 512 ? 512 : elen;
            snprintf(msg, sizeof msg, "%.*s is not a valid UUID4", (int)shown, ep);
            return reply_copy(c, MHD_HTTP_BAD_REQUEST, TEXT_TYPE, msg, strlen(msg));
        }
        /* A request that was already forwarded once is served here: a peer
         * table pointing back at us must not make requests go round. */
        int hop = MHD_lookup_connection_value(c, MHD_HEADER_KIND, EP_FORWARDED_HEADER) != NULL;
        if (strcmp(u, s->uuid) != 0 && !hop)
            for (size_t i = 0; i < s->npeers; i++)
                if (strcmp(u, s->peers[i].uuid) == 0)
                    peer = &s->peers[i];
    }
    req *r = ps_calloc(1, sizeof *r);
    if (r == NULL || (r->key = ps_malloc(klen + 1)) == NULL) {
        ps_free(r);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    memcpy(r->key, key, klen);
    r->key[klen] = '\0';
    r->route = rt;
    r->peer = peer;
    if (peer != NULL) {
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (a != NULL && (r->auth = ps_strdup(a)) == NULL) {
            ps_free(r->key);
            ps_free(r);
            return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        }
    }
    *req_cls = r; /* freed by the completion callback from here on */
    if (rt != R_SET)
        return peer ? forward(s, c, r) : do_local(s, c, r);

    /* /set: check an announced length before reading the body. */
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    uint64_t announced = 0;
    int has_cl = 0;
    if (cl != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && *end == '\0') {
            announced = v;
            has_cl = 1;
        }
    }
    if (has_cl && ep_storage_check_size(s->storage, announced) != PS_OK) {
        snprintf(r->msg, sizeof r->msg, "%s", ps_last_error());
        const char *ex = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
        uint64_t lim = ep_storage_limit(s->storage);
        if ((ex != NULL && strcasecmp(ex, "100-continue") == 0) ||
            announced > lim * 2 + DISCARD_SLACK) {
            /* The client waits for 100 Continue, or the body is not worth reading. */
            ep_log(EP_LOG_INFO, "refused /set of %llu bytes before reading it: %s",
                   (unsigned long long)announced, r->msg);
            return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, r->msg);
        }
        /* Decided now, answered once the body is drained (a reply cut short by a
         * reset connection would not reach a client that is still sending). */
        r->too_big = 1;
        r->limit = lim;
        return MHD_YES;
    }
    r->body = ep_buf_new(has_cl ? (size_t)announced : 0);
    if (r->body == NULL)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return MHD_YES;
}

static enum MHD_Result receive(ep_server *s, req *r, const char *data, size_t n)
{
    r->received += n;
    if (r->too_big || r->fail != PS_OK) {
        /* Discard the rest, but not forever. */
        return r->received > r->limit * 2 + DISCARD_SLACK ? MHD_NO : MHD_YES;
    }
    if (ep_storage_check_size(s->storage, r->received) != PS_OK) {
        snprintf(r->msg, sizeof r->msg, "%s", ps_last_error());
        r->too_big = 1;
        r->limit = ep_storage_limit(s->storage);
        ep_buf_unref(r->body);
        r->body = NULL;
        return MHD_YES;
    }
    ps_status st = ep_buf_append(&r->body, data, n);
    if (st != PS_OK) {
        r->fail = st;
        snprintf(r->msg, sizeof r->msg, "%s", ps_last_error());
        ep_buf_unref(r->body);
        r->body = NULL;
    }
    return MHD_YES;
}

static enum MHD_Result finish_set(ep_server *s, struct MHD_Connection *c, req *r)
{
    if (r->too_big) {
        if (ep_storage_check_size(s->storage, r->received) != PS_OK) /* the final size */
            snprintf(r->msg, sizeof r->msg, "%s", ps_last_error());
        ep_log(EP_LOG_INFO, "refused /set of %llu bytes: %s", (unsigned long long)r->received,
               r->msg);
        return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, r->msg);
    }
    if (r->fail != PS_OK) {
        ep_log(EP_LOG_ERROR, "/set: %s", r->msg);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, r->msg);
    }
    if (r->body == NULL || r->body->len == 0)
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "received empty payload");
    return r->peer ? forward(s, c, r) : do_local(s, c, r);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls)
{
    (void)version;
    ep_server *s = cls;
    req *r = *req_cls;
    if (r == NULL && !(strcmp(method, "POST") == 0 && strcmp(url, "/set") == 0)) {
        /* Answer on the next call, once the request is complete: a response
         * queued now would make libmicrohttpd close the connection. */
        *req_cls = &s->deferred;
        return MHD_YES;
    }
    if (r == (req *)&s->deferred) {
        if (*upload_data_size > 0) { /* a body nobody asked for: dropped */
            *upload_data_size = 0;
            return MHD_YES;
        }
        *req_cls = NULL;
        r = NULL;
    }
    if (r != NULL) {
        if (*upload_data_size > 0) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            return receive(s, r, upload_data, n);
        }
        return finish_set(s, c, r);
    }

    if (!auth_ok(s, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"))) {
        static const char denied[] = "missing or invalid bearer token";
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            sizeof denied - 1, (void *)(uintptr_t)denied, MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, TEXT_TYPE);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, resp);
        MHD_destroy_response(resp);
        ep_log(EP_LOG_WARNING, "refused %s %s: missing or invalid bearer token", method, url);
        return ret;
    }
    int rt = -1;
    for (int i = 0; i < R_COUNT; i++)
        if (strcmp(url, routes[i].path) == 0)
            rt = i;
    if (rt < 0)
        return reply_html_error(c, MHD_HTTP_NOT_FOUND, "Not Found",
                                "The requested URL was not found on the server. If you entered "
                                "the URL manually please check your spelling and try again.",
                                NULL);
    int is_get = strcmp(routes[rt].method, "GET") == 0;
    const char *allow = is_get ? "GET, HEAD, OPTIONS" : "OPTIONS, POST";
    if (strcmp(method, "OPTIONS") == 0) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, TEXT_TYPE);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    int ok = is_get ? (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
                    : strcmp(method, "POST") == 0;
    if (!ok)
        return reply_html_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                                "The method is not allowed for the requested URL.", allow);
    ep_log(EP_LOG_DEBUG, "%s %s", method, url);
    if (rt == R_ROOT)
        return reply_text(c, MHD_HTTP_OK, "");
    if (rt == R_ENDPOINT) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"uuid\": \"%s\"}", s->uuid);
        return reply_copy(c, MHD_HTTP_OK, JSON_TYPE, body, (size_t)n);
    }
    return begin_data(s, c, (enum route)rt, req_cls);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    req *r = *req_cls;
    if (r == NULL || r == (req *)&((ep_server *)cls)->deferred)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        ep_log(EP_LOG_DEBUG, "request for key of %zu bytes ended early (code %d) after %llu bytes",
               strlen(r->key), (int)toe, (unsigned long long)r->received);
    ep_buf_unref(r->body);
    ps_free(r->key);
    ps_free(r->auth);
    ps_free(r);
    *req_cls = NULL;
}

/* Query strings as Python decodes them: '+' is a space, %XX a byte. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *str)
{
    (void)cls;
    (void)c;
    char *w = str;
    for (const char *p = str; *p; p++) {
        if (*p == '+') {
            *w++ = ' ';
        } else if (*p == '%' && p[1] && p[2]) {
            int hi = p[1], lo = p[2];
            int h = (hi >= '0' && hi <= '9')   ? hi - '0'
                    : (hi >= 'a' && hi <= 'f') ? hi - 'a' + 10
                    : (hi >= 'A' && hi <= 'F') ? hi - 'A' + 10
                                               : -1;
            int l = (lo >= '0' && lo <= '9')   ? lo - '0'
                    : (lo >= 'a' && lo <= 'f') ? lo - 'a' + 10
                    : (lo >= 'A' && lo <= 'F') ? lo - 'A' + 10
                                               : -1;
            if (h < 0 || l < 0) {
                *w++ = *p;
                continue;
            }
            *w++ = (char)(h * 16 + l);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - str);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    ep_log(EP_LOG_DEBUG, "libmicrohttpd: %s", msg);
}

/* ---- start and stop --------------------------------------------------------------- */

static void server_free(ep_server *s)
{
    if (s == NULL)
        return;
    ep_forwarder_free(s->fwd);
    for (size_t i = 0; i < s->npeers; i++)
        ps_free(s->peers[i].url);
    ps_free(s->peers);
    ps_free(s->name);
    ps_free(s->token_header);
    ps_free(s);
}

/* The address to listen on: `host` (NULL: 127.0.0.1) and `port`. */
static ps_status server_address(const char *host, int port, struct sockaddr_storage *addr, bool *v6)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0)
        return ps__seterr(PS_EINVAL, "server: cannot resolve host \"%s\": %s", host,
                          gai_strerror(gai));
    memset(addr, 0, sizeof *addr);
    memcpy(addr, ai->ai_addr, ai->ai_addrlen);
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return PS_OK;
}

/* Copy the peer table (URLs without trailing slashes) and make their forwarder. */
static ps_status server_copy_peers(ep_server *s, const ep_server_options *o)
{
    if (o->npeers > 0 && (s->peers = ps_calloc(o->npeers, sizeof *s->peers)) == NULL)
        return PS__ENOMEM("server");
    for (size_t i = 0; i < o->npeers; i++) {
        PS__RETURN_IF(!ps_uuid_is_canonical(o->peers[i].uuid) || o->peers[i].url == NULL ||
                          strncmp(o->peers[i].url, "http", 4) != 0,
                      PS_EINVAL,
                      "server: peer %zu: need a canonical uuid and an http:// or https:// URL", i);
        memcpy(s->peers[i].uuid, o->peers[i].uuid, 37);
        s->peers[i].url = ps_strdup(o->peers[i].url);
        s->npeers++;
        if (s->peers[i].url == NULL)
            return PS__ENOMEM("server");
        size_t ul = strlen(s->peers[i].url);
        while (ul > 0 && s->peers[i].url[ul - 1] == '/')
            s->peers[i].url[--ul] = '\0';
    }
    if (ep_forwarder_new(s->peers, s->npeers, s->timeout, &s->fwd) != PS_OK)
        return PS__ENOMEM("server");
    return PS_OK;
}

/* A server without its daemon: options copied. */
static ps_status server_new(const ep_server_options *o, ep_server **out)
{
    ep_server *s = ps_calloc(1, sizeof *s);
    if (s == NULL)
        return PS__ENOMEM("server");
    s->storage = o->storage;
    memcpy(s->uuid, o->uuid, 37);
    s->timeout = o->timeout ? o->timeout : 300;
    s->name = ps_strdup(o->name ? o->name : "endpoint");
    ps_status st = s->name ? PS_OK : PS__ENOMEM("server");
    if (st == PS_OK && o->token != NULL) {
        size_t n = strlen(o->token) + 8;
        if ((s->token_header = ps_malloc(n)) == NULL)
            st = PS__ENOMEM("server");
        else
            snprintf(s->token_header, n, "Bearer %s", o->token);
    }
    if (st == PS_OK)
        st = server_copy_peers(s, o);
    if (st != PS_OK) {
        server_free(s);
        return st;
    }
    *out = s;
    return PS_OK;
}

/* Start libmicrohttpd's daemon for `s` on `addr`. */
static ps_status server_listen(ep_server *s, const ep_server_options *o,
                               const struct sockaddr_storage *addr, bool v6, const char *host)
{
    unsigned threads = o->threads;
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 4 ? (unsigned)(cpus > 64 ? 64 : cpus) : 4;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_TIMEOUT, s->timeout, MHD_OPTION_CONNECTION_LIMIT,
        o->max_connections ? o->max_connections : 1024u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        o->connection_memory ? o->connection_memory : (size_t)(64u << 10),
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
        MHD_OPTION_END);
    if (s->d == NULL) {
        int e = errno;
        return ps__seterr(PS_EIO, "cannot serve on %s port %d: %s", host, o->port,
                          e ? strerror(e) : "libmicrohttpd failed to start");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    return PS_OK;
}

ps_status ep_server_start(const ep_server_options *o, ep_server **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "server: out is NULL");
    *out = NULL;
    PS__RETURN_IF(o == NULL || o->storage == NULL || o->uuid == NULL, PS_EINVAL,
                  "server: options, storage and uuid are required");
    PS__RETURN_IF(!ps_uuid_is_canonical(o->uuid), PS_EINVAL,
                  "server: uuid \"%s\" is not a canonical UUID", o->uuid);
    PS__RETURN_IF(o->port < 0 || o->port > 65535, PS_EINVAL, "server: port %d out of range",
                  o->port);
    PS__RETURN_IF(o->token != NULL && (o->token[0] == '\0' || strlen(o->token) > 512 ||
                                       strpbrk(o->token, "\r\n") != NULL),
                  PS_EINVAL, "server: the token must be 1 to 512 characters on one line");
    const char *host = o->host ? o->host : "127.0.0.1";
    struct sockaddr_storage addr;
    bool v6 = false;
    PS__FORWARD(server_address(host, o->port, &addr, &v6));
    ep_server *s = NULL;
    PS__FORWARD(server_new(o, &s));
    ps_status st = server_listen(s, o, &addr, v6, host);
    if (st != PS_OK) {
        server_free(s);
        return st;
    }
    *out = s;
    return PS_OK;
}

int ep_server_port(const ep_server *s)
{
    return s ? s->port : -1;
}

void ep_server_stop(ep_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->d);
    server_free(s);
}
