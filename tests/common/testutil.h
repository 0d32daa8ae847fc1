/*
 * Helpers shared by the test programs (linked into every one).
 * Include after <setjmp.h>, <stdarg.h>, <stddef.h> and <cmocka.h>.
 */
#ifndef PS_TESTUTIL_H
#define PS_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxystore/proxystore.h"

/* Fail the test with the status and ps_last_error() unless `expr` is PS_OK. */
#define PS_ASSERT_OK(expr)                                                                         \
    do {                                                                                           \
        ps_status ps_t_st_ = (expr);                                                               \
        if (ps_t_st_ != PS_OK)                                                                     \
            fail_msg("%s returned %s: %s", #expr, ps_status_name(ps_t_st_), ps_last_error());      \
    } while (0)

/* Assert `expr` returns `want`, and that a failure left a message. */
#define PS_ASSERT_STATUS(expr, want)                                                               \
    do {                                                                                           \
        ps_status ps_t_st_ = (expr);                                                               \
        if (ps_t_st_ != (want))                                                                    \
            fail_msg("%s returned %s, want %s (%s)", #expr, ps_status_name(ps_t_st_),              \
                     ps_status_name(want), ps_last_error());                                       \
        if ((want) != PS_OK && (want) != PS_NOT_FOUND && ps_last_error()[0] == '\0')               \
            fail_msg("%s failed with %s but left no message", #expr, ps_status_name(want));        \
    } while (0)

/*
 * Skipping. A case that this machine cannot run (no permission to mount, no
 * unix socket, ...) calls PST_SKIP("reason"): the reason goes to stderr and
 * the program's exit status, made by pst_exit(), is PST_SKIP_CODE when no
 * case failed, which CTest reports as "Skipped" (ps_add_test sets
 * SKIP_RETURN_CODE), never as "Passed". A case that does not apply to what
 * is tested (a conformance case a connector opts out of) uses cmocka's
 * skip() and does not count.
 */
#define PST_SKIP_CODE 77
#define PST_SKIP(...)                                                                              \
    do {                                                                                           \
        pst_note_skip(__VA_ARGS__);                                                                \
        skip();                                                                                    \
    } while (0)
void pst_note_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The exit status for a program whose cases ended with `failed` failures:
 * `failed` when not 0, else PST_SKIP_CODE when a case called PST_SKIP. */
int pst_exit(int failed);

/* Make a fresh empty directory under $TMPDIR (or /tmp); returns a malloc'd
 * path. Removed with pst_rmtree. */
char *pst_mkdtemp(const char *tag);

/* Remove a directory tree (like rm -rf); missing is fine. */
void pst_rmtree(const char *path);

/* Fill `buf` with a deterministic pattern derived from `seed`. */
void pst_fill(void *buf, size_t n, uint32_t seed);

/* A free TCP port on 127.0.0.1 (bound then released). */
int pst_free_port(void);

/* Path of a program built into build/bin (malloc'd). */
char *pst_bin_path(const char *name);

/* Run a shell command, return its exit status (-1 on failure to run). */
int pst_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A test fixture: a registered store `name` over a file connector in a fresh
 * temporary directory, with populate_target off (proxies resolve lazily) and
 * metrics as asked. Fails the test on error.
 */
typedef struct pst_file_fixture {
    char *dir;       /* malloc'd */
    ps_store *store; /* registered under its name */
} pst_file_fixture;

pst_file_fixture *pst_file_fixture_new(const char *name, bool metrics);
/* Close the store (keeping objects), remove the directory, free. */
void pst_file_fixture_free(pst_file_fixture *f);

#endif
