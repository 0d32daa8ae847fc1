/*
 * The "proxystore" codec: upstream ProxyStore's serialization framing
 * (proxystore/serialize.py) for bytes and strings, so objects written by C
 * through a shared connector (Redis, file, endpoint) read as `bytes` in
 * Python ProxyStore, and the other way round.
 *
 *   serialized = IDENT (2 ASCII bytes) '\n' payload
 *
 * Encode: always "BS\n" + the bytes (upstream's bytes serializer).
 * Decode: the identifier is the first line (up to the first '\n', or the
 * whole buffer when there is none) with ASCII whitespace stripped, as
 * upstream does; the payload is what follows the first '\n' (empty when
 * there is none).
 *   "BS" (bytes, v0.7+) and "01" (bytes, v0.6.5): the payload as is.
 *   "US" (str, v0.7+) and "02" (str, v0.6.5): the payload, which must be
 *        UTF-8 (Python decodes it strictly), as is.
 *   "PK", "CP", "NP", "PD", "PL", "03", "04": pickled or array/frame
 *        objects, which C cannot decode: PS_ECODEC naming the identifier.
 *   anything else: PS_ECODEC "Unknown identifier".
 * Decoding hands out a view of the fetched buffer (no copy of the payload).
 */
#include <stdio.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "core/internal.h"

static ps_status ps__pscodec_encode(const void *in, size_t len, ps_bytes *out)
{
    PS__RETURN_IF(len > SIZE_MAX - 3, PS_ETOOBIG, "proxystore codec: %zu bytes is too large", len);
    unsigned char *buf = ps_malloc(len + 3);
    if (buf == NULL)
        return PS__ENOMEM("proxystore codec output");
    buf[0] = 'B';
    buf[1] = 'S';
    buf[2] = '\n';
    if (len)
        memcpy(buf + 3, in, len);
    out->data = buf;
    out->len = len + 3;
    out->release = NULL;
    out->opaque = NULL;
    return PS_OK;
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF), as Python's
 * bytes.decode('utf-8'). */
static bool ps__utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t j = 2; j <= k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xbf)
                return false;
        i += k + 1;
    }
    return true;
}

static bool ps__ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A view of part of a fetched buffer: releasing it releases the original. */
typedef struct ps__slice {
    ps_bytes whole;
} ps__slice;

static void ps__slice_release(void *opaque, void *data, size_t len)
{
    (void)data;
    (void)len;
    ps__slice *s = opaque;
    ps_bytes_free(&s->whole);
    ps_free(s);
}

static const struct {
    const char id[3];
    const char *what;
} ps__python_only[] = {
    {"PK", "a pickled Python object"},
    {"CP", "a cloudpickled Python object"},
    {"NP", "a numpy array"},
    {"PD", "a pandas DataFrame"},
    {"PL", "a polars DataFrame"},
    {"03", "a pickled Python object (v0.6.5)"},
    {"04", "a cloudpickled Python object (v0.6.5)"},
};

static ps_status ps__pscodec_decode(ps_bytes *in, ps_bytes *out)
{
    const unsigned char *d = in->data;
    size_t n = in->len;
    const unsigned char *nl = n ? memchr(d, '\n', n) : NULL;
    size_t line = nl ? (size_t)(nl - d) : n;
    size_t a = 0, b = line;
    while (a < b && ps__ascii_space(d[a]))
        a++;
    while (b > a && ps__ascii_space(d[b - 1]))
        b--;
    char id[3] = {0};
    bool two = b - a == 2;
    if (two) {
        id[0] = (char)d[a];
        id[1] = (char)d[a + 1];
    }
    ps_status st = PS_OK;
    bool text = false;
    if (two && (strcmp(id, "BS") == 0 || strcmp(id, "01") == 0)) {
        text = false;
    } else if (two && (strcmp(id, "US") == 0 || strcmp(id, "02") == 0)) {
        text = true;
    } else {
        for (size_t i = 0; two && i < sizeof ps__python_only / sizeof ps__python_only[0]; i++)
            if (strcmp(id, ps__python_only[i].id) == 0)
                st = ps__seterr(PS_ECODEC,
                                "proxystore codec: identifier b'%s' is %s, which C cannot "
                                "decode (only bytes \"BS\"/\"01\" and strings \"US\"/\"02\")",
                                id, ps__python_only[i].what);
        if (st == PS_OK) {
            char shown[64];
            size_t k = 0;
            for (size_t i = a; i < b && k + 5 < sizeof shown; i++) {
                unsigned char c = d[i];
                if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
                    shown[k++] = (char)c;
                else
                    k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", c);
            }
            shown[k] = '\0';
            st = ps__seterr(PS_ECODEC,
                            "proxystore codec: Unknown identifier b'%s' for deserialization.",
                            shown);
        }
    }
    size_t off = nl ? line + 1 : n;
    if (st == PS_OK && text && !ps__utf8_valid(d + off, n - off))
        st = ps__seterr(PS_ECODEC, "proxystore codec: string payload (b'%s') is not valid UTF-8",
                        id);
    if (st != PS_OK) {
        ps_bytes_free(in);
        return st;
    }
    if (off == n) {
        ps_bytes_free(in);
        out->data = NULL;
        out->len = 0;
        out->release = NULL;
        out->opaque = NULL;
        return PS_OK;
    }
    ps__slice *s = ps_malloc(sizeof *s);
    if (s == NULL) {
        ps_bytes_free(in);
        return PS__ENOMEM("proxystore codec view");
    }
    s->whole = *in;
    out->data = (unsigned char *)in->data + off;
    out->len = n - off;
    out->release = ps__slice_release;
    out->opaque = s;
    in->data = NULL;
    in->len = 0;
    in->release = NULL;
    in->opaque = NULL;
    return PS_OK;
}

const ps_codec ps__codec_proxystore = {PS_CODEC_VERSION, "proxystore", ps__pscodec_encode,
                                       ps__pscodec_decode};
