/* `test NAME [--remote UUID] {evict|exists|get|put}`: one request to a
 * configured endpoint through the library's HTTP client (src/http/). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "core/internal.h"
#include "http/http.h"
#include "manage_impl.h"

/* Where and how the requests go. */
typedef struct test_target {
    char address[1200]; /* http://host:port */
    const char *remote; /* the endpoint parameter, or NULL */
    const char *token;  /* or NULL */
} test_target;

/* One request; 0, or -1 when no HTTP answer came (message printed).
 * Ownership: out->body is the caller's (ps_free). */
static int test_call(const test_target *t, const char *path, bool post, const char *key,
                     const void *data, size_t len, ps__http_response *out)
{
    memset(out, 0, sizeof *out);
    char auth[600];
    if (t->token != NULL)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", t->token);
    ps__http_options o = {.auth_header = t->token ? auth : NULL};
    ps__http_client *c = NULL;
    char *target = NULL;
    ps_status st = ps__http_client_new(t->address, &o, &c);
    if (st == PS_OK)
        st = ps__http_target(&target, path, "key", key, "endpoint", t->remote, (const char *)NULL);
    if (st == PS_OK)
        st = ps__http_request(c, post ? "POST" : "GET", target, data, len, out);
    ps_free(target);
    ps__http_client_free(c);
    if (st != PS_OK) {
        ep_say(EP_LOG_ERROR, "Unable to connect to endpoint at %s.", t->address);
        ep_say(EP_LOG_DEBUG, "%s", ps_last_error());
        return -1;
    }
    return 0;
}

/* The body as text for a message (at most 4 KiB shown). */
static int body_len(const ps__http_response *r)
{
    return r->body ? (int)(r->len < 4096 ? r->len : 4096) : 0;
}

static const char *body_text(const ps__http_response *r)
{
    return r->body ? (const char *)r->body : "";
}

/* 1 (message printed) when the answer is an HTTP error, else 0. */
static int http_failed(const ps__http_response *r)
{
    if (r->status < 400)
        return 0;
    ep_say(EP_LOG_ERROR, "Endpoint returned HTTP error code %d. %.*s", r->status, body_len(r),
           body_text(r));
    return 1;
}

/* Print a deserialized object the way Python would show it, where we can. */
static void show_result(const char *b, size_t n)
{
    const char *nl = memchr(b, '\n', n);
    size_t il = nl ? (size_t)(nl - b) : n;
    const char *payload = nl ? nl + 1 : b + n;
    size_t pl = n - (size_t)(payload - b);
    if (il == 2 && memcmp(b, "US", 2) == 0) {
        ep_say(EP_LOG_INFO, "Result: %.*s", (int)pl, payload);
    } else if (il == 2 && memcmp(b, "BS", 2) == 0) {
        char out[4096];
        size_t o = 0;
        out[o++] = 'b';
        out[o++] = '\'';
        for (size_t i = 0; i < pl && o < sizeof out - 8; i++) {
            unsigned char c = (unsigned char)payload[i];
            if (c == '\'' || c == '\\')
                o += (size_t)snprintf(out + o, sizeof out - o, "\\%c", c);
            else if (c >= 0x20 && c < 0x7f)
                out[o++] = (char)c;
            else
                o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
        }
        out[o++] = '\'';
        out[o] = '\0';
        ep_say(EP_LOG_INFO, "Result: %s", out);
    } else {
        ep_say(EP_LOG_INFO, "Result: <%zu bytes serialized as '%.*s'; not decodable here>", n,
               (int)(il > 8 ? 8 : il), b);
    }
}

static int test_evict(const test_target *t, const char *key)
{
    ps__http_response r;
    if (test_call(t, "/evict", true, key, NULL, 0, &r) != 0)
        return 1;
    int rc = http_failed(&r);
    if (rc == 0)
        ep_say(EP_LOG_INFO, "Evicted object from endpoint.");
    ps_free(r.body);
    return rc;
}

static int test_exists(const test_target *t, const char *key)
{
    ps__http_response r;
    if (test_call(t, "/exists", false, key, NULL, 0, &r) != 0)
        return 1;
    int rc = http_failed(&r);
    if (rc == 0) {
        json_t *j = r.body ? json_loadb((const char *)r.body, r.len, 0, NULL) : NULL;
        json_t *e = json_object_get(j, "exists");
        if (json_is_boolean(e)) {
            ep_say(EP_LOG_INFO, "Object exists: %s", json_is_true(e) ? "True" : "False");
        } else {
            ep_say(EP_LOG_ERROR, "unexpected answer from %s/exists: %.*s", t->address, body_len(&r),
                   body_text(&r));
            rc = 1;
        }
        json_decref(j);
    }
    ps_free(r.body);
    return rc;
}

static int test_get(const test_target *t, const char *key)
{
    ps__http_response r;
    if (test_call(t, "/get", false, key, NULL, 0, &r) != 0)
        return 1;
    int rc = 0;
    if (r.status == 404)
        ep_say(EP_LOG_INFO, "Object does not exist.");
    else if ((rc = http_failed(&r)) == 0)
        show_result(r.body ? (const char *)r.body : "", r.len);
    ps_free(r.body);
    return rc;
}

/* Store "US\n" + text (upstream's serialized str) under a new key. */
static int test_put(const test_target *t, const char *text)
{
    char key[PS_UUID_STR_LEN + 1];
    if (ps_uuid4(key) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    size_t n = strlen(text);
    char *data = ps_malloc(n + 3);
    if (data == NULL) {
        ep_say(EP_LOG_ERROR, "out of memory");
        return 1;
    }
    memcpy(data, "US\n", 3);
    memcpy(data + 3, text, n);
    ps__http_response r;
    int rc = 1;
    if (test_call(t, "/set", true, key, data, n + 3, &r) == 0) {
        rc = http_failed(&r);
        if (rc == 0)
            ep_say(EP_LOG_INFO, "Put object in endpoint with key %s", key);
        ps_free(r.body);
    }
    ps_free(data);
    return rc;
}

int ep_cmd_test(const char *name, const char *remote, const char *op, const char *arg)
{
    char home[4096], dir[4300];
    if (ep_home_dir(home, sizeof home) != 0)
        return 1;
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    if (!ep_valid_name(name) || !ep_is_dir(dir)) {
        ep_say(EP_LOG_ERROR, "An endpoint named %s does not exist.", name);
        return 1;
    }
    int (*run)(const test_target *, const char *) = strcmp(op, "evict") == 0    ? test_evict
                                                    : strcmp(op, "exists") == 0 ? test_exists
                                                    : strcmp(op, "get") == 0    ? test_get
                                                    : strcmp(op, "put") == 0    ? test_put
                                                                                : NULL;
    ep_config cfg;
    if (ep_config_read(dir, &cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    if (run == NULL) {
        ep_say(EP_LOG_ERROR, "unknown test command \"%s\" (evict, exists, get, put)", op);
        ep_config_free(&cfg);
        return 2;
    }
    test_target t = {.remote = remote, .token = cfg.token};
    const char *h = cfg.host ? cfg.host : "None";
    bool v6 = strchr(h, ':') != NULL;
    snprintf(t.address, sizeof t.address, "http://%s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "",
             cfg.port);
    int rc = run(&t, arg);
    ep_config_free(&cfg);
    return rc;
}
