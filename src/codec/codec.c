/*
 * Codec registry and the builtin codecs "raw" and "zstd" (the third builtin,
 * "proxystore", is in proxystore.c).
 */
#include <pthread.h>
#include <string.h>

#include <zstd.h>

#include "codec/codec_internal.h"
#include "core/internal.h"

#define PS__MAX_CODECS 64

static pthread_mutex_t ps__codec_lock = PTHREAD_MUTEX_INITIALIZER;
static const ps_codec *ps__codecs[PS__MAX_CODECS];
static size_t ps__ncodecs;

/* ---- raw ----------------------------------------------------------------- */

static ps_status ps__raw_encode(const void *in, size_t len, ps_bytes *out)
{
    ps_bytes_view(in, len, out);
    return PS_OK;
}

static ps_status ps__raw_decode(ps_bytes *in, ps_bytes *out)
{
    *out = *in;
    in->data = NULL;
    in->len = 0;
    in->release = NULL;
    in->opaque = NULL;
    return PS_OK;
}

static const ps_codec ps__codec_raw = {PS_CODEC_VERSION, "raw", ps__raw_encode, ps__raw_decode};

/* ---- zstd ---------------------------------------------------------------- */

/* Largest object zstd will decode when the frame does not say its size up
 * front or claims more than this; protects against decompression bombs. */
#define PS__ZSTD_MAX_DECODED ((unsigned long long)1 << 40)

static ps_status ps__zstd_encode(const void *in, size_t len, ps_bytes *out)
{
    size_t bound = ZSTD_compressBound(len);
    if (ZSTD_isError(bound))
        return ps__seterr(PS_ETOOBIG, "zstd: %zu bytes is too large to compress", len);
    void *buf = ps_malloc(bound);
    if (buf == NULL)
        return PS__ENOMEM("zstd output");
    size_t n = ZSTD_compress(buf, bound, in, len, 3);
    if (ZSTD_isError(n)) {
        ps_free(buf);
        return ps__seterr(PS_ECODEC, "zstd compress: %s", ZSTD_getErrorName(n));
    }
    void *shrunk = ps_realloc(buf, n);
    out->data = shrunk ? shrunk : buf;
    out->len = n;
    out->release = NULL;
    out->opaque = NULL;
    return PS_OK;
}

static ps_status ps__zstd_decode_stream(const ps_bytes *in, ps_bytes *out)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (ds == NULL)
        return PS__ENOMEM("zstd stream");
    size_t cap = in->len * 4 + 64, used = 0;
    unsigned char *buf = ps_malloc(cap);
    ps_status st = PS_OK;
    if (buf == NULL) {
        ZSTD_freeDStream(ds);
        return PS__ENOMEM("zstd output");
    }
    ZSTD_inBuffer ib = {in->data, in->len, 0};
    for (;;) {
        if (used == cap) {
            if (cap >= PS__ZSTD_MAX_DECODED) {
                st = ps__seterr(PS_ECODEC, "zstd: decoded object exceeds %llu bytes",
                                PS__ZSTD_MAX_DECODED);
                break;
            }
            unsigned char *nb = ps_realloc(buf, cap * 2);
            if (nb == NULL) {
                st = PS__ENOMEM("zstd output");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ZSTD_outBuffer ob = {buf + used, cap - used, 0};
        size_t r = ZSTD_decompressStream(ds, &ob, &ib);
        used += ob.pos;
        if (ZSTD_isError(r)) {
            st = ps__seterr(PS_ECODEC, "zstd decompress: %s", ZSTD_getErrorName(r));
            break;
        }
        if (r == 0 && ib.pos == ib.size)
            break;
        if (ib.pos == ib.size && ob.pos < ob.size) {
            st = ps__seterr(PS_ECODEC, "zstd decompress: truncated frame");
            break;
        }
    }
    ZSTD_freeDStream(ds);
    if (st != PS_OK) {
        ps_free(buf);
        return st;
    }
    out->data = buf;
    out->len = used;
    out->release = NULL;
    out->opaque = NULL;
    return PS_OK;
}

static ps_status ps__zstd_decode(ps_bytes *in, ps_bytes *out)
{
    ps_status st;
    unsigned long long size = ZSTD_getFrameContentSize(in->data, in->len);
    if (size == ZSTD_CONTENTSIZE_ERROR) {
        st = ps__seterr(PS_ECODEC, "zstd: input is not a zstd frame");
    } else if (size == ZSTD_CONTENTSIZE_UNKNOWN || size > PS__ZSTD_MAX_DECODED) {
        st = ps__zstd_decode_stream(in, out);
    } else {
        void *buf = ps_malloc((size_t)size);
        if (buf == NULL) {
            st = PS__ENOMEM("zstd output");
        } else {
            size_t n = ZSTD_decompress(buf, (size_t)size, in->data, in->len);
            if (ZSTD_isError(n) || n != size) {
                ps_free(buf);
                st = ps__seterr(PS_ECODEC, "zstd decompress: %s",
                                ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch");
            } else {
                out->data = buf;
                out->len = n;
                out->release = NULL;
                out->opaque = NULL;
                st = PS_OK;
            }
        }
    }
    ps_bytes_free(in);
    return st;
}

static const ps_codec ps__codec_zstd = {PS_CODEC_VERSION, "zstd", ps__zstd_encode, ps__zstd_decode};

/* ---- registry ------------------------------------------------------------ */

static bool ps__codec_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > PS_CODEC_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static ps_status ps__codec_add(const ps_codec *codec)
{
    PS__RETURN_IF(codec == NULL, PS_EINVAL, "ps_codec_register: codec is NULL");
    PS__RETURN_IF(codec->version != PS_CODEC_VERSION, PS_EINVAL,
                  "ps_codec_register: unknown codec version %u", codec->version);
    PS__RETURN_IF(!ps__codec_name_ok(codec->name), PS_EINVAL,
                  "ps_codec_register: invalid codec name");
    PS__RETURN_IF(!codec->encode || !codec->decode, PS_EINVAL,
                  "ps_codec_register: codec \"%s\" lacks encode or decode", codec->name);
    ps_status st = PS_OK;
    pthread_mutex_lock(&ps__codec_lock);
    for (size_t i = 0; i < ps__ncodecs; i++) {
        if (strcmp(ps__codecs[i]->name, codec->name) == 0) {
            st = ps__seterr(PS_EEXIST, "a codec named \"%s\" is already registered", codec->name);
            goto out;
        }
    }
    if (ps__ncodecs == PS__MAX_CODECS) {
        st = ps__seterr(PS_ENOSPC, "ps_codec_register: at most %d codecs", PS__MAX_CODECS);
        goto out;
    }
    ps__codecs[ps__ncodecs++] = codec;
out:
    pthread_mutex_unlock(&ps__codec_lock);
    return st;
}

/* The builtin codecs, registered once, on the registry's first use. */
static pthread_once_t ps__codecs_once = PTHREAD_ONCE_INIT;

static void ps__codecs_add_builtin(void)
{
    ps__codec_add(&ps__codec_raw);
    ps__codec_add(&ps__codec_zstd);
    ps__codec_add(&ps__codec_proxystore);
}

static void ps__codecs_init(void)
{
    pthread_once(&ps__codecs_once, ps__codecs_add_builtin);
}

ps_status ps_codec_register(const ps_codec *codec)
{
    ps__codecs_init();
    return ps__codec_add(codec);
}

const ps_codec *ps_codec_find(const char *name)
{
    ps__codecs_init();
    if (name == NULL) {
        ps__seterr(PS_EINVAL, "ps_codec_find: name is NULL");
        return NULL;
    }
    const ps_codec *found = NULL;
    pthread_mutex_lock(&ps__codec_lock);
    for (size_t i = 0; i < ps__ncodecs; i++)
        if (strcmp(ps__codecs[i]->name, name) == 0)
            found = ps__codecs[i];
    pthread_mutex_unlock(&ps__codec_lock);
    if (found == NULL)
        ps__seterr(PS_EINVAL, "unknown codec \"%.64s\"", name);
    return found;
}

size_t ps__codec_names(const char **names, size_t max)
{
    ps__codecs_init();
    pthread_mutex_lock(&ps__codec_lock);
    size_t n = ps__ncodecs < max ? ps__ncodecs : max;
    for (size_t i = 0; i < n; i++)
        names[i] = ps__codecs[i]->name;
    pthread_mutex_unlock(&ps__codec_lock);
    return n;
}

ps_status ps_codec_encode(const ps_codec *codec, const void *in, size_t len, ps_bytes *out)
{
    PS__RETURN_IF(codec == NULL || out == NULL, PS_EINVAL, "ps_codec_encode: NULL argument");
    PS__RETURN_IF(in == NULL && len > 0, PS_EINVAL, "ps_codec_encode: input is NULL");
    ps_bytes empty = PS_BYTES_INIT;
    *out = empty;
    ps_clear_error();
    ps_status st = codec->encode(in, len, out);
    if (st != PS_OK && ps__errmsg_empty())
        ps__seterr(st, "codec %s: encode failed", codec->name);
    return st;
}

ps_status ps_codec_decode(const ps_codec *codec, ps_bytes *in, ps_bytes *out)
{
    if (in == NULL || out == NULL || codec == NULL) {
        ps_bytes_free(in);
        return ps__seterr(PS_EINVAL, "ps_codec_decode: NULL argument");
    }
    ps_bytes empty = PS_BYTES_INIT;
    *out = empty;
    ps_clear_error();
    ps_status st = codec->decode(in, out);
    if (st != PS_OK)
        ps__preferr(st, "codec %s: decode failed", codec->name);
    return st;
}
