/* UUID parsing, sizes, logging, directories for the endpoint program. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eputil.h"
#include "core/internal.h"

__extension__ typedef unsigned __int128 ep_u128;

/* ---- UUIDs ----------------------------------------------------------------- */

/* Remove every occurrence of `pat` from buf[0..*n). */
static void remove_all(char *buf, size_t *n, const char *pat)
{
    size_t pl = strlen(pat), o = 0;
    for (size_t i = 0; i < *n;) {
        if (i + pl <= *n && memcmp(buf + i, pat, pl) == 0) {
            i += pl;
            continue;
        }
        buf[o++] = buf[i++];
    }
    *n = o;
}

bool ep_parse_uuid4(const char *s, size_t n, char out[37])
{
    if (s == NULL || out == NULL || n > 256)
        return false;
    char buf[257];
    memcpy(buf, s, n);
    remove_all(buf, &n, "urn:");
    remove_all(buf, &n, "uuid:");
    size_t a = 0, b = n;
    while (a < b && (buf[a] == '{' || buf[a] == '}'))
        a++;
    while (b > a && (buf[b - 1] == '{' || buf[b - 1] == '}'))
        b--;
    unsigned char v[16];
    int nd = 0;
    for (size_t i = a; i < b; i++) {
        if (buf[i] == '-')
            continue;
        int h = ps__hex_digit((unsigned char)buf[i]);
        if (h < 0 || nd >= 32)
            return false;
        if (nd % 2 == 0)
            v[nd / 2] = (unsigned char)(h << 4);
        else
            v[nd / 2] |= (unsigned char)h;
        nd++;
    }
    if (nd != 32)
        return false;
    v[6] = (unsigned char)((v[6] & 0x0f) | 0x40); /* version 4 */
    v[8] = (unsigned char)((v[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hx[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hx[v[i] >> 4];
        *p++ = hx[v[i] & 15];
    }
    *p = '\0';
    return true;
}

/* ---- sizes ------------------------------------------------------------------ */

ps_status ep_parse_size(const char *text, uint64_t *out)
{
    PS__RETURN_IF(text == NULL || out == NULL, PS_EINVAL, "size: NULL argument");
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    ep_u128 mant = 0;
    unsigned scale = 0;
    int digits = 0, dot = 0;
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && !dot); p++) {
        if (*p == '.') {
            dot = 1;
            continue;
        }
        if (digits >= 30)
            return ps__seterr(PS_EINVAL, "size \"%s\": too many digits", text);
        mant = mant * 10 + (unsigned)(*p - '0');
        digits++;
        scale += dot;
    }
    PS__RETURN_IF(digits == 0, PS_EINVAL, "size \"%s\": expected a number of bytes", text);
    while (*p == ' ')
        p++;
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"kb", 1000ULL},
                 {"mb", 1000000ULL},
                 {"gb", 1000000000ULL},
                 {"tb", 1000000000000ULL},
                 {"kib", 1ULL << 10},
                 {"mib", 1ULL << 20},
                 {"gib", 1ULL << 30},
                 {"tib", 1ULL << 40}};
    char unit[8];
    size_t ul = 0;
    while (*p && !isspace((unsigned char)*p) && ul < sizeof unit - 1)
        unit[ul++] = *p++;
    unit[ul] = '\0';
    while (isspace((unsigned char)*p))
        p++;
    PS__RETURN_IF(*p != '\0', PS_EINVAL, "size \"%s\": unexpected text after the unit", text);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(unit, units[i].name) != 0)
            continue;
        ep_u128 v = mant * units[i].mult;
        for (unsigned s = 0; s < scale; s++)
            v /= 10;
        PS__RETURN_IF(v > UINT64_MAX, PS_EINVAL, "size \"%s\": too large", text);
        *out = (uint64_t)v;
        return PS_OK;
    }
    return ps__seterr(PS_EINVAL,
                      "size \"%s\": unknown unit \"%s\" (use B, KB, MB, GB, TB, KiB, MiB, GiB, "
                      "TiB)",
                      text, unit);
}

/* ---- logging ------------------------------------------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Read without the lock first: a filtered-out message (every request logs
 * at DEBUG) costs no lock. */
static atomic_int log_level = EP_LOG_INFO;
static int log_fd = -1;
static bool log_stderr = true;

bool ep_log_parse_level(const char *s, ep_log_level *out)
{
    static const struct {
        const char *name;
        ep_log_level level;
    } lv[] = {{"DEBUG", EP_LOG_DEBUG},
              {"INFO", EP_LOG_INFO},
              {"WARNING", EP_LOG_WARNING},
              {"ERROR", EP_LOG_ERROR}};
    for (size_t i = 0; s != NULL && i < 4; i++)
        if (strcasecmp(s, lv[i].name) == 0) {
            *out = lv[i].level;
            return true;
        }
    return false;
}

void ep_log_set_level(ep_log_level level)
{
    pthread_mutex_lock(&log_lock);
    atomic_store(&log_level, (int)level);
    pthread_mutex_unlock(&log_lock);
}

void ep_log_to_stderr(bool on)
{
    pthread_mutex_lock(&log_lock);
    log_stderr = on;
    pthread_mutex_unlock(&log_lock);
}

ps_status ep_log_open_file(const char *path)
{
    PS__RETURN_IF(path == NULL, PS_EINVAL, "log file: NULL path");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        PS__FORWARD(ep_mkdirs(dir, 0755));
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return ps__seterr(PS_EIO, "log file %s: %s", path, strerror(errno));
    pthread_mutex_lock(&log_lock);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    pthread_mutex_unlock(&log_lock);
    return PS_OK;
}

void ep_log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    pthread_mutex_unlock(&log_lock);
}

static void write_full(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void ep_log(ep_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    pthread_mutex_lock(&log_lock);
    if ((int)level < atomic_load(&log_level) || (log_fd < 0 && !log_stderr)) {
        pthread_mutex_unlock(&log_lock);
        return;
    }
    int saved = errno;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    const char *name = level >= EP_LOG_ERROR     ? "ERROR"
                       : level >= EP_LOG_WARNING ? "WARNING"
                       : level >= EP_LOG_INFO    ? "INFO"
                                                 : "DEBUG";
    int n = snprintf(
        line, sizeof line,
        "[%04d-%02d-%02d %02d:%02d:%02d.%03ld] %-5s (proxystore.endpoint) :: ", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, name);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    if (log_fd >= 0)
        write_full(log_fd, line, len);
    if (log_stderr)
        write_full(STDERR_FILENO, line, len);
    pthread_mutex_unlock(&log_lock);
    errno = saved;
}

/* ---- directories ----------------------------------------------------------- */

ps_status ep_mkdirs(const char *path, unsigned mode)
{
    PS__RETURN_IF(path == NULL || *path == '\0', PS_EINVAL, "mkdir: empty path");
    char tmp[4096];
    size_t n = strlen(path);
    PS__RETURN_IF(n >= sizeof tmp, PS_EINVAL, "mkdir %s: path too long", path);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
            return ps__seterr(PS_EIO, "mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
        return ps__seterr(PS_EIO, "mkdir %s: %s", path, strerror(errno));
    struct stat sb;
    if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ps__seterr(PS_EIO, "%s: not a directory", path);
    return PS_OK;
}

ps_status ep_rmtree(const char *path)
{
    PS__RETURN_IF(path == NULL || *path == '\0', PS_EINVAL, "rmtree: empty path");
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? PS_OK : ps__seterr(PS_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) {
        if (unlink(path) != 0)
            return ps__seterr(PS_EIO, "remove %s: %s", path, strerror(errno));
        return PS_OK;
    }
    DIR *d = opendir(path);
    if (d == NULL)
        return ps__seterr(PS_EIO, "%s: %s", path, strerror(errno));
    ps_status st = PS_OK;
    struct dirent *e;
    while (st == PS_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[4096];
        int n = snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        if (n < 0 || (size_t)n >= sizeof child)
            st = ps__seterr(PS_EIO, "%s/%s: path too long", path, e->d_name);
        else
            st = ep_rmtree(child);
    }
    closedir(d);
    if (st == PS_OK && rmdir(path) != 0)
        st = ps__seterr(PS_EIO, "remove %s: %s", path, strerror(errno));
    return st;
}
