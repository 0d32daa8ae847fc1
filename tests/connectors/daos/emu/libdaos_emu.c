/*
 * An emulation of the libdaos client ABI subset used by ProxyStore-C's DAOS
 * connector, for tests on machines without DAOS. Built as a shared library
 * whose SONAME is libdaos.so.2, and loaded by the connector with dlopen
 * exactly like the real library (PROXYSTORE_DAOS_LIBRARY=<path>).
 *
 * Types and prototypes come from src/connectors/daos/daos_abi.h, the header
 * the connector uses, so the two agree by construction.
 *
 * Storage ($DAOS_EMU_ROOT, read by daos_init):
 *   <root>/<pool>/.uuid                    pool UUID (text)
 *   <root>/<pool>/<cont>/.props            container properties (text, immutable)
 *   <root>/<pool>/<cont>/.oid              next OID "lo" (text, updated under flock)
 *   <root>/<pool>/<cont>/o.<lo>.<hi>/      one directory per object (hex OID)
 *   <root>/<pool>/<cont>/o.<lo>.<hi>/<k>   one file per dkey: the value bytes;
 *                                          <k> = the key with bytes outside
 *                                          [A-Za-z0-9_-] written as %XX
 * Values are written to a temporary file and renamed into place, so readers
 * in any process see an old or a new value, never a partial one. Every
 * mutation of an object holds flock() on its ".lock" file, which makes the
 * conditional flags (DAOS_COND_KEY_INSERT/UPDATE, DAOS_COND_PUNCH) atomic
 * across threads and processes.
 *
 * Semantics emulated (spec/daos-abi.md): negative DER codes; daos_init /
 * daos_fini reference counting (-DER_UNINIT before init); labels or UUIDs for
 * pools and containers; container properties LABEL, LAYOUT_TYPE, REDUN_FAC,
 * ROOTS (root OID with type bits 0) through daos_prop_alloc/daos_cont_query/
 * daos_prop_free; OID allocation and encoding; KV put/get/remove/list with
 * size 0 meaning absent, a NULL buffer returning the size, -DER_REC2BIG
 * with the real size, -DER_KEY2BIG with the needed length in kds[0],
 * hash-ordered listing with anchors (da_type HKEY, then EOF); event queues
 * whose KV operations really run asynchronously on two worker threads (so
 * buffers must stay alive until completion) and complete in any order.
 *
 * Not emulated: transactions (th must be DAOS_TX_NONE), events on pool and
 * container calls (only KV operations take an event), parent events, object
 * classes beyond the OID bits, keys whose encoded name exceeds 255 bytes
 * (-DER_KEY2BIG), more than one iov in a listing's sgl (the first is used).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connectors/daos/daos_abi.h"
#include "daos_emu.h"

#define EMU_EXPORT __attribute__((visibility("default")))

/* Prototypes of the exported ABI, generated from the connector's list. */
#define EMU_PROTO(ret, name, params) EMU_EXPORT ret name params;
PS__DAOS_FUNCS(EMU_PROTO)
PS__DAOS_OPTIONAL_FUNCS(EMU_PROTO)
#undef EMU_PROTO

/* Buffer sizes: the root is at most EMU_ROOT_MAX bytes and labels 127, so
 * each level fits in the next one and every path fits in EMU_PATH. */
#define EMU_ROOT_MAX 1024
#define EMU_POOL_DIR 1280
#define EMU_CONT_DIR 1536
#define EMU_OBJ_DIR  1792
#define EMU_PATH     4096

/* ---- global state and handles ------------------------------------------------------ */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_init;
static char g_root[EMU_ROOT_MAX];
static atomic_int g_force_absent;
static atomic_uint g_tmp_counter;

enum { H_POOL = 1, H_CONT, H_OBJ, H_EQ };

typedef struct {
    int type;
    uint32_t gen;
    void *p;
} emu_hent;

static emu_hent *g_h;
static size_t g_nh;
static uint32_t g_gen;

typedef struct {
    char dir[EMU_POOL_DIR];
} emu_pool;

typedef struct {
    char dir[EMU_CONT_DIR];
    char label[128];
    char uuid[40];
    uint64_t layout;
    uint64_t rf;
    daos_obj_id_t root;
} emu_cont;

typedef struct {
    char dir[EMU_OBJ_DIR];
    daos_obj_id_t oid;
} emu_obj;

typedef struct emu_eq emu_eq;

static int emu_initialized(void)
{
    pthread_mutex_lock(&g_lock);
    int ok = g_init > 0;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

static int hdl_new(int type, void *p, daos_handle_t *h)
{
    pthread_mutex_lock(&g_lock);
    size_t i;
    for (i = 0; i < g_nh; i++)
        if (g_h[i].type == 0)
            break;
    if (i == g_nh) {
        emu_hent *n = realloc(g_h, (g_nh + 16) * sizeof *n);
        if (n == NULL) {
            pthread_mutex_unlock(&g_lock);
            return -DER_NOMEM;
        }
        memset(n + g_nh, 0, 16 * sizeof *n);
        g_h = n;
        g_nh += 16;
    }
    g_h[i].type = type;
    g_h[i].gen = ++g_gen;
    g_h[i].p = p;
    h->cookie = ((uint64_t)g_h[i].gen << 32) | (uint64_t)(i + 1);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static void *hdl_get(daos_handle_t h, int type)
{
    size_t i = (size_t)(h.cookie & 0xffffffffu);
    uint32_t gen = (uint32_t)(h.cookie >> 32);
    void *p = NULL;
    pthread_mutex_lock(&g_lock);
    if (i >= 1 && i <= g_nh && g_h[i - 1].type == type && g_h[i - 1].gen == gen)
        p = g_h[i - 1].p;
    pthread_mutex_unlock(&g_lock);
    return p;
}

static void *hdl_del(daos_handle_t h, int type)
{
    size_t i = (size_t)(h.cookie & 0xffffffffu);
    uint32_t gen = (uint32_t)(h.cookie >> 32);
    void *p = NULL;
    pthread_mutex_lock(&g_lock);
    if (i >= 1 && i <= g_nh && g_h[i - 1].type == type && g_h[i - 1].gen == gen) {
        p = g_h[i - 1].p;
        g_h[i - 1].type = 0;
        g_h[i - 1].p = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    return p;
}

/* The close of a pool, container or KV handle: synchronous only. */
static int hdl_close(daos_handle_t h, int type, daos_event_t *ev)
{
    if (ev != NULL)
        return -DER_NOSYS;
    void *p = hdl_del(h, type);
    if (p == NULL)
        return -DER_NO_HDL;
    free(p);
    return 0;
}

/* ---- small file helpers ----------------------------------------------------------- */

static int der_from_errno(int e)
{
    switch (e) {
    case ENOENT:
        return -DER_NONEXIST;
    case EEXIST:
        return -DER_EXIST;
    case ENOMEM:
        return -DER_NOMEM;
    case ENOSPC:
    case EDQUOT:
        return -DER_NOSPACE;
    case EACCES:
    case EPERM:
        return -DER_NO_PERM;
    case ENAMETOOLONG:
        return -DER_KEY2BIG;
    default:
        return -DER_IO;
    }
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write `n` bytes to a new temporary file in `dir`; its path goes to `tmp`. */
static int write_tmp(const char *dir, const void *buf, size_t n, char *tmp, size_t tmpsz)
{
    snprintf(tmp, tmpsz, "%s/.t.%ld.%u", dir, (long)getpid(), atomic_fetch_add(&g_tmp_counter, 1u));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return der_from_errno(errno);
    if (write_all(fd, buf, n) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return der_from_errno(e);
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return der_from_errno(e);
    }
    return 0;
}

/* Write a small file atomically (temporary + rename). */
static int write_file_atomic(const char *dir, const char *name, const char *text)
{
    char tmp[EMU_PATH], path[EMU_PATH];
    int rc = write_tmp(dir, text, strlen(text), tmp, sizeof tmp);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return der_from_errno(e);
    }
    return 0;
}

static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* Exclusive flock on `<dir>/<name>` (created if needed); returns the fd or a DER code. */
static int lock_file(const char *dir, const char *name)
{
    char path[EMU_PATH];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return der_from_errno(errno);
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return der_from_errno(e);
        }
    }
    return fd;
}

static void unlock_file(int fd)
{
    flock(fd, LOCK_UN);
    close(fd);
}

static int random_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return -DER_IO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

static int is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

/* DAOS labels: [A-Za-z0-9_.:-]{1,127}, not a UUID. Also keep names off our dot-files. */
static int label_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 127 || s[0] == '.' || is_uuid(s))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

/* Find the entry of `dir` whose `<entry>/<file>` holds `uuid` (case-insensitive). */
static int find_by_uuid(const char *dir, const char *file, const char *uuid, char *out,
                        size_t outsz)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -DER_NONEXIST;
    struct dirent *e;
    int rc = -DER_NONEXIST;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[EMU_PATH], buf[256];
        snprintf(path, sizeof path, "%s/%s/%s", dir, e->d_name, file);
        if (read_small(path, buf, sizeof buf) != 0)
            continue;
        const char *u = strstr(buf, "uuid ");
        u = u ? u + 5 : buf;
        if (strncasecmp(u, uuid, 36) == 0) {
            snprintf(out, outsz, "%s/%s", dir, e->d_name);
            rc = 0;
            break;
        }
    }
    closedir(d);
    return rc;
}

/* ---- init ---------------------------------------------------------------------------- */

int daos_init(void)
{
    const char *root = getenv("DAOS_EMU_ROOT");
    if (root == NULL || *root == '\0' || strlen(root) >= EMU_ROOT_MAX)
        return -DER_INVAL;
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        return -DER_NONEXIST;
    pthread_mutex_lock(&g_lock);
    if (g_init++ == 0)
        snprintf(g_root, sizeof g_root, "%s", root);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int daos_fini(void)
{
    pthread_mutex_lock(&g_lock);
    int rc = 0;
    if (g_init == 0)
        rc = -DER_UNINIT;
    else
        g_init--;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

const char *d_errstr(int rc)
{
    switch (-rc) {
#define E(n)                                                                                       \
    case n:                                                                                        \
        return #n;
        E(DER_SUCCESS)
        E(DER_NO_PERM)
        E(DER_NO_HDL)
        E(DER_INVAL)
        E(DER_EXIST)
        E(DER_NONEXIST)
        E(DER_UNREACH)
        E(DER_NOSPACE)
        E(DER_ALREADY)
        E(DER_NOMEM)
        E(DER_NOSYS)
        E(DER_TIMEDOUT)
        E(DER_BUSY)
        E(DER_AGAIN)
        E(DER_PROTO)
        E(DER_UNINIT)
        E(DER_CANCELED)
        E(DER_IO)
        E(DER_KEY2BIG)
        E(DER_REC2BIG)
        E(DER_NOTSUPPORTED)
#undef E
    default:
        return "DER_UNKNOWN";
    }
}

/* ---- pools ----------------------------------------------------------------------------- */

static int pool_create_in(const char *root, const char *label)
{
    if (!label_ok(label))
        return -DER_INVAL;
    char dir[EMU_POOL_DIR], path[EMU_PATH], tmp[EMU_PATH];
    snprintf(dir, sizeof dir, "%s/%s", root, label);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return der_from_errno(errno);
    snprintf(path, sizeof path, "%s/.uuid", dir);
    if (access(path, F_OK) == 0)
        return 0;
    char uuid[37], text[64];
    int rc = random_uuid(uuid);
    if (rc)
        return rc;
    snprintf(text, sizeof text, "uuid %s\n", uuid);
    rc = write_tmp(dir, text, strlen(text), tmp, sizeof tmp);
    if (rc)
        return rc;
    /* link() fails if another creator got there first: keep theirs. */
    if (link(tmp, path) != 0 && errno != EEXIST) {
        int e = errno;
        unlink(tmp);
        return der_from_errno(e);
    }
    unlink(tmp);
    return 0;
}

int daos_emu_pool_create(const char *label)
{
    const char *root = getenv("DAOS_EMU_ROOT");
    if (root == NULL || *root == '\0')
        return -DER_INVAL;
    return pool_create_in(root, label);
}

void daos_emu_force_absent_gets(int n)
{
    atomic_store(&g_force_absent, n);
}

int daos_pool_connect2(const char *pool, const char *sys, unsigned int flags, daos_handle_t *poh,
                       daos_pool_info_t *info, daos_event_t *ev)
{
    (void)sys;
    (void)info;
    if (!emu_initialized())
        return -DER_UNINIT;
    if (pool == NULL || poh == NULL || (flags & (DAOS_PC_RO | DAOS_PC_RW | DAOS_PC_EX)) == 0)
        return -DER_INVAL;
    if (ev != NULL)
        return -DER_NOSYS;
    emu_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -DER_NOMEM;
    int rc;
    if (is_uuid(pool)) {
        rc = find_by_uuid(g_root, ".uuid", pool, p->dir, sizeof p->dir);
    } else if (!label_ok(pool)) {
        rc = -DER_INVAL;
    } else {
        snprintf(p->dir, sizeof p->dir, "%s/%s/.uuid", g_root, pool);
        rc = access(p->dir, F_OK) == 0 ? 0 : -DER_NONEXIST;
        const char *ac = getenv("DAOS_EMU_AUTOCREATE");
        if (rc != 0 && ac && strcmp(ac, "1") == 0)
            rc = pool_create_in(g_root, pool);
        snprintf(p->dir, sizeof p->dir, "%s/%s", g_root, pool);
    }
    if (rc == 0)
        rc = hdl_new(H_POOL, p, poh);
    if (rc != 0)
        free(p);
    return rc;
}

int daos_pool_disconnect(daos_handle_t poh, daos_event_t *ev)
{
    return hdl_close(poh, H_POOL, ev);
}

/* ---- containers ------------------------------------------------------------------------- */

static int cont_load(const char *dir, emu_cont *c)
{
    char path[EMU_PATH], buf[1024];
    snprintf(path, sizeof path, "%s/.props", dir);
    if (read_small(path, buf, sizeof buf) != 0)
        return -DER_NONEXIST;
    unsigned long long layout, rf, lo, hi;
    char uuid[40], label[128];
    if (sscanf(buf, "uuid %39s\nlabel %127s\nlayout %llu\nrf %llu\nroot %llx %llx", uuid, label,
               &layout, &rf, &lo, &hi) != 6)
        return -DER_IO;
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    snprintf(c->uuid, sizeof c->uuid, "%s", uuid);
    snprintf(c->label, sizeof c->label, "%s", label);
    c->layout = layout;
    c->rf = rf;
    c->root.lo = lo;
    c->root.hi = hi;
    return 0;
}

int daos_cont_create_with_label(daos_handle_t poh, const char *label, daos_prop_t *prop,
                                unsigned char (*uuid)[16], daos_event_t *ev)
{
    if (!emu_initialized())
        return -DER_UNINIT;
    if (ev != NULL)
        return -DER_NOSYS;
    emu_pool *p = hdl_get(poh, H_POOL);
    if (p == NULL)
        return -DER_NO_HDL;
    if (!label_ok(label))
        return -DER_INVAL;
    uint64_t layout = DAOS_PROP_CO_LAYOUT_UNKNOWN, rf = 0;
    for (uint32_t i = 0; prop && i < prop->dpp_nr; i++) {
        if (prop->dpp_entries[i].dpe_type == DAOS_PROP_CO_LAYOUT_TYPE)
            layout = prop->dpp_entries[i].dpe_val;
        else if (prop->dpp_entries[i].dpe_type == DAOS_PROP_CO_REDUN_FAC)
            rf = prop->dpp_entries[i].dpe_val;
    }
    if (layout > 0xff || rf > 4)
        return -DER_INVAL;
    char tmpdir[EMU_CONT_DIR], dir[EMU_CONT_DIR], u[37], text[512];
    snprintf(tmpdir, sizeof tmpdir, "%s/.c.XXXXXX", p->dir);
    if (mkdtemp(tmpdir) == NULL)
        return der_from_errno(errno);
    int rc = random_uuid(u);
    /* The root OID as dc_cont_create makes it: lo 0, type bits 0, one group. */
    uint64_t root_hi = (rf << 48) | (1ull << 32);
    snprintf(text, sizeof text, "uuid %s\nlabel %s\nlayout %llu\nrf %llu\nroot %llx %llx\n", u,
             label, (unsigned long long)layout, (unsigned long long)rf, 0ull,
             (unsigned long long)root_hi);
    if (rc == 0)
        rc = write_file_atomic(tmpdir, ".props", text);
    if (rc == 0)
        rc = write_file_atomic(tmpdir, ".oid", "1\n");
    snprintf(dir, sizeof dir, "%s/%s", p->dir, label);
    if (rc == 0 && rename(tmpdir, dir) != 0)
        rc = (errno == EEXIST || errno == ENOTEMPTY) ? -DER_EXIST : der_from_errno(errno);
    if (rc != 0) {
        char path[EMU_PATH];
        snprintf(path, sizeof path, "%s/.props", tmpdir);
        unlink(path);
        snprintf(path, sizeof path, "%s/.oid", tmpdir);
        unlink(path);
        rmdir(tmpdir);
        return rc;
    }
    if (uuid) {
        for (int i = 0, j = 0; i < 16; i++, j += 2) {
            if (u[j] == '-')
                j++;
            unsigned v;
            sscanf(u + j, "%2x", &v);
            (*uuid)[i] = (unsigned char)v;
        }
    }
    return 0;
}

int daos_cont_open2(daos_handle_t poh, const char *cont, unsigned int flags, daos_handle_t *coh,
                    daos_cont_info_t *info, daos_event_t *ev)
{
    (void)info;
    if (!emu_initialized())
        return -DER_UNINIT;
    if (ev != NULL)
        return -DER_NOSYS;
    emu_pool *p = hdl_get(poh, H_POOL);
    if (p == NULL)
        return -DER_NO_HDL;
    if (cont == NULL || coh == NULL || (flags & (DAOS_COO_RO | DAOS_COO_RW | DAOS_COO_EX)) == 0)
        return -DER_INVAL;
    char dir[EMU_CONT_DIR];
    int rc;
    if (is_uuid(cont)) {
        rc = find_by_uuid(p->dir, ".props", cont, dir, sizeof dir);
    } else if (!label_ok(cont)) {
        rc = -DER_INVAL;
    } else {
        snprintf(dir, sizeof dir, "%s/%s", p->dir, cont);
        rc = 0;
    }
    emu_cont *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -DER_NOMEM;
    if (rc == 0)
        rc = cont_load(dir, c);
    if (rc == 0)
        rc = hdl_new(H_CONT, c, coh);
    if (rc != 0)
        free(c);
    return rc;
}

int daos_cont_close(daos_handle_t coh, daos_event_t *ev)
{
    return hdl_close(coh, H_CONT, ev);
}

daos_prop_t *daos_prop_alloc(uint32_t entries_nr)
{
    if (entries_nr > 128)
        return NULL;
    daos_prop_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (entries_nr > 0) {
        p->dpp_entries = calloc(entries_nr, sizeof *p->dpp_entries);
        if (p->dpp_entries == NULL) {
            free(p);
            return NULL;
        }
    }
    p->dpp_nr = entries_nr;
    return p;
}

static void prop_entry_clear(struct daos_prop_entry *e)
{
    if (e->dpe_type == DAOS_PROP_CO_LABEL)
        free(e->dpe_str);
    else if (e->dpe_type == DAOS_PROP_CO_ROOTS)
        free(e->dpe_val_ptr);
    e->dpe_val = 0;
}

void daos_prop_free(daos_prop_t *prop)
{
    if (prop == NULL)
        return;
    for (uint32_t i = 0; i < prop->dpp_nr && prop->dpp_entries; i++)
        prop_entry_clear(&prop->dpp_entries[i]);
    free(prop->dpp_entries);
    free(prop);
}

static int prop_fill(const emu_cont *c, struct daos_prop_entry *e)
{
    prop_entry_clear(e);
    e->dpe_flags = 0;
    switch (e->dpe_type) {
    case DAOS_PROP_CO_LABEL:
        e->dpe_str = strdup(c->label);
        return e->dpe_str ? 0 : -DER_NOMEM;
    case DAOS_PROP_CO_LAYOUT_TYPE:
        e->dpe_val = c->layout;
        return 0;
    case DAOS_PROP_CO_REDUN_FAC:
        e->dpe_val = c->rf;
        return 0;
    case DAOS_PROP_CO_ROOTS: {
        struct daos_prop_co_roots *r = calloc(1, sizeof *r);
        if (r == NULL)
            return -DER_NOMEM;
        r->cr_oids[0] = c->root;
        e->dpe_val_ptr = r;
        return 0;
    }
    default:
        e->dpe_flags |= DAOS_PROP_ENTRY_NOT_SET;
        return 0;
    }
}

int daos_cont_query(daos_handle_t coh, daos_cont_info_t *info, daos_prop_t *prop, daos_event_t *ev)
{
    (void)info;
    if (ev != NULL)
        return -DER_NOSYS;
    emu_cont *c = hdl_get(coh, H_CONT);
    if (c == NULL)
        return -DER_NO_HDL;
    if (prop == NULL)
        return 0;
    if (prop->dpp_nr == 0) {
        /* Fetch everything, as daos_prop_alloc(0) asks for. */
        static const uint32_t all[] = {DAOS_PROP_CO_LABEL, DAOS_PROP_CO_LAYOUT_TYPE,
                                       DAOS_PROP_CO_REDUN_FAC, DAOS_PROP_CO_ROOTS};
        prop->dpp_entries = calloc(4, sizeof *prop->dpp_entries);
        if (prop->dpp_entries == NULL)
            return -DER_NOMEM;
        prop->dpp_nr = 4;
        for (int i = 0; i < 4; i++)
            prop->dpp_entries[i].dpe_type = all[i];
    }
    for (uint32_t i = 0; i < prop->dpp_nr; i++) {
        int rc = prop_fill(c, &prop->dpp_entries[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int daos_cont_alloc_oids(daos_handle_t coh, daos_size_t num_oids, uint64_t *oid, daos_event_t *ev)
{
    if (ev != NULL)
        return -DER_NOSYS;
    emu_cont *c = hdl_get(coh, H_CONT);
    if (c == NULL)
        return -DER_NO_HDL;
    if (oid == NULL || num_oids == 0)
        return -DER_INVAL;
    int fd = lock_file(c->dir, ".oid.lock");
    if (fd < 0)
        return fd;
    char path[EMU_PATH], buf[64];
    snprintf(path, sizeof path, "%s/.oid", c->dir);
    int rc = 0;
    unsigned long long next = 0;
    if (read_small(path, buf, sizeof buf) != 0 || sscanf(buf, "%llu", &next) != 1)
        rc = -DER_IO;
    if (rc == 0) {
        snprintf(buf, sizeof buf, "%llu\n", next + num_oids);
        rc = write_file_atomic(c->dir, ".oid", buf);
    }
    unlock_file(fd);
    if (rc == 0)
        *oid = next;
    return rc;
}

int daos_obj_generate_oid2(daos_handle_t coh, daos_obj_id_t *oid, daos_otype_t type,
                           daos_oclass_id_t cid, daos_oclass_hints_t hints, uint32_t args)
{
    (void)hints;
    (void)args;
    emu_cont *c = hdl_get(coh, H_CONT);
    if (c == NULL)
        return -DER_NO_HDL;
    if (oid == NULL)
        return -DER_INVAL;
    switch (type) {
    case DAOS_OT_MULTI_HASHED:
    case DAOS_OT_KV_HASHED:
    case DAOS_OT_KV_UINT64:
    case DAOS_OT_KV_LEXICAL:
    case DAOS_OT_ARRAY:
        break;
    default:
        return -DER_INVAL;
    }
    uint64_t ord, grps;
    switch (cid) {
    case OC_UNKNOWN:
        ord = c->rf;
        grps = 1;
        break;
    case OC_S1:
    case OC_S2:
    case OC_SX:
    case OC_RP_2G1:
    case OC_RP_2GX:
    case OC_RP_3GX:
    case OC_EC_2P1GX:
        ord = (cid >> 24) & 0xff;
        grps = (cid & 0xffff) == 0xffff ? 1 : (cid & 0xffff);
        break;
    default:
        return -DER_INVAL;
    }
    oid->hi = (oid->hi & 0xffffffffull) | ((uint64_t)type << 56) | (ord << 48) | (grps << 32);
    return 0;
}

/* ---- objects --------------------------------------------------------------------------- */

int daos_kv_open(daos_handle_t coh, daos_obj_id_t oid, unsigned int mode, daos_handle_t *oh,
                 daos_event_t *ev)
{
    if (ev != NULL)
        return -DER_NOSYS;
    emu_cont *c = hdl_get(coh, H_CONT);
    if (c == NULL)
        return -DER_NO_HDL;
    if (oh == NULL || !daos_is_kv(oid) || (mode & (DAOS_OO_RO | DAOS_OO_RW)) == 0)
        return -DER_INVAL;
    emu_obj *o = calloc(1, sizeof *o);
    if (o == NULL)
        return -DER_NOMEM;
    o->oid = oid;
    snprintf(o->dir, sizeof o->dir, "%s/o.%016" PRIx64 ".%016" PRIx64, c->dir, oid.lo, oid.hi);
    int rc = hdl_new(H_OBJ, o, oh);
    if (rc)
        free(o);
    return rc;
}

int daos_kv_close(daos_handle_t oh, daos_event_t *ev)
{
    return hdl_close(oh, H_OBJ, ev);
}

static int is_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Encode a dkey as a file name; -DER_INVAL for an empty key, -DER_KEY2BIG when too long. */
static int key_encode(const char *key, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(key), j = 0;
    if (n == 0)
        return -DER_INVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (j + 4 > outsz || j + 4 > 256)
            return -DER_KEY2BIG;
        if (is_plain(c)) {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 15];
        }
    }
    out[j] = '\0';
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t key_decode(const char *name, char *out)
{
    size_t j = 0;
    for (size_t i = 0; name[i]; i++) {
        if (name[i] == '%' && hexval(name[i + 1]) >= 0 && hexval(name[i + 2]) >= 0) {
            out[j++] = (char)(hexval(name[i + 1]) * 16 + hexval(name[i + 2]));
            i += 2;
        } else {
            out[j++] = name[i];
        }
    }
    return j;
}

static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

enum { OP_PUT = 1, OP_GET, OP_REMOVE, OP_LIST };

typedef struct emu_op {
    int kind;
    daos_handle_t oh;
    uint64_t flags;
    const char *key;
    daos_size_t size;
    const void *cbuf;
    daos_size_t *psize;
    void *buf;
    uint32_t *nr;
    daos_key_desc_t *kds;
    d_sg_list_t *sgl;
    daos_anchor_t *anchor;
} emu_op;

static int exec_put(emu_obj *o, const emu_op *op)
{
    char name[300], path[EMU_PATH], tmp[EMU_PATH];
    int rc = key_encode(op->key, name, sizeof name);
    if (rc)
        return rc;
    if (op->size > 0 && op->cbuf == NULL)
        return -DER_INVAL;
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST)
        return der_from_errno(errno);
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    if (op->size > 0) {
        rc = write_tmp(o->dir, op->cbuf, (size_t)op->size, tmp, sizeof tmp);
        if (rc)
            return rc;
    }
    int fd = lock_file(o->dir, ".lock");
    if (fd < 0) {
        if (op->size > 0)
            unlink(tmp);
        return fd;
    }
    int present = access(path, F_OK) == 0;
    if ((op->flags & DAOS_COND_KEY_INSERT) && present)
        rc = -DER_EXIST;
    else if ((op->flags & DAOS_COND_KEY_UPDATE) && !present)
        rc = -DER_NONEXIST;
    else if (op->size == 0)
        rc = (unlink(path) == 0 || errno == ENOENT) ? 0 : der_from_errno(errno); /* a punch */
    else if (rename(tmp, path) != 0)
        rc = der_from_errno(errno);
    else
        tmp[0] = '\0';
    unlock_file(fd);
    if (op->size > 0 && tmp[0])
        unlink(tmp);
    return rc;
}

static int exec_get(emu_obj *o, const emu_op *op)
{
    char name[300], path[EMU_PATH];
    if (op->psize == NULL)
        return -DER_INVAL;
    int rc = key_encode(op->key, name, sizeof name);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    int fd = -1;
    int absent = 0;
    if (atomic_load(&g_force_absent) > 0 && atomic_fetch_sub(&g_force_absent, 1) > 0) {
        absent = 1;
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT)
                return der_from_errno(errno);
            absent = 1;
        }
    }
    if (absent) {
        if (op->flags & DAOS_COND_KEY_GET)
            return -DER_NONEXIST;
        *op->psize = 0;
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = der_from_errno(errno);
        close(fd);
        return rc;
    }
    daos_size_t len = (daos_size_t)st.st_size;
    if (op->buf == NULL) {
        *op->psize = len;
        close(fd);
        return 0;
    }
    if (*op->psize < len) {
        *op->psize = len;
        close(fd);
        return -DER_REC2BIG;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, (char *)op->buf + got, (size_t)len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            return -DER_IO;
        }
        got += (size_t)r;
    }
    close(fd);
    *op->psize = len;
    return 0;
}

static int exec_remove(emu_obj *o, const emu_op *op)
{
    char name[300], path[EMU_PATH];
    int rc = key_encode(op->key, name, sizeof name);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    int fd = -1;
    if (access(o->dir, F_OK) == 0) {
        fd = lock_file(o->dir, ".lock");
        if (fd < 0)
            return fd;
    }
    if (unlink(path) != 0)
        rc = errno == ENOENT ? ((op->flags & DAOS_COND_PUNCH) ? -DER_NONEXIST : 0)
                             : der_from_errno(errno);
    if (fd >= 0)
        unlock_file(fd);
    return rc;
}

typedef struct {
    uint64_t hash;
    char *key;
    size_t len;
} list_ent;

static int list_cmp(const void *a, const void *b)
{
    const list_ent *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash ? 1 : 0;
}

static int exec_list(emu_obj *o, const emu_op *op)
{
    uint32_t *nr = op->nr;
    daos_anchor_t *a = op->anchor;
    d_sg_list_t *sgl = op->sgl;
    if (nr == NULL || a == NULL || sgl == NULL || sgl->sg_nr < 1 || sgl->sg_iovs == NULL ||
        (*nr > 0 && op->kds == NULL))
        return -DER_INVAL;
    uint32_t max = *nr;
    *nr = 0;
    sgl->sg_nr_out = 0;
    sgl->sg_iovs[0].iov_len = 0;
    if (daos_anchor_is_eof(a))
        return 0;
    uint64_t after = 0;
    int have_after = a->da_type == DAOS_ANCHOR_TYPE_HKEY;
    if (have_after)
        memcpy(&after, a->da_buf, sizeof after);
    list_ent *ents = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    DIR *d = opendir(o->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *k = malloc(strlen(e->d_name) + 1);
            if (k == NULL) {
                rc = -DER_NOMEM;
                break;
            }
            size_t kl = key_decode(e->d_name, k);
            uint64_t h = key_hash(k, kl);
            if (have_after && h <= after) {
                free(k);
                continue;
            }
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                list_ent *ne = realloc(ents, nc * sizeof *ne);
                if (ne == NULL) {
                    free(k);
                    rc = -DER_NOMEM;
                    break;
                }
                ents = ne;
                cap = nc;
            }
            ents[n].hash = h;
            ents[n].key = k;
            ents[n].len = kl;
            n++;
        }
        closedir(d);
    } else if (errno != ENOENT) {
        rc = der_from_errno(errno);
    }
    if (rc == 0 && n > 0)
        qsort(ents, n, sizeof *ents, list_cmp);
    size_t i = 0, off = 0;
    d_iov_t *iov = &sgl->sg_iovs[0];
    for (; rc == 0 && i < n && i < max; i++) {
        if (ents[i].len > iov->iov_buf_len - off) {
            if (i == 0) {
                op->kds[0].kd_key_len = ents[0].len;
                rc = -DER_KEY2BIG;
            }
            break;
        }
        memcpy((char *)iov->iov_buf + off, ents[i].key, ents[i].len);
        off += ents[i].len;
        op->kds[i].kd_key_len = ents[i].len;
        op->kds[i].kd_val_type = 0;
    }
    if (rc == 0) {
        *nr = (uint32_t)i;
        iov->iov_len = off;
        sgl->sg_nr_out = 1;
        if (i == n) {
            a->da_type = DAOS_ANCHOR_TYPE_EOF;
        } else if (i > 0) {
            a->da_type = DAOS_ANCHOR_TYPE_HKEY;
            memcpy(a->da_buf, &ents[i - 1].hash, sizeof ents[i - 1].hash);
        }
    }
    for (size_t j = 0; j < n; j++)
        free(ents[j].key);
    free(ents);
    return rc;
}

static int exec_op(const emu_op *op)
{
    if (!emu_initialized())
        return -DER_UNINIT;
    emu_obj *o = hdl_get(op->oh, H_OBJ);
    if (o == NULL)
        return -DER_NO_HDL;
    if (op->kind != OP_LIST && op->key == NULL)
        return -DER_INVAL;
    switch (op->kind) {
    case OP_PUT:
        return exec_put(o, op);
    case OP_GET:
        return exec_get(o, op);
    case OP_REMOVE:
        return exec_remove(o, op);
    default:
        return exec_list(o, op);
    }
}

/* ---- events and event queues -------------------------------------------------------------- */

#define EV_MAGIC 0x44414f5345564e54ull /* "DAOSEVNT" */

enum { EV_IDLE = 0, EV_RUNNING, EV_DONE };

typedef struct {
    uint64_t magic;
    int state;
    emu_eq *eq;
    emu_op *op;
    daos_event_t *next;
} emu_evp;

_Static_assert(sizeof(emu_evp) <= sizeof(((daos_event_t *)0)->ev_private),
               "event bookkeeping fits in ev_private");

static emu_evp *evp_of(daos_event_t *ev)
{
    return (emu_evp *)(void *)&ev->ev_private;
}

#define EQ_WORKERS 2

struct emu_eq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    daos_event_t *pending_head, *pending_tail;
    daos_event_t *done_head, *done_tail;
    size_t inflight;
    int stop;
    pthread_t workers[EQ_WORKERS];
};

static void list_push(daos_event_t **head, daos_event_t **tail, daos_event_t *ev)
{
    evp_of(ev)->next = NULL;
    if (*tail)
        evp_of(*tail)->next = ev;
    else
        *head = ev;
    *tail = ev;
}

static daos_event_t *list_pop(daos_event_t **head, daos_event_t **tail)
{
    daos_event_t *ev = *head;
    if (ev) {
        *head = evp_of(ev)->next;
        if (*head == NULL)
            *tail = NULL;
        evp_of(ev)->next = NULL;
    }
    return ev;
}

static void list_remove(daos_event_t **head, daos_event_t **tail, daos_event_t *ev)
{
    daos_event_t *prev = NULL, *cur = *head;
    while (cur && cur != ev) {
        prev = cur;
        cur = evp_of(cur)->next;
    }
    if (cur == NULL)
        return;
    if (prev)
        evp_of(prev)->next = evp_of(cur)->next;
    else
        *head = evp_of(cur)->next;
    if (*tail == cur)
        *tail = prev;
    evp_of(cur)->next = NULL;
}

static void *eq_worker(void *arg)
{
    emu_eq *eq = arg;
    pthread_mutex_lock(&eq->lock);
    for (;;) {
        while (!eq->stop && eq->pending_head == NULL)
            pthread_cond_wait(&eq->cond, &eq->lock);
        if (eq->pending_head == NULL)
            break;
        daos_event_t *ev = list_pop(&eq->pending_head, &eq->pending_tail);
        emu_op *op = evp_of(ev)->op;
        int rc;
        if (eq->stop) {
            rc = -DER_CANCELED;
        } else {
            pthread_mutex_unlock(&eq->lock);
            rc = exec_op(op);
            pthread_mutex_lock(&eq->lock);
        }
        free(op);
        evp_of(ev)->op = NULL;
        ev->ev_error = rc;
        evp_of(ev)->state = EV_DONE;
        list_push(&eq->done_head, &eq->done_tail, ev);
        eq->inflight--;
        pthread_cond_broadcast(&eq->cond);
    }
    pthread_mutex_unlock(&eq->lock);
    return NULL;
}

int daos_eq_create(daos_handle_t *eqh)
{
    if (!emu_initialized())
        return -DER_UNINIT;
    if (eqh == NULL)
        return -DER_INVAL;
    emu_eq *eq = calloc(1, sizeof *eq);
    if (eq == NULL)
        return -DER_NOMEM;
    pthread_mutex_init(&eq->lock, NULL);
    pthread_cond_init(&eq->cond, NULL);
    int started = 0;
    for (; started < EQ_WORKERS; started++)
        if (pthread_create(&eq->workers[started], NULL, eq_worker, eq) != 0)
            break;
    int rc = started == EQ_WORKERS ? hdl_new(H_EQ, eq, eqh) : -DER_NOMEM;
    if (rc != 0) {
        pthread_mutex_lock(&eq->lock);
        eq->stop = 1;
        pthread_cond_broadcast(&eq->cond);
        pthread_mutex_unlock(&eq->lock);
        for (int i = 0; i < started; i++)
            pthread_join(eq->workers[i], NULL);
        pthread_cond_destroy(&eq->cond);
        pthread_mutex_destroy(&eq->lock);
        free(eq);
    }
    return rc;
}

int daos_eq_destroy(daos_handle_t eqh, int flags)
{
    emu_eq *eq = hdl_get(eqh, H_EQ);
    if (eq == NULL)
        return -DER_NO_HDL;
    pthread_mutex_lock(&eq->lock);
    if (!(flags & DAOS_EQ_DESTROY_FORCE) && (eq->inflight > 0 || eq->done_head != NULL)) {
        pthread_mutex_unlock(&eq->lock);
        return -DER_BUSY;
    }
    eq->stop = 1;
    pthread_cond_broadcast(&eq->cond);
    pthread_mutex_unlock(&eq->lock);
    for (int i = 0; i < EQ_WORKERS; i++)
        pthread_join(eq->workers[i], NULL);
    hdl_del(eqh, H_EQ);
    /* Detach completed events that were never polled. */
    daos_event_t *ev;
    while ((ev = list_pop(&eq->done_head, &eq->done_tail)) != NULL) {
        evp_of(ev)->state = EV_IDLE;
        evp_of(ev)->eq = NULL;
    }
    pthread_cond_destroy(&eq->cond);
    pthread_mutex_destroy(&eq->lock);
    free(eq);
    return 0;
}

int daos_eq_poll(daos_handle_t eqh, int wait_running, int64_t timeout, unsigned int nevents,
                 daos_event_t **events)
{
    emu_eq *eq = hdl_get(eqh, H_EQ);
    if (eq == NULL)
        return -DER_NO_HDL;
    if (nevents == 0 || events == NULL)
        return -DER_INVAL;
    struct timespec deadline;
    if (timeout > 0) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout / 1000000;
        deadline.tv_nsec += (long)(timeout % 1000000) * 1000;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&eq->lock);
    int n = 0;
    for (;;) {
        while ((unsigned)n < nevents && eq->done_head != NULL) {
            daos_event_t *ev = list_pop(&eq->done_head, &eq->done_tail);
            evp_of(ev)->state = EV_IDLE;
            events[n++] = ev;
        }
        if (n > 0 || (wait_running && eq->inflight == 0) || timeout == 0)
            break;
        if (timeout < 0) {
            pthread_cond_wait(&eq->cond, &eq->lock);
        } else if (pthread_cond_timedwait(&eq->cond, &eq->lock, &deadline) == ETIMEDOUT) {
            while ((unsigned)n < nevents && eq->done_head != NULL) {
                daos_event_t *ev = list_pop(&eq->done_head, &eq->done_tail);
                evp_of(ev)->state = EV_IDLE;
                events[n++] = ev;
            }
            break;
        }
    }
    pthread_mutex_unlock(&eq->lock);
    return n;
}

int daos_event_init(daos_event_t *ev, daos_handle_t eqh, daos_event_t *parent)
{
    if (ev == NULL)
        return -DER_INVAL;
    if (parent != NULL)
        return -DER_NOSYS;
    emu_eq *eq = NULL;
    if (daos_handle_is_valid(eqh)) {
        eq = hdl_get(eqh, H_EQ);
        if (eq == NULL)
            return -DER_NO_HDL;
    }
    memset(ev, 0, sizeof *ev);
    emu_evp *p = evp_of(ev);
    p->magic = EV_MAGIC;
    p->eq = eq;
    p->state = EV_IDLE;
    return 0;
}

int daos_event_fini(daos_event_t *ev)
{
    if (ev == NULL || evp_of(ev)->magic != EV_MAGIC)
        return -DER_INVAL;
    emu_evp *p = evp_of(ev);
    if (p->eq) {
        pthread_mutex_lock(&p->eq->lock);
        int busy = p->state == EV_RUNNING;
        if (!busy && p->state == EV_DONE)
            list_remove(&p->eq->done_head, &p->eq->done_tail, ev);
        pthread_mutex_unlock(&p->eq->lock);
        if (busy)
            return -DER_BUSY;
    }
    p->magic = 0;
    return 0;
}

int daos_event_test(daos_event_t *ev, int64_t timeout, bool *flag)
{
    if (ev == NULL || flag == NULL || evp_of(ev)->magic != EV_MAGIC)
        return -DER_INVAL;
    emu_evp *p = evp_of(ev);
    if (p->eq == NULL) {
        *flag = p->state != EV_RUNNING;
        p->state = EV_IDLE;
        return 0;
    }
    pthread_mutex_lock(&p->eq->lock);
    while (p->state == EV_RUNNING && timeout < 0)
        pthread_cond_wait(&p->eq->cond, &p->eq->lock);
    *flag = p->state != EV_RUNNING;
    if (p->state == EV_DONE) {
        list_remove(&p->eq->done_head, &p->eq->done_tail, ev);
        p->state = EV_IDLE;
    }
    pthread_mutex_unlock(&p->eq->lock);
    return 0;
}

/* Run `op` now (ev NULL), or hand it to ev's queue. */
static int submit(const emu_op *op, daos_event_t *ev)
{
    if (ev == NULL)
        return exec_op(op);
    emu_evp *p = evp_of(ev);
    if (p->magic != EV_MAGIC)
        return -DER_INVAL;
    if (p->state == EV_RUNNING)
        return -DER_BUSY;
    if (p->eq == NULL) {
        /* No queue: complete at once; daos_event_test reports it. */
        ev->ev_error = exec_op(op);
        p->state = EV_DONE;
        return 0;
    }
    emu_op *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return -DER_NOMEM;
    *copy = *op;
    emu_eq *eq = p->eq;
    pthread_mutex_lock(&eq->lock);
    if (eq->stop) {
        pthread_mutex_unlock(&eq->lock);
        free(copy);
        return -DER_SHUTDOWN;
    }
    p->op = copy;
    p->state = EV_RUNNING;
    ev->ev_error = 0;
    list_push(&eq->pending_head, &eq->pending_tail, ev);
    eq->inflight++;
    pthread_cond_broadcast(&eq->cond);
    pthread_mutex_unlock(&eq->lock);
    return 0;
}

static int th_ok(daos_handle_t th)
{
    return daos_handle_is_inval(th);
}

int daos_kv_put(daos_handle_t oh, daos_handle_t th, uint64_t flags, const char *key,
                daos_size_t size, const void *buf, daos_event_t *ev)
{
    if (!th_ok(th))
        return -DER_NOSYS;
    emu_op op = {.kind = OP_PUT, .oh = oh, .flags = flags, .key = key, .size = size, .cbuf = buf};
    return submit(&op, ev);
}

int daos_kv_get(daos_handle_t oh, daos_handle_t th, uint64_t flags, const char *key,
                daos_size_t *size, void *buf, daos_event_t *ev)
{
    if (!th_ok(th))
        return -DER_NOSYS;
    emu_op op = {.kind = OP_GET, .oh = oh, .flags = flags, .key = key, .psize = size, .buf = buf};
    return submit(&op, ev);
}

int daos_kv_remove(daos_handle_t oh, daos_handle_t th, uint64_t flags, const char *key,
                   daos_event_t *ev)
{
    if (!th_ok(th))
        return -DER_NOSYS;
    emu_op op = {.kind = OP_REMOVE, .oh = oh, .flags = flags, .key = key};
    return submit(&op, ev);
}

int daos_kv_list(daos_handle_t oh, daos_handle_t th, uint32_t *nr, daos_key_desc_t *kds,
                 d_sg_list_t *sgl, daos_anchor_t *anchor, daos_event_t *ev)
{
    if (!th_ok(th))
        return -DER_NOSYS;
    emu_op op = {.kind = OP_LIST, .oh = oh, .nr = nr, .kds = kds, .sgl = sgl, .anchor = anchor};
    return submit(&op, ev);
}
