/*
 * Proxy tokens: the factory of a proxy as compact printable text.
 *
 *   token   = "ps1." base64url(payload)            (unpadded, RFC 4648 section 5)
 *   payload = format flags key [codec] config crc32
 *
 * The byte-by-byte layout, the value encoding and the string dictionary are
 * documented in docs/proxy.md; this file is the reference implementation.
 * Everything read from a token is bounds-checked: lengths never exceed what
 * is left of the input, nesting is limited, strings must be UTF-8, and a
 * CRC-32 over the payload rejects altered or truncated tokens.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "proxy/proxy_internal.h"
#include "proxystore/proxy.h"

/* ---- constants of format 1 (frozen: changing them needs format 2) -------- */

enum {
    PS__T_NULL = 0x00,
    PS__T_FALSE = 0x01,
    PS__T_TRUE = 0x02,
    PS__T_INT = 0x03,    /* zigzag varint */
    PS__T_REAL = 0x04,   /* 8 bytes, IEEE 754 binary64, little-endian */
    PS__T_STR = 0x05,    /* varint length, UTF-8 bytes */
    PS__T_DSTR = 0x06,   /* 1 byte: dictionary index */
    PS__T_ARRAY = 0x07,  /* varint count, values */
    PS__T_OBJECT = 0x08, /* varint count, (name, value) pairs, names in byte order */
    PS__T_UUID = 0x10,   /* key fields only: 16 bytes of a canonical lower-case UUID */
    PS__T_HEX = 0x11,    /* key fields only: varint n, n bytes of an even-length lower-hex text */
    PS__T_SMALL = 0x40   /* 0x40..0x7f: the integer 0..63 */
};

#define PS__FLAG_EVICT  0x01u
#define PS__FLAG_LOCKED 0x02u
#define PS__FLAG_CODEC  0x04u
#define PS__FLAGS_KNOWN (PS__FLAG_EVICT | PS__FLAG_LOCKED | PS__FLAG_CODEC)

#define PS__MAX_DEPTH 16

/* Strings that tokens refer to by index (1-based). Append-only within a format. */
static const char *const ps__dict[] = {
    NULL, /* 0 is "a literal follows" */
    "name",
    "connector",
    "kind",
    "options",
    "codec",
    "cache_size",
    "cache_bytes",
    "metrics",
    "populate_target",
    "auto_register", /* 10 */
    "file",
    "redis",
    "local",
    "endpoint",
    "multi",
    "daos",
    "shm",
    "store_dir",
    "clear",
    "buffering", /* 20 */
    "hostname",
    "port",
    "store_id",
    "include_data_in_config",
    "endpoints",
    "proxystore_dir",
    "raw",
    "zstd",
    "lz4",
    "proxystore", /* 30 */
    "default",
    "pool",
    "container",
    "namespace",
    "unix_socket",
    "db",
    "password",
    "connect_timeout_ms",
    "command_timeout_ms",
    "connectors", /* 40 */
    "policy",
    "priority",
    "host_pattern",
    "min_size_bytes",
    "max_size_bytes",
    "subset_tags",
    "superset_tags",
    "url",
    "address",
    "timeout", /* 50 */
    "localhost",
    "127.0.0.1",
    "size",
    "path",
    "proxystore.connectors.file.FileConnector",
    "proxystore.connectors.redis.RedisConnector",
    "proxystore.connectors.local.LocalConnector",
    "proxystore.connectors.endpoint.EndpointConnector",
    "proxystore.connectors.multi.MultiConnector", /* 59 */
};
#define PS__DICT_N (sizeof ps__dict / sizeof ps__dict[0])

/* Store configuration fields left out of a token when they have these
 * (store.h's documented defaults) and put back when decoding. */
static json_t *ps__default_value(const char *field)
{
    if (strcmp(field, "codec") == 0)
        return json_string("raw");
    if (strcmp(field, "cache_size") == 0)
        return json_integer(PS_STORE_DEFAULT_CACHE_SIZE);
    if (strcmp(field, "cache_bytes") == 0)
        return json_integer(0);
    if (strcmp(field, "metrics") == 0)
        return json_false();
    if (strcmp(field, "populate_target") == 0)
        return json_true();
    if (strcmp(field, "auto_register") == 0)
        return json_false();
    return NULL;
}
static const char *const ps__default_fields[] = {
    "codec", "cache_size", "cache_bytes", "metrics", "populate_target", "auto_register", NULL};

/* ---- CRC-32 ---------------------------------------------------------------- */

uint32_t ps__crc32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

/* ---- writer ---------------------------------------------------------------- */

typedef struct ps__wbuf {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} ps__wbuf;

static void ps__put(ps__wbuf *w, const void *data, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 128;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *np = ps_realloc(w->p, cap);
        if (np == NULL) {
            w->oom = true;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void ps__put8(ps__wbuf *w, unsigned v)
{
    unsigned char b = (unsigned char)v;
    ps__put(w, &b, 1);
}

static void ps__put_varint(ps__wbuf *w, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    ps__put(w, b, n);
}

static unsigned ps__dict_index(const char *s, size_t n)
{
    for (unsigned i = 1; i < PS__DICT_N; i++)
        if (strlen(ps__dict[i]) == n && memcmp(ps__dict[i], s, n) == 0)
            return i;
    return 0;
}

/* A name: a dictionary index byte, or 0 + varint length + bytes. */
static void ps__put_name(ps__wbuf *w, const char *s, size_t n)
{
    unsigned idx = ps__dict_index(s, n);
    if (idx) {
        ps__put8(w, idx);
        return;
    }
    ps__put8(w, 0);
    ps__put_varint(w, n);
    ps__put(w, s, n);
}

typedef struct ps__member {
    const char *name;
    size_t len;
    json_t *value;
} ps__member;

static int ps__member_cmp(const void *a, const void *b)
{
    const ps__member *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static ps_status ps__put_value(ps__wbuf *w, json_t *v, int depth, bool top);

static ps_status ps__put_object(ps__wbuf *w, json_t *v, int depth, bool top)
{
    size_t n = json_object_size(v), m = 0;
    ps__member *mem = ps_calloc(n ? n : 1, sizeof *mem);
    if (mem == NULL)
        return PS__ENOMEM("token members");
    const char *k;
    size_t klen;
    json_t *val;
    json_object_keylen_foreach(v, k, klen, val)
    {
        if (top) {
            /* leave out store fields equal to their default */
            json_t *def = ps__default_value(k);
            bool same = def && strlen(k) == klen && json_equal(def, val);
            json_decref(def);
            if (same)
                continue;
        }
        mem[m].name = k;
        mem[m].len = klen;
        mem[m].value = val;
        m++;
    }
    qsort(mem, m, sizeof *mem, ps__member_cmp);
    ps__put8(w, PS__T_OBJECT);
    ps__put_varint(w, m);
    ps_status st = PS_OK;
    for (size_t i = 0; i < m && st == PS_OK; i++) {
        ps__put_name(w, mem[i].name, mem[i].len);
        st = ps__put_value(w, mem[i].value, depth + 1, false);
    }
    ps_free(mem);
    return st;
}

static ps_status ps__put_value(ps__wbuf *w, json_t *v, int depth, bool top)
{
    PS__RETURN_IF(depth > PS__MAX_DEPTH, PS_EINVAL,
                  "proxy token: store configuration nested deeper than %d", PS__MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_NULL:
        ps__put8(w, PS__T_NULL);
        return PS_OK;
    case JSON_FALSE:
        ps__put8(w, PS__T_FALSE);
        return PS_OK;
    case JSON_TRUE:
        ps__put8(w, PS__T_TRUE);
        return PS_OK;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        if (i >= 0 && i < 64) {
            ps__put8(w, PS__T_SMALL + (unsigned)i);
        } else {
            uint64_t u = (uint64_t)i;
            uint64_t z = (u << 1) ^ (i < 0 ? UINT64_MAX : 0);
            ps__put8(w, PS__T_INT);
            ps__put_varint(w, z);
        }
        return PS_OK;
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        PS__RETURN_IF(!isfinite(d), PS_EINVAL, "proxy token: non-finite number in configuration");
        uint64_t u;
        memcpy(&u, &d, 8);
        unsigned char b[9];
        b[0] = PS__T_REAL;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (unsigned char)(u >> (8 * i));
        ps__put(w, b, 9);
        return PS_OK;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        unsigned idx = ps__dict_index(s, n);
        if (idx) {
            ps__put8(w, PS__T_DSTR);
            ps__put8(w, idx);
        } else {
            ps__put8(w, PS__T_STR);
            ps__put_varint(w, n);
            ps__put(w, s, n);
        }
        return PS_OK;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        ps__put8(w, PS__T_ARRAY);
        ps__put_varint(w, n);
        for (size_t i = 0; i < n; i++)
            PS__FORWARD(ps__put_value(w, json_array_get(v, i), depth + 1, false));
        return PS_OK;
    }
    case JSON_OBJECT:
        return ps__put_object(w, v, depth, top);
    }
    return ps__seterr(PS_EINTERNAL, "proxy token: unknown JSON type");
}

static bool ps__is_lower_hex(const char *s, size_t n)
{
    if (n == 0 || n % 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static unsigned ps__hexnib(char c)
{
    return (c >= 'a') ? (unsigned)(c - 'a' + 10) : (unsigned)(c - '0');
}

static void ps__put_hexbytes(ps__wbuf *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 2)
        ps__put8(w, ps__hexnib(s[i]) << 4 | ps__hexnib(s[i + 1]));
}

static bool ps__codec_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

ps_status ps__token_encode_payload(const ps__token *t, unsigned char **out, size_t *out_len)
{
    PS__RETURN_IF(t == NULL || t->key == NULL || t->config == NULL || out == NULL ||
                      out_len == NULL,
                  PS_EINVAL, "proxy token: NULL argument");
    *out = NULL;
    *out_len = 0;
    PS__RETURN_IF(t->codec && !ps__codec_name_ok(t->codec, strlen(t->codec)), PS_EINVAL,
                  "proxy token: invalid codec name \"%.40s\"", t->codec);
    json_t *cfg = NULL;
    PS__FORWARD(ps__json_parse_object(t->config, "proxy token: store configuration", &cfg));
    ps__wbuf w = {NULL, 0, 0, false};
    unsigned flags = (t->evict ? PS__FLAG_EVICT : 0) | (t->locked ? PS__FLAG_LOCKED : 0) |
                     (t->codec ? PS__FLAG_CODEC : 0);
    ps__put8(&w, PS__TOKEN_FORMAT);
    ps__put8(&w, flags);
    const char *type = ps_key_type(t->key);
    ps__put_name(&w, type, strlen(type));
    size_t nf = ps_key_nfields(t->key);
    ps__put8(&w, (unsigned)nf);
    for (size_t i = 0; i < nf; i++) {
        const char *f = ps_key_field(t->key, i);
        size_t n = strlen(f);
        if (n == PS_UUID_STR_LEN && ps_uuid_is_canonical(f)) {
            ps__put8(&w, PS__T_UUID);
            for (size_t j = 0; j < n; j++) {
                if (f[j] == '-')
                    continue;
                ps__put8(&w, ps__hexnib(f[j]) << 4 | ps__hexnib(f[j + 1]));
                j++;
            }
        } else if (ps__is_lower_hex(f, n)) {
            ps__put8(&w, PS__T_HEX);
            ps__put_varint(&w, n / 2);
            ps__put_hexbytes(&w, f, n);
        } else {
            ps__put8(&w, PS__T_STR);
            ps__put_varint(&w, n);
            ps__put(&w, f, n);
        }
    }
    if (t->codec)
        ps__put_name(&w, t->codec, strlen(t->codec));
    ps_status st = ps__put_value(&w, cfg, 0, true);
    json_decref(cfg);
    if (st == PS_OK) {
        uint32_t crc = ps__crc32(w.p, w.len);
        unsigned char c[4] = {(unsigned char)crc, (unsigned char)(crc >> 8),
                              (unsigned char)(crc >> 16), (unsigned char)(crc >> 24)};
        ps__put(&w, c, 4);
    }
    if (st == PS_OK && w.oom)
        st = PS__ENOMEM("proxy token");
    if (st != PS_OK) {
        ps_free(w.p);
        return st;
    }
    *out = w.p;
    *out_len = w.len;
    return PS_OK;
}

ps_status ps__token_encode(const ps__token *t, char **token)
{
    PS__RETURN_IF(token == NULL, PS_EINVAL, "proxy token: token out-pointer is NULL");
    *token = NULL;
    unsigned char *payload = NULL;
    size_t len = 0;
    PS__FORWARD(ps__token_encode_payload(t, &payload, &len));
    size_t plen = strlen(PS_PROXY_TOKEN_PREFIX);
    char *s = ps_malloc(plen + ps_base64url_encoded_size(len));
    if (s == NULL) {
        ps_free(payload);
        return PS__ENOMEM("proxy token");
    }
    memcpy(s, PS_PROXY_TOKEN_PREFIX, plen);
    ps_base64url_encode(payload, len, s + plen);
    ps_free(payload);
    *token = s;
    return PS_OK;
}

/* ---- reader ---------------------------------------------------------------- */

typedef struct ps__rbuf {
    const unsigned char *p, *end;
} ps__rbuf;

#define PS__BAD(...) ps__seterr(PS_EINVAL, "invalid proxy token: " __VA_ARGS__)

static ps_status ps__get8(ps__rbuf *r, unsigned *v, const char *what)
{
    *v = 0;
    if (r->p >= r->end)
        return PS__BAD("truncated (%s)", what);
    *v = *r->p++;
    return PS_OK;
}

static ps_status ps__get_varint(ps__rbuf *r, uint64_t *v, const char *what)
{
    *v = 0;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return PS__BAD("truncated (%s)", what);
        unsigned b = *r->p++;
        if (i == 9 && b > 1)
            return PS__BAD("number too large (%s)", what);
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return PS_OK;
        }
    }
    return PS__BAD("number too long (%s)", what);
}

/* A length that must fit in what is left of the input. */
static ps_status ps__get_len(ps__rbuf *r, size_t *n, const char *what)
{
    *n = 0;
    uint64_t v;
    PS__FORWARD(ps__get_varint(r, &v, what));
    if (v > (uint64_t)(r->end - r->p))
        return PS__BAD("length %llu exceeds the %zu bytes left (%s)", (unsigned long long)v,
                       (size_t)(r->end - r->p), what);
    *n = (size_t)v;
    return PS_OK;
}

static ps_status ps__get_name(ps__rbuf *r, const char **s, size_t *n, const char *what)
{
    *s = "";
    *n = 0;
    unsigned b;
    PS__FORWARD(ps__get8(r, &b, what));
    if (b == 0) {
        PS__FORWARD(ps__get_len(r, n, what));
        if (memchr(r->p, '\0', *n) != NULL)
            return PS__BAD("NUL byte in a name (%s)", what);
        *s = (const char *)r->p;
        r->p += *n;
        return PS_OK;
    }
    if (b >= PS__DICT_N)
        return PS__BAD("unknown dictionary string %u (%s)", b, what);
    *s = ps__dict[b];
    *n = strlen(*s);
    return PS_OK;
}

static ps_status ps__get_value(ps__rbuf *r, int depth, json_t **out);

static ps_status ps__get_object(ps__rbuf *r, int depth, json_t **out)
{
    size_t n;
    /* each member takes at least two bytes */
    PS__FORWARD(ps__get_len(r, &n, "object size"));
    json_t *obj = json_object();
    if (obj == NULL)
        return PS__ENOMEM("token object");
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k;
        size_t klen;
        json_t *v = NULL;
        ps_status st = ps__get_name(r, &k, &klen, "member name");
        if (st == PS_OK && prev) {
            ps__member a = {prev, prev_len, NULL}, b = {k, klen, NULL};
            if (ps__member_cmp(&a, &b) >= 0)
                st = PS__BAD("object members out of order or repeated");
        }
        if (st == PS_OK)
            st = ps__get_value(r, depth + 1, &v);
        if (st == PS_OK && json_object_setn_new(obj, k, klen, v) != 0)
            st = PS__BAD("member name is not UTF-8");
        if (st != PS_OK) {
            json_decref(obj);
            return st;
        }
        prev = k;
        prev_len = klen;
    }
    *out = obj;
    return PS_OK;
}

static ps_status ps__get_value(ps__rbuf *r, int depth, json_t **out)
{
    *out = NULL;
    if (depth > PS__MAX_DEPTH)
        return PS__BAD("nested deeper than %d", PS__MAX_DEPTH);
    unsigned tag;
    PS__FORWARD(ps__get8(r, &tag, "value"));
    json_t *v = NULL;
    if (tag >= PS__T_SMALL && tag < PS__T_SMALL + 64) {
        v = json_integer((json_int_t)(tag - PS__T_SMALL));
    } else {
        switch (tag) {
        case PS__T_NULL:
            v = json_null();
            break;
        case PS__T_FALSE:
            v = json_false();
            break;
        case PS__T_TRUE:
            v = json_true();
            break;
        case PS__T_INT: {
            uint64_t z;
            PS__FORWARD(ps__get_varint(r, &z, "integer"));
            uint64_t u = (z >> 1) ^ (0u - (z & 1u));
            json_int_t i;
            memcpy(&i, &u, sizeof i);
            v = json_integer(i);
            break;
        }
        case PS__T_REAL: {
            if (r->end - r->p < 8)
                return PS__BAD("truncated (number)");
            uint64_t u = 0;
            for (int i = 0; i < 8; i++)
                u |= (uint64_t)r->p[i] << (8 * i);
            r->p += 8;
            double d;
            memcpy(&d, &u, 8);
            if (!isfinite(d))
                return PS__BAD("non-finite number");
            v = json_real(d);
            break;
        }
        case PS__T_STR: {
            size_t n;
            PS__FORWARD(ps__get_len(r, &n, "string"));
            if (memchr(r->p, '\0', n) != NULL)
                return PS__BAD("NUL byte in a string");
            v = json_stringn((const char *)r->p, n);
            if (v == NULL)
                return PS__BAD("string is not UTF-8");
            r->p += n;
            break;
        }
        case PS__T_DSTR: {
            unsigned idx;
            PS__FORWARD(ps__get8(r, &idx, "dictionary string"));
            if (idx == 0 || idx >= PS__DICT_N)
                return PS__BAD("unknown dictionary string %u", idx);
            v = json_string(ps__dict[idx]);
            break;
        }
        case PS__T_ARRAY: {
            size_t n;
            PS__FORWARD(ps__get_len(r, &n, "array size"));
            v = json_array();
            for (size_t i = 0; v && i < n; i++) {
                json_t *e;
                ps_status st = ps__get_value(r, depth + 1, &e);
                if (st != PS_OK) {
                    json_decref(v);
                    return st;
                }
                if (json_array_append_new(v, e) != 0) {
                    json_decref(v);
                    v = NULL;
                }
            }
            break;
        }
        case PS__T_OBJECT:
            return ps__get_object(r, depth, out);
        default:
            return PS__BAD("unknown value tag 0x%02x", tag);
        }
    }
    if (v == NULL)
        return PS__ENOMEM("token value");
    *out = v;
    return PS_OK;
}

static const char ps__hexdig[] = "0123456789abcdef";

static ps_status ps__get_key(ps__rbuf *r, ps_key **key)
{
    const char *type;
    size_t tlen;
    PS__FORWARD(ps__get_name(r, &type, &tlen, "key type"));
    if (tlen == 0 || tlen > 32)
        return PS__BAD("key type of %zu bytes", tlen);
    char tbuf[33];
    memcpy(tbuf, type, tlen);
    tbuf[tlen] = '\0';
    unsigned nf;
    PS__FORWARD(ps__get8(r, &nf, "key field count"));
    if (nf == 0 || nf > PS_KEY_MAX_FIELDS)
        return PS__BAD("key with %u fields", nf);
    char *fields[PS_KEY_MAX_FIELDS] = {NULL};
    ps_status st = PS_OK;
    for (unsigned i = 0; i < nf && st == PS_OK; i++) {
        unsigned tag;
        size_t n = 0;
        st = ps__get8(r, &tag, "key field");
        if (st != PS_OK)
            break;
        if (tag == PS__T_UUID) {
            if (r->end - r->p < 16) {
                st = PS__BAD("truncated (key UUID)");
                break;
            }
            char *f = ps_malloc(PS_UUID_STR_LEN + 1);
            if (f == NULL) {
                st = PS__ENOMEM("key field");
                break;
            }
            char *q = f;
            for (int j = 0; j < 16; j++) {
                if (j == 4 || j == 6 || j == 8 || j == 10)
                    *q++ = '-';
                *q++ = ps__hexdig[r->p[j] >> 4];
                *q++ = ps__hexdig[r->p[j] & 15];
            }
            *q = '\0';
            r->p += 16;
            fields[i] = f;
        } else if (tag == PS__T_HEX) {
            st = ps__get_len(r, &n, "key hex field");
            if (st != PS_OK)
                break;
            if (n == 0) {
                st = PS__BAD("empty hex key field");
                break;
            }
            char *f = ps_malloc(2 * n + 1);
            if (f == NULL) {
                st = PS__ENOMEM("key field");
                break;
            }
            for (size_t j = 0; j < n; j++) {
                f[2 * j] = ps__hexdig[r->p[j] >> 4];
                f[2 * j + 1] = ps__hexdig[r->p[j] & 15];
            }
            f[2 * n] = '\0';
            r->p += n;
            fields[i] = f;
        } else if (tag == PS__T_STR) {
            st = ps__get_len(r, &n, "key field");
            if (st != PS_OK)
                break;
            if (memchr(r->p, '\0', n) != NULL) {
                st = PS__BAD("NUL byte in a key field");
                break;
            }
            char *f = ps_malloc(n + 1);
            if (f == NULL) {
                st = PS__ENOMEM("key field");
                break;
            }
            memcpy(f, r->p, n);
            f[n] = '\0';
            r->p += n;
            fields[i] = f;
        } else {
            st = PS__BAD("unknown key field tag 0x%02x", tag);
        }
    }
    if (st == PS_OK) {
        st = ps_key_new(tbuf, nf, (const char *const *)fields, key);
        if (st != PS_OK)
            st = ps__preferr(PS_EINVAL, "invalid proxy token");
    }
    for (unsigned i = 0; i < nf; i++)
        ps_free(fields[i]);
    return st;
}

static ps_status ps__check_config(json_t *cfg)
{
    if (!json_is_object(cfg))
        return PS__BAD("the store configuration is not an object");
    json_t *name = json_object_get(cfg, "name");
    if (!json_is_string(name) || json_string_length(name) == 0)
        return PS__BAD("the store configuration has no name");
    json_t *conn = json_object_get(cfg, "connector");
    if (!json_is_object(conn) || !json_is_string(json_object_get(conn, "kind")))
        return PS__BAD("the store configuration has no connector kind");
    for (const char *const *f = ps__default_fields; *f; f++) {
        if (json_object_get(cfg, *f) == NULL) {
            json_t *d = ps__default_value(*f);
            if (d == NULL || json_object_set_new(cfg, *f, d) != 0)
                return PS__ENOMEM("token configuration");
        }
    }
    return PS_OK;
}

ps_status ps__token_decode_payload(const unsigned char *buf, size_t len, ps__token *t)
{
    PS__RETURN_IF(t == NULL || (buf == NULL && len > 0), PS_EINVAL, "proxy token: NULL argument");
    memset(t, 0, sizeof *t);
    if (len < 2 + 4)
        return PS__BAD("%zu bytes is too short", len);
    uint32_t want = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
                    (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
    if (buf[0] != PS__TOKEN_FORMAT)
        return PS__BAD("unknown format %u (this library reads format %d)", buf[0],
                       PS__TOKEN_FORMAT);
    if (ps__crc32(buf, len - 4) != want)
        return PS__BAD("checksum mismatch (altered or truncated)");
    ps__rbuf r = {buf + 1, buf + len - 4};
    unsigned flags;
    PS__FORWARD(ps__get8(&r, &flags, "flags"));
    if (flags & ~PS__FLAGS_KNOWN)
        return PS__BAD("unknown flags 0x%02x", flags);
    t->evict = flags & PS__FLAG_EVICT;
    t->locked = flags & PS__FLAG_LOCKED;
    ps_status st = ps__get_key(&r, &t->key);
    if (st == PS_OK && (flags & PS__FLAG_CODEC)) {
        const char *c;
        size_t n;
        st = ps__get_name(&r, &c, &n, "codec");
        if (st == PS_OK && !ps__codec_name_ok(c, n))
            st = PS__BAD("invalid codec name");
        if (st == PS_OK) {
            t->codec = ps_malloc(n + 1);
            if (t->codec == NULL) {
                st = PS__ENOMEM("token codec");
            } else {
                memcpy(t->codec, c, n);
                t->codec[n] = '\0';
            }
        }
    }
    json_t *cfg = NULL;
    if (st == PS_OK)
        st = ps__get_value(&r, 0, &cfg);
    if (st == PS_OK && r.p != r.end)
        st = PS__BAD("%zu unexpected bytes after the configuration", (size_t)(r.end - r.p));
    if (st == PS_OK)
        st = ps__check_config(cfg);
    if (st == PS_OK)
        st = ps__json_dump(cfg, &t->config);
    json_decref(cfg);
    if (st != PS_OK)
        ps__token_clear(t);
    return st;
}

ps_status ps__token_decode(const char *text, size_t len, ps__token *t)
{
    PS__RETURN_IF(t == NULL, PS_EINVAL, "proxy token: NULL argument");
    memset(t, 0, sizeof *t);
    PS__RETURN_IF(text == NULL, PS_EINVAL, "invalid proxy token: NULL");
    size_t plen = strlen(PS_PROXY_TOKEN_PREFIX);
    if (len > PS_PROXY_TOKEN_MAX)
        return PS__BAD("longer than %d bytes", PS_PROXY_TOKEN_MAX);
    if (len < plen || memcmp(text, PS_PROXY_TOKEN_PREFIX, plen) != 0) {
        if (len >= 4 && text[0] == 'p' && text[1] == 's' && text[2] >= '0' && text[2] <= '9' &&
            text[3] == '.')
            return PS__BAD("format \"%.3s.\" is not supported (this library reads \"%s\")", text,
                           PS_PROXY_TOKEN_PREFIX);
        return PS__BAD("does not start with \"%s\"", PS_PROXY_TOKEN_PREFIX);
    }
    size_t blen = len - plen;
    unsigned char *buf = ps_malloc(blen * 3 / 4 + 1);
    if (buf == NULL)
        return PS__ENOMEM("proxy token");
    size_t n = 0;
    ps_status st = ps_base64url_decode(text + plen, blen, buf, &n);
    if (st != PS_OK)
        st = ps__preferr(PS_EINVAL, "invalid proxy token");
    else
        st = ps__token_decode_payload(buf, n, t);
    ps_free(buf);
    return st;
}

void ps__token_clear(ps__token *t)
{
    if (t == NULL)
        return;
    ps_key_free(t->key);
    ps_free(t->config);
    ps_free(t->codec);
    memset(t, 0, sizeof *t);
}
