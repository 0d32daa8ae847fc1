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
 * Every request goes through the library's HTTP client (src/http/): the
 * built-in HTTP/1.1 client for http:// URLs, libcurl loaded at run time for
 * https:// URLs, and for every URL when PROXYSTORE_ENDPOINT_HTTP=curl. The
 * client owns connections, retries, timeouts and fork safety; this file
 * speaks the REST API and finds the endpoint.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http/http.h"
#include "connector/builtin.h"
#include "core/internal.h"
#include "proxystore/connectors/endpoint.h"
#include "proxystore/sys/connector.h"
#include "core/toml.h"

#define EP_POOL_MAX      16
#define EP_MAX_ENDPOINTS 64
#define EP_BODY_SNIPPET  200

typedef struct ep_conn {
    char uuid[PS_UUID_STR_LEN + 1]; /* the endpoint we talk to */
    char *url;                      /* http[s]://host:port[/prefix], no trailing slash */
    /* configuration, as given (normalized) */
    char (*endpoints)[PS_UUID_STR_LEN + 1];
    size_t n_endpoints;
    char *proxystore_dir; /* NULL: default */
    char *explicit_url;   /* NULL: discovered */
    char *token;
    long long timeout_ms;
    char *auth_header;            /* "Authorization: Bearer ..." or NULL */
    ps__http_transport transport; /* PS__HTTP_CURL: PROXYSTORE_ENDPOINT_HTTP=curl */
    ps__http_client *http;        /* the client for url */
} ep_conn;

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

/* Turn an HTTP error status into a status and message. */
static ps_status ep_http_error(ep_conn *c, const char *op, const ps__http_response *resp)
{
    ps_status st = PS_EPROTO;
    if (resp->status == 401 || resp->status == 403)
        st = PS_EAUTH;
    else if (resp->status == 413)
        st = PS_ETOOBIG;
    int n = (int)(resp->len < EP_BODY_SNIPPET ? resp->len : EP_BODY_SNIPPET);
    return ps__seterr(st, "endpoint %s: %s failed with error code %d: %.*s", c->url, op,
                      resp->status, n, resp->body ? (const char *)resp->body : "");
}

/*
 * One request to `route` with key/endpoint parameters (each only when given;
 * endpoint only when not empty). An HTTP error status is an error (below),
 * except 404 from /get, which the caller turns into PS_NOT_FOUND.
 * Ownership: resp->body is the caller's (ps__http_body_release), also on error.
 */
static ps_status ep_call(ep_conn *c, const char *op, const char *method, const char *route,
                         const char *key, const char *endpoint, const void *body, size_t len,
                         ps__http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    char *target = NULL;
    PS__FORWARD(ps__http_target(&target, route, "key", key, "endpoint",
                                endpoint && *endpoint ? endpoint : NULL, (const char *)NULL));
    ps_status st = ps__http_request(c->http, method, target, body, len, resp);
    ps_free(target);
    if (st != PS_OK)
        return ps__preferr(st, "endpoint %s: %s request failed", c->url, op);
    if (resp->status >= 400 && !(resp->status == 404 && strcmp(route, "/get") == 0))
        return ep_http_error(c, op, resp);
    return PS_OK;
}

static void ep_response_free(ps__http_response *resp)
{
    ps__http_body_release(resp->body, resp->cap);
    resp->body = NULL;
}

/* A client for c->url (the one before, if any, is freed). */
static ps_status ep_transport(ep_conn *c)
{
    ps__http_client_free(c->http);
    c->http = NULL;
    if (c->url == NULL)
        return PS_OK;
    ps__http_options o = {.timeout_ms = c->timeout_ms,
                          .auth_header = c->auth_header,
                          .pool_max = EP_POOL_MAX,
                          .transport = c->transport};
    ps_status st = ps__http_client_new(c->url, &o, &c->http);
    if (st != PS_OK)
        return ps__preferr(st, "endpoint connector");
    return PS_OK;
}

/* GET {url}/endpoint and parse the uuid (canonical) into out. */
static ps_status ep_query_uuid(ep_conn *c, char out[PS_UUID_STR_LEN + 1])
{
    ps__http_response resp;
    ps_status st = ep_call(c, "Endpoint", "GET", "/endpoint", NULL, NULL, NULL, 0, &resp);
    if (st == PS_OK) {
        json_error_t jerr;
        json_t *j = json_loadb((const char *)resp.body, resp.len, 0, &jerr);
        const char *u = json_string_value(json_object_get(j, "uuid"));
        if (u == NULL)
            st = ps__seterr(PS_EPROTO, "endpoint %s: /endpoint did not answer {\"uuid\": ...}",
                            c->url);
        else
            st = ep_parse_uuid(u, out);
        json_decref(j);
    }
    ep_response_free(&resp);
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
    ps__http_client_free(c->http);
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

/* PROXYSTORE_ENDPOINT_HTTP: "curl" forces libcurl; "builtin", empty or
 * unset is the default; anything else is PS_EINVAL. */
static ps_status ep_transport_from_env(ps__http_transport *out)
{
    const char *mode = getenv("PROXYSTORE_ENDPOINT_HTTP");
    *out = PS__HTTP_AUTO;
    if (mode == NULL || *mode == '\0' || strcmp(mode, "builtin") == 0)
        return PS_OK;
    PS__RETURN_IF(strcmp(mode, "curl") != 0, PS_EINVAL,
                  "endpoint connector: PROXYSTORE_ENDPOINT_HTTP=\"%.64s\" must be \"curl\" or "
                  "\"builtin\"",
                  mode);
    *out = PS__HTTP_CURL;
    return PS_OK;
}

/* The "endpoints" option: null, or an array of UUID strings. */
static ps_status ep_read_endpoints(ep_conn *c, json_t *options)
{
    json_t *eps = json_object_get(options, "endpoints");
    if (eps == NULL || json_is_null(eps))
        return PS_OK;
    PS__RETURN_IF(!json_is_array(eps) || json_array_size(eps) > EP_MAX_ENDPOINTS, PS_EINVAL,
                  "endpoint connector: \"endpoints\" must be an array of at most %d UUID strings",
                  EP_MAX_ENDPOINTS);
    c->n_endpoints = json_array_size(eps);
    c->endpoints = ps_calloc(c->n_endpoints ? c->n_endpoints : 1, sizeof *c->endpoints);
    if (c->endpoints == NULL)
        return PS__ENOMEM("endpoint list");
    for (size_t i = 0; i < c->n_endpoints; i++) {
        const char *s = json_string_value(json_array_get(eps, i));
        PS__RETURN_IF(s == NULL, PS_EINVAL, "endpoint connector: endpoints[%zu] is not a string",
                      i);
        PS__FORWARD(ep_parse_uuid(s, c->endpoints[i]));
    }
    return PS_OK;
}

/* "token": a non-empty line, sent as "Authorization: Bearer <token>". */
static ps_status ep_make_auth_header(ep_conn *c)
{
    if (c->token == NULL)
        return PS_OK;
    PS__RETURN_IF(strpbrk(c->token, "\r\n") != NULL || *c->token == '\0', PS_EINVAL,
                  "endpoint connector: invalid token");
    size_t n = strlen(c->token) + 32;
    c->auth_header = ps_malloc(n);
    if (c->auth_header == NULL)
        return PS__ENOMEM("auth header");
    snprintf(c->auth_header, n, "Authorization: Bearer %s", c->token);
    return PS_OK;
}

/* Every option into `c`, checked. */
static ps_status ep_read_options(ep_conn *c, json_t *options)
{
    static const char *const allowed[] = {"endpoints", "proxystore_dir", "url",
                                          "token",     "timeout_ms",     NULL};
    PS__FORWARD(ps__json_check_fields(options, "endpoint connector options", allowed));
    PS__FORWARD(ep_read_endpoints(c, options));
    PS__FORWARD(ep_opt_string(options, "proxystore_dir", &c->proxystore_dir));
    PS__FORWARD(ep_opt_string(options, "url", &c->explicit_url));
    PS__FORWARD(ep_opt_string(options, "token", &c->token));
    long long timeout = 0;
    PS__FORWARD(ps__json_get_int(options, "endpoint connector options", "timeout_ms", &timeout));
    PS__RETURN_IF(timeout < 0 || timeout > 86400000LL, PS_EINVAL,
                  "endpoint connector: timeout_ms must be 0..86400000");
    c->timeout_ms = timeout;
    PS__FORWARD(ep_make_auth_header(c));
    PS__RETURN_IF(c->explicit_url == NULL && c->n_endpoints == 0, PS_EINVAL,
                  "endpoint connector: \"endpoints\" must name at least one endpoint UUID (or "
                  "give \"url\")");
    return PS_OK;
}

/* "url" given: talk to it, learn its uuid, check it against "endpoints". */
static ps_status ep_use_url(ep_conn *c)
{
    const char *u = c->explicit_url;
    PS__RETURN_IF(strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0, PS_EINVAL,
                  "endpoint connector: url \"%.200s\" must start with http:// or https://", u);
    c->url = ps_strdup(u);
    if (c->url == NULL)
        return PS__ENOMEM("url");
    size_t n = strlen(c->url);
    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    PS__FORWARD(ep_transport(c));
    ps_status st = ep_query_uuid(c, c->uuid);
    if (st != PS_OK)
        return ps__preferr(st, "endpoint connector: endpoint at %s does not answer", c->url);
    PS__RETURN_IF(c->n_endpoints && !ep_wanted(c, c->uuid), PS_EINVAL,
                  "endpoint connector: endpoint at %s has uuid %s, which is not in \"endpoints\"",
                  c->url, c->uuid);
    return PS_OK;
}

/* No "url": the first running endpoint of "endpoints" under proxystore_dir. */
static ps_status ep_discover(ep_conn *c)
{
    char *home = NULL;
    if (c->proxystore_dir == NULL)
        PS__FORWARD(ps_data_dir(&home));
    const char *dir = home ? home : c->proxystore_dir;
    ep_search s = {.c = c};
    ep_walk(&s, dir, true);
    ps_status st = PS_OK;
    if (!s.found)
        st = ps__seterr(PS_ECONN,
                        "Failed to find an endpoint configuration matching one of the provided "
                        "endpoint UUIDs under %s%s",
                        dir, s.notes);
    ps_free(home);
    return st;
}

static ps_status ep_open(json_t *options, void **priv)
{
    ps__http_transport transport;
    PS__FORWARD(ep_transport_from_env(&transport));
    ep_conn *c = ps_calloc(1, sizeof *c);
    if (c == NULL)
        return PS__ENOMEM("endpoint connector");
    c->transport = transport;
    ps_status st = ep_read_options(c, options);
    if (st == PS_OK)
        st = c->explicit_url ? ep_use_url(c) : ep_discover(c);
    if (st != PS_OK) {
        ep_free(c);
        return st;
    }
    *priv = c;
    return PS_OK;
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
    ps__http_response resp;
    ps_status st = ep_call(c, "Put", "POST", "/set", oid, ep, data, len, &resp);
    ep_response_free(&resp);
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
    ps__http_response resp;
    ps_status st = ep_call(c, "Get", "GET", "/get", oid, ep, NULL, 0, &resp);
    if (st == PS_OK && resp.status == 404)
        st = PS_NOT_FOUND;
    if (st != PS_OK) {
        ep_response_free(&resp);
        return st;
    }
    if (resp.body == NULL) {
        resp.body = ps_malloc(1);
        if (resp.body == NULL)
            return PS__ENOMEM("empty object");
        resp.cap = 1;
    }
    out->data = resp.body;
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
    ps__http_response resp;
    ps_status st = ep_call(c, "Exists", "GET", "/exists", oid, ep, NULL, 0, &resp);
    if (st == PS_OK) {
        json_t *j = json_loadb((const char *)resp.body, resp.len, 0, NULL);
        json_t *v = json_object_get(j, "exists");
        if (!json_is_boolean(v))
            st = ps__seterr(PS_EPROTO, "endpoint %s: /exists did not answer {\"exists\": bool}",
                            c->url);
        else
            *exists = json_is_true(v);
        json_decref(j);
    }
    ep_response_free(&resp);
    return st;
}

static ps_status ep_evict(void *priv, const ps_key *key)
{
    ep_conn *c = priv;
    const char *oid, *ep;
    PS__FORWARD(ep_key_fields(key, &oid, &ep));
    ps__http_response resp;
    ps_status st = ep_call(c, "Evict", "POST", "/evict", oid, ep, NULL, 0, &resp);
    ep_response_free(&resp);
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
