/*
 * ps_bench_daos_setup POOL CONTAINER
 *
 * Prepare the DAOS case of the benchmarks on the libdaos emulation
 * (tests/connectors/daos/emu, loaded from $PROXYSTORE_DAOS_LIBRARY with its data under
 * $DAOS_EMU_ROOT): create pool POOL and a container CONTAINER of layout type
 * PYTHON, as `daos cont create POOL CONTAINER --type PYTHON` would. An
 * existing container is fine. Called by scripts/bench.sh; refuses to run
 * against anything but the emulation. Exit status 0 on success, 2 usage,
 * 3 failure (with a message on stderr).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/daos/daos_loader.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ps_bench_daos_setup POOL CONTAINER\n");
        return 2;
    }
    const char *pool = argv[1], *cont = argv[2];
    const ps__daos_api *api = NULL;
    if (ps__daos_load(&api) != PS_OK) {
        fprintf(stderr, "ps_bench_daos_setup: %s\n", ps_last_error());
        return 3;
    }
    /* Only the emulation can create pools; the real DAOS needs dmg. */
    const char *path = getenv(PS__DAOS_LIBRARY_ENV);
    void *lib = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
    void *sym = lib ? dlsym(lib, "daos_emu_pool_create") : NULL;
    if (!sym) {
        fprintf(stderr, "ps_bench_daos_setup: %s is not the DAOS emulation\n",
                path ? path : PS__DAOS_LIBRARY_DEFAULT);
        return 3;
    }
    int (*pool_create)(const char *);
    memcpy(&pool_create, &sym, sizeof sym);
    int rc = pool_create(pool);
    if (rc == 0)
        rc = api->daos_init();
    if (rc != 0) {
        fprintf(stderr, "ps_bench_daos_setup: pool %s: DER %d\n", pool, rc);
        return 3;
    }
    daos_handle_t poh;
    rc = api->daos_pool_connect2(pool, NULL, DAOS_PC_RW, &poh, NULL, NULL);
    if (rc == 0) {
        daos_prop_t *prop = api->daos_prop_alloc(1);
        if (prop) {
            prop->dpp_entries[0].dpe_type = DAOS_PROP_CO_LAYOUT_TYPE;
            prop->dpp_entries[0].dpe_val = DAOS_PROP_CO_LAYOUT_PYTHON;
            rc = api->daos_cont_create_with_label(poh, cont, prop, NULL, NULL);
            api->daos_prop_free(prop);
        } else {
            rc = -DER_NOMEM;
        }
        api->daos_pool_disconnect(poh, NULL);
    }
    api->daos_fini();
    dlclose(lib); /* the reference RTLD_NOLOAD took */
    if (rc != 0 && rc != -DER_EXIST) {
        fprintf(stderr, "ps_bench_daos_setup: container %s/%s: DER %d\n", pool, cont, rc);
        return 3;
    }
    return 0;
}
