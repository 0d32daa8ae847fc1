/*
 * Keys: an immutable connector type plus fields, with one canonical text.
 * Memory layout: one allocation holding the struct, the field pointers, the
 * decoded fields and the canonical text.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"
#include "proxystore/sys/connector.h"

struct ps_key {
    uint64_t hash;
    size_t size; /* bytes of the whole allocation (for ps_key_dup) */
    size_t nfields;
    size_t text_len;
    const char *type; /* points into text, NUL-terminated copy after fields */
    const char *text;
    const char *fields[];
};

/* 1 for the bytes a field may hold unescaped ([A-Za-z0-9._~-]). A table, not
 * range tests: random UUID text would mispredict the branches of the tests. */
static const unsigned char ps__unreserved_tab[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static bool ps__unreserved(unsigned char c)
{
    return ps__unreserved_tab[c] != 0;
}

static bool ps__type_ok(const char *type, size_t len)
{
    if (len == 0 || len > 32)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static const char ps__hex[] = "0123456789ABCDEF";

static int ps__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower case is not canonical */
}

static uint64_t ps__load64le(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static uint64_t ps__fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* The hash of a key's canonical text: eight bytes per step (little-endian, so
 * every host computes the same value), then a murmur3-style finalizer. */
static uint64_t ps__key_text_hash(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)len * 0x87c37b91114253d5ull);
    size_t n = len;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w = ps__load64le(p) * 0x87c37b91114253d5ull;
        w = (w << 31) | (w >> 33);
        h ^= w * 0x4cf5ad432745937full;
        h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
    }
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t |= (uint64_t)p[i] << (8 * i);
    h ^= ps__fmix64(t ^ 0x2545f4914f6cdd1dull);
    return ps__fmix64(h);
}

ps_status ps_key_new(const char *type, size_t nfields, const char *const *fields, ps_key **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_key_new: out is NULL");
    *out = NULL;
    PS__RETURN_IF(type == NULL, PS_EINVAL, "ps_key_new: type is NULL");
    size_t tlen = strnlen(type, 33);
    PS__RETURN_IF(!ps__type_ok(type, tlen), PS_EINVAL,
                  "ps_key_new: invalid key type \"%.40s\" (want [a-z0-9_]{1,32})", type);
    PS__RETURN_IF(nfields == 0 || nfields > PS_KEY_MAX_FIELDS, PS_EINVAL,
                  "ps_key_new: a key has 1 to %d fields, not %zu", PS_KEY_MAX_FIELDS, nfields);
    PS__RETURN_IF(fields == NULL, PS_EINVAL, "ps_key_new: fields is NULL");
    /* One pass over every field: its length and how many bytes need escaping. */
    size_t flens[PS_KEY_MAX_FIELDS], nesc[PS_KEY_MAX_FIELDS];
    size_t raw = 0, text_len = tlen + 1 + (nfields - 1);
    for (size_t i = 0; i < nfields; i++) {
        PS__RETURN_IF(fields[i] == NULL, PS_EINVAL, "ps_key_new: field %zu is NULL", i);
        const unsigned char *f = (const unsigned char *)fields[i];
        size_t j = strnlen(fields[i], PS_KEY_MAX_TEXT + 1), esc = 0;
        PS__RETURN_IF(j > PS_KEY_MAX_TEXT, PS_EINVAL, "ps_key_new: field %zu is too long", i);
        for (size_t q = 0; q < j; q++)
            esc += ps__unreserved_tab[f[q]] ^ 1u;
        flens[i] = j;
        nesc[i] = esc;
        raw += j + 1;
        text_len += j + 2 * esc;
    }
    PS__RETURN_IF(text_len > PS_KEY_MAX_TEXT, PS_EINVAL,
                  "ps_key_new: key text would be %zu bytes, more than %d", text_len,
                  PS_KEY_MAX_TEXT);
    size_t size = sizeof(ps_key) + nfields * sizeof(char *) + raw + text_len + 1 + tlen + 1;
    ps_key *k = ps_malloc(size);
    if (k == NULL)
        return PS__ENOMEM("key");
    char *p = (char *)k + sizeof(ps_key) + nfields * sizeof(char *);
    k->size = size;
    k->nfields = nfields;
    for (size_t i = 0; i < nfields; i++) {
        memcpy(p, fields[i], flens[i] + 1);
        k->fields[i] = p;
        p += flens[i] + 1;
    }
    char *text = p;
    memcpy(p, type, tlen);
    p += tlen;
    *p++ = ':';
    for (size_t i = 0; i < nfields; i++) {
        if (nesc[i] == 0) {
            memcpy(p, fields[i], flens[i]);
            p += flens[i];
        } else {
            const unsigned char *s = (const unsigned char *)fields[i];
            for (size_t j = 0; j < flens[i]; j++) {
                if (ps__unreserved_tab[s[j]]) {
                    *p++ = (char)s[j];
                } else {
                    *p++ = '%';
                    *p++ = ps__hex[s[j] >> 4];
                    *p++ = ps__hex[s[j] & 15];
                }
            }
        }
        if (i + 1 < nfields)
            *p++ = '/';
    }
    *p++ = '\0';
    k->text = text;
    k->text_len = (size_t)(p - text - 1);
    memcpy(p, type, tlen + 1);
    k->type = p;
    k->hash = ps__key_text_hash(k->text, k->text_len);
    *out = k;
    return PS_OK;
}

/*
 * Parse canonical text straight into a key: the text is validated and its
 * fields decoded in one pass into the key's own memory, and the text itself
 * is kept as the canonical form (it is canonical once validated), so nothing
 * is escaped again.
 */
ps_status ps_key_parse(const char *text, ps_key **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_key_parse: out is NULL");
    *out = NULL;
    PS__RETURN_IF(text == NULL, PS_EINVAL, "ps_key_parse: text is NULL");
    size_t len = strnlen(text, PS_KEY_MAX_TEXT + 1);
    PS__RETURN_IF(len > PS_KEY_MAX_TEXT, PS_EINVAL, "invalid key: longer than %d bytes",
                  PS_KEY_MAX_TEXT);
    const char *colon = memchr(text, ':', len);
    PS__RETURN_IF(colon == NULL, PS_EINVAL, "invalid key \"%.64s\": no \"type:\" prefix", text);
    size_t tlen = (size_t)(colon - text);
    PS__RETURN_IF(!ps__type_ok(text, tlen), PS_EINVAL, "invalid key \"%.64s\": bad type", text);
    const char *body = colon + 1;
    size_t body_len = len - tlen - 1;
    size_t nf = 1;
    for (const char *q = body; (q = memchr(q, '/', (size_t)(text + len - q))) != NULL; q++)
        nf++;
    PS__RETURN_IF(nf > PS_KEY_MAX_FIELDS, PS_EINVAL, "invalid key \"%.64s\": more than %d fields",
                  text, PS_KEY_MAX_FIELDS);
    /* Decoded fields with their NULs take at most body_len + 1 bytes. */
    size_t size = sizeof(ps_key) + nf * sizeof(char *) + (body_len + 1) + (len + 1) + (tlen + 1);
    ps_key *k = ps_malloc(size);
    if (k == NULL)
        return PS__ENOMEM("key");
    char *w = (char *)k + sizeof(ps_key) + nf * sizeof(char *);
    size_t f = 0;
    k->fields[f++] = w;
    ps_status st = PS_OK;
    for (size_t i = 0; i < body_len && st == PS_OK; i++) {
        unsigned char c = (unsigned char)body[i];
        if (ps__unreserved_tab[c]) {
            *w++ = (char)c;
        } else if (c == '/') {
            *w++ = '\0';
            k->fields[f++] = w;
        } else if (c == '%') {
            int hi = i + 1 < body_len ? ps__hexval(body[i + 1]) : -1;
            int lo = (hi >= 0 && i + 2 < body_len) ? ps__hexval(body[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                st = ps__seterr(PS_EINVAL, "invalid key \"%.64s\": bad %%-escape", text);
                break;
            }
            unsigned char v = (unsigned char)(hi * 16 + lo);
            if (v == 0 || ps__unreserved(v)) {
                st = ps__seterr(PS_EINVAL, "invalid key \"%.64s\": non-canonical %%-escape", text);
                break;
            }
            *w++ = (char)v;
            i += 2;
        } else {
            st = ps__seterr(PS_EINVAL, "invalid key \"%.64s\": character 0x%02x must be escaped",
                            text, c);
        }
    }
    if (st != PS_OK) {
        ps_free(k);
        return st;
    }
    *w++ = '\0';
    k->size = size;
    k->nfields = nf;
    memcpy(w, text, len + 1);
    k->text = w;
    k->text_len = len;
    w += len + 1;
    memcpy(w, text, tlen);
    w[tlen] = '\0';
    k->type = w;
    k->hash = ps__key_text_hash(k->text, k->text_len);
    *out = k;
    return PS_OK;
}

ps_status ps_key_dup(const ps_key *key, ps_key **out)
{
    PS__RETURN_IF(key == NULL || out == NULL, PS_EINVAL, "ps_key_dup: NULL argument");
    /* One block: copy it and move the inner pointers along. */
    ps_key *k = ps_malloc(key->size);
    if (k == NULL) {
        *out = NULL;
        return PS__ENOMEM("key");
    }
    memcpy(k, key, key->size);
    ptrdiff_t d = (char *)k - (const char *)key;
    for (size_t i = 0; i < k->nfields; i++)
        k->fields[i] = key->fields[i] + d;
    k->text = key->text + d;
    k->type = key->type + d;
    *out = k;
    return PS_OK;
}

void ps_key_free(ps_key *key)
{
    ps_free(key);
}

void ps_key_free_array(ps_key **keys, size_t n)
{
    if (keys == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        ps_key_free(keys[i]);
        keys[i] = NULL;
    }
}

const char *ps_key_str(const ps_key *key)
{
    return key ? key->text : NULL;
}

const char *ps_key_type(const ps_key *key)
{
    return key ? key->type : NULL;
}

size_t ps_key_nfields(const ps_key *key)
{
    return key ? key->nfields : 0;
}

const char *ps_key_field(const ps_key *key, size_t i)
{
    if (key == NULL || i >= key->nfields)
        return NULL;
    return key->fields[i];
}

bool ps_key_equal(const ps_key *a, const ps_key *b)
{
    if (a == NULL || b == NULL)
        return false;
    return a->hash == b->hash && a->text_len == b->text_len &&
           memcmp(a->text, b->text, a->text_len) == 0;
}

uint64_t ps_key_hash(const ps_key *key)
{
    return key ? key->hash : 0;
}

ps_status ps_key_new_uuid(const char *type, size_t n_extra, const char *const *extra, ps_key **key)
{
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_key_new_uuid: key is NULL");
    PS__RETURN_IF(n_extra + 1 > PS_KEY_MAX_FIELDS, PS_EINVAL, "ps_key_new_uuid: too many fields");
    PS__RETURN_IF(n_extra > 0 && extra == NULL, PS_EINVAL, "ps_key_new_uuid: extra is NULL");
    char uuid[PS_UUID_STR_LEN + 1];
    const char *fields[PS_KEY_MAX_FIELDS];
    PS__FORWARD(ps_uuid4(uuid));
    fields[0] = uuid;
    for (size_t i = 0; i < n_extra; i++)
        fields[i + 1] = extra[i];
    return ps_key_new(type, n_extra + 1, fields, key);
}
