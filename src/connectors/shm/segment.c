/*
 * Large objects of the shm connector, each in its own segment file
 * (<store dir>/<uuid>): the put through a temporary file, the spare segment
 * kept for reuse, and the read (a mapped view or a copy).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/shm/shm_internal.h"

#define PS__SHM_IO_CHUNK  ((size_t)1 << 30)
#define PS__SHM_SPARE_MAX ((uint64_t)1 << 30) /* largest segment kept as the spare */

static ps_status ps__shm_errno_status(int e)
{
    return e == ENOSPC || e == EDQUOT ? PS_ENOSPC : e == EFBIG ? PS_ETOOBIG : PS_EIO;
}

/*
 * Segment recycling. Allocating tmpfs pages costs about as much as copying
 * into them, so an evicted segment that no process maps is kept (at most one
 * per store, of at most PS__SHM_SPARE_MAX bytes) under the name `.spare` and
 * the next large put writes into its already allocated pages.
 *
 * Who maps a segment is known from flock(2): every reader takes a shared lock
 * on the segment before mapping or reading it, and the lock lives as long as
 * the mapping (it belongs to the open file description, which the mapping
 * references after the descriptor is closed). The evictor recycles a segment
 * only when it gets the exclusive lock without waiting, and renames it while
 * holding that lock; a reader that opened the file before the rename checks,
 * once it holds its shared lock, that the key's path still names the file it
 * opened (ps__shm_read_segment), so it never reads a recycled file.
 */

/* Under the arena mutex, with the slot of a segment just removed: keep the
 * file as the store's spare when nobody maps it, else unlink it. */
int ps__shm_retire_segment(ps__shm *s, const char *path, uint64_t size)
{
    if (size > 0 && size <= PS__SHM_SPARE_MAX && (s->max_bytes == 0 || size <= s->max_bytes)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                char spare[4400];
                snprintf(spare, sizeof spare, "%s/" PS__SHM_SPARE, s->sdir);
                if (rename(path, spare) == 0) { /* replaces an older spare */
                    close(fd);
                    return 0;
                }
            }
            close(fd);
        }
    }
    return unlink(path);
}

/* Take the store's spare segment as the temporary file `tmp`: returns its
 * descriptor and in `*have` its size (all of it allocated), or -1 when there is
 * no usable spare. */
static int ps__shm_claim_spare(ps__shm *s, const char *tmp, off_t *have)
{
    char spare[4400];
    snprintf(spare, sizeof spare, "%s/" PS__SHM_SPARE, s->sdir);
    if (rename(spare, tmp) != 0)
        return -1;
    int fd = open(tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    /* a reader still holding a lock on it opened it as an old object and will
     * find the name gone; do not write under it */
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &sb) == 0 &&
        S_ISREG(sb.st_mode)) {
        *have = sb.st_size;
        return fd;
    }
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

/* A large object: written to a temporary segment (reserved with
 * posix_fallocate first), renamed into place and published under the mutex. */
ps_status ps__shm_put_large_fn(ps__shm *s, void *varg)
{
    ps__shm_put_arg *p = varg;
    ps__shm_arena *a = &s->arena;
    /* fail fast before writing */
    PS__FORWARD(ps__shm_lock(a, s->what));
    ps_status st = ps__shm_check_limits(s, p->id, p->len);
    ps__shm_unlock(a);
    if (st != PS_OK)
        return st;
    char tmp[4400], path[4400];
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", s->sdir, p->uuid, (long)getpid());
    snprintf(path, sizeof path, "%s/%s", s->sdir, p->uuid);
    off_t have = 0; /* bytes of the file already allocated (a recycled spare) */
    int fd = ps__shm_claim_spare(s, tmp, &have);
    if (fd < 0)
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            /* the store directory is gone: was the store removed? */
            PS__FORWARD(ps__shm_lock(a, s->what));
            ps__shm_unlock(a);
        }
        return ps__seterr(ps__shm_errno_status(e), "%s: cannot create %s: %s", s->what, tmp,
                          strerror(e));
    }
    int r = 0;
    if (have > (off_t)p->len && ftruncate(fd, (off_t)p->len) != 0)
        r = errno;
    else if (have < (off_t)p->len)
        r = posix_fallocate(fd, have, (off_t)p->len - have);
    if (r != 0) {
        st = ps__seterr(ps__shm_errno_status(r),
                        "%s: cannot reserve %zu bytes of shared memory in %s: %s", s->what, p->len,
                        s->dir, strerror(r));
        goto fail;
    }
    const unsigned char *src = p->data;
    for (size_t done = 0; done < p->len;) {
        size_t n = p->len - done < PS__SHM_IO_CHUNK ? p->len - done : PS__SHM_IO_CHUNK;
        ssize_t w = pwrite(fd, src + done, n, (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            st = ps__seterr(ps__shm_errno_status(e), "%s: writing %s: %s", s->what, tmp,
                            strerror(e));
            goto fail;
        }
        done += (size_t)w;
    }
    close(fd); /* drops the claim's flock before readers can see the segment */
    fd = -1;
    st = ps__shm_lock(a, s->what);
    if (st != PS_OK)
        goto fail;
    st = ps__shm_check_limits(s, p->id, p->len);
    if (st == PS_OK && rename(tmp, path) != 0)
        st = ps__seterr(PS_EIO, "%s: cannot rename %s: %s", s->what, tmp, strerror(errno));
    if (st == PS_OK) {
        ps__shm_slot *old = ps__shm_find(a->h, p->id);
        if (old)
            ps__shm_remove_slot(a->h, old); /* the rename replaced an old segment */
        st = ps__shm_insert(a->h, p->id, PS__SHM_KIND_SEGMENT, p->len, 0, s->what);
        if (st != PS_OK)
            unlink(path);
    }
    ps__shm_unlock(a);
    if (st != PS_OK)
        unlink(tmp);
    return st;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return st;
}

static void ps__shm_unmap_release(void *opaque, void *data, size_t len)
{
    (void)opaque;
    if (data && len)
        munmap(data, len);
}

/* Map (or copy) the segment of object `uuid`. PS_NOT_FOUND when it is gone
 * (evicted since the lookup). */
ps_status ps__shm_read_segment(ps__shm *s, const char *uuid, ps_bytes *out)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", s->sdir, uuid);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return PS_NOT_FOUND;
        return ps__seterr(PS_EIO, "%s: cannot open %s: %s", s->what, path, strerror(errno));
    }
    struct stat sb, now;
    ps_status st = PS_OK;
    /* the shared lock marks the file as in use for as long as it is mapped or
     * read (see ps__shm_retire_segment); EWOULDBLOCK: it is being recycled */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            st = PS_NOT_FOUND;
        else
            st = ps__seterr(PS_EIO, "%s: cannot lock %s: %s", s->what, path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        st = ps__seterr(PS_EIO, "%s: %s: %s", s->what, path, strerror(errno));
        goto out;
    }
    /* evicted (and maybe recycled) between the open and the lock? */
    if (stat(path, &now) != 0 || now.st_ino != sb.st_ino || now.st_dev != sb.st_dev) {
        st = PS_NOT_FOUND;
        goto out;
    }
    size_t len = (size_t)sb.st_size;
    if (len == 0) {
        out->data = NULL;
        out->len = 0;
        goto out;
    }
    if (!s->copy_on_get) {
        void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            st = ps__seterr(errno == ENOMEM ? PS_ENOMEM : PS_EIO, "%s: mmap %s: %s", s->what, path,
                            strerror(errno));
            goto out;
        }
        out->data = m;
        out->len = len;
        out->release = ps__shm_unmap_release;
        out->opaque = NULL;
        goto out;
    }
    unsigned char *buf = ps_malloc(len);
    if (buf == NULL) {
        st = ps__seterr(PS_ENOMEM, "%s: out of memory copying %zu bytes", s->what, len);
        goto out;
    }
    for (size_t done = 0; done < len;) {
        size_t n = len - done < PS__SHM_IO_CHUNK ? len - done : PS__SHM_IO_CHUNK;
        ssize_t r = pread(fd, buf + done, n, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = ps__seterr(PS_EIO, "%s: reading %s: %s", s->what, path,
                            r < 0 ? strerror(errno) : "file shrank");
            ps_free(buf);
            goto out;
        }
        done += (size_t)r;
    }
    out->data = buf;
    out->len = len;
out:
    close(fd);
    return st;
}
