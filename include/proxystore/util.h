/*
 * Small utilities the library is built on and that connectors and
 * applications may use: UUID4 strings, base64url, the host name.
 */
#ifndef PROXYSTORE_UTIL_H
#define PROXYSTORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Length of a canonical UUID string without the NUL. */
#define PS_UUID_STR_LEN 36

/**
 * Write a random (version 4) UUID in canonical lower-case hyphenated form
 * into `out` (PS_UUID_STR_LEN + 1 bytes, NUL-terminated).
 * Randomness comes from the kernel (getrandom) through a per-thread pool, so
 * most calls make no system call; the pool is refilled after fork().
 * Thread safety: safe. Returns PS_EINVAL for NULL, PS_EIO if the kernel
 * refuses randomness.
 * Ownership: `out` is the caller's buffer.
 */
PS_API ps_status ps_uuid4(char out[PS_UUID_STR_LEN + 1]);

/** Fill `buf` with `n` random bytes from the same pool as ps_uuid4(). Ownership: `buf` is the
 * caller's buffer. */
PS_API ps_status ps_random_bytes(void *buf, size_t n);

/**
 * True when `s` is a canonical lower-case hyphenated UUID (any version).
 * Ownership: none.
 */
PS_API bool ps_uuid_is_canonical(const char *s);

/** Bytes needed to base64url-encode `n` bytes without padding, plus the NUL. Ownership: none. */
PS_API size_t ps_base64url_encoded_size(size_t n);

/**
 * Encode `n` bytes as unpadded base64url (RFC 4648 section 5) into `out`,
 * which has room for ps_base64url_encoded_size(n) bytes; NUL-terminated.
 * Returns the text length.
 * Ownership: `out` is the caller's buffer.
 */
PS_API size_t ps_base64url_encode(const void *data, size_t n, char *out);

/**
 * Decode unpadded base64url text of `len` bytes into `out` (room for
 * len * 3 / 4 bytes); `*out_len` gets the decoded length. Padding, other
 * alphabets, whitespace and non-zero trailing bits are PS_EINVAL.
 * Ownership: `out` and `*out_len` are the caller's.
 */
PS_API ps_status ps_base64url_decode(const char *text, size_t len, void *out, size_t *out_len);

/**
 * The host name of this machine, or the value of the PROXYSTORE_HOSTNAME
 * environment variable when it is set and non-empty (for tests).
 * Writes at most `size` bytes including the NUL. PS_EINVAL for a NULL or
 * too-small buffer; PS_EIO if gethostname fails.
 * Ownership: `buf` is the caller's buffer.
 */
PS_API ps_status ps_hostname(char *buf, size_t size);

/**
 * The user's ProxyStore data directory: $PROXYSTORE_HOME, else
 * $XDG_DATA_HOME/proxystore, else $HOME/.local/share/proxystore.
 * Ownership: `*out` is new; free with ps_free().
 */
PS_API ps_status ps_data_dir(char **out);

/** Monotonic clock in nanoseconds. Ownership: none. */
PS_API uint64_t ps_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
