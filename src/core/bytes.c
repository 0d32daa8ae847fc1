/* ps_bytes: owned buffers and views behind one free call. */
#include <string.h>

#include "core/internal.h"

static void ps__noop_release(void *opaque, void *data, size_t len)
{
    (void)opaque;
    (void)data;
    (void)len;
}

void ps_bytes_free(ps_bytes *b)
{
    if (b == NULL)
        return;
    if (b->release)
        b->release(b->opaque, b->data, b->len);
    else
        ps_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->release = NULL;
    b->opaque = NULL;
}

void ps_bytes_free_array(ps_bytes *arr, size_t n)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        ps_bytes_free(&arr[i]);
}

ps_status ps_bytes_copy(const void *data, size_t len, ps_bytes *out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_bytes_copy: out is NULL");
    PS__RETURN_IF(data == NULL && len > 0, PS_EINVAL, "ps_bytes_copy: data is NULL");
    void *p = ps_malloc(len);
    if (p == NULL)
        return ps__seterr(PS_ENOMEM, "out of memory copying %zu bytes", len);
    if (len)
        memcpy(p, data, len);
    out->data = p;
    out->len = len;
    out->release = NULL;
    out->opaque = NULL;
    return PS_OK;
}

void ps_bytes_view(const void *data, size_t len, ps_bytes *out)
{
    if (out == NULL)
        return;
    /* The cast drops const: views are documented read-only. */
    out->data = (void *)(uintptr_t)data;
    out->len = len;
    out->release = ps__noop_release;
    out->opaque = NULL;
}

ps_status ps_bytes_own(ps_bytes *b)
{
    PS__RETURN_IF(b == NULL, PS_EINVAL, "ps_bytes_own: NULL buffer");
    if (b->release == NULL && (b->data != NULL || b->len == 0)) {
        if (b->data == NULL) {
            b->data = ps_malloc(1);
            if (b->data == NULL)
                return PS__ENOMEM("empty buffer");
        }
        return PS_OK;
    }
    ps_bytes copy;
    PS__FORWARD(ps_bytes_copy(b->data, b->len, &copy));
    ps_bytes_free(b);
    *b = copy;
    return PS_OK;
}

ps_status ps__batch_outputs_init(const char *who, size_t n, const ps_key *const *keys,
                                 ps_bytes *outs, bool *found)
{
    PS__RETURN_IF(n > 0 && (keys == NULL || outs == NULL), PS_EINVAL, "%s: keys or outs is NULL",
                  who);
    ps_bytes empty = PS_BYTES_INIT;
    for (size_t i = 0; i < n; i++) {
        outs[i] = empty;
        if (found)
            found[i] = false;
    }
    for (size_t i = 0; i < n; i++)
        PS__RETURN_IF(keys[i] == NULL, PS_EINVAL, "%s: key %zu is NULL", who, i);
    return PS_OK;
}
