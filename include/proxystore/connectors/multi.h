/*
 * The multi connector ("multi"): several connectors behind one, chosen per
 * object by policy (upstream ProxyStore's MultiConnector and Policy).
 *
 * Policies
 * --------
 * A ps_multi_policy says which objects a connector accepts and on which hosts it
 * is used. Its fields, with upstream's names and defaults:
 *
 *   priority        int64, default 0; higher is tried first
 *   host_pattern    none (default: every host), or a list of regular
 *                   expressions (PCRE2 syntax, close to Python's re); the
 *                   host name must match one of them as a WHOLE (like
 *                   Python's re.fullmatch). An empty list matches no host.
 *   min_size_bytes  default 0        } an object of n bytes is accepted when
 *   max_size_bytes  default 2^63 - 1 } min <= n <= max (both inclusive)
 *   subset_tags     default []: the tags given with a put must all be in
 *                   this list (so a policy with no subset tags rejects any
 *                   put that names subset tags)
 *   superset_tags   default []: the tags given with a put must include all
 *                   of these (so a policy with superset tags rejects an
 *                   untagged put)
 *
 * The host name is ps_hostname(): gethostname(), or the PROXYSTORE_HOSTNAME
 * environment variable when it is set and non-empty (tests use it to play
 * several hosts on one machine).
 *
 * JSON form (upstream's PolicyDict, exactly these six fields):
 *   {"priority": 0, "host_pattern": null | ["re", ...], "min_size_bytes": 0,
 *    "max_size_bytes": 9223372036854775807, "subset_tags": [],
 *    "superset_tags": []}
 * On input every field is optional (absent: the default), "host_pattern" may
 * also be a single string, and an unknown field is PS_EINVAL. Writing then
 * reading gives an equal policy (ps_multi_policy_equal).
 *
 * Multi connector
 * ---------------
 * A multi connector holds named (connector, policy) entries. put() gives the
 * object to the first entry, in priority order (highest first; equal
 * priorities in the order the entries were given), that is active, whose
 * host pattern matches this host and whose policy accepts the object's size
 * and the put's tags (ps_put_options subset_tags / superset_tags, which are
 * also passed on to the chosen connector, so nested multi connectors route
 * by the same tags). When none does: PS_ENOPOLICY, with a message naming the
 * size and the tags. put_batch places every object on its own, as upstream
 * does, then stores the objects of each chosen connector with one batch
 * call; if any object fits no policy nothing is stored.
 *
 * Keys: type "multi", two fields: the entry's name and the canonical text of
 * the inner connector's key ("multi:fast/local%3A..."). get, exists, evict
 * and get_batch route by the name; a name that is not an entry is PS_EINVAL
 * ("... does not exist"), the name of a dormant entry is PS_EINVAL ("... is
 * dormant").
 *
 * Dormant entries: opening from a configuration builds only the connectors
 * whose policy matches this host; the others are kept as configuration
 * (dormant) and written back unchanged by config(). So a proxy made on host
 * A, whose store configuration names connectors of hosts A and B, resolves
 * on host B with B's connectors (and a connector both hosts share).
 *
 * Options (JSON object given to ps_connector_open("multi", ...)):
 *   "connectors"  an array, in order, of
 *                   {"name": "<entry name>",
 *                    "connector": {"kind": "<type>", "options": {...}},
 *                    "policy": {<policy JSON, optional: defaults>}}
 *                 This is what config() writes. Two input forms are also
 *                 accepted: an object {"<name>": {"connector": ..,
 *                 "policy": ..}, ...} (entry order = the text's order), and,
 *                 as a value in that object, upstream's triple
 *                 ["<kind or class path>", {options}, {policy}].
 * Entry names are non-empty and unique. Inner connectors may be of any
 * registered type, including "multi".
 *
 * close(clear) closes every active inner connector with the same `clear`
 * (PS_CLEAR_DEFAULT: each as its own configuration says); dormant entries
 * are only forgotten.
 *
 * Thread safety: thread-safe (PS_CONNECTOR_THREADSAFE). The entries do not
 * change after open; inner connectors are called through the public
 * ps_connector_* API, which serializes the types that are not thread-safe.
 * Not deferrable (no new_key/set), like upstream.
 */
#ifndef PROXYSTORE_CONNECTORS_MULTI_H
#define PROXYSTORE_CONNECTORS_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../connector.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- policies ------------------------------------------------------------- */

typedef struct ps_multi_policy ps_multi_policy;

/** Default max_size_bytes: 2^63 - 1 (Python's sys.maxsize). */
#define PS_MULTI_POLICY_MAX_SIZE INT64_MAX

/** A list of tags for ps_multi_policy_is_valid (borrowed). */
typedef struct ps_multi_tag_list {
    const char *const *tags;
    size_t n;
} ps_multi_tag_list;

/**
 * A new policy with every default (priority 0, any host, any size, no tags).
 * Ownership: `*out` is new; free with ps_multi_policy_free().
 */
PS_API ps_status ps_multi_policy_new(ps_multi_policy **out);

/** Free a policy. Accepts NULL. Ownership: ends the caller's ownership of `policy`. */
PS_API void ps_multi_policy_free(ps_multi_policy *policy);

/** Copy a policy. Ownership: `*out` is new; free with ps_multi_policy_free(). */
PS_API ps_status ps_multi_policy_dup(const ps_multi_policy *policy, ps_multi_policy **out);

/** Set the priority (any int64). Ownership: none. */
PS_API ps_status ps_multi_policy_set_priority(ps_multi_policy *policy, int64_t priority);

/**
 * Set the inclusive size bounds. Both must be in [0, PS_MULTI_POLICY_MAX_SIZE]
 * (PS_EINVAL otherwise); min > max is allowed and then matches no size.
 * Ownership: none.
 */
PS_API ps_status ps_multi_policy_set_size_bounds(ps_multi_policy *policy, uint64_t min_size_bytes,
                                                 uint64_t max_size_bytes);

/**
 * Replace the host patterns. `patterns` NULL (n must be 0): no host
 * constraint. Non-NULL with n == 0: an empty list, which matches no host.
 * Each pattern is compiled (PCRE2, anchored at both ends); an invalid one is
 * PS_EINVAL with PCRE2's message and the offset, and the policy is left
 * unchanged. Ownership: the strings are copied.
 */
PS_API ps_status ps_multi_policy_set_host_patterns(ps_multi_policy *policy,
                                                   const char *const *patterns, size_t n);

/** Append one host pattern (turning "no constraint" into a one-item list). Ownership: `pattern` is
 * copied. */
PS_API ps_status ps_multi_policy_add_host_pattern(ps_multi_policy *policy, const char *pattern);

/** Append a tag to subset_tags / superset_tags. Ownership: copied. */
PS_API ps_status ps_multi_policy_add_subset_tag(ps_multi_policy *policy, const char *tag);
PS_API ps_status ps_multi_policy_add_superset_tag(ps_multi_policy *policy, const char *tag);

/** Field getters (0 / NULL / false for a NULL policy or an index out of
 *  range). ps_multi_policy_has_host_patterns is true when the policy has a
 *  host pattern list (possibly empty).
 *  Ownership: strings are borrowed, valid until the policy changes. */
PS_API int64_t ps_multi_policy_priority(const ps_multi_policy *policy);
PS_API uint64_t ps_multi_policy_min_size(const ps_multi_policy *policy);
PS_API uint64_t ps_multi_policy_max_size(const ps_multi_policy *policy);
PS_API bool ps_multi_policy_has_host_patterns(const ps_multi_policy *policy);
PS_API size_t ps_multi_policy_host_pattern_count(const ps_multi_policy *policy);
PS_API const char *ps_multi_policy_host_pattern(const ps_multi_policy *policy, size_t i);
PS_API size_t ps_multi_policy_subset_tag_count(const ps_multi_policy *policy);
PS_API const char *ps_multi_policy_subset_tag(const ps_multi_policy *policy, size_t i);
PS_API size_t ps_multi_policy_superset_tag_count(const ps_multi_policy *policy);
PS_API const char *ps_multi_policy_superset_tag(const ps_multi_policy *policy, size_t i);

/**
 * Set `*valid` to whether `hostname` fully matches one of the host patterns
 * (true when there is no host constraint).
 * Ownership: none.
 */
PS_API ps_status ps_multi_policy_matches_host(const ps_multi_policy *policy, const char *hostname,
                                              bool *valid);

/** ps_multi_policy_matches_host() with this host's name (ps_hostname()). Ownership: none. */
PS_API ps_status ps_multi_policy_is_valid_on_host(const ps_multi_policy *policy, bool *valid);

/**
 * Upstream's Policy.is_valid: each constraint is checked only when given.
 * `size_bytes` NULL: size not checked; `subset_tags` / `superset_tags` NULL:
 * not checked (a non-NULL list with n == 0 IS checked: an empty superset list
 * fails a policy that has superset tags). Finally the host is checked
 * (ps_multi_policy_is_valid_on_host). Returns PS_EIO if the host name is unknown.
 * Ownership: none.
 */
PS_API ps_status ps_multi_policy_is_valid(const ps_multi_policy *policy, const uint64_t *size_bytes,
                                          const ps_multi_tag_list *subset_tags,
                                          const ps_multi_tag_list *superset_tags, bool *valid);

/** True when both are non-NULL and every field is equal (lists in order). Ownership: none. */
PS_API bool ps_multi_policy_equal(const ps_multi_policy *a, const ps_multi_policy *b);

/**
 * The JSON form (see above; compact, sorted keys).
 * Ownership: `*json` is new; free with ps_free().
 */
PS_API ps_status ps_multi_policy_to_json(const ps_multi_policy *policy, char **json);

/**
 * Read the JSON form. PS_EINVAL (with a message naming the field) for text
 * that is not a JSON object, an unknown field, a value of the wrong type, a
 * negative size or an invalid regular expression.
 * Ownership: `*out` is new; free with ps_multi_policy_free().
 */
PS_API ps_status ps_multi_policy_from_json(const char *json, ps_multi_policy **out);

/* ---- multi connector --------------------------------------------------------- */

/** One entry for ps_multi_connector_open(). */
typedef struct ps_multi_entry {
    const char *name;              /**< unique, non-empty; copied */
    ps_connector *connector;       /**< an open connector; owned by the multi on success */
    const ps_multi_policy *policy; /**< copied; NULL: the default policy */
} ps_multi_entry;

#define PS_MULTI_OPTIONS_VERSION 1

/** Options of ps_multi_connector_open(). */
typedef struct ps_multi_options {
    unsigned version;              /**< PS_MULTI_OPTIONS_VERSION */
    const ps_multi_entry *entries; /**< n_entries entries, in priority-tie order */
    size_t n_entries;
} ps_multi_options;

/** Fill `o` with the defaults (no entries). Accepts NULL.
 *  Ownership: `*o` is the caller's. */
PS_API void ps_multi_options_init(ps_multi_options *o);

/**
 * Make a multi connector from already-open connectors, in the given order
 * (ties in priority keep it). Every entry is active, whatever its host
 * pattern (as upstream's MultiConnector(...) constructor): put() still never
 * picks an entry whose pattern does not match this host, but keys naming it
 * resolve. PS_EINVAL for NULL options, an unknown options version, an empty
 * or duplicate name, a NULL connector or one given twice.
 * Ownership: takes every entry's `connector` when it returns PS_OK (closing
 * the multi closes them; do not close them yourself); on failure the caller
 * still owns them. Names and policies are copied. `*out` is new; close with
 * ps_connector_close().
 */
PS_API ps_status ps_multi_connector_open(const ps_multi_options *opts, ps_connector **out);

/**
 * The entry name inside a multi key (what `proxystore inspect` shows as the
 * connector holding the object). PS_EINVAL when `key` is not a well-formed
 * multi key. Ownership: `*name` is borrowed from `key`.
 */
PS_API ps_status ps_multi_key_connector_name(const ps_key *key, const char **name);

/**
 * The inner connector's key inside a multi key, as ps_key_inner() gives it
 * for any wrapped key; for a multi key parsed from text it is parsed on the
 * first call and kept in `key`. NULL (with a message) when `key` is not a
 * well-formed multi key.
 * Ownership: borrowed; valid while `key` lives. Thread safety: safe.
 */
PS_API const ps_key *ps_multi_key_inner(const ps_key *key);

/** Number of entries (active and dormant) of a multi connector; 0 if `conn`
 *  is not one.
 * Ownership: none.
 */
PS_API size_t ps_multi_connector_count(ps_connector *conn);

/**
 * Entry `i` (in the given order): its name, whether it is dormant, and its
 * connector (NULL when dormant). Any out-pointer may be NULL.
 * PS_EINVAL when `conn` is not a multi connector or `i` is out of range.
 * Ownership: everything is borrowed from `conn` and valid while it is open;
 * do not close the inner connector.
 */
PS_API ps_status ps_multi_connector_entry(ps_connector *conn, size_t i, const char **name,
                                          bool *dormant, ps_connector **inner);

#ifdef __cplusplus
}
#endif
#endif
