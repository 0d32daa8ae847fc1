/* See daos_testenv.h. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daos_testenv.h"
#include "testutil.h"

static const ps__daos_api *pstd__api;

char *pstd_setup(const char *tag)
{
    char *root = pst_mkdtemp(tag);
    if (root == NULL) {
        perror("mkdtemp");
        return NULL;
    }
    setenv("DAOS_EMU_ROOT", root, 1);
    if (ps__daos_load(&pstd__api) != PS_OK) {
        fprintf(stderr, "cannot load the DAOS emulation: %s\n", ps_last_error());
        pst_rmtree(root);
        free(root);
        return NULL;
    }
    return root;
}

const ps__daos_api *pstd_api(void)
{
    return pstd__api;
}

void *pstd_emu_sym(const char *name)
{
    const char *path = getenv("PROXYSTORE_DAOS_LIBRARY");
    void *h = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
    if (h == NULL)
        return NULL;
    void *p = dlsym(h, name);
    dlclose(h); /* drops only the reference NOLOAD took */
    return p;
}

int pstd_create_cont(const char *pool, const char *cont, uint64_t layout)
{
    const ps__daos_api *api = pstd__api;
    void *sym = pstd_emu_sym("daos_emu_pool_create");
    if (api == NULL || sym == NULL || api->daos_cont_create_with_label == NULL)
        return -DER_NOSYS;
    int (*pool_create)(const char *);
    memcpy(&pool_create, &sym, sizeof sym);
    int rc = pool_create(pool);
    if (rc)
        return rc;
    rc = api->daos_init();
    if (rc)
        return rc;
    daos_handle_t poh;
    rc = api->daos_pool_connect2(pool, NULL, DAOS_PC_RW, &poh, NULL, NULL);
    if (rc == 0) {
        daos_prop_t *prop = api->daos_prop_alloc(1);
        prop->dpp_entries[0].dpe_type = DAOS_PROP_CO_LAYOUT_TYPE;
        prop->dpp_entries[0].dpe_val = layout;
        rc = api->daos_cont_create_with_label(poh, cont, prop, NULL, NULL);
        api->daos_prop_free(prop);
        api->daos_pool_disconnect(poh, NULL);
    }
    api->daos_fini();
    return rc;
}

const char *pstd_options(const char *pool, const char *cont, const char *ns, int clear)
{
    static _Thread_local char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"pool\": \"%s\", \"container\": \"%s\", \"namespace\": \"%s\", \"clear\": %s}",
             pool, cont, ns, clear ? "true" : "false");
    return buf;
}
