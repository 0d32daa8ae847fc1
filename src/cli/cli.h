/*
 * Internals of the `proxystore` command (src/cli/). Not installed.
 */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (docs/cli.md, man/proxystore.1). */
enum { PSC_OK = 0, PSC_NOT_FOUND = 1, PSC_USAGE = 2, PSC_OTHER = 3 };

/* Transfers above this size show a progress bar when stderr is a terminal. */
#define PSC_PROGRESS_MIN ((uint64_t)64 << 20)

/*
 * Turn a store SPEC into a store configuration (JSON text, malloc'd):
 *   file:DIR, redis://HOST[:PORT], endpoint:URL, endpoint:UUID[,UUID...],
 *   daos:POOL/CONTAINER/NAMESPACE, shm:NAME, @FILE.json.
 * NULL `spec` means the default store (a file store named "default" under
 * the user's data directory). Returns PSC_OK, or PSC_USAGE / PSC_OTHER with
 * a message in `err`.
 */
int psc_spec_config(const char *spec, char **config, char *err, size_t errlen);

/* A progress bar on stderr for `total` bytes, shown only when stderr is a
 * terminal and total >= PSC_PROGRESS_MIN. */
typedef struct psc_progress {
    const char *label;
    uint64_t total, done;
    uint64_t start_ns, last_ns;
    bool on;
} psc_progress;

void psc_progress_start(psc_progress *p, const char *label, uint64_t total);
void psc_progress_update(psc_progress *p, uint64_t done);
void psc_progress_end(psc_progress *p);

/* `proxystore shm ls|rm ...` (src/cli/shm_cmd.c); argv[0] is "shm". */
int psc_shm_main(int argc, char **argv);

#endif
