/* Helpers of the shm connector tests (tests/connectors/shm/). */
#ifndef PS_SHM_TESTUTIL_H
#define PS_SHM_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "proxystore/proxystore.h"

/* A fresh directory on tmpfs (/dev/shm, else $TMPDIR); malloc'd path.
 * Remove with pst_rmtree. */
char *pst_shm_mkdtemp(const char *tag);

/* Open the shm store `name` in `dir` with extra JSON options (`extra` is
 * "" or starts with a comma: ", \"max_bytes\": 10"). */
ps_status pst_shm_open(const char *dir, const char *name, const char *extra, ps_connector **out);

/* Number of entries in a directory (-1 when it cannot be read). */
int pst_count_entries(const char *path);

#endif
