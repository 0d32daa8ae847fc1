/*
 * Keys.
 *
 * A key names one object in one connector. It is an immutable value: a
 * connector type ("file", "redis", ...) and one or more text fields whose
 * meaning the connector defines (the file connector: object id and directory
 * tag; the DAOS connector: pool, container, namespace and dictionary key).
 *
 * Every key has exactly one canonical text form,
 *
 *     <type>:<field>[/<field>...]
 *
 * where each field is percent-encoded: every byte outside [A-Za-z0-9._~-] is
 * written as %XX with upper-case hex digits, and nothing else is escaped.
 * ps_key_parse() accepts only canonical text, so parse and ps_key_str()
 * round-trip exactly, and two keys are equal exactly when their texts are.
 */
#ifndef PROXYSTORE_KEY_H
#define PROXYSTORE_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_key ps_key;

/** Longest canonical key text accepted, in bytes (without the NUL). */
#define PS_KEY_MAX_TEXT 4096
/** Most fields a key may have. */
#define PS_KEY_MAX_FIELDS 16

/**
 * Make a key of connector type `type` ([a-z0-9_]+, at most 32 bytes) from
 * `nfields` (1..PS_KEY_MAX_FIELDS) NUL-terminated fields (any bytes but NUL,
 * may be empty).
 * Ownership: `*out` is new; free it with ps_key_free(). Inputs are copied.
 * Returns PS_EINVAL with a message for a bad type, field count or length.
 */
PS_API ps_status ps_key_new(const char *type, size_t nfields, const char *const *fields,
                            ps_key **out);

/**
 * Parse canonical key text. Non-canonical text (lower-case or needless
 * escapes, missing type, bad characters) is PS_EINVAL with a message.
 * Ownership: `*out` is new; free with ps_key_free().
 */
PS_API ps_status ps_key_parse(const char *text, ps_key **out);

/** Copy a key. Ownership: `*out` is new; free with ps_key_free(). */
PS_API ps_status ps_key_dup(const ps_key *key, ps_key **out);

/** Free a key. Accepts NULL. Ownership: ends the caller's ownership of `key` (and of the inner key
 * a wrapped key holds). */
PS_API void ps_key_free(ps_key *key);

/** Free `n` keys of an array and set them to NULL (the array itself stays). Ownership: ends the
 * caller's ownership of the n keys; the array itself stays the caller's. */
PS_API void ps_key_free_array(ps_key **keys, size_t n);

/** The canonical text. Ownership: borrowed; valid while the key lives. */
PS_API const char *ps_key_str(const ps_key *key);

/** The connector type name. Ownership: borrowed; valid while the key lives. */
PS_API const char *ps_key_type(const ps_key *key);

/** Number of fields. Ownership: none. */
PS_API size_t ps_key_nfields(const ps_key *key);

/** Field `i` (decoded), or NULL when out of range.
 *  Ownership: borrowed; valid while the key lives. */
PS_API const char *ps_key_field(const ps_key *key, size_t i);

/** True when both keys are non-NULL and have the same canonical text. Ownership: none. */
PS_API bool ps_key_equal(const ps_key *a, const ps_key *b);

/** A 64-bit hash of the canonical text (stable across processes). Ownership: none. */
PS_API uint64_t ps_key_hash(const ps_key *key);

/* ---- for connector authors -------------------------------------------- */

/**
 * Make a key of this connector's type whose first field is a fresh UUID4 and
 * whose further fields are `extra` (n_extra of them, may be 0).
 * Ownership: `*key` is new.
 */
PS_API ps_status ps_key_new_uuid(const char *type, size_t n_extra, const char *const *extra,
                                 ps_key **key);

/**
 * Make a key of type `type` with two fields, `name` and the canonical text of
 * `inner`: "<type>:<name>/<inner text, escaped>", for connectors that route
 * to other connectors (the multi connector). The result is an ordinary key to
 * every other function: its text, fields, hash and equality are those of the
 * same text parsed with ps_key_parse(). It differs only in cost: it holds
 * `inner` itself, so ps_key_inner() gives it back without parsing, and its
 * text is written on first use (all accessors stay thread-safe and never fail).
 * Ownership: on success the new key takes `inner` (ps_key_free() of `*out`
 * frees it); on failure `inner` stays the caller's. `*out` is new. `name` is
 * copied.
 * Returns PS_EINVAL with a message for a bad type or a text longer than
 * PS_KEY_MAX_TEXT.
 */
PS_API ps_status ps_key_wrap(const char *type, const char *name, ps_key *inner, ps_key **out);

/**
 * The inner key of a key made by ps_key_wrap(), or NULL for any other key
 * (a key parsed from text is never wrapped: parse its second field instead).
 * Ownership: borrowed; valid while `key` lives.
 */
PS_API const ps_key *ps_key_inner(const ps_key *key);

#ifdef __cplusplus
}
#endif
#endif
