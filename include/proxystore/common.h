/*
 * What every public header needs: the export macro and compiler helpers.
 * Included by every other header; applications need not include it.
 */
#ifndef PROXYSTORE_COMMON_H
#define PROXYSTORE_COMMON_H

/** Symbol visibility: the library is built with -fvisibility=hidden. */
#if defined(PS_BUILDING_LIBRARY) && defined(__GNUC__)
#define PS_API __attribute__((visibility("default")))
#else
#define PS_API
#endif

/** printf-style format checking of argument `fmt` with arguments from `args`. */
#if defined(__GNUC__)
#define PS_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PS_PRINTF_LIKE(fmt, args)
#endif

#endif
