/*
 * The connector conformance suite: written once, run against every
 * connector type (local, file, redis, endpoint, multi, daos, shm).
 *
 * A connector's test program fills a pst_conformance_target and calls
 * pst_conformance_run(), which runs every case as a cmocka test group and
 * returns the number of failures (use it as main's exit status).
 *
 *   static ps_status open_file(void *ctx, ps_connector **out) {...}
 *   int main(void) {
 *       pst_conformance_target t = {.name = "file", .open = open_file, ...};
 *       return pst_conformance_run(&t);
 *   }
 *
 * A connector's folder (tests/connectors/<name>/CMakeLists.txt) links it:
 *
 *   ps_add_test(NAME conformance.redis SOURCES conformance_redis.c
 *               LIBS ps_conformance LABELS conformance threads
 *               FIXTURES_REQUIRED redis_server)
 *
 * The ps_conformance target carries this directory on its include path, so
 * the program just does #include "conformance.h".
 *
 * Cases (the names accepted by `skip`):
 *   put_get, exists, missing, evict, batch, batch_missing, empty, large,
 *   binary, threads, config_round_trip, deferred, other_type_key,
 *   foreign_key, close_clear, null_args, malformed_key
 * Each case opens its own connector with target->open and closes it with
 * PS_CLEAR_ALL (close_clear checks what that removed through
 * target->check_cleared). A case whose hook is NULL is reported as skipped.
 * Assertions in worker threads are collected and checked by the main thread
 * (cmocka's assertions must not run outside it).
 */
#ifndef PS_CONFORMANCE_H
#define PS_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>

#include "proxystore/proxystore.h"

typedef struct pst_conformance_target {
    /** Connector type name, e.g. "file" (also the cmocka group name). */
    const char *name;
    /** Passed to every callback. */
    void *ctx;
    /**
     * Open a fresh connector. Each case opens its own and closes it with
     * PS_CLEAR_ALL (or as the case says). Required.
     */
    ps_status (*open)(void *ctx, ps_connector **out);
    /**
     * Make a key of this connector's type that belongs to another
     * directory/namespace/pool than `conn` (so `conn` must refuse it with
     * PS_EINVAL). NULL when the type has no such notion.
     */
    ps_status (*foreign_key)(void *ctx, ps_connector *conn, ps_key **out);
    /**
     * After conn was closed with PS_CLEAR_ALL, report in *gone whether every
     * object it stored is gone (e.g. the directory no longer exists, the
     * Redis keys are deleted). `keys` are keys it stored. NULL: the
     * close(clear) case only checks that close succeeds.
     */
    ps_status (*check_cleared)(void *ctx, const ps_key *const *keys, size_t n, bool *gone);
    /** Largest object the suite may store (0: 64 MiB, the default case size). */
    size_t max_object_size;
    /** Number of threads for the concurrency case (0: 8). */
    int threads;

    /* ---- added after the first version (zero = the default) ---- */

    /**
     * True when a connector opened from another's config() does NOT share its
     * storage (the config_round_trip case then only compares the config
     * texts instead of reading the original's objects through the new one).
     */
    bool config_not_shared;
    /** NULL-terminated list of case names to skip (see the list above), or NULL. */
    const char *const *skip;
    /**
     * True when the connector cannot store an empty object (the endpoint
     * REST API answers 400 "received empty payload"): the "empty" case then
     * expects PS_ENOTSUP from put and set, and the other cases use only
     * non-empty objects.
     */
    bool no_empty_objects;
} pst_conformance_target;

/** Run every case; returns the number of failed cases. */
int pst_conformance_run(const pst_conformance_target *target);

#endif
