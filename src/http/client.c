/*
 * The HTTP client (see http.h): clients and their URLs, the connection pool
 * and fork handling shared by both transports, the spare body buffer, and
 * the request entry points that pick the transport (h1.c, the built-in
 * HTTP/1.1 client; curl.c, libcurl).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/client_impl.h"
#include "http/curl.h"
#include "core/internal.h"

/* ---- fork ----------------------------------------------------------------------- */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static atomic_int http_pid;

static pthread_mutex_t http_spare_lock = PTHREAD_MUTEX_INITIALIZER;

/* Every live client, guarded by http_spare_lock. */
static ps__http_client *http_all;

/* The spare's lock and every client's pool lock are held across fork()
 * (always in that order; no code holds a pool lock while taking the spare's),
 * so a child never inherits one of them locked; the child learns its pid. */
static void http_before_fork(void)
{
    pthread_mutex_lock(&http_spare_lock);
    for (ps__http_client *c = http_all; c != NULL; c = c->next)
        pthread_mutex_lock(&c->lock);
}

static void http_after_fork_parent(void)
{
    for (ps__http_client *c = http_all; c != NULL; c = c->next)
        pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&http_spare_lock);
}

static void http_after_fork_child(void)
{
    atomic_store_explicit(&http_pid, (int)getpid(), memory_order_relaxed);
    for (ps__http_client *c = http_all; c != NULL; c = c->next)
        pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&http_spare_lock);
}

#define HTTP_SPARE_MAX_DEFAULT ((size_t)256 << 20)
/* The largest body kept as the spare (below): PROXYSTORE_ENDPOINT_SPARE_MAX
 * bytes (0: keep none), read once by http_init. */
static size_t http_spare_max = HTTP_SPARE_MAX_DEFAULT;

static void http_drop_spare(void);

static void http_init(void)
{
    atomic_store_explicit(&http_pid, (int)getpid(), memory_order_relaxed);
    (void)pthread_atfork(http_before_fork, http_after_fork_parent, http_after_fork_child);
    ps__alloc_on_change(http_drop_spare);
    const char *v = getenv("PROXYSTORE_ENDPOINT_SPARE_MAX");
    if (v != NULL && *v != '\0') {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno == 0 && *end == '\0' && v[0] != '-')
            http_spare_max = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
        /* anything else: the default (documented) */
    }
}

pid_t ps__http_self(void)
{
    return (pid_t)atomic_load_explicit(&http_pid, memory_order_relaxed);
}

/* ---- the spare body buffer ------------------------------------------------------- */

#define HTTP_SPARE_MIN ((size_t)8 << 20)

static void *http_spare;      /* a released body, or NULL */
static size_t http_spare_cap; /* its size */
static size_t http_clients;   /* live clients: the spare is kept only while > 0 */

/* Free the spare now (before the allocator changes: it must be freed by the
 * allocator that made it). */
static void http_drop_spare(void)
{
    pthread_mutex_lock(&http_spare_lock);
    void *spare = http_spare;
    http_spare = NULL;
    pthread_mutex_unlock(&http_spare_lock);
    ps_free(spare);
}

/* A buffer for an `n`-byte body: the spare when it fits, else new memory. */
unsigned char *ps__http_body_alloc(size_t n, size_t *cap)
{
    if (n >= HTTP_SPARE_MIN - HTTP_SPARE_MIN / 8 && n <= http_spare_max) {
        void *b = NULL;
        pthread_mutex_lock(&http_spare_lock);
        if (http_spare != NULL && http_spare_cap >= n && http_spare_cap - n <= n / 8) {
            b = http_spare;
            *cap = http_spare_cap;
            http_spare = NULL;
        }
        pthread_mutex_unlock(&http_spare_lock);
        if (b != NULL)
            return b;
    }
    unsigned char *b = ps_malloc(n);
    if (b != NULL) {
        ps__advise_hugepages(b, n);
        *cap = n;
    }
    return b;
}

void ps__http_body_release(void *body, size_t cap)
{
    if (body == NULL)
        return;
    if (cap >= HTTP_SPARE_MIN && cap <= http_spare_max) {
        pthread_mutex_lock(&http_spare_lock);
        if (http_clients > 0) {
            void *old = http_spare;
            http_spare = body;
            http_spare_cap = cap;
            body = old;
        }
        pthread_mutex_unlock(&http_spare_lock);
    }
    ps_free(body);
}

/* ---- client --------------------------------------------------------------------- */

static char *http_strndup(const char *s, size_t n)
{
    char *d = ps_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* The parts of a URL, pointing into it. */
typedef struct http_url {
    bool tls;              /* https:// */
    const char *authority; /* host[:port] as written */
    size_t alen;
    const char *host; /* without brackets */
    size_t hlen;
    bool v6;
    unsigned long port;
    const char *path; /* the prefix, trailing slashes dropped */
    size_t pathlen;
} http_url;

/* Host and port of the authority u->authority[0, u->alen). */
static ps_status http_parse_authority(const char *url, http_url *u)
{
    const char *a = u->authority, *p = NULL;
    size_t alen = u->alen, plen = 0;
    PS__RETURN_IF(memchr(a, '@', alen) != NULL, PS_EINVAL,
                  "http client: URL \"%.200s\": user information is not supported", url);
    if (alen > 0 && a[0] == '[') {
        const char *rb = memchr(a, ']', alen);
        PS__RETURN_IF(rb == NULL, PS_EINVAL, "http client: URL \"%.200s\": unclosed '['", url);
        u->host = a + 1;
        u->hlen = (size_t)(rb - u->host);
        u->v6 = true;
        const char *rest = rb + 1;
        if (rest < a + alen) {
            PS__RETURN_IF(*rest != ':', PS_EINVAL,
                          "http client: URL \"%.200s\": junk after the IPv6 address", url);
            p = rest + 1;
            plen = (size_t)(a + alen - p);
        }
    } else {
        const char *colon = memchr(a, ':', alen);
        u->host = a;
        u->hlen = colon ? (size_t)(colon - a) : alen;
        if (colon) {
            p = colon + 1;
            plen = (size_t)(a + alen - p);
        }
    }
    PS__RETURN_IF(u->hlen == 0, PS_EINVAL, "http client: URL \"%.200s\" has no host", url);
    for (size_t i = 0; i < u->hlen; i++)
        PS__RETURN_IF(ps__http_bad_char((unsigned char)u->host[i]) || u->host[i] == '[' ||
                          u->host[i] == ']',
                      PS_EINVAL, "http client: URL \"%.200s\": bad character in the host", url);
    u->port = u->tls ? 443 : 80;
    if (p == NULL)
        return PS_OK;
    PS__RETURN_IF(plen == 0 || plen > 5, PS_EINVAL, "http client: URL \"%.200s\": bad port", url);
    u->port = 0;
    for (size_t i = 0; i < plen; i++) {
        PS__RETURN_IF(p[i] < '0' || p[i] > '9', PS_EINVAL, "http client: URL \"%.200s\": bad port",
                      url);
        u->port = u->port * 10 + (unsigned long)(p[i] - '0');
    }
    PS__RETURN_IF(u->port == 0 || u->port > 65535, PS_EINVAL,
                  "http client: URL \"%.200s\": port out of range", url);
    return PS_OK;
}

/* Split "http[s]://authority[/prefix]" (no query, no fragment). */
static ps_status http_parse_url(const char *url, http_url *u)
{
    memset(u, 0, sizeof *u);
    if (strncmp(url, "https://", 8) == 0)
        u->tls = true;
    else
        PS__RETURN_IF(strncmp(url, "http://", 7) != 0, PS_EINVAL,
                      "http client: \"%.200s\" is not an http:// or https:// URL", url);
    u->authority = url + (u->tls ? 8 : 7);
    u->alen = strcspn(u->authority, "/?#");
    PS__RETURN_IF(u->authority[u->alen] == '?' || u->authority[u->alen] == '#', PS_EINVAL,
                  "http client: URL \"%.200s\" may not have a query or fragment", url);
    PS__FORWARD(http_parse_authority(url, u));
    u->path = u->authority + u->alen;
    u->pathlen = strlen(u->path);
    while (u->pathlen > 0 && u->path[u->pathlen - 1] == '/')
        u->pathlen--;
    for (size_t i = 0; i < u->pathlen; i++)
        PS__RETURN_IF(ps__http_bad_char((unsigned char)u->path[i]) || u->path[i] == '?' ||
                          u->path[i] == '#',
                      PS_EINVAL,
                      "http client: URL \"%.200s\": bad character in the path (or a query or "
                      "fragment)",
                      url);
    return PS_OK;
}

/* libcurl: loaded, the base URL and the header lists built. */
static ps_status http_curl_setup(ps__http_client *c, const http_url *u)
{
    PS__FORWARD(ps__http_curl_ready());
    size_t n = 8 + strlen(c->authority) + strlen(c->prefix) + 1;
    c->base = ps_malloc(n);
    c->hdr_get = ps__http_curl_headers(c->auth, false, NULL);
    c->hdr_post = ps__http_curl_headers(c->auth, true, NULL);
    if (c->base == NULL || c->hdr_get == NULL || c->hdr_post == NULL)
        return PS__ENOMEM("http client");
    snprintf(c->base, n, "%s://%s%s", u->tls ? "https" : "http", c->authority, c->prefix);
    c->curl = true;
    return PS_OK;
}

/* Put a new client on the list of live clients (fork handling, spare). */
static void http_register(ps__http_client *c)
{
    pthread_mutex_lock(&http_spare_lock);
    http_clients++;
    c->next = http_all;
    if (http_all != NULL)
        http_all->prev = c;
    http_all = c;
    c->counted = true;
    pthread_mutex_unlock(&http_spare_lock);
}

ps_status ps__http_client_new(const char *url, const ps__http_options *opts, ps__http_client **out)
{
    static const ps__http_options defaults = {.pool_max = 16};
    const ps__http_options *o = opts ? opts : &defaults;
    PS__RETURN_IF(url == NULL || out == NULL, PS_EINVAL, "http client: NULL argument");
    PS__RETURN_IF(o->timeout_ms < 0, PS_EINVAL, "http client: negative timeout");
    PS__RETURN_IF(o->auth_header && strpbrk(o->auth_header, "\r\n"), PS_EINVAL,
                  "http client: header line contains CR or LF");
    PS__RETURN_IF(o->transport != PS__HTTP_AUTO && o->transport != PS__HTTP_CURL, PS_EINVAL,
                  "http client: unknown transport %d", (int)o->transport);
    pthread_once(&http_once, http_init);
    http_url u;
    PS__FORWARD(http_parse_url(url, &u));

    ps__http_client *c = ps_calloc(1, sizeof *c);
    if (c == NULL)
        return PS__ENOMEM("http client");
    pthread_mutex_init(&c->lock, NULL);
    c->timeout_ms = o->timeout_ms;
    c->pool_max = o->pool_max;
    snprintf(c->port, sizeof c->port, "%lu", u.port);
    c->host = http_strndup(u.host, u.hlen);
    c->authority = http_strndup(u.authority, u.alen);
    c->prefix = http_strndup(u.path, u.pathlen);
    c->origin = ps_malloc(u.hlen + 16);
    c->pool = ps_calloc(o->pool_max ? o->pool_max : 1, sizeof *c->pool);
    if (o->auth_header)
        c->auth = http_strndup(o->auth_header, strlen(o->auth_header));
    if (c->host == NULL || c->authority == NULL || c->prefix == NULL || c->origin == NULL ||
        c->pool == NULL || (o->auth_header && c->auth == NULL)) {
        ps__http_client_free(c);
        return PS__ENOMEM("http client");
    }
    snprintf(c->origin, u.hlen + 16, "%s%s%s:%lu", u.v6 ? "[" : "", c->host, u.v6 ? "]" : "",
             u.port);
    if (u.tls || o->transport == PS__HTTP_CURL) {
        ps_status st = http_curl_setup(c, &u);
        if (st != PS_OK) {
            ps__http_client_free(c);
            return st;
        }
    }
    http_register(c);
    *out = c;
    return PS_OK;
}

void ps__http_conn_close(ps__http_conn *k)
{
    if (k == NULL)
        return;
    if (k->curl != NULL)
        ps__http_curl_handle_free(k->curl, k->pid != ps__http_self());
    else
        close(k->fd); /* close(), never shutdown(): after fork the parent shares the socket */
    ps_free(k->buf);
    ps_free(k);
}

void ps__http_client_free(ps__http_client *c)
{
    if (c == NULL)
        return;
    if (c->counted) { /* off the list first: a fork no longer touches its lock */
        void *spare = NULL;
        pthread_mutex_lock(&http_spare_lock);
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            http_all = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        if (--http_clients == 0) {
            spare = http_spare;
            http_spare = NULL;
        }
        pthread_mutex_unlock(&http_spare_lock);
        ps_free(spare);
    }
    for (size_t i = 0; i < c->npool; i++)
        ps__http_conn_close(c->pool[i]);
    pthread_mutex_destroy(&c->lock);
    ps__http_curl_headers_free(c->hdr_get);
    ps__http_curl_headers_free(c->hdr_post);
    ps_free(c->base);
    ps_free(c->pool);
    ps_free(c->host);
    ps_free(c->authority);
    ps_free(c->origin);
    ps_free(c->prefix);
    ps_free(c->auth);
    ps_free(c);
}

const char *ps__http_client_origin(const ps__http_client *c)
{
    return c ? c->origin : NULL;
}

void ps__http_client_stats(ps__http_client *c, ps__http_stats *out)
{
    out->connects = atomic_load(&c->connects);
    out->reuses = atomic_load(&c->reuses);
    out->retries = atomic_load(&c->retries);
}

/* ---- connections ---------------------------------------------------------------- */

/* An idle connection of this process, or NULL. Sockets inherited across
 * fork() are closed (this process's copies only). */
ps__http_conn *ps__http_conn_take(ps__http_client *c)
{
    pid_t self = ps__http_self();
    ps__http_conn *k = NULL;
    pthread_mutex_lock(&c->lock);
    while (c->npool > 0) {
        k = c->pool[--c->npool];
        if (k->pid == self)
            break;
        ps__http_conn_close(k);
        k = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    return k;
}

void ps__http_conn_give(ps__http_client *c, ps__http_conn *k)
{
    pthread_mutex_lock(&c->lock);
    if (c->npool < c->pool_max && k->pid == ps__http_self()) {
        c->pool[c->npool++] = k;
        k = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    ps__http_conn_close(k);
}

/* ---- requests ------------------------------------------------------------------- */

/* A pooled libcurl handle, or a new one. */
static ps_status http_curl_take(ps__http_client *c, ps__http_conn **out)
{
    ps__http_conn *k = ps__http_conn_take(c);
    if (k != NULL) {
        atomic_fetch_add_explicit(&c->reuses, 1, memory_order_relaxed);
        *out = k;
        return PS_OK;
    }
    k = ps_calloc(1, sizeof *k);
    if (k == NULL)
        return PS__ENOMEM("http connection");
    k->fd = -1;
    k->pid = ps__http_self();
    k->curl = ps__http_curl_handle_new(c->timeout_ms);
    if (k->curl == NULL) {
        ps_free(k);
        return PS__ENOMEM("libcurl handle");
    }
    atomic_fetch_add_explicit(&c->connects, 1, memory_order_relaxed);
    *out = k;
    return PS_OK;
}

/* The libcurl transport. */
static ps_status http_curl_request(ps__http_client *c, const char *method, const char *target,
                                   const char *headers, const void *body, size_t len,
                                   ps__http_response *resp)
{
    bool post = strcmp(method, "POST") == 0;
    void *extra = NULL;
    if (headers != NULL && *headers != '\0') {
        extra = ps__http_curl_headers(c->auth, post, headers);
        if (extra == NULL)
            return PS__ENOMEM("request headers");
    }
    size_t n = strlen(c->base) + strlen(target) + 1;
    char *url = ps_malloc(n);
    ps__http_conn *k = NULL;
    ps_status st = url ? http_curl_take(c, &k) : PS__ENOMEM("request URL");
    if (st == PS_OK) {
        snprintf(url, n, "%s%s", c->base, target);
        void *hdrs = extra ? extra : post ? c->hdr_post : c->hdr_get;
        st = ps__http_curl_perform(k->curl, c->origin, url, method, hdrs, body, len, resp);
        ps__http_conn_give(c, k);
    }
    ps_free(url);
    ps__http_curl_headers_free(extra);
    return st;
}

/* "Name: value\r\n"..., each line a token, a colon, no bare CR or LF. */
static bool http_headers_ok(const char *h)
{
    while (*h != '\0') {
        size_t name = 0;
        while (ps__http_tchar((unsigned char)h[name]))
            name++;
        if (name == 0 || h[name] != ':')
            return false;
        const char *v = h + name + 1;
        size_t n = strcspn(v, "\r\n");
        if (v[n] != '\r' || v[n + 1] != '\n')
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
                return false;
        h = v + n + 2;
    }
    return true;
}

ps_status ps__http_request_hdr(ps__http_client *c, const char *method, const char *target,
                               const char *headers, const void *body, size_t len,
                               ps__http_response *resp)
{
    PS__RETURN_IF(c == NULL || method == NULL || target == NULL || resp == NULL ||
                      (body == NULL && len > 0),
                  PS_EINVAL, "http request: bad argument");
    memset(resp, 0, sizeof *resp);
    PS__RETURN_IF(target[0] != '/', PS_EINVAL, "http request: target must start with '/'");
    PS__RETURN_IF(method[0] == '\0', PS_EINVAL, "http request: empty method");
    for (const char *p = target; *p; p++)
        PS__RETURN_IF(ps__http_bad_char((unsigned char)*p), PS_EINVAL,
                      "http request: bad character in the target");
    for (const char *p = method; *p; p++)
        PS__RETURN_IF(!ps__http_tchar((unsigned char)*p), PS_EINVAL, "http request: bad method");
    PS__RETURN_IF(headers != NULL && !http_headers_ok(headers), PS_EINVAL,
                  "http request: header lines must be \"Name: value\\r\\n\"...");
    if (c->curl)
        return http_curl_request(c, method, target, headers, body, len, resp);
    return ps__http_h1_request(c, method, target, headers, body, len, resp);
}

ps_status ps__http_request(ps__http_client *c, const char *method, const char *target,
                           const void *body, size_t len, ps__http_response *resp)
{
    return ps__http_request_hdr(c, method, target, NULL, body, len, resp);
}

/* Write `v` percent-encoded as curl_easy_escape does; returns the end.
 * `o` has room for 3 * strlen(v). */
static char *http_escape_to(char *o, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    return o;
}

ps_status ps__http_target(char **out, const char *path, ...)
{
    PS__RETURN_IF(out == NULL || path == NULL, PS_EINVAL, "http target: NULL argument");
    size_t cap = strlen(path) + 1;
    va_list ap;
    va_start(ap, path);
    for (const char *name; (name = va_arg(ap, const char *)) != NULL;) {
        const char *value = va_arg(ap, const char *);
        if (value != NULL)
            cap += 2 + strlen(name) + 3 * strlen(value);
    }
    va_end(ap);
    char *t = ps_malloc(cap);
    if (t == NULL)
        return PS__ENOMEM("request target");
    char *o = ps__http_put(t, path);
    char sep = '?';
    va_start(ap, path);
    for (const char *name; (name = va_arg(ap, const char *)) != NULL;) {
        const char *value = va_arg(ap, const char *);
        if (value == NULL)
            continue;
        *o++ = sep;
        o = ps__http_put(o, name);
        *o++ = '=';
        o = http_escape_to(o, value);
        sep = '&';
    }
    va_end(ap);
    *o = '\0';
    *out = t;
    return PS_OK;
}
