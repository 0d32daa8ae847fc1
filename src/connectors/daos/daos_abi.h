/*
 * The subset of the DAOS client ABI (libdaos.so.2) that the DAOS connector
 * uses, written from the facts in spec/daos-abi.md (checked there against
 * DAOS v2.4.0 .. v2.8.0 and master: the sizes and values are the same).
 *
 * Nothing here comes from DAOS's headers: the types are declared with the
 * layout libdaos uses, static assertions pin their sizes and offsets, and
 * the header's inline helpers and macros (which are not symbols of the .so)
 * are written here. The functions are listed once, in PS__DAOS_FUNCS, from
 * which both the connector's function-pointer table (filled by dlsym) and
 * the prototypes of the test emulation are generated, so the two cannot
 * disagree.
 *
 * Not installed. Internal to the library and its tests.
 */
#ifndef PS_DAOS_ABI_H
#define PS_DAOS_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- types (LP64) ------------------------------------------------------------ */

typedef struct {
    uint64_t cookie;
} daos_handle_t;

typedef struct {
    uint64_t lo;
    uint64_t hi;
} daos_obj_id_t;

typedef uint64_t daos_size_t;
typedef uint32_t daos_oclass_id_t;
typedef uint16_t daos_oclass_hints_t;

typedef enum daos_otype_t {
    DAOS_OT_MULTI_HASHED = 0,
    DAOS_OT_KV_HASHED = 8,
    DAOS_OT_KV_UINT64 = 9,
    DAOS_OT_KV_LEXICAL = 10,
    DAOS_OT_ARRAY = 11
} daos_otype_t;

typedef struct {
    void *iov_buf;
    size_t iov_buf_len;
    size_t iov_len;
} d_iov_t;

typedef struct {
    uint32_t sg_nr;
    uint32_t sg_nr_out;
    d_iov_t *sg_iovs;
} d_sg_list_t;

typedef struct {
    daos_size_t kd_key_len;
    uint32_t kd_val_type;
} daos_key_desc_t;

#define DAOS_ANCHOR_BUF_MAX 104
typedef struct {
    uint16_t da_type;
    uint16_t da_shard;
    uint32_t da_flags;
    uint64_t da_sub_anchors;
    uint8_t da_buf[DAOS_ANCHOR_BUF_MAX];
} daos_anchor_t;

/* da_type values */
#define DAOS_ANCHOR_TYPE_ZERO 0
#define DAOS_ANCHOR_TYPE_HKEY 1
#define DAOS_ANCHOR_TYPE_KEY  2
#define DAOS_ANCHOR_TYPE_EOF  3

typedef struct daos_event {
    int ev_error;
    struct {
        uint64_t space[20];
    } ev_private;
    uint64_t ev_debug;
} daos_event_t;

struct daos_prop_entry {
    uint32_t dpe_type;
    uint16_t dpe_flags;
    uint16_t dpe_reserv;
    union {
        uint64_t dpe_val;
        char *dpe_str;
        void *dpe_val_ptr;
    };
};

typedef struct {
    uint32_t dpp_nr;
    uint32_t dpp_reserv;
    struct daos_prop_entry *dpp_entries;
} daos_prop_t;

struct daos_prop_co_roots {
    daos_obj_id_t cr_oids[4];
};

/* Always passed as NULL: opaque here. */
typedef struct daos_pool_info daos_pool_info_t;
typedef struct daos_cont_info daos_cont_info_t;

/* ---- layout pins (spec/daos-abi.md section 2.1 and trap 7) --------------------- */

_Static_assert(sizeof(daos_handle_t) == 8, "daos_handle_t is 8 bytes");
_Static_assert(sizeof(daos_obj_id_t) == 16, "daos_obj_id_t is 16 bytes");
_Static_assert(offsetof(daos_obj_id_t, lo) == 0, "daos_obj_id_t: lo comes first");
_Static_assert(offsetof(daos_obj_id_t, hi) == 8, "daos_obj_id_t: hi at 8");
_Static_assert(sizeof(d_iov_t) == 24, "d_iov_t is 24 bytes");
_Static_assert(sizeof(d_sg_list_t) == 16, "d_sg_list_t is 16 bytes");
_Static_assert(offsetof(d_sg_list_t, sg_iovs) == 8, "d_sg_list_t: sg_iovs at 8");
_Static_assert(sizeof(daos_key_desc_t) == 16, "daos_key_desc_t is 16 bytes (tail padding)");
_Static_assert(sizeof(daos_anchor_t) == 120, "daos_anchor_t is 120 bytes");
_Static_assert(offsetof(daos_anchor_t, da_type) == 0, "daos_anchor_t: da_type at 0");
_Static_assert(offsetof(daos_anchor_t, da_buf) == 16, "daos_anchor_t: da_buf at 16");
_Static_assert(sizeof(daos_event_t) == 176, "daos_event_t is 176 bytes");
_Static_assert(offsetof(daos_event_t, ev_error) == 0, "daos_event_t: ev_error at 0");
_Static_assert(offsetof(daos_event_t, ev_private) == 8, "daos_event_t: ev_private at 8");
_Static_assert(offsetof(daos_event_t, ev_debug) == 168, "daos_event_t: ev_debug at 168");
_Static_assert(sizeof(struct daos_prop_entry) == 16, "daos_prop_entry is 16 bytes");
_Static_assert(offsetof(struct daos_prop_entry, dpe_val) == 8, "daos_prop_entry: value at 8");
_Static_assert(sizeof(daos_prop_t) == 16, "daos_prop_t is 16 bytes");
_Static_assert(sizeof(struct daos_prop_co_roots) == 64, "daos_prop_co_roots is 64 bytes");

/* ---- constants ---------------------------------------------------------------- */

#define DAOS_PC_RO 0x1u
#define DAOS_PC_RW 0x2u
#define DAOS_PC_EX 0x4u

#define DAOS_COO_RO    0x1u
#define DAOS_COO_RW    0x2u
#define DAOS_COO_EX    0x4u
#define DAOS_COO_FORCE 0x8u

#define DAOS_OO_RO   0x2u
#define DAOS_OO_RW   0x4u
#define DAOS_OO_EXCL 0x8u

#define DAOS_COND_PUNCH      0x1u
#define DAOS_COND_KEY_REMOVE DAOS_COND_PUNCH
#define DAOS_COND_KEY_INSERT 0x2u
#define DAOS_COND_KEY_UPDATE 0x4u
#define DAOS_COND_KEY_GET    0x8u

#define DAOS_EQ_WAIT          (-1)
#define DAOS_EQ_NOWAIT        0
#define DAOS_EQ_DESTROY_FORCE 1
#define DAOS_REC_ANY          0

#define DAOS_PROP_CO_LABEL          0x1001u
#define DAOS_PROP_CO_LAYOUT_TYPE    0x1002u
#define DAOS_PROP_CO_REDUN_FAC      0x1007u
#define DAOS_PROP_CO_ROOTS          0x1011u
#define DAOS_PROP_ENTRY_NOT_SET     0x1u
#define DAOS_PROP_CO_LAYOUT_UNKNOWN 0
#define DAOS_PROP_CO_LAYOUT_POSIX   1
#define DAOS_PROP_CO_LAYOUT_HDF5    2
#define DAOS_PROP_CO_LAYOUT_PYTHON  3

#define OC_UNKNOWN  0u
#define OC_S1       0x1000001u
#define OC_S2       0x1000002u
#define OC_SX       0x100ffffu
#define OC_RP_2G1   0x8000001u
#define OC_RP_2GX   0x800ffffu
#define OC_RP_3GX   0x900ffffu
#define OC_EC_2P1GX 0x2000ffffu

/* Error numbers; the API returns them negated. */
#define DER_SUCCESS        0
#define DER_NO_PERM        1001
#define DER_NO_HDL         1002
#define DER_INVAL          1003
#define DER_EXIST          1004
#define DER_NONEXIST       1005
#define DER_UNREACH        1006
#define DER_NOSPACE        1007
#define DER_ALREADY        1008
#define DER_NOMEM          1009
#define DER_NOSYS          1010
#define DER_TIMEDOUT       1011
#define DER_BUSY           1012
#define DER_AGAIN          1013
#define DER_PROTO          1014
#define DER_UNINIT         1015
#define DER_TRUNC          1016
#define DER_OVERFLOW       1017
#define DER_CANCELED       1018
#define DER_HG             1020
#define DER_MISC           1025
#define DER_EXCLUDED       1032
#define DER_IO             2001
#define DER_FREE_MEM       2002
#define DER_ENOENT         2003
#define DER_STALE          2007
#define DER_NOTLEADER      2008
#define DER_EP_RO          2010
#define DER_EP_OLD         2011
#define DER_KEY2BIG        2012
#define DER_REC2BIG        2013
#define DER_IO_INVAL       2014
#define DER_EQ_BUSY        2015
#define DER_DOMAIN         2016
#define DER_SHUTDOWN       2017
#define DER_CSUM           2021
#define DER_TX_RESTART     2025
#define DER_TX_BUSY        2028
#define DER_AGENT_INCOMPAT 2029
#define DER_RF             2031
#define DER_NOTSUPPORTED   2037
#define DER_NO_SERVICE     2039
#define DER_UNKNOWN        501000

/* ---- header macros and inline helpers (not symbols of libdaos) ------------------- */

#define DAOS_HDL_INVAL ((daos_handle_t){0})
#define DAOS_TX_NONE   ((daos_handle_t){0})

static inline bool daos_handle_is_valid(daos_handle_t h)
{
    return h.cookie != 0;
}

static inline bool daos_handle_is_inval(daos_handle_t h)
{
    return h.cookie == 0;
}

static inline void d_iov_set(d_iov_t *iov, void *buf, size_t n)
{
    iov->iov_buf = buf;
    iov->iov_buf_len = n;
    iov->iov_len = n;
}

static inline void daos_anchor_init(daos_anchor_t *a, unsigned int opts)
{
    (void)opts;
    *a = (daos_anchor_t){0};
}

static inline void daos_anchor_fini(daos_anchor_t *a)
{
    (void)a;
}

static inline bool daos_anchor_is_eof(const daos_anchor_t *a)
{
    return a->da_type == DAOS_ANCHOR_TYPE_EOF;
}

static inline daos_otype_t daos_obj_id2type(daos_obj_id_t oid)
{
    return (daos_otype_t)(oid.hi >> 56);
}

static inline bool daos_is_kv(daos_obj_id_t oid)
{
    daos_otype_t t = daos_obj_id2type(oid);
    return t == DAOS_OT_KV_HASHED || t == DAOS_OT_KV_UINT64 || t == DAOS_OT_KV_LEXICAL;
}

/* ---- the functions --------------------------------------------------------------- */

/*
 * X(return type, name, parameter list). The name is the symbol looked up
 * first; ps__daos_fallback_name() in the loader names the plain symbol tried
 * when a "...2" symbol is missing (see the spec, section 2.3).
 */
#define PS__DAOS_FUNCS(X)                                                                          \
    X(int, daos_init, (void))                                                                      \
    X(int, daos_fini, (void))                                                                      \
    X(int, daos_pool_connect2,                                                                     \
      (const char *pool, const char *sys, unsigned int flags, daos_handle_t *poh,                  \
       daos_pool_info_t *info, daos_event_t *ev))                                                  \
    X(int, daos_pool_disconnect, (daos_handle_t poh, daos_event_t * ev))                           \
    X(int, daos_cont_open2,                                                                        \
      (daos_handle_t poh, const char *cont, unsigned int flags, daos_handle_t *coh,                \
       daos_cont_info_t *info, daos_event_t *ev))                                                  \
    X(int, daos_cont_close, (daos_handle_t coh, daos_event_t * ev))                                \
    X(int, daos_cont_query,                                                                        \
      (daos_handle_t coh, daos_cont_info_t * info, daos_prop_t * prop, daos_event_t * ev))         \
    X(int, daos_cont_alloc_oids,                                                                   \
      (daos_handle_t coh, daos_size_t num_oids, uint64_t * oid, daos_event_t * ev))                \
    X(daos_prop_t *, daos_prop_alloc, (uint32_t entries_nr))                                       \
    X(void, daos_prop_free, (daos_prop_t * prop))                                                  \
    X(int, daos_obj_generate_oid2,                                                                 \
      (daos_handle_t coh, daos_obj_id_t * oid, daos_otype_t type, daos_oclass_id_t cid,            \
       daos_oclass_hints_t hints, uint32_t args))                                                  \
    X(int, daos_kv_open,                                                                           \
      (daos_handle_t coh, daos_obj_id_t oid, unsigned int mode, daos_handle_t *oh,                 \
       daos_event_t *ev))                                                                          \
    X(int, daos_kv_close, (daos_handle_t oh, daos_event_t * ev))                                   \
    X(int, daos_kv_put,                                                                            \
      (daos_handle_t oh, daos_handle_t th, uint64_t flags, const char *key, daos_size_t size,      \
       const void *buf, daos_event_t *ev))                                                         \
    X(int, daos_kv_get,                                                                            \
      (daos_handle_t oh, daos_handle_t th, uint64_t flags, const char *key, daos_size_t *size,     \
       void *buf, daos_event_t *ev))                                                               \
    X(int, daos_kv_remove,                                                                         \
      (daos_handle_t oh, daos_handle_t th, uint64_t flags, const char *key, daos_event_t *ev))     \
    X(int, daos_kv_list,                                                                           \
      (daos_handle_t oh, daos_handle_t th, uint32_t * nr, daos_key_desc_t * kds,                   \
       d_sg_list_t * sgl, daos_anchor_t * anchor, daos_event_t * ev))                              \
    X(int, daos_eq_create, (daos_handle_t * eqh))                                                  \
    X(int, daos_eq_destroy, (daos_handle_t eqh, int flags))                                        \
    X(int, daos_eq_poll,                                                                           \
      (daos_handle_t eqh, int wait_running, int64_t timeout, unsigned int nevents,                 \
       daos_event_t **events))                                                                     \
    X(int, daos_event_init, (daos_event_t * ev, daos_handle_t eqh, daos_event_t * parent))         \
    X(int, daos_event_fini, (daos_event_t * ev))

/*
 * Symbols the connector does not need but may use when present (the loader
 * leaves them NULL when missing): the error-name function of libgurt, and
 * container creation (used by tests to make containers the way `daos cont
 * create --type PYTHON` does).
 */
#define PS__DAOS_OPTIONAL_FUNCS(X)                                                                 \
    X(const char *, d_errstr, (int rc))                                                            \
    X(int, daos_cont_create_with_label,                                                            \
      (daos_handle_t poh, const char *label, daos_prop_t *prop, unsigned char(*uuid)[16],          \
       daos_event_t *ev))                                                                          \
    X(int, daos_event_test, (daos_event_t * ev, int64_t timeout, bool *flag))

/* Size of a root-KV record of a pydaos container (spec section 1.3). */
#define PS__DAOS_ROOT_RECORD_SIZE 64
/* otype values of a root record. */
#define PS__DAOS_PYDAOS_DICT  0u
#define PS__DAOS_PYDAOS_ARRAY 1u

#endif
