/*
 * Loading libdaos at run time.
 *
 * The library is opened once per process, under pthread_once, with
 * dlopen(RTLD_NOW | RTLD_GLOBAL): "libdaos.so.2" (the SONAME; the unversioned
 * name ships only with -devel packages) or the path in
 * $PROXYSTORE_DAOS_LIBRARY. Every function of PS__DAOS_FUNCS is looked up
 * with dlsym; for the "...2" names (daos_pool_connect2, daos_cont_open2,
 * daos_obj_generate_oid2) the plain name is tried only when the versioned
 * one is missing, because in DAOS 2.0 and 2.2 the plain symbols have other
 * semantics. dlsym on the libdaos handle also searches its dependencies, so
 * daos_prop_* (libdaos_common) and d_errstr (libgurt) resolve through it.
 * The handle is never closed.
 *
 * A failure (no library, a missing symbol) is remembered with dlerror()'s
 * text: every connector open then fails with PS_EUNAVAILABLE and that text,
 * and nothing else in ProxyStore-C is affected.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector/builtin.h"
#include "connectors/daos/daos_loader.h"
#include "proxystore/connectors/daos.h"
#include "core/internal.h"

static pthread_once_t ps__daos_once = PTHREAD_ONCE_INIT;
static ps__daos_api ps__daos_table;
static bool ps__daos_ok;
static char ps__daos_path[512];
static char ps__daos_detail[768];

typedef struct ps__daos_sym {
    const char *name;
    const char *fallback; /* plain name tried when `name` is missing, or NULL */
    size_t offset;        /* of the member in ps__daos_api */
    bool required;
} ps__daos_sym;

static const char *ps__daos_fallback_name(const char *name)
{
    if (strcmp(name, "daos_pool_connect2") == 0)
        return "daos_pool_connect";
    if (strcmp(name, "daos_cont_open2") == 0)
        return "daos_cont_open";
    if (strcmp(name, "daos_obj_generate_oid2") == 0)
        return "daos_obj_generate_oid";
    return NULL;
}

static void ps__daos_load_once(void)
{
    const char *path = getenv(PS__DAOS_LIBRARY_ENV);
    if (path == NULL || *path == '\0')
        path = PS__DAOS_LIBRARY_DEFAULT;
    snprintf(ps__daos_path, sizeof ps__daos_path, "%s", path);

    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL) {
        const char *e = dlerror();
        snprintf(ps__daos_detail, sizeof ps__daos_detail, "%s", e ? e : "dlopen failed");
        return;
    }

    static const ps__daos_sym syms[] = {
#define PS__DAOS_REQ(ret, name, params) {#name, NULL, offsetof(ps__daos_api, name), true},
#define PS__DAOS_OPT(ret, name, params) {#name, NULL, offsetof(ps__daos_api, name), false},
        PS__DAOS_FUNCS(PS__DAOS_REQ) PS__DAOS_OPTIONAL_FUNCS(PS__DAOS_OPT)
#undef PS__DAOS_REQ
#undef PS__DAOS_OPT
    };
    ps__daos_api api;
    memset(&api, 0, sizeof api);
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        dlerror();
        void *p = dlsym(h, syms[i].name);
        const char *fb = ps__daos_fallback_name(syms[i].name);
        if (p == NULL && fb != NULL) {
            dlerror();
            p = dlsym(h, fb);
        }
        if (p == NULL && syms[i].required) {
            const char *e = dlerror();
            snprintf(ps__daos_detail, sizeof ps__daos_detail, "%s: missing symbol %s (%s)", path,
                     syms[i].name, e ? e : "not found");
            /* Leave the handle open: closing a half-initialised libdaos is not safe. */
            return;
        }
        /* ISO C has no object-to-function pointer conversion; copy the bits. */
        memcpy((char *)&api + syms[i].offset, &p, sizeof p);
    }
    ps__daos_table = api;
    ps__daos_ok = true;
    snprintf(ps__daos_detail, sizeof ps__daos_detail, "loaded %s", path);
}

ps_status ps__daos_load(const ps__daos_api **api)
{
    pthread_once(&ps__daos_once, ps__daos_load_once);
    if (!ps__daos_ok)
        return ps__seterr(PS_EUNAVAILABLE, "daos connector: cannot load libdaos (%s): %s",
                          ps__daos_path, ps__daos_detail);
    *api = &ps__daos_table;
    return PS_OK;
}

void ps__daos_features_report(json_t *features)
{
    pthread_once(&ps__daos_once, ps__daos_load_once);
    json_object_set_new(features, "daos",
                        json_pack("{s:b, s:s, s:s}", "available", ps__daos_ok, "library",
                                  ps__daos_path, "detail", ps__daos_detail));
}

bool ps_daos_available(const char **detail)
{
    pthread_once(&ps__daos_once, ps__daos_load_once);
    if (detail)
        *detail = ps__daos_detail;
    return ps__daos_ok;
}
