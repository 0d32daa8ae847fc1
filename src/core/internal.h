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
#include "proxystore/key.h"
#include "proxystore/status.h"
#include "proxystore/util.h"

/* Size of the thread-local error message buffer. */
#define PS__ERRMSG_SIZE 1024

/* Set the thread-local message (printf-style) and return `st`: the public
 * ps_error() of status.h, under the internal name the library uses. */
#define ps__seterr ps_error
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

/* The value of hex digit `c` (either case), or -1 (util.c). */
int ps__hex_digit(int c);

/* UUIDs as 16 bytes (random.c). Format: canonical lower-case text. Parse:
 * false unless `text` is canonical (ps_uuid_is_canonical). */
void ps__uuid_format(const uint8_t id[16], char out[PS_UUID_STR_LEN + 1]);
bool ps__uuid_parse(const char *text, uint8_t id[16]);

/* Register `drop` (once; at most 8 in all) to free memory kept for reuse
 * before ps_set_allocator() changes the allocator (alloc.c). */
void ps__alloc_on_change(void (*drop)(void));

/*
 * The argument check of a get_batch (store and connector): `keys` and `outs`
 * not NULL when n > 0, then every output cleared (outs[i] empty, found[i]
 * false when `found` is given), then every key not NULL. PS_EINVAL with
 * "<who>: ..." otherwise; the outputs are cleared whenever the arrays exist.
 */
ps_status ps__batch_outputs_init(const char *who, size_t n, const ps_key *const *keys,
                                 ps_bytes *outs, bool *found);

/* FNV-1a 64-bit hash. */
uint64_t ps__hash64(const void *data, size_t len);

/* Wall clock in seconds (double). */
double ps__wall_time(void);

#endif
