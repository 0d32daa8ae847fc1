/*
 * Functions exported only by the DAOS emulation library (libdaos.so.2 built
 * from tests/connectors/daos/emu/libdaos_emu.c), for tests and the daos-emu tool. A
 * program finds them with dlsym on the emulation's handle; real libdaos has
 * none of them.
 */
#ifndef PS_DAOS_EMU_H
#define PS_DAOS_EMU_H

/*
 * Create pool `label` under $DAOS_EMU_ROOT (a directory). Existing is fine.
 * Returns 0 or a negative DER code. Does not need daos_init.
 */
int daos_emu_pool_create(const char *label);
typedef int (*daos_emu_pool_create_fn)(const char *label);

/*
 * Fault injection: the next `n` daos_kv_get calls (any object, any process
 * thread) report the key as absent (size 0) whatever is stored. Used to
 * drive a client into the "insert raced with another creator" path.
 */
void daos_emu_force_absent_gets(int n);
typedef void (*daos_emu_force_absent_gets_fn)(int n);

#endif
