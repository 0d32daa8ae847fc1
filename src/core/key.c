/*
 * Keys: an immutable connector type plus fields, with one canonical text.
 * Memory layout: one allocation holding the struct, the field pointers, the
 * decoded fields and the canonical text.
 *
 * A wrapped key (ps_key_wrap: "multi:<name>/<inner key text>") also owns its
 * inner key and borrows the inner key's text as its second field. Its own
 * text is written into room reserved at wrap time, on first need (ps_key_str,
 * ps_key_hash, ps_key_equal): a multi connector's put then costs one small
 * allocation instead of escaping and hashing a long text that is often never
 * read. The first reader writes the text; concurrent readers wait for it, so
 * the const accessors stay thread-safe and can never fail.
 */
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "core/internal.h"
#include "core/key_internal.h"
#include "proxystore/key.h"

/* Bytes the next ps_key_new() of this thread reserves for a wrapper, besides
 * its own escaped text (see ps__key_reserve_wrap in internal.h); 0: none. */
_Thread_local size_t ps__key_wrap_reserve __attribute__((tls_model("initial-exec")));

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

/* Bytes of `s` (n of them) outside [A-Za-z0-9._~-]. */
static size_t ps__count_reserved(const char *s, size_t n)
{
    size_t esc = 0;
    for (size_t i = 0; i < n; i++)
        esc += ps__unreserved_tab[(unsigned char)s[i]] ^ 1u;
    return esc;
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

/* `n` rounded up to a multiple of a key's alignment. */
static size_t ps__align_up(size_t n)
{
    size_t a = _Alignof(ps_key);
    return (n + a - 1) / a * a;
}

/* Write `n` bytes of `f` percent-encoded at `p` (`nesc` of them need an
 * escape); returns the end. */
static char *ps__put_escaped(char *p, const char *f, size_t n, size_t nesc)
{
    if (nesc == 0) {
        memcpy(p, f, n);
        return p + n;
    }
    const unsigned char *s = (const unsigned char *)f;
    for (size_t j = 0; j < n; j++) {
        if (ps__unreserved_tab[s[j]]) {
            *p++ = (char)s[j];
        } else {
            *p++ = '%';
            *p++ = ps__hex[s[j] >> 4];
            *p++ = ps__hex[s[j] & 15];
        }
    }
    return p;
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
    size_t raw = 0, text_len = tlen + 1 + (nfields - 1), n_pct = 0;
    for (size_t i = 0; i < nfields; i++) {
        PS__RETURN_IF(fields[i] == NULL, PS_EINVAL, "ps_key_new: field %zu is NULL", i);
        size_t j = strnlen(fields[i], PS_KEY_MAX_TEXT + 1);
        PS__RETURN_IF(j > PS_KEY_MAX_TEXT, PS_EINVAL, "ps_key_new: field %zu is too long", i);
        size_t esc = ps__count_reserved(fields[i], j);
        flens[i] = j;
        nesc[i] = esc;
        n_pct += esc;
        raw += j + 1;
        text_len += j + 2 * esc;
    }
    PS__RETURN_IF(text_len > PS_KEY_MAX_TEXT, PS_EINVAL,
                  "ps_key_new: key text would be %zu bytes, more than %d", text_len,
                  PS_KEY_MAX_TEXT);
    size_t size = sizeof(ps_key) + nfields * sizeof(char *) + raw + text_len + 1 + tlen + 1;
    size_t spare = 0;
    if (ps__key_wrap_reserve != 0) { /* room for a wrapper: see ps__key_reserve_wrap */
        size = ps__align_up(size);
        spare = ps__key_wrap_reserve + text_len + 2 * (1 + (nfields - 1) + n_pct);
        ps__key_wrap_reserve = 0;
    }
    ps_key *k = ps_malloc(size + spare);
    if (k == NULL)
        return PS__ENOMEM("key");
    char *p = (char *)k + sizeof(ps_key) + nfields * sizeof(char *);
    k->size = (uint32_t)size;
    k->spare = (uint32_t)spare;
    k->embedded = false;
    k->nfields = (uint8_t)nfields;
    k->n_pct = (uint16_t)(n_pct);
    k->inner = NULL;
    k->parsed = NULL;
    k->ready = PS__TEXT_READY;
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
        p = ps__put_escaped(p, fields[i], flens[i], nesc[i]);
        if (i + 1 < nfields)
            *p++ = '/';
    }
    *p++ = '\0';
    k->text = text;
    k->text_len = (uint16_t)(p - text - 1);
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
    size_t f = 0, n_pct = 0;
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
            n_pct++;
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
    k->size = (uint32_t)size;
    k->nfields = (uint8_t)nf;
    k->n_pct = (uint16_t)(n_pct);
    k->inner = NULL;
    k->parsed = NULL;
    k->spare = 0;
    k->embedded = false;
    k->ready = PS__TEXT_READY;
    memcpy(w, text, len + 1);
    k->text = w;
    k->text_len = (uint16_t)(len);
    w += len + 1;
    memcpy(w, text, tlen);
    w[tlen] = '\0';
    k->type = w;
    k->hash = ps__key_text_hash(k->text, k->text_len);
    *out = k;
    return PS_OK;
}

/* The bytes of a wrapper, all but its copy of the inner key's escaped text:
 * struct, two field pointers, "name\0type\0" (in `nt_room` bytes), and its
 * own text less that part. */
static size_t ps__wrap_fixed(size_t tlen, size_t nlen, size_t name_esc, size_t nt_room)
{
    return sizeof(ps_key) + 2 * sizeof(char *) + nt_room + (tlen + 1 + nlen + 2 * name_esc + 1) + 1;
}

/* Room for "name\0type\0": a short pair gets PS__WRAP_NT_INLINE bytes, so
 * it is copied with one fixed-size move. */
static size_t ps__wrap_nt_room(size_t tlen, size_t nlen)
{
    size_t nt = nlen + 1 + tlen + 1;
    return nt <= PS__WRAP_NT_INLINE ? PS__WRAP_NT_INLINE : nt;
}

static ps_status ps__wrap_args(const char *type, const char *name, size_t *tlen, size_t *nlen)
{
    *tlen = type ? strnlen(type, 33) : 0;
    *nlen = name ? strnlen(name, PS_KEY_MAX_TEXT + 1) : 0;
    PS__RETURN_IF(type == NULL || !ps__type_ok(type, *tlen), PS_EINVAL,
                  "ps_key_wrap: invalid key type \"%.40s\" (want [a-z0-9_]{1,32})",
                  type ? type : "(null)");
    PS__RETURN_IF(name == NULL || *nlen > PS_KEY_MAX_TEXT, PS_EINVAL, "ps_key_wrap: name is %s",
                  name ? "too long" : "NULL");
    return PS_OK;
}

ps_status ps__key_wrap_prepare(const char *type, const char *name, ps__key_wrap_spec *spec)
{
    size_t tlen, nlen;
    PS__FORWARD(ps__wrap_args(type, name, &tlen, &nlen));
    memset(spec, 0, sizeof *spec);
    spec->type = type;
    spec->tlen = tlen;
    spec->name = name;
    spec->nlen = nlen;
    spec->name_esc = ps__count_reserved(name, nlen);
    spec->nt_room = ps__wrap_nt_room(tlen, nlen);
    spec->fixed = ps__wrap_fixed(tlen, nlen, spec->name_esc, spec->nt_room);
    spec->text_fixed = tlen + 1 + nlen + 2 * spec->name_esc + 1;
    if (spec->nt_room == PS__WRAP_NT_INLINE) {
        memcpy(spec->nt, name, nlen + 1);
        memcpy(spec->nt + nlen + 1, type, tlen + 1);
    }
    return PS_OK;
}

__attribute__((noinline, cold)) static ps_status ps__wrap_too_long(size_t text_len)
{
    return ps__seterr(PS_EINVAL, "ps_key_wrap: key text would be %zu bytes, more than %d", text_len,
                      PS_KEY_MAX_TEXT);
}

/* Every case; ps__key_wrap_with() in key_internal.h inlines the common one. */
ps_status ps__key_wrap_general(const ps__key_wrap_spec *spec, ps_key *inner, ps_key **out)
{
    /* The inner text holds only unreserved bytes, ':', one '/' between
     * fields and a '%' per escape: its escaped length needs no scan. */
    size_t inner_esc = (size_t)inner->nfields + inner->n_pct;
    size_t inner_len = inner->text_len + 2 * inner_esc;
    size_t text_len = spec->text_fixed + inner_len;
    if (__builtin_expect(text_len > PS_KEY_MAX_TEXT, 0))
        return ps__wrap_too_long(text_len);
    size_t size = spec->fixed + inner_len;
    ps_key *k;
    bool embedded = inner->spare >= size && inner->inner == NULL;
    if (__builtin_expect(embedded, 1)) {
        k = (ps_key *)((char *)inner + inner->size);
        inner->spare = 0; /* used */
    } else if ((k = ps_malloc(size)) == NULL) {
        return PS__ENOMEM("key");
    }
    ps__key_wrap_fill(spec, inner, k, text_len, size, inner_esc, embedded);
    *out = k;
    return PS_OK;
}

ps_status ps_key_wrap(const char *type, const char *name, ps_key *inner, ps_key **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_key_wrap: out is NULL");
    *out = NULL;
    PS__RETURN_IF(inner == NULL, PS_EINVAL, "ps_key_wrap: inner key is NULL");
    ps__key_wrap_spec spec;
    PS__FORWARD(ps__key_wrap_prepare(type, name, &spec));
    return ps__key_wrap_general(&spec, inner, out);
}

/* Make sure a wrapped key's text is written; returns the key. The first
 * caller writes it; one that comes while it is being written waits. */
static const ps_key *ps__key_ready(const ps_key *key)
{
    if (key->inner == NULL || __atomic_load_n(&key->ready, __ATOMIC_ACQUIRE) == PS__TEXT_READY)
        return key;
    ps_key *k = (ps_key *)key; /* allocated writable by ps_key_wrap */
    int expect = PS__TEXT_EMPTY;
    if (__atomic_compare_exchange_n(&k->ready, &expect, PS__TEXT_WRITING, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_ACQUIRE)) {
        const ps_key *in = k->inner;
        char *p = k->text;
        size_t tlen = strlen(k->type), nlen = strlen(k->fields[0]);
        memcpy(p, k->type, tlen);
        p += tlen;
        *p++ = ':';
        p = ps__put_escaped(p, k->fields[0], nlen, ps__count_reserved(k->fields[0], nlen));
        *p++ = '/';
        p = ps__put_escaped(p, ps__key_ready(in)->text, in->text_len, 1);
        *p = '\0';
        k->hash = ps__key_text_hash(k->text, k->text_len);
        __atomic_store_n(&k->ready, PS__TEXT_READY, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&k->ready, __ATOMIC_ACQUIRE) != PS__TEXT_READY)
            sched_yield();
    }
    return key;
}

const ps_key *ps_key_inner(const ps_key *key)
{
    return key ? key->inner : NULL;
}

ps_status ps__key_inner_of(const ps_key *key, const ps_key **inner)
{
    *inner = NULL;
    if (key->inner != NULL) {
        *inner = key->inner;
        return PS_OK;
    }
    ps_key **slot = &((ps_key *)key)->parsed; /* a cache: the key's value does not change */
    ps_key *have = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (have == NULL) {
        PS__RETURN_IF(key->nfields < 2, PS_EINVAL, "key \"%.200s\" holds no inner key",
                      ps_key_str(key));
        ps_key *mine;
        PS__FORWARD(ps_key_parse(key->fields[1], &mine));
        if (__atomic_compare_exchange_n(slot, &have, mine, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            have = mine;
        else
            ps_key_free(mine); /* another thread was first: `have` is its key */
    }
    *inner = have;
    return PS_OK;
}

ps_status ps_key_dup(const ps_key *key, ps_key **out)
{
    PS__RETURN_IF(key == NULL || out == NULL, PS_EINVAL, "ps_key_dup: NULL argument");
    *out = NULL;
    if (key->inner != NULL) {
        ps_key *in;
        PS__FORWARD(ps_key_dup(key->inner, &in));
        ps_status st = ps_key_wrap(key->type, key->fields[0], in, out);
        if (st != PS_OK)
            ps_key_free(in);
        return st;
    }
    /* One block: copy it and move the inner pointers along. */
    ps_key *k = ps_malloc(key->size);
    if (k == NULL)
        return PS__ENOMEM("key");
    memcpy(k, key, key->size);
    k->spare = 0;
    k->parsed = NULL;
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
    if (key == NULL)
        return;
    ps_key *inner = key->inner;
    if (key->parsed) /* tested here: a put frees keys on its hot path */
        ps_key_free(key->parsed);
    if (!key->embedded) /* else it lives in inner's block */
        ps_free(key);
    if (inner)
        ps_key_free(inner);
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
    return key ? ps__key_ready(key)->text : NULL;
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
    if (key->inner != NULL && i == 1)
        return ps_key_str(key->inner); /* the inner key's text, written if need be */
    return key->fields[i];
}

bool ps_key_equal(const ps_key *a, const ps_key *b)
{
    if (a == NULL || b == NULL)
        return false;
    if (a == b)
        return true;
    ps__key_ready(a);
    ps__key_ready(b);
    return a->hash == b->hash && a->text_len == b->text_len &&
           memcmp(a->text, b->text, a->text_len) == 0;
}

uint64_t ps_key_hash(const ps_key *key)
{
    return key ? ps__key_ready(key)->hash : 0;
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
