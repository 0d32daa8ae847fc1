/* Storage front: reference-counted buffers, size checks, dispatch. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "storage_impl.h"

struct ep_storage {
    const ep_storage_ops *ops;
    void *impl;
    uint64_t max_object_size;
    uint64_t max_size;
};

/* ---- ep_buf ------------------------------------------------------------- */

ep_buf *ep_buf_new(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(ep_buf))
        return NULL;
    ep_buf *b = ps_malloc(sizeof(ep_buf) + cap);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = 0;
    b->cap = cap;
    return b;
}

ps_status ep_buf_append(ep_buf **bp, const void *data, size_t n)
{
    PS__RETURN_IF(bp == NULL || *bp == NULL || (data == NULL && n > 0), PS_EINVAL,
                  "ep_buf_append: NULL argument");
    ep_buf *b = *bp;
    PS__RETURN_IF(n > SIZE_MAX - sizeof(ep_buf) - b->len, PS_ETOOBIG, "buffer size overflow");
    if (b->len + n > b->cap) {
        size_t cap = b->cap < 4096 ? 4096 : b->cap;
        while (cap < b->len + n)
            cap = cap > (SIZE_MAX - sizeof(ep_buf)) / 2 ? b->len + n : cap * 2;
        /* realloc of a large block moves pages (mremap), not bytes. */
        ep_buf *nb = ps_realloc(b, sizeof(ep_buf) + cap);
        if (nb == NULL)
            return ps__seterr(PS_ENOMEM, "out of memory growing a request body to %zu bytes",
                              b->len + n);
        nb->cap = cap;
        *bp = b = nb;
    }
    if (n > 0)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    return PS_OK;
}

ep_buf *ep_buf_ref(ep_buf *b)
{
    if (b != NULL)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void ep_buf_unref(ep_buf *b)
{
    if (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        ps_free(b);
}

/* ---- readable sizes ----------------------------------------------------- */

void ep_readable_size(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = 0;
    while (u < 4 && v >= 1000.0) {
        v /= 1000.0;
        u++;
    }
    char num[64];
    snprintf(num, sizeof num, "%.3f", v);
    char *end = num + strlen(num);
    while (end > num && end[-1] == '0')
        *--end = '\0';
    if (end > num && end[-1] == '.')
        *--end = '\0';
    snprintf(buf, size, "%s %s", num, units[u]);
}

/* ---- dispatch ----------------------------------------------------------- */

ps_status ep_storage_open(const ep_storage_options *opts, ep_storage **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "storage: out is NULL");
    *out = NULL;
    PS__RETURN_IF(opts == NULL, PS_EINVAL, "storage: options are NULL");
    const ep_storage_ops *ops;
    if (opts->kind == EP_STORAGE_MEMORY)
        ops = &ep_storage_memory_ops;
    else if (opts->kind == EP_STORAGE_SQLITE)
        ops = &ep_storage_sqlite_ops;
    else
        return ps__seterr(PS_EINVAL, "storage: unknown kind %d", (int)opts->kind);
    ep_storage *s = ps_calloc(1, sizeof *s);
    if (s == NULL)
        return PS__ENOMEM("storage");
    s->ops = ops;
    s->max_object_size = opts->max_object_size;
    s->max_size = opts->kind == EP_STORAGE_MEMORY ? opts->max_size : 0;
    ps_status st = ops->open(opts, &s->impl);
    if (st != PS_OK) {
        ps_free(s);
        return st;
    }
    *out = s;
    return PS_OK;
}

ps_status ep_storage_check_size(ep_storage *s, uint64_t size)
{
    PS__RETURN_IF(s == NULL, PS_EINVAL, "storage: NULL");
    char a[32], b[32];
    if (s->max_object_size > 0 && size > s->max_object_size) {
        ep_readable_size(size, a, sizeof a);
        ep_readable_size(s->max_object_size, b, sizeof b);
        return ps__seterr(PS_ETOOBIG, "Bytes value has size %s which exceeds the %s object limit.",
                          a, b);
    }
    if (s->max_size > 0 && size > s->max_size) {
        ep_readable_size(size, a, sizeof a);
        ep_readable_size(s->max_size, b, sizeof b);
        return ps__seterr(PS_ETOOBIG, "Bytes value has size %s which exceeds the %s memory limit.",
                          a, b);
    }
    return PS_OK;
}

uint64_t ep_storage_limit(const ep_storage *s)
{
    if (s == NULL)
        return 0;
    if (s->max_object_size == 0)
        return s->max_size;
    if (s->max_size == 0)
        return s->max_object_size;
    return s->max_object_size < s->max_size ? s->max_object_size : s->max_size;
}

static ps_status check_key(const char *key, size_t *klen)
{
    PS__RETURN_IF(key == NULL, PS_EINVAL, "storage: key is NULL");
    size_t n = strnlen(key, EP_MAX_KEY_LEN + 1);
    PS__RETURN_IF(n > EP_MAX_KEY_LEN, PS_EINVAL, "key longer than %d bytes", EP_MAX_KEY_LEN);
    *klen = n;
    return PS_OK;
}

ps_status ep_storage_set(ep_storage *s, const char *key, ep_buf *value)
{
    size_t klen = 0;
    ps_status st = PS_OK;
    if (s == NULL || value == NULL)
        st = ps__seterr(PS_EINVAL, "storage set: NULL argument");
    if (st == PS_OK)
        st = check_key(key, &klen);
    if (st == PS_OK)
        st = ep_storage_check_size(s, value->len);
    if (st != PS_OK) {
        ep_buf_unref(value);
        return st;
    }
    return s->ops->set(s->impl, key, klen, value);
}

ps_status ep_storage_get(ep_storage *s, const char *key, ep_buf **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "storage get: out is NULL");
    *out = NULL;
    PS__RETURN_IF(s == NULL, PS_EINVAL, "storage get: NULL storage");
    size_t klen = 0;
    PS__FORWARD(check_key(key, &klen));
    return s->ops->get(s->impl, key, klen, out);
}

ps_status ep_storage_exists(ep_storage *s, const char *key, bool *out)
{
    PS__RETURN_IF(s == NULL || out == NULL, PS_EINVAL, "storage exists: NULL argument");
    *out = false;
    size_t klen = 0;
    PS__FORWARD(check_key(key, &klen));
    return s->ops->exists(s->impl, key, klen, out);
}

ps_status ep_storage_evict(ep_storage *s, const char *key)
{
    PS__RETURN_IF(s == NULL, PS_EINVAL, "storage evict: NULL storage");
    size_t klen = 0;
    PS__FORWARD(check_key(key, &klen));
    return s->ops->evict(s->impl, key, klen);
}

ps_status ep_storage_clear(ep_storage *s)
{
    PS__RETURN_IF(s == NULL, PS_EINVAL, "storage clear: NULL storage");
    return s->ops->clear(s->impl);
}

void ep_storage_get_stats(ep_storage *s, ep_storage_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (s != NULL)
        s->ops->stats(s->impl, out);
}

const char *ep_storage_kind_name(const ep_storage *s)
{
    return s ? s->ops->name : "none";
}

void ep_storage_close(ep_storage *s, bool cleanup)
{
    if (s == NULL)
        return;
    s->ops->close(s->impl, cleanup);
    ps_free(s);
}
