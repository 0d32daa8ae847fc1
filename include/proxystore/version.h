/* ProxyStore-C version numbers. */
#ifndef PROXYSTORE_VERSION_H
#define PROXYSTORE_VERSION_H

#define PS_VERSION_MAJOR  0
#define PS_VERSION_MINOR  1
#define PS_VERSION_PATCH  0
#define PS_VERSION_STRING "0.1.0"
/** The version as 0xMMmmpp, comparable with <, like UV_VERSION_HEX. */
#define PS_VERSION_HEX ((PS_VERSION_MAJOR << 16) | (PS_VERSION_MINOR << 8) | PS_VERSION_PATCH)

/** Symbol visibility: the library is built with -fvisibility=hidden. */
#if defined(PS_BUILDING_LIBRARY) && defined(__GNUC__)
#define PS_API __attribute__((visibility("default")))
#else
#define PS_API
#endif

#endif
