/* Peer forwarding with one libcurl easy handle per thread. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "forward.h"
#include "core/internal.h"

static pthread_key_t fwd_key;
static pthread_once_t fwd_once = PTHREAD_ONCE_INIT;

static void fwd_destroy(void *h)
{
    curl_easy_cleanup(h);
}

static void fwd_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&fwd_key, fwd_destroy);
}

typedef struct sink {
    ep_buf *body;
    int oom;
    char *ctype;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    if (ep_buf_append(&s->body, data, size * n) != PS_OK) {
        s->oom = 1;
        return 0;
    }
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;
    if (len > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
        const char *v = data + 13;
        size_t vl = len - 13;
        while (vl > 0 && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl > 127)
            vl = 127;
        memcpy(s->ctype, v, vl);
        s->ctype[vl] = '\0';
    }
    return len;
}

ps_status ep_forward(const char *base, const char *path, int post, const char *key,
                     const char *peer_uuid, const char *authorization, const ep_buf *body,
                     unsigned timeout_s, ep_fwd_reply *out)
{
    PS__RETURN_IF(base == NULL || path == NULL || key == NULL || peer_uuid == NULL || out == NULL,
                  PS_EINVAL, "forward: NULL argument");
    memset(out, 0, sizeof *out);
    pthread_once(&fwd_once, fwd_init);
    CURL *h = pthread_getspecific(fwd_key);
    if (h == NULL) {
        h = curl_easy_init();
        if (h == NULL)
            return PS__ENOMEM("libcurl handle");
        pthread_setspecific(fwd_key, h);
    } else {
        curl_easy_reset(h);
    }
    char *ek = curl_easy_escape(h, key, (int)strlen(key));
    if (ek == NULL)
        return PS__ENOMEM("forward URL");
    size_t ul = strlen(base) + strlen(path) + strlen(ek) + 64;
    char *url = ps_malloc(ul);
    sink s = {ep_buf_new(0), 0, out->content_type};
    if (url == NULL || s.body == NULL) {
        curl_free(ek);
        ps_free(url);
        ep_buf_unref(s.body);
        return PS__ENOMEM("forward request");
    }
    snprintf(url, ul, "%s%s?key=%s&endpoint=%s", base, path, ek, peer_uuid);
    curl_free(ek);

    struct curl_slist *hdrs = NULL;
    char auth[1024];
    hdrs = curl_slist_append(hdrs, "Expect:");
    hdrs = curl_slist_append(hdrs, EP_FORWARDED_HEADER ": 1");
    if (post)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    if (authorization != NULL) {
        snprintf(auth, sizeof auth, "Authorization: %s", authorization);
        hdrs = curl_slist_append(hdrs, auth);
    }
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(timeout_s ? timeout_s : 300));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    if (post) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body && body->len ? (const char *)body->data : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body->len : 0));
    }
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    ps_free(url);
    if (rc != CURLE_OK) {
        ep_buf_unref(s.body);
        if (s.oom)
            return PS__ENOMEM("peer reply");
        return ps__seterr(rc == CURLE_OPERATION_TIMEDOUT ? PS_ETIMEDOUT : PS_ECONN, "%s",
                          err[0] ? err : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = s.body;
    return PS_OK;
}
