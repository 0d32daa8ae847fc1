/*
 * Internal helpers shared by the library's modules. Not installed.
 * Names are ps__ (internal, non-static) or PS__ (macros).
 */
#ifndef PS_INTERNAL_H
#define PS_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proxystore/alloc.h"
#include "proxystore/bytes.h"
#include "proxystore/connector.h"
#include "proxystore/key.h"
#include "proxystore/status.h"
#include "proxystore/util.h"

/* Size of the thread-local error message buffer. */
#define PS__ERRMSG_SIZE 1024

/* Set the thread-local message (printf-style) and return `st`. */
ps_status ps__seterr(ps_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ps_status ps__vseterr(ps_status st, const char *fmt, va_list ap);

/* Prefix the current message: "<prefix>: <old message>". Returns `st`. */
ps_status ps__preferr(ps_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when this thread's message is empty. */
bool ps__errmsg_empty(void);

/* Return `st` with a message when `cond` holds. */
#define PS__RETURN_IF(cond, st, ...)                                                               \
    do {                                                                                           \
        if (cond)                                                                                  \
            return ps__seterr((st), __VA_ARGS__);                                                  \
    } while (0)

/* Return a failing status as is (its message is already set). */
#define PS__FORWARD(expr)                                                                          \
    do {                                                                                           \
        ps_status ps__st_ = (expr);                                                                \
        if (ps__st_ != PS_OK)                                                                      \
            return ps__st_;                                                                        \
    } while (0)

/* Out-of-memory with a message naming what was being allocated. */
#define PS__ENOMEM(what) ps__seterr(PS_ENOMEM, "out of memory (%s)", (what))

/* ---- JSON helpers (jansson) --------------------------------------------- */

/* Parse JSON text into an object; PS_EINVAL with jansson's message. */
ps_status ps__json_parse_object(const char *text, const char *what, json_t **out);

/* Serialize compactly with sorted keys; `*out` from ps_malloc. */
ps_status ps__json_dump(const json_t *value, char **out);

/*
 * Check that every key of `obj` is one of the NULL-terminated `allowed`
 * names; otherwise PS_EINVAL "<what>: unknown field \"x\"".
 */
ps_status ps__json_check_fields(const json_t *obj, const char *what, const char *const *allowed);

/* Typed optional getters: absent keeps *out; wrong type is PS_EINVAL. */
ps_status ps__json_get_string(const json_t *obj, const char *what, const char *name,
                              const char **out);
ps_status ps__json_get_bool(const json_t *obj, const char *what, const char *name, bool *out);
ps_status ps__json_get_int(const json_t *obj, const char *what, const char *name, long long *out);

/* ---- misc --------------------------------------------------------------- */

/*
 * Ask for transparent huge pages under the 2 MiB-aligned part of a large
 * buffer (at least 8 MiB) that is about to be filled: a fresh 100 MiB buffer
 * otherwise takes 25600 page faults while it is written, which can cost more
 * than the transfer into it. Advice only; failures are ignored (the
 * allocator hooks may hand out memory where it does not apply).
 */
void ps__advise_hugepages(void *p, size_t len);

/* A ps_key_wrap() type and name, checked and measured once (by a router,
 * per route). The strings are borrowed: they must outlive the spec. */
typedef struct ps__key_wrap_spec {
    const char *type, *name;
    size_t tlen, nlen, name_esc;
    size_t fixed; /* wrapper bytes besides the inner key's escaped text */
} ps__key_wrap_spec;

/* Check and measure; PS_EINVAL with a message as ps_key_wrap() would. */
ps_status ps__key_wrap_prepare(const char *type, const char *name, ps__key_wrap_spec *spec);

/* ps_key_wrap() with a prepared spec (`inner` and `out` not NULL). */
ps_status ps__key_wrap_with(const ps__key_wrap_spec *spec, ps_key *inner, ps_key **out);

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

/* ps_connector_put() for a router that already checked the arguments (the
 * outer call's dispatch did) and cleared the error: `data` not NULL, `opts`
 * checked, `key` not NULL. Serializes as the type asks; failures carry a
 * message. */
ps_status ps__connector_put_routed(ps_connector *conn, const void *data, size_t len,
                                   const ps_put_options *opts, ps_key **key);

/* FNV-1a 64-bit hash. */
uint64_t ps__hash64(const void *data, size_t len);

/* Wall clock in seconds (double). */
double ps__wall_time(void);

/* One-time library setup (jansson allocator, builtin codecs and connectors).
 * Called lazily by the registries; idempotent and thread-safe. */
void ps__init_once(void);

/*
 * Add run-time feature facts to the "features" object of ps_version_info().
 * Defined in src/core/features.c; a module that has something to report
 * (e.g. whether libdaos loads) adds one line there.
 */
void ps__features_report(json_t *features);

/* Set up the builtin connector types (called by ps__init_once). */
void ps__connectors_init_builtin(void);
/* Copy up to `max` registered codec names (static strings) into `names`. */
size_t ps__codec_names(const char **names, size_t max);

/* Set up the builtin codecs (called by ps__init_once). */
void ps__codecs_init_builtin(void);
/* The "proxystore" codec: upstream's serialization framing (src/codecs/proxystore.c). */
extern const struct ps_codec ps__codec_proxystore;

#endif
