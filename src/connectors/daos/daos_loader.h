/*
 * Run-time loading of libdaos (dlopen once, under pthread_once) into a table
 * of function pointers. Internal to the DAOS connector.
 */
#ifndef PS_DAOS_LOADER_H
#define PS_DAOS_LOADER_H

#include <jansson.h>

#include "connectors/daos/daos_abi.h"
#include "proxystore/status.h"

/* The table: one member per function of PS__DAOS_FUNCS and PS__DAOS_OPTIONAL_FUNCS. */
typedef struct ps__daos_api {
#define PS__DAOS_MEMBER(ret, name, params) ret(*name) params;
    PS__DAOS_FUNCS(PS__DAOS_MEMBER)
    PS__DAOS_OPTIONAL_FUNCS(PS__DAOS_MEMBER)
#undef PS__DAOS_MEMBER
} ps__daos_api;

/* Environment variable naming the library to load instead of libdaos.so.2. */
#define PS__DAOS_LIBRARY_ENV     "PROXYSTORE_DAOS_LIBRARY"
#define PS__DAOS_LIBRARY_DEFAULT "libdaos.so.2"

/*
 * The loaded table. The first call loads the library (thread-safe, once per
 * process); later calls return the same answer. On failure returns
 * PS_EUNAVAILABLE with a message holding dlerror()'s text, and every later
 * call fails the same way.
 * Ownership: `*api` is static; never freed (the library stays loaded).
 */
ps_status ps__daos_load(const ps__daos_api **api);

#endif
