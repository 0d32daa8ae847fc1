/*
 * Test environment for the DAOS connector tests: a fresh emulation root
 * ($DAOS_EMU_ROOT), the emulation loaded through the connector's own loader
 * (so tests reach the same dlopen'd library the connector uses), and pools
 * and containers created through the DAOS API (daos_cont_create_with_label
 * with a LAYOUT_TYPE property, as `daos cont create --type` does).
 */
#ifndef PS_DAOS_TESTENV_H
#define PS_DAOS_TESTENV_H

#include <stdint.h>

#include "connectors/daos/daos_loader.h"

/* Make a fresh root, set DAOS_EMU_ROOT, load the library. Returns the root
 * (malloc'd) or NULL (with a message on stderr). */
char *pstd_setup(const char *tag);

/* The loaded API table (after pstd_setup). */
const ps__daos_api *pstd_api(void);

/* An emulation-only function by name, or NULL. */
void *pstd_emu_sym(const char *name);

/* Create pool `pool` (if needed) and container `cont` of layout type
 * `layout` (DAOS_PROP_CO_LAYOUT_*). Returns 0 or a negative DER code. */
int pstd_create_cont(const char *pool, const char *cont, uint64_t layout);

/* JSON options of a DAOS connector (static buffer, overwritten per call). */
const char *pstd_options(const char *pool, const char *cont, const char *ns, int clear);

#endif
