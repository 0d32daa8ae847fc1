/*
 * The HTTP client's libcurl backend, libcurl loaded at run time (see curl.h).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http/client_impl.h"
#include "http/curl.h"
#include "core/internal.h"

#define CURL_LIBRARY            "libcurl.so.4"
#define CURL_CONNECT_TIMEOUT_MS 10000L
/* libcurl's receive buffer: its largest (CURL_MAX_READ_SIZE). Large bodies
 * then arrive in few recv calls and write callbacks (the default is 16 KiB). */
#define CURL_RECV_BUFFER (512L * 1024L)

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
} lib;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static char curl_error[512]; /* empty when libcurl is usable */

#define CURL_SYM(field, name)                                                                      \
    do {                                                                                           \
        *(void **)(&lib.field) = dlsym(so, name);                                                  \
        if (lib.field == NULL) {                                                                   \
            snprintf(curl_error, sizeof curl_error, "%s: missing symbol %s", CURL_LIBRARY, name);  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void curl_load(void)
{
    void *so = dlopen(CURL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (so == NULL) {
        const char *e = dlerror();
        snprintf(curl_error, sizeof curl_error, "%s", e ? e : CURL_LIBRARY ": dlopen failed");
        return;
    }
    CURL_SYM(global_init, "curl_global_init");
    CURL_SYM(easy_init, "curl_easy_init");
    CURL_SYM(easy_cleanup, "curl_easy_cleanup");
    CURL_SYM(easy_setopt, "curl_easy_setopt");
    CURL_SYM(easy_perform, "curl_easy_perform");
    CURL_SYM(easy_getinfo, "curl_easy_getinfo");
    CURL_SYM(easy_strerror, "curl_easy_strerror");
    CURL_SYM(slist_append, "curl_slist_append");
    CURL_SYM(slist_free_all, "curl_slist_free_all");
    CURLcode rc = lib.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        snprintf(curl_error, sizeof curl_error, "curl_global_init: %s", lib.easy_strerror(rc));
    /* The library stays loaded for the life of the process. */
}

ps_status ps__http_curl_ready(void)
{
    pthread_once(&curl_once, curl_load);
    PS__RETURN_IF(curl_error[0] != '\0', PS_EUNAVAILABLE, "http client: libcurl unavailable: %s",
                  curl_error);
    return PS_OK;
}

/* ---- handles -------------------------------------------------------------------- */

/* Where a response body goes: a buffer sized from Content-Length when the
 * response has one, grown by doubling otherwise. */
typedef struct curl_sink {
    CURL *h; /* to ask for Content-Length at the first write */
    unsigned char *data;
    size_t len, cap;
    bool sized;
    bool oom;
} curl_sink;

static bool curl_sink_size(curl_sink *s)
{
    s->sized = true;
    curl_off_t cl = -1;
    if (lib.easy_getinfo(s->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK || cl <= 0 ||
        (unsigned long long)cl >= (unsigned long long)SIZE_MAX / 2)
        return true;
    s->data = ps__http_body_alloc((size_t)cl, &s->cap);
    return s->data != NULL;
}

static size_t curl_on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    curl_sink *s = userdata;
    size_t n = size * nmemb;
    if (!s->sized && !curl_sink_size(s)) {
        s->oom = true;
        return 0;
    }
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n)
            cap *= 2;
        unsigned char *d = ps_realloc(s->data, cap);
        if (d == NULL) {
            s->oom = true;
            return 0;
        }
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    return n;
}

void *ps__http_curl_handle_new(long long timeout_ms)
{
    CURL *h = lib.easy_init();
    if (h == NULL)
        return NULL;
    lib.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    lib.easy_setopt(h, CURLOPT_PROXY, ""); /* as upstream: never through a proxy */
    lib.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CURL_CONNECT_TIMEOUT_MS);
    lib.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    lib.easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    lib.easy_setopt(h, CURLOPT_BUFFERSIZE, CURL_RECV_BUFFER);
    lib.easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_on_body);
    return h;
}

void ps__http_curl_handle_free(void *h, bool inherited)
{
    if (h == NULL)
        return;
    curl_socket_t fd = CURL_SOCKET_BAD;
    if (inherited && lib.easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK &&
        fd != CURL_SOCKET_BAD) {
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul >= 0) {
            dup2(nul, fd); /* this process's copy of the socket is gone */
            close(nul);
        }
    }
    lib.easy_cleanup(h);
}

void *ps__http_curl_headers(const char *auth, bool post, const char *extra)
{
    struct curl_slist *l = lib.slist_append(NULL, "Expect:");
    bool ok = l != NULL;
    if (ok && auth != NULL)
        ok = lib.slist_append(l, auth) != NULL;
    if (ok && post)
        ok = lib.slist_append(l, "Content-Type: application/octet-stream") != NULL;
    char line[1024];
    for (const char *p = extra; ok && p != NULL && *p != '\0';) {
        size_t n = strcspn(p, "\r\n");
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        ok = lib.slist_append(l, line) != NULL;
        p += strcspn(p, "\n");
        if (*p == '\n')
            p++;
    }
    if (!ok) {
        lib.slist_free_all(l);
        return NULL;
    }
    return l;
}

void ps__http_curl_headers_free(void *list)
{
    if (list != NULL)
        lib.slist_free_all(list);
}

/* Set the options that differ between requests: every one of them, every
 * time (a handle is reused without a reset). */
static void curl_set_method(CURL *h, const char *method, const void *body, size_t len)
{
    bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
    bool with_body = strcmp(method, "POST") == 0 || body != NULL;
    lib.easy_setopt(h, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    if (with_body) {
        lib.easy_setopt(h, CURLOPT_POST, 1L);
        lib.easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        lib.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        lib.easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    lib.easy_setopt(h, CURLOPT_NOBODY, head ? 1L : 0L);
    if (!get && !head && strcmp(method, "POST") != 0)
        lib.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

ps_status ps__http_curl_perform(void *h, const char *origin, const char *url, const char *method,
                                void *headers, const void *body, size_t len,
                                ps__http_response *resp)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_sink sink = {.h = h};
    lib.easy_setopt(h, CURLOPT_URL, url);
    lib.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    lib.easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    lib.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_set_method(h, method, body, len);
    CURLcode rc = lib.easy_perform(h);
    lib.easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    lib.easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    lib.easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (sink.oom || rc != CURLE_OK) {
        ps__http_body_release(sink.data, sink.cap);
        if (sink.oom || rc == CURLE_OUT_OF_MEMORY)
            return ps__seterr(PS_ENOMEM, "%s: out of memory receiving the response", origin);
        return ps__seterr(rc == CURLE_OPERATION_TIMEDOUT ? PS_ETIMEDOUT : PS_ECONN, "%s: %s",
                          origin, errbuf[0] ? errbuf : lib.easy_strerror(rc));
    }
    long status = 0;
    char *ctype = NULL;
    lib.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (lib.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL)
        snprintf(resp->content_type, sizeof resp->content_type, "%s", ctype);
    resp->status = (int)status;
    resp->body = sink.len ? sink.data : NULL;
    resp->len = sink.len;
    resp->cap = sink.len ? sink.cap : 0;
    if (sink.len == 0)
        ps__http_body_release(sink.data, sink.cap);
    return PS_OK;
}
