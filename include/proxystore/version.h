/* ProxyStore-C version numbers: those compiled against, and the library's. */
#ifndef PROXYSTORE_VERSION_H
#define PROXYSTORE_VERSION_H

#include "common.h"
#include "status.h"

#define PS_VERSION_MAJOR  0
#define PS_VERSION_MINOR  1
#define PS_VERSION_PATCH  0
#define PS_VERSION_STRING "0.1.0"
/** The version as 0xMMmmpp, comparable with <, like UV_VERSION_HEX. */
#define PS_VERSION_HEX ((PS_VERSION_MAJOR << 16) | (PS_VERSION_MINOR << 8) | PS_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The library's version string ("0.1.0"), which may differ from the
 * PS_VERSION_STRING an application was compiled with.
 * Ownership: static. Thread safety: safe.
 */
PS_API const char *ps_version(void);

/**
 * What this build of the library offers, as JSON text:
 *   {"version": "0.1.0", "version_hex": n, "connectors": ["file", ...],
 *    "codecs": ["raw", "zstd", ...], "features": {...}}
 * "features" holds run-time facts such as whether libdaos can be loaded.
 * Returns PS_OK, PS_EINVAL (`json` NULL) or PS_ENOMEM.
 * Ownership: `*json` is new; free with ps_free().
 */
PS_API ps_status ps_version_info(char **json);

#ifdef __cplusplus
}
#endif
#endif
