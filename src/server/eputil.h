/* Small helpers of the endpoint program: UUIDs as upstream parses them,
 * sizes with units, logging. */
#ifndef PS_ENDPOINT_EPUTIL_H
#define PS_ENDPOINT_EPUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxystore/status.h"

/*
 * Parse `n` bytes of `s` as Python's uuid.UUID(s, version=4) does: every
 * "urn:" and "uuid:" removed, braces stripped from both ends, hyphens
 * removed, then exactly 32 hex digits; the version nibble is forced to 4 and
 * the variant to RFC 4122 (upstream's quirk). Writes the canonical lower-case
 * form to `out`. Returns false when `s` is not a UUID.
 */
bool ep_parse_uuid4(const char *s, size_t n, char out[37]);

/*
 * Parse a size: an integer of bytes, or a number with a unit B, KB, MB, GB,
 * TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive,
 * optional space ("100MB", "1.5 GiB"), like upstream's readable_to_bytes().
 * PS_EINVAL with a message naming the text.
 */
ps_status ep_parse_size(const char *text, uint64_t *out);

typedef enum ep_log_level {
    EP_LOG_DEBUG = 10,
    EP_LOG_INFO = 20,
    EP_LOG_WARNING = 30,
    EP_LOG_ERROR = 40
} ep_log_level;

/* Parse DEBUG/INFO/WARNING/ERROR (any case). */
bool ep_log_parse_level(const char *s, ep_log_level *out);

/* Minimum level written (default INFO). */
void ep_log_set_level(ep_log_level level);

/*
 * Also append log lines to `path` (parent directories are created, as
 * upstream's serve() does). PS_EIO naming the path on failure.
 */
ps_status ep_log_open_file(const char *path);

/* Write log lines to stderr too (default on). */
void ep_log_to_stderr(bool on);

/* Close the log file. */
void ep_log_close(void);

/*
 * Log one line in upstream's format:
 * "[YYYY-MM-DD HH:MM:SS.mmm] LEVEL (proxystore.endpoint) :: message".
 * Thread-safe; each line is written with a single write(2).
 */
void ep_log(ep_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Create `path` and its parents (mode 0700 for new ones). PS_EIO on error. */
ps_status ep_mkdirs(const char *path, unsigned mode);

/* Remove a directory tree (rm -rf). PS_EIO naming the first failure. */
ps_status ep_rmtree(const char *path);

#endif
