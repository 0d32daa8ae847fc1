/* base64url, host name, data directory, clocks, hashing, JSON helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/internal.h"
#include "proxystore/version.h"

static const char ps__b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t ps_base64url_encoded_size(size_t n)
{
    return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0) + 1;
}

size_t ps_base64url_encode(const void *data, size_t n, char *out)
{
    if (out == NULL || (data == NULL && n > 0))
        return 0;
    const unsigned char *s = data;
    char *p = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *p++ = ps__b64[v >> 18];
        *p++ = ps__b64[(v >> 12) & 63];
        *p++ = ps__b64[(v >> 6) & 63];
        *p++ = ps__b64[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        *p++ = ps__b64[v >> 18];
        *p++ = ps__b64[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        *p++ = ps__b64[v >> 18];
        *p++ = ps__b64[(v >> 12) & 63];
        *p++ = ps__b64[(v >> 6) & 63];
    }
    *p = '\0';
    return (size_t)(p - out);
}

int ps__hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int ps__b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

ps_status ps_base64url_decode(const char *text, size_t len, void *out, size_t *out_len)
{
    PS__RETURN_IF(out_len == NULL || (text == NULL && len > 0) || (out == NULL && len > 0),
                  PS_EINVAL, "base64url: NULL argument");
    PS__RETURN_IF(len % 4 == 1, PS_EINVAL, "base64url: invalid length %zu", len);
    unsigned char *d = out;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = ps__b64val(text[i]);
        PS__RETURN_IF(v < 0, PS_EINVAL, "base64url: invalid character at offset %zu", i);
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    PS__RETURN_IF(acc != 0, PS_EINVAL, "base64url: non-zero trailing bits");
    *out_len = o;
    return PS_OK;
}

ps_status ps_hostname(char *buf, size_t size)
{
    PS__RETURN_IF(buf == NULL || size == 0, PS_EINVAL, "ps_hostname: no buffer");
    const char *env = getenv("PROXYSTORE_HOSTNAME");
    if (env && *env) {
        size_t n = strlen(env);
        PS__RETURN_IF(n + 1 > size, PS_EINVAL, "ps_hostname: buffer of %zu bytes too small", size);
        memcpy(buf, env, n + 1);
        return PS_OK;
    }
    if (gethostname(buf, size) != 0)
        return ps__seterr(errno == ENAMETOOLONG ? PS_EINVAL : PS_EIO, "gethostname: %s",
                          strerror(errno));
    buf[size - 1] = '\0';
    return PS_OK;
}

static char *ps__join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = ps_malloc(la + lb + 2);
    if (r == NULL)
        return NULL;
    memcpy(r, a, la);
    r[la] = '/';
    memcpy(r + la + 1, b, lb + 1);
    return r;
}

ps_status ps_data_dir(char **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_data_dir: out is NULL");
    *out = NULL;
    const char *v = getenv("PROXYSTORE_HOME");
    char *r = NULL;
    if (v && *v) {
        r = ps_strdup(v);
    } else if ((v = getenv("XDG_DATA_HOME")) && *v) {
        r = ps__join(v, "proxystore");
    } else if ((v = getenv("HOME")) && *v) {
        r = ps__join(v, ".local/share/proxystore");
    } else {
        return ps__seterr(PS_EINVAL,
                          "no data directory: set PROXYSTORE_HOME, XDG_DATA_HOME or HOME");
    }
    if (r == NULL)
        return PS__ENOMEM("data directory");
    *out = r;
    return PS_OK;
}

void ps__advise_hugepages(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    const size_t huge = (size_t)2 << 20;
    if (p == NULL || len < 4 * huge)
        return;
    uintptr_t a = (uintptr_t)p, start = (a + huge - 1) & ~(uintptr_t)(huge - 1);
    uintptr_t end = (a + len) & ~(uintptr_t)(huge - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

uint64_t ps_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double ps__wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t ps__hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- JSON ---------------------------------------------------------------- */

ps_status ps__json_parse_object(const char *text, const char *what, json_t **out)
{
    PS__RETURN_IF(text == NULL, PS_EINVAL, "%s: JSON text is NULL", what);
    json_error_t err;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    PS__RETURN_IF(v == NULL, PS_EINVAL, "%s: invalid JSON at line %d column %d: %s", what, err.line,
                  err.column, err.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return ps__seterr(PS_EINVAL, "%s: expected a JSON object", what);
    }
    *out = v;
    return PS_OK;
}

ps_status ps__json_dump(const json_t *value, char **out)
{
    /* jansson keeps its own allocator (the application may use jansson
     * too); copy the text so that the caller frees it with ps_free(). */
    char *s = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (s == NULL)
        return PS__ENOMEM("JSON text");
    *out = ps_strdup(s);
    free(s);
    return *out ? PS_OK : PS__ENOMEM("JSON text");
}

ps_status ps__json_check_fields(const json_t *obj, const char *what, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)obj, k, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0)
                ok = true;
        PS__RETURN_IF(!ok, PS_EINVAL, "%s: unknown field \"%s\"", what, k);
    }
    return PS_OK;
}

ps_status ps__json_get_string(const json_t *obj, const char *what, const char *name,
                              const char **out)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return PS_OK;
    PS__RETURN_IF(!json_is_string(v), PS_EINVAL, "%s: field \"%s\" must be a string", what, name);
    *out = json_string_value(v);
    return PS_OK;
}

ps_status ps__json_get_bool(const json_t *obj, const char *what, const char *name, bool *out)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return PS_OK;
    PS__RETURN_IF(!json_is_boolean(v), PS_EINVAL, "%s: field \"%s\" must be true or false", what,
                  name);
    *out = json_is_true(v);
    return PS_OK;
}

ps_status ps__json_get_int(const json_t *obj, const char *what, const char *name, long long *out)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return PS_OK;
    PS__RETURN_IF(!json_is_integer(v), PS_EINVAL, "%s: field \"%s\" must be an integer", what,
                  name);
    *out = json_integer_value(v);
    return PS_OK;
}

const char *ps_version(void)
{
    return PS_VERSION_STRING;
}
