/*
 * The key's layout and the wrapping fast path, for key.c and the library's
 * routers (the multi connector). Not installed; everyone else sees ps_key
 * as opaque (proxystore/key.h).
 */
#ifndef PS_KEY_INTERNAL_H
#define PS_KEY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/internal.h"
#include "proxystore/key.h"

/* States of a key's text (`ready`): a wrapped key's text is written once. */
enum { PS__TEXT_EMPTY = 0, PS__TEXT_WRITING = 1, PS__TEXT_READY = 2 };

struct ps_key {
    uint64_t hash;    /* of the text; valid once the text is ready */
    const char *type; /* NUL-terminated copy after the fields */
    char *text;       /* in the same allocation */
    ps_key *inner;    /* a wrapped key's inner key (owned); NULL for plain keys */
    ps_key *parsed;   /* a plain key's second field parsed as a key, made on first
                         ps__key_inner_of (atomic; owned); NULL until then */
    /* Small integers: a key is at most a few times PS_KEY_MAX_TEXT bytes. */
    uint32_t size;     /* bytes of the allocation less `spare` (for ps_key_dup) */
    uint32_t spare;    /* bytes reserved after `size` for a wrapper (ps__key_reserve_wrap) */
    int ready;         /* PS__TEXT_*; atomic for wrapped keys */
    uint16_t text_len; /* known from the start, also before a wrapped key's text is written */
    uint16_t n_pct;    /* %-escapes in the text (so a wrapper can size its own text) */
    uint8_t nfields;
    bool embedded; /* a wrapper that lives in its inner key's spare bytes */
    const char *fields[];
};

/* The small integers above hold every key's numbers. */
_Static_assert(PS_KEY_MAX_TEXT <= UINT16_MAX && PS_KEY_MAX_FIELDS <= UINT8_MAX,
               "key text and field limits fit the key's counters");

/* A ps_key_wrap() type and name, checked and measured once (by a router,
 * per route). The strings are borrowed: they must outlive the spec. */
#define PS__WRAP_NT_INLINE 32
typedef struct ps__key_wrap_spec {
    /* what ps__key_wrap_with reads, first */
    char nt[PS__WRAP_NT_INLINE]; /* "name\0type\0" when it fits: one fixed-size copy */
    size_t fixed;                /* wrapper bytes besides the inner key's escaped text */
    size_t text_fixed;           /* wrapper text bytes besides the inner key's escaped text */
    size_t nt_room; /* wrapper bytes for "name\0type\0" (at least PS__WRAP_NT_INLINE) */
    size_t nlen, name_esc, tlen;
    const char *type, *name;
} ps__key_wrap_spec;

/*
 * The key inside `key`, borrowed (valid while `key` lives): a wrapped key's
 * inner key, else the key parsed from the second field of `key` (parsed on
 * the first call, kept in `key`; thread-safe). PS_EINVAL when `key` has no
 * second field or it is not canonical key text; PS_ENOMEM.
 */
ps_status ps__key_inner_of(const ps_key *key, const ps_key **inner);

/* Check and measure; PS_EINVAL with a message as ps_key_wrap() would. */
ps_status ps__key_wrap_prepare(const char *type, const char *name, ps__key_wrap_spec *spec);

/* Ask the next ps_key_new() of this thread to leave room in its block for a
 * wrapper of `spec`, so that wrapping that key allocates nothing. Clear it
 * after the call that makes the key, in case it made none. The variable is
 * thread-local with the initial-exec model (8 bytes of static TLS) because a
 * router sets it on every put. */
extern _Thread_local size_t ps__key_wrap_reserve __attribute__((tls_model("initial-exec")));
static inline void ps__key_reserve_wrap(const ps__key_wrap_spec *spec)
{
    ps__key_wrap_reserve = spec->fixed;
}
static inline void ps__key_reserve_clear(void)
{
    ps__key_wrap_reserve = 0;
}

/* Fill the wrapper `k` (room for `size` bytes) of `inner`: names, fields,
 * counters; its text is written on first use. */
static inline void ps__key_wrap_fill(const ps__key_wrap_spec *spec, ps_key *inner, ps_key *k,
                                     size_t text_len, size_t size, size_t inner_esc, bool embedded)
{
    char *p = (char *)k + sizeof(ps_key) + 2 * sizeof(char *);
    if (__builtin_expect(spec->nt_room == PS__WRAP_NT_INLINE, 1)) {
        memcpy(p, spec->nt, PS__WRAP_NT_INLINE);
    } else {
        memcpy(p, spec->name, spec->nlen + 1);
        memcpy(p + spec->nlen + 1, spec->type, spec->tlen + 1);
    }
    k->fields[0] = p;
    k->fields[1] = inner->text;
    k->type = p + spec->nlen + 1;
    k->text = p + spec->nt_room;
    k->inner = inner;
    k->parsed = NULL;
    k->size = (uint32_t)size;
    k->spare = 0;
    k->ready = PS__TEXT_EMPTY; /* the hash too is set when the text is written */
    k->text_len = (uint16_t)text_len;
    k->n_pct = (uint16_t)(spec->name_esc + inner_esc);
    k->nfields = 2;
    k->embedded = embedded;
}

/* ps_key_wrap() with a prepared spec, every case (out of line). */
ps_status ps__key_wrap_general(const ps__key_wrap_spec *spec, ps_key *inner, ps_key **out);

/*
 * ps_key_wrap() with a prepared spec (`inner` and `out` not NULL). The common
 * case, inlined into the caller: `inner` reserved room for this wrapper (see
 * ps__key_reserve_wrap) and the name is short. Anything else goes to
 * ps__key_wrap_general. Ownership as ps_key_wrap().
 */
static inline ps_status ps__key_wrap_with(const ps__key_wrap_spec *spec, ps_key *inner,
                                          ps_key **out)
{
    /* The inner text holds only unreserved bytes, ':', one '/' between
     * fields and a '%' per escape: its escaped length needs no scan. */
    size_t inner_esc = (size_t)inner->nfields + inner->n_pct;
    size_t inner_len = inner->text_len + 2 * inner_esc;
    size_t text_len = spec->text_fixed + inner_len;
    size_t size = spec->fixed + inner_len;
    if (__builtin_expect(text_len > PS_KEY_MAX_TEXT || inner->spare < size ||
                             inner->inner != NULL || spec->nt_room != PS__WRAP_NT_INLINE,
                         0))
        return ps__key_wrap_general(spec, inner, out);
    ps_key *k = (ps_key *)((char *)inner + inner->size);
    inner->spare = 0; /* used */
    ps__key_wrap_fill(spec, inner, k, text_len, size, inner_esc, true);
    *out = k;
    return PS_OK;
}

#endif
