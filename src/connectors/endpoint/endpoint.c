/*
 * The endpoint connector: upstream ProxyStore's EndpointConnector over HTTP.
 * See include/proxystore/connectors/endpoint.h for the contract.
 *
 * Requests (upstream's REST API, docs/protocol.md):
 *   GET  /endpoint                      -> {"uuid": "..."}
 *   GET  /get?key=K&endpoint=E          -> 200 bytes | 404
 *   GET  /exists?key=K&endpoint=E       -> {"exists": bool}
 *   POST /set?key=K&endpoint=E  (body)  -> 200
 *   POST /evict?key=K&endpoint=E        -> 200
 *
 * http:// URLs go through the built-in HTTP/1.1 client (endpoint/http.c:
 * pooled keep-alive connections, one sendmsg and usually one recv per
 * request). https:// URLs, and every URL when PROXYSTORE_ENDPOINT_HTTP=curl,
 * go through libcurl: easy handles are kept in a small per-connector pool
 * guarded by a mutex; a handle is used by one thread at a time and keeps its
 * connection alive between requests.
 *
 * libcurl is loaded at run time (dlopen "libcurl.so.4") the first time a
 * connector needs it, not linked: its dependency chain is some thirty
 * shared libraries, and loading them at every exec of every program that
 * links libproxystore costs tens of milliseconds that a process resolving a
 * file or Redis proxy should not pay. Only <curl/curl.h>'s types and
 * constants are used at compile time.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "http/http.h"
#include "connector/builtin.h"
#include "core/internal.h"
#include "proxystore/connectors/endpoint.h"
#include "proxystore/sys/connector.h"
#include "core/toml.h"

#define EP_POOL_MAX           16
#define EP_MAX_ENDPOINTS      64
#define EP_MAX_OBJECT_ID      1024
#define EP_CONNECT_TIMEOUT_MS 10000L
#define EP_BODY_SNIPPET       200
/* libcurl's receive buffer: its largest (CURL_MAX_READ_SIZE). Large bodies
 * then arrive in few recv calls and write callbacks (the default is 16 KiB). */
#define EP_RECV_BUFFER (512L * 1024L)

typedef struct ep_conn {
    char uuid[PS_UUID_STR_LEN + 1]; /* the endpoint we talk to */
    char *url;                      /* http://host:port, no trailing slash */
    /* configuration, as given (normalized) */
    char (*endpoints)[PS_UUID_STR_LEN + 1];
    size_t n_endpoints;
    char *proxystore_dir; /* NULL: default */
    char *explicit_url;   /* NULL: discovered */
    char *token;
    long long timeout_ms;
    char *auth_header;     /* "Authorization: Bearer ..." or NULL */
    bool force_curl;       /* PROXYSTORE_ENDPOINT_HTTP=curl */
    ps__http_client *http; /* the built-in client for an http:// url, else NULL */
    /* libcurl (https://, or forced): request headers, built once: GET
     * requests and POST requests */
    struct curl_slist *hdr_get, *hdr_post;
    pthread_mutex_t lock;
    CURL *pool[EP_POOL_MAX];
    size_t npool;
} ep_conn;

/* ---- libcurl, loaded at run time ------------------------------------------------ */

#define EP_LIBCURL "libcurl.so.4"

static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *h);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} ep_curl;

static pthread_once_t ep_curl_once = PTHREAD_ONCE_INIT;
static char ep_curl_error[512]; /* empty when libcurl is usable */

#define EP_SYM(field, name)                                                                        \
    do {                                                                                           \
        *(void **)(&ep_curl.field) = dlsym(lib, name);                                             \
        if (ep_curl.field == NULL) {                                                               \
            snprintf(ep_curl_error, sizeof ep_curl_error, "%s: missing symbol %s", EP_LIBCURL,     \
                     name);                                                                        \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void ep_curl_load(void)
{
    void *lib = dlopen(EP_LIBCURL, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *e = dlerror();
        snprintf(ep_curl_error, sizeof ep_curl_error, "%s", e ? e : EP_LIBCURL ": dlopen failed");
        return;
    }
    EP_SYM(global_init, "curl_global_init");
    EP_SYM(easy_init, "curl_easy_init");
    EP_SYM(easy_cleanup, "curl_easy_cleanup");
    EP_SYM(easy_setopt, "curl_easy_setopt");
    EP_SYM(easy_perform, "curl_easy_perform");
    EP_SYM(easy_getinfo, "curl_easy_getinfo");
    EP_SYM(easy_strerror, "curl_easy_strerror");
    EP_SYM(slist_append, "curl_slist_append");
    EP_SYM(slist_free_all, "curl_slist_free_all");
    CURLcode rc = ep_curl.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        snprintf(ep_curl_error, sizeof ep_curl_error, "curl_global_init: %s",
                 ep_curl.easy_strerror(rc));
    /* The library stays loaded for the life of the process. */
}

/* Load libcurl once; PS_EUNAVAILABLE with dlerror's text when it cannot be. */
static ps_status ep_curl_ready(void)
{
    pthread_once(&ep_curl_once, ep_curl_load);
    PS__RETURN_IF(ep_curl_error[0] != '\0', PS_EUNAVAILABLE,
                  "endpoint connector: libcurl unavailable: %s", ep_curl_error);
    return PS_OK;
}

static size_t ep_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);

/* A handle from the pool, or a new one with the options every request shares
 * (set once: ep_perform changes only the per-request ones, no reset). */
static CURL *ep_handle_take(ep_conn *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->npool > 0)
        h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->lock);
    if (h != NULL)
        return h;
    h = ep_curl.easy_init();
    if (h == NULL)
        return NULL;
    ep_curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    ep_curl.easy_setopt(h, CURLOPT_PROXY, ""); /* as upstream: never through a proxy */
    ep_curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, EP_CONNECT_TIMEOUT_MS);
    ep_curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    ep_curl.easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    ep_curl.easy_setopt(h, CURLOPT_BUFFERSIZE, EP_RECV_BUFFER);
    ep_curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, ep_write_cb);
    return h;
}

static void ep_handle_give(ep_conn *c, CURL *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    if (c->npool < EP_POOL_MAX) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (h)
        ep_curl.easy_cleanup(h);
}

/* ---- UUIDs as upstream's UUID(s, version=4) ------------------------------------ */

/*
 * Parse like Python's uuid.UUID(s, version=4): strip "urn:uuid:" and braces,
 * drop hyphens, require 32 hex digits, then force version 4 and the RFC 4122
 * variant. Writes the canonical lower-case form.
 */
static ps_status ep_parse_uuid(const char *s, char out[PS_UUID_STR_LEN + 1])
{
    PS__RETURN_IF(s == NULL, PS_EINVAL, "endpoint connector: UUID is NULL");
    const char *p = s;
    if (strncmp(p, "urn:", 4) == 0)
        p += 4;
    if (strncmp(p, "uuid:", 5) == 0)
        p += 5;
    size_t n = strlen(p);
    while (n > 0 && (*p == '{'))
        p++, n--;
    while (n > 0 && p[n - 1] == '}')
        n--;
    unsigned char b[16];
    int nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '-')
            continue;
        int v = ps__hex_digit(p[i]);
        PS__RETURN_IF(v < 0 || nd >= 32, PS_EINVAL, "\"%.64s\" is not a valid UUID4", s);
        if (nd % 2 == 0)
            b[nd / 2] = (unsigned char)(v << 4);
        else
            b[nd / 2] |= (unsigned char)v;
        nd++;
    }
    PS__RETURN_IF(nd != 32, PS_EINVAL, "\"%.64s\" is not a valid UUID4", s);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
    return PS_OK;
}

/* ---- requests ------------------------------------------------------------------ */

typedef struct ep_buf {
    unsigned char *data;
    size_t len, cap;
    bool sized;   /* capacity taken from Content-Length */
    CURL *handle; /* to query Content-Length on the first write */
    bool oom;
} ep_buf;

static size_t ep_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    ep_buf *b = userdata;
    size_t n = size * nmemb;
    if (!b->sized) {
        b->sized = true;
        curl_off_t cl = -1;
        if (ep_curl.easy_getinfo(b->handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
            cl > 0 && (unsigned long long)cl < (unsigned long long)SIZE_MAX / 2 && b->cap == 0) {
            b->data = ps_malloc((size_t)cl);
            if (b->data == NULL) {
                b->oom = true;
                return 0;
            }
            b->cap = (size_t)cl;
            ps__advise_hugepages(b->data, b->cap);
        }
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *d = ps_realloc(b->data, cap);
        if (d == NULL) {
            b->oom = true;
            return 0;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

/* Write `v` percent-encoded as curl_easy_escape does (all but ALPHA, DIGIT
 * and "-._~"); returns the end. `o` has room for 3 * strlen(v). */
static char *ep_escape_to(char *o, const char *v)
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

/* base + route + "?key=K&endpoint=E" (each part only when given). */
static ps_status ep_build_url(const char *base, const char *route, const char *key,
                              const char *endpoint, char **out)
{
    size_t bl = strlen(base), rl = strlen(route);
    size_t cap =
        bl + rl + 1 + (key ? 5 + 3 * strlen(key) : 0) + (endpoint ? 10 + 3 * strlen(endpoint) : 0);
    char *url = ps_malloc(cap);
    if (url == NULL)
        return PS__ENOMEM("URL");
    char *o = url;
    memcpy(o, base, bl);
    o += bl;
    memcpy(o, route, rl);
    o += rl;
    char sep = '?';
    if (key) {
        *o++ = sep;
        memcpy(o, "key=", 4);
        o = ep_escape_to(o + 4, key);
        sep = '&';
    }
    if (endpoint && *endpoint) {
        *o++ = sep;
        memcpy(o, "endpoint=", 9);
        o = ep_escape_to(o + 9, endpoint);
    }
    *o = '\0';
    *out = url;
    return PS_OK;
}

typedef struct ep_request {
    const char *op;     /* "Get", "Put", ... for messages */
    const char *method; /* "GET" or "POST" */
    const char *url;    /* full URL */
    const void *body;   /* POST body (borrowed) */
    size_t body_len;
    ep_buf *response; /* receives the body */
    long status;      /* HTTP status out */
} ep_request;

static ps_status ep_perform(ep_conn *c, CURL *h, ep_request *r)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    /* The shared options were set when the handle was made; these are the
     * ones that differ between requests (every one of them, every time). */
    ep_curl.easy_setopt(h, CURLOPT_URL, r->url);
    ep_curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    ep_curl.easy_setopt(h, CURLOPT_WRITEDATA, r->response);
    r->response->handle = h;
    if (strcmp(r->method, "POST") == 0) {
        ep_curl.easy_setopt(h, CURLOPT_POST, 1L);
        ep_curl.easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        ep_curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        ep_curl.easy_setopt(h, CURLOPT_HTTPHEADER, c->hdr_post);
    } else {
        ep_curl.easy_setopt(h, CURLOPT_HTTPGET, 1L);
        ep_curl.easy_setopt(h, CURLOPT_HTTPHEADER, c->hdr_get);
    }
    CURLcode rc = ep_curl.easy_perform(h);
    ep_curl.easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    ep_curl.easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    if (r->response->oom)
        return ps__seterr(PS_ENOMEM, "endpoint %s: out of memory receiving the response", c->url);
    if (rc != CURLE_OK) {
        const char *why = errbuf[0] ? errbuf : ep_curl.easy_strerror(rc);
        ps_status st = PS_ECONN;
        if (rc == CURLE_OPERATION_TIMEDOUT)
            st = PS_ETIMEDOUT;
        else if (rc == CURLE_OUT_OF_MEMORY)
            st = PS_ENOMEM;
        return ps__seterr(st, "endpoint %s: %s request failed: %s", c->url, r->op, why);
    }
    ep_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    return PS_OK;
}

/* Turn an HTTP error status into a status and message. */
static ps_status ep_http_error(ep_conn *c, const char *op, long status, const ep_buf *resp)
{
    ps_status st = PS_EPROTO;
    if (status == 401 || status == 403)
        st = PS_EAUTH;
    else if (status == 413)
        st = PS_ETOOBIG;
    int n = (int)(resp->len < EP_BODY_SNIPPET ? resp->len : EP_BODY_SNIPPET);
    return ps__seterr(st, "endpoint %s: %s failed with error code %ld: %.*s", c->url, op, status, n,
                      resp->data ? (const char *)resp->data : "");
}

/* One request through the built-in client: the body in `resp`. */
static ps_status ep_call_http(ep_conn *c, const char *op, const char *method, const char *route,
                              const char *key, const char *endpoint, const void *body, size_t len,
                              ep_buf *resp, long *status)
{
    char *target = NULL;
    PS__FORWARD(ep_build_url("", route, key, endpoint, &target));
    ps__http_response r;
    ps_status st = ps__http_request(c->http, method, target, body, len, &r);
    ps_free(target);
    if (st != PS_OK)
        return ps__preferr(st, "endpoint %s: %s request failed", c->url, op);
    resp->data = r.body;
    resp->len = r.len;
    resp->cap = r.cap;
    *status = r.status;
    return PS_OK;
}

/* One request to `route` with key/endpoint parameters; the body in `resp`. */
static ps_status ep_call(ep_conn *c, const char *op, const char *method, const char *route,
                         const char *key, const char *endpoint, const void *body, size_t len,
                         ep_buf *resp, long *status)
{
    if (c->http) {
        ps_status st = ep_call_http(c, op, method, route, key, endpoint, body, len, resp, status);
        if (st == PS_OK && *status >= 400 && !(*status == 404 && strcmp(route, "/get") == 0))
            st = ep_http_error(c, op, *status, resp);
        return st;
    }
    CURL *h = ep_handle_take(c);
    if (h == NULL)
        return PS__ENOMEM("curl handle");
    char *url = NULL;
    ps_status st = ep_build_url(c->url, route, key, endpoint, &url);
    if (st == PS_OK) {
        ep_request r = {op, method, url, body, len, resp, 0};
        st = ep_perform(c, h, &r);
        *status = r.status;
        if (st == PS_OK && r.status >= 400 && !(r.status == 404 && strcmp(route, "/get") == 0))
            st = ep_http_error(c, op, r.status, resp);
    }
    ps_free(url);
    ep_handle_give(c, h);
    return st;
}

/* libcurl loaded and the header lists built (once per connector). */
static ps_status ep_curl_setup(ep_conn *c)
{
    PS__FORWARD(ep_curl_ready());
    if (c->hdr_post != NULL)
        return PS_OK;
    /* "Expect:" drops the 100-continue round trip. */
    struct curl_slist *hg = ep_curl.slist_append(NULL, "Expect:");
    struct curl_slist *hp = ep_curl.slist_append(NULL, "Expect:");
    bool ok = hg != NULL && hp != NULL;
    if (ok && c->auth_header)
        ok = ep_curl.slist_append(hg, c->auth_header) != NULL &&
             ep_curl.slist_append(hp, c->auth_header) != NULL;
    if (ok)
        ok = ep_curl.slist_append(hp, "Content-Type: application/octet-stream") != NULL;
    if (!ok) {
        ep_curl.slist_free_all(hg);
        ep_curl.slist_free_all(hp);
        return PS__ENOMEM("request headers");
    }
    c->hdr_get = hg;
    c->hdr_post = hp;
    return PS_OK;
}

/* Choose how c->url is reached: the built-in client for http:// (unless
 * PROXYSTORE_ENDPOINT_HTTP=curl), libcurl otherwise. */
static ps_status ep_transport(ep_conn *c)
{
    ps__http_client_free(c->http);
    c->http = NULL;
    if (c->url == NULL)
        return PS_OK;
    if (!c->force_curl && strncmp(c->url, "http://", 7) == 0)
        return ps__http_client_new(c->url, c->timeout_ms, c->auth_header, EP_POOL_MAX, &c->http);
    return ep_curl_setup(c);
}

/* GET {url}/endpoint and parse the uuid (canonical) into out. */
static ps_status ep_query_uuid(ep_conn *c, char out[PS_UUID_STR_LEN + 1])
{
    ep_buf resp = {0};
    long status = 0;
    ps_status st = ep_call(c, "Endpoint", "GET", "/endpoint", NULL, NULL, NULL, 0, &resp, &status);
    if (st == PS_OK) {
        json_error_t jerr;
        json_t *j = json_loadb((const char *)resp.data, resp.len, 0, &jerr);
        const char *u = json_string_value(json_object_get(j, "uuid"));
        if (u == NULL)
            st = ps__seterr(PS_EPROTO, "endpoint %s: /endpoint did not answer {\"uuid\": ...}",
                            c->url);
        else
            st = ep_parse_uuid(u, out);
        json_decref(j);
    }
    ps_free(resp.data);
    return st;
}

/* ---- discovery ------------------------------------------------------------------- */

static bool ep_wanted(const ep_conn *c, const char *uuid)
{
    for (size_t i = 0; i < c->n_endpoints; i++)
        if (strcmp(c->endpoints[i], uuid) == 0)
            return true;
    return false;
}

static int ep_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct ep_search {
    ep_conn *c;
    char notes[PS__ERRMSG_SIZE / 2]; /* what was tried, for the final message */
    size_t notes_len;
    bool found;
    int depth;
} ep_search;

static void ep_note(ep_search *s, const char *fmt, const char *a, const char *b)
{
    if (s->notes_len + 4 >= sizeof s->notes)
        return;
    int n = snprintf(s->notes + s->notes_len, sizeof s->notes - s->notes_len, fmt, a, b);
    if (n > 0)
        s->notes_len += (size_t)n < sizeof s->notes - s->notes_len
                            ? (size_t)n
                            : sizeof s->notes - s->notes_len - 1;
}

/* Try the config.toml in `dir`, if any. */
static void ep_try_config(ep_search *s, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.toml", dir);
    json_t *cfg = NULL;
    if (ps__toml_read_file(path, &cfg) != PS_OK)
        return; /* unreadable or invalid configs are skipped, as upstream */
    const char *name = json_string_value(json_object_get(cfg, "name"));
    const char *uuid_s = json_string_value(json_object_get(cfg, "uuid"));
    const char *host = json_string_value(json_object_get(cfg, "host"));
    json_t *port = json_object_get(cfg, "port");
    char uuid[PS_UUID_STR_LEN + 1];
    if (uuid_s == NULL || ep_parse_uuid(uuid_s, uuid) != PS_OK || !ep_wanted(s->c, uuid) ||
        !json_is_integer(port)) {
        json_decref(cfg);
        return;
    }
    if (host == NULL) {
        ep_note(s,
                "; found valid configuration for endpoint \"%s\" (%s), but the endpoint has "
                "not been started",
                name ? name : "?", uuid);
        json_decref(cfg);
        return;
    }
    char url[1024];
    bool v6 = strchr(host, ':') != NULL;
    snprintf(url, sizeof url, "http://%s%s%s:%lld", v6 ? "[" : "", host, v6 ? "]" : "",
             (long long)json_integer_value(port));
    json_decref(cfg);
    char *old = s->c->url;
    s->c->url = ps_strdup(url);
    if (s->c->url == NULL) {
        s->c->url = old;
        return;
    }
    char answered[PS_UUID_STR_LEN + 1];
    if (ep_transport(s->c) == PS_OK && ep_query_uuid(s->c, answered) == PS_OK &&
        strcmp(answered, uuid) == 0) {
        memcpy(s->c->uuid, uuid, sizeof s->c->uuid);
        s->found = true;
        ps_free(old);
        return;
    }
    ep_note(s, "; %s (%s) did not answer with its uuid", url, uuid);
    ps_free(s->c->url);
    s->c->url = old;
    (void)ep_transport(s->c);
}

/* Walk `dir` top-down (sorted), skipping the root's own config as upstream. */
static void ep_walk(ep_search *s, const char *dir, bool root)
{
    if (s->found || s->depth > 16)
        return;
    if (!root)
        ep_try_config(s, dir);
    if (s->found)
        return;
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = ps_realloc(names, cap * sizeof *names);
            if (nn == NULL)
                break;
            names = nn;
        }
        names[n] = ps_strdup(path);
        if (names[n])
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, ep_cmp_names);
    s->depth++;
    for (size_t i = 0; i < n; i++) {
        ep_walk(s, names[i], false);
        ps_free(names[i]);
    }
    s->depth--;
    ps_free(names);
}

/* ---- vtable ------------------------------------------------------------------------ */

static void ep_free(ep_conn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->npool; i++)
        ep_curl.easy_cleanup(c->pool[i]);
    pthread_mutex_destroy(&c->lock);
    ps__http_client_free(c->http);
    if (c->hdr_get)
        ep_curl.slist_free_all(c->hdr_get);
    if (c->hdr_post)
        ep_curl.slist_free_all(c->hdr_post);
    ps_free(c->url);
    ps_free(c->endpoints);
    ps_free(c->proxystore_dir);
    ps_free(c->explicit_url);
    ps_free(c->token);
    ps_free(c->auth_header);
    ps_free(c);
}

static ps_status ep_opt_string(json_t *o, const char *name, char **out)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL || json_is_null(v))
        return PS_OK;
    PS__RETURN_IF(!json_is_string(v), PS_EINVAL,
                  "endpoint connector: option \"%s\" must be a string or null", name);
    *out = ps_strdup(json_string_value(v));
    return *out ? PS_OK : PS__ENOMEM("option");
}

static ps_status ep_open(json_t *options, void **priv)
{
    static const char *const allowed[] = {"endpoints", "proxystore_dir", "url",
                                          "token",     "timeout_ms",     NULL};
    PS__FORWARD(ps__json_check_fields(options, "endpoint connector options", allowed));
    const char *mode = getenv("PROXYSTORE_ENDPOINT_HTTP");
    bool force_curl = mode != NULL && strcmp(mode, "curl") == 0;
    PS__RETURN_IF(mode != NULL && *mode != '\0' && !force_curl && strcmp(mode, "builtin") != 0,
                  PS_EINVAL,
                  "endpoint connector: PROXYSTORE_ENDPOINT_HTTP=\"%.64s\" must be \"curl\" or "
                  "\"builtin\"",
                  mode);
    ep_conn *c = ps_calloc(1, sizeof *c);
    if (c == NULL)
        return PS__ENOMEM("endpoint connector");
    pthread_mutex_init(&c->lock, NULL);
    c->force_curl = force_curl;
    ps_status st = PS_OK;
    json_t *eps = json_object_get(options, "endpoints");
    if (eps != NULL && !json_is_null(eps)) {
        if (!json_is_array(eps) || json_array_size(eps) > EP_MAX_ENDPOINTS) {
            st = ps__seterr(PS_EINVAL,
                            "endpoint connector: \"endpoints\" must be an array of "
                            "at most %d UUID strings",
                            EP_MAX_ENDPOINTS);
            goto fail;
        }
        c->n_endpoints = json_array_size(eps);
        c->endpoints = ps_calloc(c->n_endpoints ? c->n_endpoints : 1, sizeof *c->endpoints);
        if (c->endpoints == NULL) {
            st = PS__ENOMEM("endpoint list");
            goto fail;
        }
        for (size_t i = 0; i < c->n_endpoints; i++) {
            const char *s = json_string_value(json_array_get(eps, i));
            if (s == NULL) {
                st = ps__seterr(PS_EINVAL, "endpoint connector: endpoints[%zu] is not a string", i);
                goto fail;
            }
            if ((st = ep_parse_uuid(s, c->endpoints[i])) != PS_OK)
                goto fail;
        }
    }
    if ((st = ep_opt_string(options, "proxystore_dir", &c->proxystore_dir)) != PS_OK ||
        (st = ep_opt_string(options, "url", &c->explicit_url)) != PS_OK ||
        (st = ep_opt_string(options, "token", &c->token)) != PS_OK)
        goto fail;
    long long timeout = 0;
    if ((st = ps__json_get_int(options, "endpoint connector options", "timeout_ms", &timeout)) !=
        PS_OK)
        goto fail;
    if (timeout < 0 || timeout > 86400000LL) {
        st = ps__seterr(PS_EINVAL, "endpoint connector: timeout_ms must be 0..86400000");
        goto fail;
    }
    c->timeout_ms = timeout;
    if (c->token) {
        if (strpbrk(c->token, "\r\n") != NULL || *c->token == '\0') {
            st = ps__seterr(PS_EINVAL, "endpoint connector: invalid token");
            goto fail;
        }
        size_t n = strlen(c->token) + 32;
        c->auth_header = ps_malloc(n);
        if (c->auth_header == NULL) {
            st = PS__ENOMEM("auth header");
            goto fail;
        }
        snprintf(c->auth_header, n, "Authorization: Bearer %s", c->token);
    }
    if (c->explicit_url == NULL && c->n_endpoints == 0) {
        st = ps__seterr(PS_EINVAL,
                        "endpoint connector: \"endpoints\" must name at least one endpoint UUID "
                        "(or give \"url\")");
        goto fail;
    }

    if (c->explicit_url) {
        const char *u = c->explicit_url;
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
            st = ps__seterr(PS_EINVAL,
                            "endpoint connector: url \"%.200s\" must start with "
                            "http:// or https://",
                            u);
            goto fail;
        }
        c->url = ps_strdup(u);
        if (c->url == NULL) {
            st = PS__ENOMEM("url");
            goto fail;
        }
        size_t n = strlen(c->url);
        while (n > 0 && c->url[n - 1] == '/')
            c->url[--n] = '\0';
        if ((st = ep_transport(c)) != PS_OK)
            goto fail;
        if ((st = ep_query_uuid(c, c->uuid)) != PS_OK) {
            ps__preferr(st, "endpoint connector: endpoint at %s does not answer", c->url);
            goto fail;
        }
        if (c->n_endpoints && !ep_wanted(c, c->uuid)) {
            st = ps__seterr(PS_EINVAL,
                            "endpoint connector: endpoint at %s has uuid %s, which is not in "
                            "\"endpoints\"",
                            c->url, c->uuid);
            goto fail;
        }
    } else {
        char *home = NULL;
        if (c->proxystore_dir == NULL) {
            if ((st = ps_data_dir(&home)) != PS_OK)
                goto fail;
        }
        ep_search s = {.c = c};
        ep_walk(&s, home ? home : c->proxystore_dir, true);
        if (!s.found) {
            st = ps__seterr(PS_ECONN,
                            "Failed to find an endpoint configuration matching one of the "
                            "provided endpoint UUIDs under %s%s",
                            home ? home : c->proxystore_dir, s.notes);
            ps_free(home);
            goto fail;
        }
        ps_free(home);
    }
    *priv = c;
    return PS_OK;
fail:
    ep_free(c);
    return st;
}

static ps_status ep_close(void *priv, ps_clear clear)
{
    /* Objects belong to the endpoint: closing never deletes them (as upstream). */
    (void)clear;
    ep_free(priv);
    return PS_OK;
}

static bool ep_default_clear(void *priv)
{
    (void)priv;
    return false;
}

static ps_status ep_config(void *priv, json_t **out)
{
    ep_conn *c = priv;
    json_t *eps = json_array();
    if (eps == NULL)
        return PS__ENOMEM("config");
    for (size_t i = 0; i < c->n_endpoints; i++)
        json_array_append_new(eps, json_string(c->endpoints[i]));
    json_t *o = json_pack("{s:o, s:s?, s:s?, s:s?, s:I}", "endpoints", eps, "proxystore_dir",
                          c->proxystore_dir, "url", c->explicit_url, "token", c->token,
                          "timeout_ms", (json_int_t)c->timeout_ms);
    if (o == NULL)
        return PS__ENOMEM("config");
    *out = o;
    return PS_OK;
}

/* Check a key's fields: object id (non-empty, bounded) and endpoint uuid. */
static ps_status ep_key_fields(const ps_key *key, const char **object_id, const char **endpoint)
{
    PS__RETURN_IF(ps_key_nfields(key) != 2, PS_EINVAL,
                  "endpoint connector: key \"%.200s\" must have an object id and an endpoint "
                  "uuid",
                  ps_key_str(key));
    const char *oid = ps_key_field(key, 0);
    const char *ep = ps_key_field(key, 1);
    PS__RETURN_IF(!ps_uuid_is_canonical(oid), PS_EINVAL,
                  "endpoint connector: key \"%.200s\": the object id must be a canonical UUID",
                  ps_key_str(key));
    PS__RETURN_IF(*ep != '\0' && !ps_uuid_is_canonical(ep), PS_EINVAL,
                  "endpoint connector: key \"%.200s\": \"%.64s\" is not an endpoint uuid",
                  ps_key_str(key), ep);
    *object_id = oid;
    *endpoint = ep;
    return PS_OK;
}

static ps_status ep_set(void *priv, const ps_key *key, const void *data, size_t len)
{
    ep_conn *c = priv;
    const char *oid, *ep;
    PS__FORWARD(ep_key_fields(key, &oid, &ep));
    PS__RETURN_IF(len == 0, PS_ENOTSUP,
                  "endpoint connector: the endpoint REST API cannot store an empty object "
                  "(upstream answers 400 \"received empty payload\")");
    ep_buf resp = {0};
    long status = 0;
    ps_status st = ep_call(c, "Put", "POST", "/set", oid, ep, data, len, &resp, &status);
    ps_free(resp.data);
    return st;
}

static ps_status ep_new_key(void *priv, ps_key **key)
{
    ep_conn *c = priv;
    const char *extra[] = {c->uuid};
    return ps_key_new_uuid("endpoint", 1, extra, key);
}

static ps_status ep_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                        ps_key **key)
{
    (void)opts;
    PS__FORWARD(ep_new_key(priv, key));
    ps_status st = ep_set(priv, *key, data, len);
    if (st != PS_OK) {
        ps_key_free(*key);
        *key = NULL;
    }
    return st;
}

/* `opaque` is the buffer's capacity: large ones are kept as the HTTP
 * client's spare (see ps__http_body_release). */
static void ep_release_buffer(void *opaque, void *data, size_t len)
{
    (void)len;
    ps__http_body_release(data, (size_t)(uintptr_t)opaque);
}

static ps_status ep_get(void *priv, const ps_key *key, ps_bytes *out)
{
    ep_conn *c = priv;
    const char *oid, *ep;
    PS__FORWARD(ep_key_fields(key, &oid, &ep));
    ep_buf resp = {0};
    long status = 0;
    ps_status st = ep_call(c, "Get", "GET", "/get", oid, ep, NULL, 0, &resp, &status);
    if (st == PS_OK && status == 404)
        st = PS_NOT_FOUND;
    if (st != PS_OK) {
        ps_free(resp.data);
        return st;
    }
    if (resp.data == NULL) {
        resp.data = ps_malloc(1);
        if (resp.data == NULL)
            return PS__ENOMEM("empty object");
        resp.cap = 1;
    }
    out->data = resp.data;
    out->len = resp.len;
    out->release = ep_release_buffer;
    out->opaque = (void *)(uintptr_t)resp.cap;
    return PS_OK;
}

static ps_status ep_exists(void *priv, const ps_key *key, bool *exists)
{
    ep_conn *c = priv;
    const char *oid, *ep;
    PS__FORWARD(ep_key_fields(key, &oid, &ep));
    ep_buf resp = {0};
    long status = 0;
    ps_status st = ep_call(c, "Exists", "GET", "/exists", oid, ep, NULL, 0, &resp, &status);
    if (st == PS_OK) {
        json_t *j = json_loadb((const char *)resp.data, resp.len, 0, NULL);
        json_t *v = json_object_get(j, "exists");
        if (!json_is_boolean(v))
            st = ps__seterr(PS_EPROTO, "endpoint %s: /exists did not answer {\"exists\": bool}",
                            c->url);
        else
            *exists = json_is_true(v);
        json_decref(j);
    }
    ps_free(resp.data);
    return st;
}

static ps_status ep_evict(void *priv, const ps_key *key)
{
    ep_conn *c = priv;
    const char *oid, *ep;
    PS__FORWARD(ep_key_fields(key, &oid, &ep));
    ep_buf resp = {0};
    long status = 0;
    ps_status st = ep_call(c, "Evict", "POST", "/evict", oid, ep, NULL, 0, &resp, &status);
    ps_free(resp.data);
    return st;
}

const ps_connector_ops ps__connector_endpoint = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "endpoint",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = ep_open,
    .close = ep_close,
    .default_clear = ep_default_clear,
    .config = ep_config,
    .put = ep_put,
    .get = ep_get,
    .exists = ep_exists,
    .evict = ep_evict,
    .new_key = ep_new_key,
    .set = ep_set,
};

void ps_endpoint_options_init(ps_endpoint_options *o)
{
    if (o != NULL)
        *o = (ps_endpoint_options){.version = PS_ENDPOINT_OPTIONS_VERSION};
}

ps_status ps_endpoint_connector_open(const ps_endpoint_options *opts, ps_connector **out)
{
    static const char fn[] = "ps_endpoint_connector_open";
    PS__TYPED_OPEN_CHECK(fn, opts, PS_ENDPOINT_OPTIONS_VERSION, out);
    PS__RETURN_IF(opts->n_endpoints > 0 && opts->endpoints == NULL, PS_EINVAL,
                  "%s: endpoints is NULL", fn);
    json_t *eps = json_array();
    if (eps == NULL)
        return PS__ENOMEM("endpoint connector options");
    for (size_t i = 0; i < opts->n_endpoints; i++) {
        if (opts->endpoints[i] == NULL) {
            json_decref(eps);
            return ps__seterr(PS_EINVAL, "%s: endpoints[%zu] is NULL", fn, i);
        }
        json_t *one = json_string(opts->endpoints[i]);
        if (one == NULL) {
            json_decref(eps);
            return ps__seterr(PS_EINVAL, "%s: endpoints[%zu] is not UTF-8", fn, i);
        }
        if (json_array_append_new(eps, one) != 0) {
            json_decref(eps);
            return PS__ENOMEM("endpoint connector options");
        }
    }
    /* "o" hands `eps` to the packed object (also when packing fails). */
    return ps__connector_open_pack(out, &ps__connector_endpoint, fn, "{s:o, s:s*, s:s*, s:s*, s:I}",
                                   "endpoints", eps, "proxystore_dir", opts->proxystore_dir, "url",
                                   opts->url, "token", opts->token, "timeout_ms",
                                   (json_int_t)opts->timeout_ms);
}

const char *ps_endpoint_connector_uuid(ps_connector *conn)
{
    ep_conn *c = ps_connector_priv(conn, &ps__connector_endpoint);
    return c ? c->uuid : NULL;
}

const char *ps_endpoint_connector_url(ps_connector *conn)
{
    ep_conn *c = ps_connector_priv(conn, &ps__connector_endpoint);
    return c ? c->url : NULL;
}
