/*
 * The file connector: one file per object in a directory, upstream
 * FileConnector's layout (<dir>/<uuid> and the <dir>/<uuid>.ready marker).
 * See include/proxystore/connectors/file.h for the contract.
 *
 * Writing an object: create "<dir>/.<uuid>.<random>.tmp" (O_EXCL), write it
 * completely (short writes and EINTR handled, chunks of at most 1 GiB so
 * objects over 2 GiB work), optionally fsync, close (its error checked),
 * rename it to "<dir>/<uuid>" (atomic: readers see the old or the new
 * object, never a mix), then create the marker. On any failure the temporary
 * file is removed, and for a new object nothing of it is left.
 *
 * The instance holds no mutable state after open, so it is thread-safe
 * without locks; all coordination is through the file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connector/builtin.h"
#include "core/internal.h"
#include "proxystore/connectors/file.h"
#include "proxystore/sys/connector.h"

/* Longest I/O per system call (Linux caps a call at 0x7ffff000 anyway). */
#define PS__FILE_IO_CHUNK ((size_t)1 << 30)
/* Room for "/.<uuid>.<16 hex>.tmp" or "/<uuid>.ready" after the directory. */
#define PS__FILE_NAME_ROOM 64
#define PS__FILE_PATH_MAX  (PATH_MAX + PS__FILE_NAME_ROOM)
#define PS__FILE_TAG_LEN   8

typedef struct ps__file {
    char *dir; /* absolute, normalized, no trailing '/' (except for "/") */
    char tag[PS__FILE_TAG_LEN + 1];
    bool clear;
    bool fsync;
    long long buffering;
} ps__file;

/* ---- paths ---------------------------------------------------------------------- */

/*
 * Make `path` absolute against the working directory and normalize it
 * lexically (collapse "//", "." and ".."), as Python's os.path.abspath does.
 * `*out` from ps_malloc.
 */
static ps_status ps__file_abspath(const char *path, char **out)
{
    PS__RETURN_IF(path == NULL || *path == '\0', PS_EINVAL, "file connector: store_dir is empty");
    char cwd[PATH_MAX];
    const char *base = "";
    if (path[0] != '/') {
        if (getcwd(cwd, sizeof cwd) == NULL)
            return ps__seterr(PS_EIO, "file connector: getcwd for \"%.200s\": %s", path,
                              strerror(errno));
        base = cwd;
    }
    size_t cap = strlen(base) + strlen(path) + 3;
    char *joined = ps_malloc(cap);
    char *res = ps_malloc(cap);
    if (joined == NULL || res == NULL) {
        ps_free(joined);
        ps_free(res);
        return PS__ENOMEM("file connector path");
    }
    snprintf(joined, cap, "%s/%s", base, path);
    /* res is built as "/a/b"; n is its length (0 means "/"). */
    size_t n = 0;
    const char *p = joined;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (n > 0 && res[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* drop the '/' too */
            continue;
        }
        res[n++] = '/';
        memcpy(res + n, seg, len);
        n += len;
    }
    if (n == 0)
        res[n++] = '/';
    res[n] = '\0';
    ps_free(joined);
    if (n > PATH_MAX - PS__FILE_NAME_ROOM) {
        ps_free(res);
        return ps__seterr(PS_EINVAL, "file connector: store_dir \"%.200s...\" is too long", path);
    }
    *out = res;
    return PS_OK;
}

static void ps__file_tag_of(const char *absdir, char tag[PS__FILE_TAG_LEN + 1])
{
    uint64_t h = ps__hash64(absdir, strlen(absdir));
    snprintf(tag, PS__FILE_TAG_LEN + 1, "%08x", (unsigned)((h >> 32) ^ (h & 0xffffffffu)));
}

/* "<dir>/<prefix><uuid><suffix>" into buf (PS__FILE_PATH_MAX bytes). */
static void ps__file_path(const ps__file *f, const char *prefix, const char *uuid,
                          const char *suffix, char *buf)
{
    snprintf(buf, PS__FILE_PATH_MAX, "%s%s%s%s%s", f->dir, strcmp(f->dir, "/") ? "/" : "", prefix,
             uuid, suffix);
}

/* mkdir -p. */
static ps_status ps__file_mkdirs(const char *dir)
{
    size_t n = strlen(dir);
    char *p = ps_malloc(n + 1);
    if (p == NULL)
        return PS__ENOMEM("file connector path");
    memcpy(p, dir, n + 1);
    ps_status st = PS_OK;
    for (size_t i = 1; i <= n && st == PS_OK; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            st = ps__seterr(PS_EIO, "file connector: cannot create directory %s: %s", p,
                            strerror(errno));
        p[i] = c;
    }
    ps_free(p);
    PS__FORWARD(st);
    struct stat sb;
    PS__RETURN_IF(stat(dir, &sb) != 0, PS_EIO, "file connector: store_dir %s: %s", dir,
                  strerror(errno));
    PS__RETURN_IF(!S_ISDIR(sb.st_mode), PS_EIO, "file connector: store_dir %s: %s", dir,
                  strerror(ENOTDIR));
    return PS_OK;
}

/*
 * Remove `name` (relative to dirfd) and everything below it without
 * following symbolic links. Missing entries are fine. Returns 0 or the first
 * errno met (it goes on after an error).
 */
static int ps__file_rmtree_at(int dirfd, const char *name, int depth)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return errno;
    if (depth > 64)
        return ELOOP;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        return e;
    }
    int first = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int r = ps__file_rmtree_at(fd, e->d_name, depth + 1);
        if (r != 0 && first == 0)
            first = r;
    }
    closedir(d);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT && first == 0)
        first = errno;
    return first;
}

/* ---- I/O --------------------------------------------------------------------------- */

static ps_status ps__file_write_all(int fd, const void *data, size_t len, const char *path)
{
    const unsigned char *p = data;
    while (len > 0) {
        size_t chunk = len < PS__FILE_IO_CHUNK ? len : PS__FILE_IO_CHUNK;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return ps__seterr(PS_EIO, "file connector: write %s: %s", path, strerror(errno));
        }
        if (w == 0)
            return ps__seterr(PS_EIO, "file connector: write %s: no progress", path);
        p += w;
        len -= (size_t)w;
    }
    return PS_OK;
}

static ps_status ps__file_read_all(int fd, void *buf, size_t len, const char *path)
{
    unsigned char *p = buf;
    while (len > 0) {
        size_t chunk = len < PS__FILE_IO_CHUNK ? len : PS__FILE_IO_CHUNK;
        ssize_t r = read(fd, p, chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ps__seterr(PS_EIO, "file connector: read %s: %s", path, strerror(errno));
        }
        if (r == 0)
            return ps__seterr(PS_EIO,
                              "file connector: read %s: file ended %zu bytes early (changed "
                              "while being read?)",
                              path, len);
        p += r;
        len -= (size_t)r;
    }
    return PS_OK;
}

static ps_status ps__file_fsync_dir(const ps__file *f)
{
    int fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    PS__RETURN_IF(fd < 0, PS_EIO, "file connector: open %s: %s", f->dir, strerror(errno));
    int r = fsync(fd);
    int e = errno;
    close(fd);
    PS__RETURN_IF(r != 0, PS_EIO, "file connector: fsync %s: %s", f->dir, strerror(e));
    return PS_OK;
}

/* Write `data` as the object `uuid` (new or overwritten), then its marker. */
static ps_status ps__file_store(const ps__file *f, const char *uuid, const void *data, size_t len)
{
    char tmp[PS__FILE_PATH_MAX], path[PS__FILE_PATH_MAX], marker[PS__FILE_PATH_MAX];
    unsigned char rnd[8];
    char suffix[2 * sizeof rnd + 8];
    PS__FORWARD(ps_random_bytes(rnd, sizeof rnd));
    suffix[0] = '.';
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(suffix + 1 + 2 * i, 3, "%02x", rnd[i]);
    strcat(suffix, ".tmp");
    ps__file_path(f, ".", uuid, suffix, tmp);
    ps__file_path(f, "", uuid, "", path);
    ps__file_path(f, "", uuid, ".ready", marker);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    PS__RETURN_IF(fd < 0, PS_EIO, "file connector: cannot create %s: %s", tmp, strerror(errno));
    ps_status st = ps__file_write_all(fd, data, len, tmp);
    if (st == PS_OK && f->fsync && fsync(fd) != 0)
        st = ps__seterr(PS_EIO, "file connector: fsync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == PS_OK)
        st = ps__seterr(PS_EIO, "file connector: close %s: %s", tmp, strerror(errno));
    if (st == PS_OK && rename(tmp, path) != 0)
        st = ps__seterr(PS_EIO, "file connector: rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != PS_OK) {
        unlink(tmp);
        return st;
    }
    fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 || close(fd) != 0) {
        st = ps__seterr(PS_EIO, "file connector: cannot create %s: %s", marker, strerror(errno));
        unlink(marker);
        unlink(path);
        return st;
    }
    if (f->fsync)
        PS__FORWARD(ps__file_fsync_dir(f));
    return PS_OK;
}

/* ---- keys ---------------------------------------------------------------------------- */

static ps_status ps__file_check_key(const ps__file *f, const ps_key *key, const char **uuid)
{
    PS__RETURN_IF(ps_key_nfields(key) != 2, PS_EINVAL,
                  "file connector: malformed key \"%.200s\" (want file:<uuid>/<dir tag>)",
                  ps_key_str(key));
    const char *id = ps_key_field(key, 0);
    PS__RETURN_IF(!ps_uuid_is_canonical(id), PS_EINVAL,
                  "file connector: malformed key \"%.200s\": object id is not a UUID",
                  ps_key_str(key));
    PS__RETURN_IF(strcmp(ps_key_field(key, 1), f->tag) != 0, PS_EINVAL,
                  "file connector: key \"%.200s\" belongs to another directory (tag %.32s; "
                  "store_dir %s has tag %s)",
                  ps_key_str(key), ps_key_field(key, 1), f->dir, f->tag);
    *uuid = id;
    return PS_OK;
}

static ps_status ps__file_make_key(const char *tag, const char *uuid, ps_key **key)
{
    const char *fields[2] = {uuid, tag};
    return ps_key_new("file", 2, fields, key);
}

/* ---- operations ------------------------------------------------------------------------ */

static ps_status ps__file_open(json_t *options, void **priv)
{
    static const char *const fields[] = {"store_dir", "clear", "buffering", "fsync", NULL};
    static const char what[] = "file connector options";
    PS__FORWARD(ps__json_check_fields(options, what, fields));
    const char *dir = NULL;
    bool clear = true, do_fsync = false;
    long long buffering = -1;
    PS__FORWARD(ps__json_get_string(options, what, "store_dir", &dir));
    PS__FORWARD(ps__json_get_bool(options, what, "clear", &clear));
    PS__FORWARD(ps__json_get_bool(options, what, "fsync", &do_fsync));
    PS__FORWARD(ps__json_get_int(options, what, "buffering", &buffering));
    PS__RETURN_IF(dir == NULL, PS_EINVAL, "file connector: option \"store_dir\" is required");
    PS__RETURN_IF(buffering < -1, PS_EINVAL,
                  "file connector: option \"buffering\" must be >= -1 (got %lld)", buffering);
    ps__file *f = ps_calloc(1, sizeof *f);
    if (f == NULL)
        return PS__ENOMEM("file connector");
    ps_status st = ps__file_abspath(dir, &f->dir);
    if (st == PS_OK) {
        /* config() must be able to write it back as JSON text */
        json_t *probe = json_string(f->dir);
        if (probe == NULL)
            st = ps__seterr(PS_EINVAL, "file connector: store_dir %s is not valid UTF-8", f->dir);
        json_decref(probe);
    }
    if (st == PS_OK)
        st = ps__file_mkdirs(f->dir);
    if (st != PS_OK) {
        ps_free(f->dir);
        ps_free(f);
        return st;
    }
    ps__file_tag_of(f->dir, f->tag);
    f->clear = clear;
    f->fsync = do_fsync;
    f->buffering = buffering;
    *priv = f;
    return PS_OK;
}

static ps_status ps__file_close(void *priv, ps_clear clear)
{
    ps__file *f = priv;
    ps_status st = PS_OK;
    if (clear == PS_CLEAR_ALL && strcmp(f->dir, "/") == 0) {
        st = ps__seterr(PS_EINVAL, "file connector: refusing to clear store_dir /");
    } else if (clear == PS_CLEAR_ALL) {
        int e = ps__file_rmtree_at(AT_FDCWD, f->dir, 0);
        if (e != 0)
            st = ps__seterr(PS_EIO, "file connector: clearing %s: %s", f->dir, strerror(e));
    }
    ps_free(f->dir);
    ps_free(f);
    return st;
}

static bool ps__file_default_clear(void *priv)
{
    return ((ps__file *)priv)->clear;
}

static ps_status ps__file_config(void *priv, json_t **options)
{
    ps__file *f = priv;
    json_t *o = json_pack("{s:s, s:b, s:I}", "store_dir", f->dir, "clear", f->clear, "buffering",
                          (json_int_t)f->buffering);
    if (o && f->fsync && json_object_set_new(o, "fsync", json_true()) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (o == NULL)
        return PS__ENOMEM("file connector config");
    *options = o;
    return PS_OK;
}

static ps_status ps__file_new_key(void *priv, ps_key **key)
{
    ps__file *f = priv;
    const char *extra[] = {f->tag};
    return ps_key_new_uuid("file", 1, extra, key);
}

static ps_status ps__file_set(void *priv, const ps_key *key, const void *data, size_t len)
{
    const char *uuid = NULL;
    PS__FORWARD(ps__file_check_key(priv, key, &uuid));
    return ps__file_store(priv, uuid, data, len);
}

static ps_status ps__file_put(void *priv, const void *data, size_t len, const ps_put_options *opts,
                              ps_key **key)
{
    (void)opts;
    ps_key *k = NULL;
    PS__FORWARD(ps__file_new_key(priv, &k));
    ps_status st = ps__file_store(priv, ps_key_field(k, 0), data, len);
    if (st != PS_OK) {
        ps_key_free(k);
        return st;
    }
    *key = k;
    return PS_OK;
}

/* Does the marker exist? */
static ps_status ps__file_marker(const ps__file *f, const char *uuid, bool *exists)
{
    char marker[PS__FILE_PATH_MAX];
    ps__file_path(f, "", uuid, ".ready", marker);
    struct stat sb;
    if (stat(marker, &sb) == 0) {
        *exists = true;
        return PS_OK;
    }
    PS__RETURN_IF(errno != ENOENT && errno != ENOTDIR, PS_EIO, "file connector: stat %s: %s",
                  marker, strerror(errno));
    *exists = false;
    return PS_OK;
}

/*
 * Large objects are returned as a read-only view of the file itself: a
 * private mapping, populated up front (the page cache's pages are mapped, not
 * copied, and the caller's first reads do not fault). The mapping stays valid
 * after the file is evicted or replaced: both unlink or rename, and an open
 * mapping keeps the old file alive. Objects are never rewritten in place, so
 * the file cannot shrink under the view (a program that truncated the file
 * itself would make reads past the new end fault).
 */
#define PS__FILE_MAP_MIN ((size_t)4 << 20)

static void ps__file_view_release(void *opaque, void *data, size_t len)
{
    (void)opaque;
    munmap(data, len);
}

/* Map `len` bytes of `fd` into `*out`; false (nothing changed) when mmap
 * fails, e.g. on a file system without mmap: the caller then reads. */
static bool ps__file_map_view(int fd, size_t len, ps_bytes *out)
{
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        return false;
    out->data = p;
    out->len = len;
    out->release = ps__file_view_release;
    out->opaque = NULL;
    return true;
}

static ps_status ps__file_get(void *priv, const ps_key *key, ps_bytes *out)
{
    ps__file *f = priv;
    const char *uuid = NULL;
    bool ready = false;
    PS__FORWARD(ps__file_check_key(f, key, &uuid));
    PS__FORWARD(ps__file_marker(f, uuid, &ready));
    if (!ready)
        return PS_NOT_FOUND;
    char path[PS__FILE_PATH_MAX];
    ps__file_path(f, "", uuid, "", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return PS_NOT_FOUND; /* evicted since the marker was seen */
        return ps__seterr(PS_EIO, "file connector: open %s: %s", path, strerror(errno));
    }
    struct stat sb;
    ps_status st = PS_OK;
    void *buf = NULL;
    if (fstat(fd, &sb) != 0) {
        st = ps__seterr(PS_EIO, "file connector: fstat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = ps__seterr(PS_EIO, "file connector: %s is not a regular file", path);
    } else if ((unsigned long long)sb.st_size > (unsigned long long)SIZE_MAX - 1) {
        st = ps__seterr(PS_ENOMEM, "file connector: %s: %lld bytes do not fit in memory", path,
                        (long long)sb.st_size);
    } else {
        size_t len = (size_t)sb.st_size;
        if (len >= PS__FILE_MAP_MIN && ps__file_map_view(fd, len, out)) {
            close(fd);
            return PS_OK;
        }
        buf = ps_malloc(len ? len : 1);
        if (buf == NULL)
            st = ps__seterr(PS_ENOMEM, "file connector: out of memory reading %s (%zu bytes)", path,
                            len);
        else
            st = ps__file_read_all(fd, buf, len, path);
        if (st == PS_OK) {
            out->data = buf;
            out->len = len;
            out->release = NULL;
            out->opaque = NULL;
            buf = NULL;
        }
    }
    ps_free(buf);
    close(fd);
    return st;
}

static ps_status ps__file_exists(void *priv, const ps_key *key, bool *exists)
{
    const char *uuid = NULL;
    PS__FORWARD(ps__file_check_key(priv, key, &uuid));
    return ps__file_marker(priv, uuid, exists);
}

static ps_status ps__file_evict(void *priv, const ps_key *key)
{
    ps__file *f = priv;
    const char *uuid = NULL;
    PS__FORWARD(ps__file_check_key(f, key, &uuid));
    char path[PS__FILE_PATH_MAX], marker[PS__FILE_PATH_MAX];
    ps__file_path(f, "", uuid, "", path);
    ps__file_path(f, "", uuid, ".ready", marker);
    PS__RETURN_IF(unlink(marker) != 0 && errno != ENOENT && errno != ENOTDIR, PS_EIO,
                  "file connector: remove %s: %s", marker, strerror(errno));
    PS__RETURN_IF(unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR, PS_EIO,
                  "file connector: remove %s: %s", path, strerror(errno));
    return PS_OK;
}

const ps_connector_ops ps__connector_file = {
    .version = PS_CONNECTOR_OPS_VERSION,
    .name = "file",
    .flags = PS_CONNECTOR_THREADSAFE,
    .open = ps__file_open,
    .close = ps__file_close,
    .default_clear = ps__file_default_clear,
    .config = ps__file_config,
    .put = ps__file_put,
    .get = ps__file_get,
    .exists = ps__file_exists,
    .evict = ps__file_evict,
    .new_key = ps__file_new_key,
    .set = ps__file_set,
};

/* ---- public helpers ------------------------------------------------------------------------ */

void ps_file_options_init(ps_file_options *o)
{
    if (o != NULL)
        *o = (ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .clear = true};
}

ps_status ps_file_connector_open(const ps_file_options *opts, ps_connector **out)
{
    PS__TYPED_OPEN_CHECK("ps_file_connector_open", opts, PS_FILE_OPTIONS_VERSION, out);
    PS__RETURN_IF(opts->store_dir == NULL || *opts->store_dir == '\0', PS_EINVAL,
                  "ps_file_connector_open: store_dir is NULL or empty");
    return ps__connector_open_pack(out, &ps__connector_file, "ps_file_connector_open",
                                   "{s:s, s:b, s:b}", "store_dir", opts->store_dir, "clear",
                                   opts->clear, "fsync", opts->fsync);
}

ps_status ps_file_key_for_dir(const char *store_dir, const char *uuid, ps_key **key)
{
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_file_key_for_dir: key is NULL");
    *key = NULL;
    PS__RETURN_IF(store_dir == NULL, PS_EINVAL, "ps_file_key_for_dir: store_dir is NULL");
    PS__RETURN_IF(uuid == NULL || !ps_uuid_is_canonical(uuid), PS_EINVAL,
                  "ps_file_key_for_dir: \"%.64s\" is not a canonical UUID", uuid ? uuid : "(null)");
    char *abs = NULL;
    PS__FORWARD(ps__file_abspath(store_dir, &abs));
    char tag[PS__FILE_TAG_LEN + 1];
    ps__file_tag_of(abs, tag);
    ps_free(abs);
    return ps__file_make_key(tag, uuid, key);
}

ps_status ps_file_key_from_uuid(ps_connector *conn, const char *uuid, ps_key **key)
{
    PS__RETURN_IF(key == NULL, PS_EINVAL, "ps_file_key_from_uuid: key is NULL");
    *key = NULL;
    PS__RETURN_IF(conn == NULL, PS_EINVAL, "ps_file_key_from_uuid: connector is NULL");
    PS__RETURN_IF(strcmp(ps_connector_kind(conn), "file") != 0, PS_EINVAL,
                  "ps_file_key_from_uuid: connector is a %s connector, not a file connector",
                  ps_connector_kind(conn));
    PS__RETURN_IF(uuid == NULL || !ps_uuid_is_canonical(uuid), PS_EINVAL,
                  "ps_file_key_from_uuid: \"%.64s\" is not a canonical UUID",
                  uuid ? uuid : "(null)");
    json_t *cfg = NULL;
    PS__FORWARD(ps_connector_config_json(conn, &cfg));
    const char *dir =
        json_string_value(json_object_get(json_object_get(cfg, "options"), "store_dir"));
    ps_status st;
    if (dir == NULL) {
        st = ps__seterr(PS_EINTERNAL, "ps_file_key_from_uuid: config has no store_dir");
    } else {
        /* store_dir in the config is already absolute and normalized */
        char tag[PS__FILE_TAG_LEN + 1];
        ps__file_tag_of(dir, tag);
        st = ps__file_make_key(tag, uuid, key);
    }
    json_decref(cfg);
    return st;
}
