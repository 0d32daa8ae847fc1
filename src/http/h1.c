/*
 * The HTTP client's built-in HTTP/1.1 transport (http:// URLs; see http.h).
 *
 * Per request, on a pooled connection: one sendmsg (header and body in one
 * call) and usually one recv (status line, header and a small body); a large
 * body with a Content-Length is received straight into its final buffer
 * (256 KiB per recv). Blocking sockets with SO_RCVTIMEO/SO_SNDTIMEO: no
 * poll per request.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http/client_impl.h"
#include "core/internal.h"

#define HTTP_CONNECT_TIMEOUT_MS 10000LL
#define HTTP_BUF_INIT           (16 * 1024)
/* Large bodies are received straight into their buffer, at most this much
 * per recv. Measured on loopback (100 MiB get, medians of 25, interleaved):
 * 256 KiB pieces 40-43 ms; one recv(MSG_WAITALL) for the whole rest
 * 51-55 ms, pieces of 4 MiB or more 56-57 ms; libcurl (512 KiB buffer plus
 * a copy) 48-50 ms. Large recvs into fresh memory take their page faults
 * with the socket locked, which stalls the receive path. */
#define HTTP_RECV_PIECE (256 * 1024)
/* Bodies without a length (chunked, read to EOF) grow by at least this. */
#define HTTP_GROW_MIN (64 * 1024)

/* ---- connecting ----------------------------------------------------------------- */

static long long http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect `fd` (non-blocking) within `ms`; 0 or an errno value. */
static int http_connect_fd(int fd, const struct sockaddr *sa, socklen_t salen, long long ms)
{
    if (connect(fd, sa, salen) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return errno;
    long long deadline = http_now_ms() + ms;
    for (;;) {
        long long left = deadline - http_now_ms();
        if (left <= 0)
            return ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            return ETIMEDOUT;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            return errno;
        return err;
    }
}

static ps_status http_open(ps__http_client *c, ps__http_conn **out)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(c->host, c->port, &hints, &res);
    if (gai != 0) {
        if (gai == EAI_MEMORY)
            return PS__ENOMEM("getaddrinfo");
        return ps__seterr(PS_ECONN, "cannot resolve host \"%s\": %s", c->host,
                          gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
    }
    long long ms = HTTP_CONNECT_TIMEOUT_MS;
    if (c->timeout_ms > 0 && c->timeout_ms < ms)
        ms = c->timeout_ms;
    int fd = -1, err = 0;
    char addr[NI_MAXHOST] = "";
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        err = http_connect_fd(fd, ai->ai_addr, ai->ai_addrlen, ms);
        if (err == 0)
            break;
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0, NI_NUMERICHOST) !=
            0)
            addr[0] = '\0';
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        ps_status st = err == ETIMEDOUT ? PS_ETIMEDOUT : PS_ECONN;
        return ps__seterr(st, "cannot connect to %s%s%s%s: %s", c->origin, addr[0] ? " (" : "",
                          addr, addr[0] ? ")" : "",
                          err == ETIMEDOUT ? "connection timed out" : strerror(err));
    }
    int flags = fcntl(fd, F_GETFL);
    int one = 1;
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        err = errno;
        close(fd);
        return ps__seterr(PS_ECONN, "socket options for %s: %s", c->origin, strerror(err));
    }
    if (c->timeout_ms > 0) {
        struct timeval tv = {.tv_sec = (time_t)(c->timeout_ms / 1000),
                             .tv_usec = (suseconds_t)(c->timeout_ms % 1000) * 1000};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
            err = errno;
            close(fd);
            return ps__seterr(PS_ECONN, "socket timeouts for %s: %s", c->origin, strerror(err));
        }
    }
    ps__http_conn *k = ps_calloc(1, sizeof *k);
    unsigned char *buf = ps_malloc(HTTP_BUF_INIT);
    if (k == NULL || buf == NULL) {
        close(fd);
        ps_free(k);
        ps_free(buf);
        return PS__ENOMEM("http connection");
    }
    k->fd = fd;
    k->pid = ps__http_self();
    k->buf = buf;
    k->cap = HTTP_BUF_INIT;
    atomic_fetch_add_explicit(&c->connects, 1, memory_order_relaxed);
    *out = k;
    return PS_OK;
}

/* ---- one exchange --------------------------------------------------------------- */

typedef struct http_ctx {
    ps__http_client *c;
    ps__http_conn *k;
    bool got_any;   /* a byte of the response arrived */
    bool retryable; /* the server closed before answering: a fresh connection may do */
} http_ctx;

static ps_status http_sys_error(http_ctx *x, int err, const char *what)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        return ps__seterr(PS_ETIMEDOUT, "%s %s: no progress within timeout_ms = %lld ms", what,
                          x->c->origin, x->c->timeout_ms);
    x->retryable = !x->got_any && (err == EPIPE || err == ECONNRESET || err == ENOTCONN);
    return ps__seterr(PS_ECONN, "%s %s: %s", what, x->c->origin, strerror(err));
}

static ps_status http_send(http_ctx *x, const char *head, size_t hlen, const void *body, size_t len)
{
    struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, len}};
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = (body != NULL && len > 0) ? 2 : 1;
    while (msg.msg_iovlen > 0) {
        ssize_t w = sendmsg(x->k->fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return http_sys_error(x, errno, "sending to");
        }
        size_t n = (size_t)w;
        while (msg.msg_iovlen > 0 && n >= msg.msg_iov[0].iov_len) {
            n -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + n;
            msg.msg_iov[0].iov_len -= n;
        }
    }
    return PS_OK;
}

/* recv into dst; *got > 0 on PS_OK. With `eof_ok`, EOF is PS_OK with *got 0. */
static ps_status http_recv(http_ctx *x, void *dst, size_t cap, int flags, bool eof_ok, size_t *got)
{
    for (;;) {
        ssize_t n = recv(x->k->fd, dst, cap, flags);
        if (n > 0) {
            x->got_any = true;
            *got = (size_t)n;
            return PS_OK;
        }
        if (n == 0) {
            *got = 0;
            if (eof_ok)
                return PS_OK;
            x->retryable = !x->got_any;
            return ps__seterr(PS_ECONN, "%s closed the connection %s", x->c->origin,
                              x->got_any ? "in the middle of the response" : "before answering");
        }
        if (errno == EINTR)
            continue;
        return http_sys_error(x, errno, "receiving from");
    }
}

/* Make room for at least one more byte at buf[end] (compact, then grow up to
 * `limit` unconsumed bytes). PS_EPROTO naming `what` beyond the limit. */
static ps_status http_room(http_ctx *x, size_t limit, const char *what)
{
    ps__http_conn *k = x->k;
    if (k->end < k->cap)
        return PS_OK;
    if (k->pos > 0) {
        memmove(k->buf, k->buf + k->pos, k->end - k->pos);
        k->end -= k->pos;
        k->pos = 0;
        return PS_OK;
    }
    if (k->end >= limit)
        return ps__seterr(PS_EPROTO, "%s from %s larger than %zu bytes", what, x->c->origin, limit);
    size_t cap = k->cap * 2 > limit + 2 ? limit + 2 : k->cap * 2;
    unsigned char *b = ps_realloc(k->buf, cap);
    if (b == NULL)
        return PS__ENOMEM("http receive buffer");
    k->buf = b;
    k->cap = cap;
    return PS_OK;
}

static ps_status http_fill(http_ctx *x, size_t limit, const char *what)
{
    ps__http_conn *k = x->k;
    if (k->pos == k->end)
        k->pos = k->end = 0;
    PS__FORWARD(http_room(x, limit, what));
    size_t got = 0;
    PS__FORWARD(http_recv(x, k->buf + k->end, k->cap - k->end, 0, false, &got));
    k->end += got;
    return PS_OK;
}

/*
 * One line (up to LF; a CR before it is dropped) from the buffer, receiving
 * as needed; *line points into the buffer until the next receive. `*budget`
 * bytes may still be read for this section (PS_EPROTO beyond).
 */
static ps_status http_line(http_ctx *x, size_t *budget, const char *what, const char **line,
                           size_t *len)
{
    ps__http_conn *k = x->k;
    size_t scanned = 0;
    for (;;) {
        unsigned char *s = k->buf + k->pos;
        size_t avail = k->end - k->pos;
        unsigned char *nl = memchr(s + scanned, '\n', avail - scanned);
        if (nl != NULL) {
            size_t n = (size_t)(nl - s) + 1;
            if (n > *budget)
                break;
            *budget -= n;
            k->pos += n;
            n--;
            if (n > 0 && s[n - 1] == '\r')
                n--;
            *line = (const char *)s;
            *len = n;
            return PS_OK;
        }
        scanned = avail;
        if (avail >= *budget)
            break;
        PS__FORWARD(http_fill(x, *budget, what));
    }
    return ps__seterr(PS_EPROTO, "%s from %s larger than %d bytes", what, x->c->origin,
                      PS__HTTP_MAX_HEADER);
}

/* Copy `n` bytes of the response into dst: first what is buffered, then
 * small rests through the buffer and large ones straight into dst. */
static ps_status http_read_exact(http_ctx *x, unsigned char *dst, size_t n)
{
    ps__http_conn *k = x->k;
    size_t have = k->end - k->pos;
    size_t take = have < n ? have : n;
    memcpy(dst, k->buf + k->pos, take);
    k->pos += take;
    dst += take;
    n -= take;
    while (n > 0) {
        if (n < k->cap / 2) {
            PS__FORWARD(http_fill(x, k->cap, "response"));
            have = k->end - k->pos;
            take = have < n ? have : n;
            memcpy(dst, k->buf + k->pos, take);
            k->pos += take;
        } else {
            PS__FORWARD(
                http_recv(x, dst, n < HTTP_RECV_PIECE ? n : HTTP_RECV_PIECE, 0, false, &take));
        }
        dst += take;
        n -= take;
    }
    return PS_OK;
}

/* Make room for `more` bytes at body[*len]. */
static ps_status http_body_grow(http_ctx *x, unsigned char **body, size_t *cap, size_t len,
                                size_t more)
{
    if (more <= *cap - len)
        return PS_OK;
    if (more > SIZE_MAX / 2 - len)
        return ps__seterr(PS_ENOMEM, "response body from %s too large", x->c->origin);
    size_t want = len + more, c = *cap ? *cap : HTTP_GROW_MIN;
    while (c < want)
        c *= 2;
    unsigned char *b = ps_realloc(*body, c);
    if (b == NULL)
        return ps__seterr(PS_ENOMEM, "out of memory for a %zu-byte response body from %s", c,
                          x->c->origin);
    *body = b;
    *cap = c;
    return PS_OK;
}

/* Copy at most 60 characters of `s` for a message, '?' for unprintables. */
static const char *http_show(char *out, size_t outsz, const char *s, size_t n)
{
    size_t m = n < outsz - 1 ? n : outsz - 1;
    if (m > 60)
        m = 60;
    for (size_t i = 0; i < m; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[m] = '\0';
    return out;
}

static ps_status http_read_chunked(http_ctx *x, unsigned char **body, size_t *len)
{
    size_t cap = 0;
    char show[64];
    for (;;) {
        size_t budget = PS__HTTP_MAX_HEADER;
        const char *line;
        size_t n;
        PS__FORWARD(http_line(x, &budget, "chunk-size line", &line, &n));
        size_t i = 0, size = 0;
        int v;
        while (i < n && (v = ps__hex_digit(line[i])) >= 0) {
            if (size > (SIZE_MAX >> 4))
                return ps__seterr(PS_EPROTO, "%s: chunk size \"%s\" overflows", x->c->origin,
                                  http_show(show, sizeof show, line, n));
            size = size * 16 + (size_t)v;
            i++;
        }
        size_t digits = i;
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (digits == 0 || (i < n && line[i] != ';'))
            return ps__seterr(PS_EPROTO, "%s: malformed chunk-size line \"%s\"", x->c->origin,
                              http_show(show, sizeof show, line, n));
        /* chunk extensions (";name=value") are ignored */
        if (size == 0)
            break;
        /* An announced size is no promise: grow with what arrives (at most
         * doubling), so a peer announcing a huge chunk and sending little
         * costs little memory. */
        while (size > 0) {
            size_t step = cap > HTTP_GROW_MIN ? cap : HTTP_GROW_MIN;
            if (step > size)
                step = size;
            PS__FORWARD(http_body_grow(x, body, &cap, *len, step));
            PS__FORWARD(http_read_exact(x, *body + *len, step));
            *len += step;
            size -= step;
        }
        budget = 2;
        ps_status st = http_line(x, &budget, "chunk", &line, &n);
        if (st != PS_OK || n != 0)
            return ps__seterr(PS_EPROTO, "%s: chunk data not followed by CRLF", x->c->origin);
    }
    /* trailer fields, up to an empty line (read and ignored) */
    size_t budget = PS__HTTP_MAX_HEADER;
    for (;;) {
        const char *line;
        size_t n;
        PS__FORWARD(http_line(x, &budget, "trailer section", &line, &n));
        if (n == 0)
            return PS_OK;
        if (memchr(line, ':', n) == NULL)
            return ps__seterr(PS_EPROTO, "%s: malformed trailer field \"%s\"", x->c->origin,
                              http_show(show, sizeof show, line, n));
    }
}

static ps_status http_read_to_eof(http_ctx *x, unsigned char **body, size_t *len)
{
    size_t cap = 0;
    ps__http_conn *k = x->k;
    size_t have = k->end - k->pos;
    if (have > 0) {
        PS__FORWARD(http_body_grow(x, body, &cap, 0, have));
        memcpy(*body, k->buf + k->pos, have);
        *len = have;
        k->pos = k->end = 0;
    }
    for (;;) {
        PS__FORWARD(http_body_grow(x, body, &cap, *len, HTTP_GROW_MIN));
        size_t got = 0;
        PS__FORWARD(http_recv(x, *body + *len, cap - *len, 0, true, &got));
        if (got == 0)
            break;
        *len += got;
    }
    if (*len == 0) {
        ps_free(*body);
        *body = NULL;
    }
    return PS_OK;
}

static bool http_ieq(const char *a, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

/* Does the comma-separated list `v` contain `tok` (case-insensitively)? */
static bool http_has_token(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && http_ieq(v + s, e - s, tok))
            return true;
    }
    return false;
}

typedef struct http_head {
    int status;
    int minor; /* HTTP/1.minor */
    bool has_length, chunked, close, keep_alive;
    unsigned long long length;
    char content_type[128];
} http_head;

/* Content-Length: digits, possibly a list of equal values. */
static ps_status http_content_length(http_ctx *x, http_head *h, const char *v, size_t n)
{
    char show[64];
    size_t i = 0;
    bool any = false;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        unsigned long long val = 0;
        size_t s = i;
        while (i < n && v[i] >= '0' && v[i] <= '9') {
            unsigned d = (unsigned)(v[i] - '0');
            if (val > (ULLONG_MAX - d) / 10)
                return ps__seterr(PS_EPROTO, "%s: Content-Length \"%s\" overflows", x->c->origin,
                                  http_show(show, sizeof show, v, n));
            val = val * 10 + d;
            i++;
        }
        bool digits = i > s;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (!digits || (i < n && v[i] != ','))
            return ps__seterr(PS_EPROTO, "%s: malformed Content-Length \"%s\"", x->c->origin,
                              http_show(show, sizeof show, v, n));
        if (i < n)
            i++; /* the comma */
        if (h->has_length && h->length != val)
            return ps__seterr(PS_EPROTO, "%s: conflicting Content-Length values (%llu and %llu)",
                              x->c->origin, h->length, val);
        h->has_length = true;
        h->length = val;
        any = true;
    }
    if (!any)
        return ps__seterr(PS_EPROTO, "%s: empty Content-Length", x->c->origin);
    return PS_OK;
}

static ps_status http_read_head(http_ctx *x, http_head *h)
{
    char show[64];
    size_t budget = PS__HTTP_MAX_HEADER;
    const char *line;
    size_t n;
    PS__FORWARD(http_line(x, &budget, "response header", &line, &n));
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ' || line[9] < '1' || line[9] > '9' || line[10] < '0' || line[10] > '9' ||
        line[11] < '0' || line[11] > '9' || (n > 12 && line[12] != ' '))
        return ps__seterr(PS_EPROTO, "%s: malformed status line \"%s\"", x->c->origin,
                          http_show(show, sizeof show, line, n));
    memset(h, 0, sizeof *h);
    h->minor = line[7] - '0';
    h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    for (;;) {
        PS__FORWARD(http_line(x, &budget, "response header", &line, &n));
        if (n == 0)
            return PS_OK;
        const char *colon = memchr(line, ':', n);
        size_t nl = colon ? (size_t)(colon - line) : 0;
        bool ok = nl > 0;
        for (size_t i = 0; ok && i < nl; i++)
            ok = ps__http_tchar((unsigned char)line[i]);
        if (!ok)
            return ps__seterr(PS_EPROTO, "%s: malformed header field \"%s\"", x->c->origin,
                              http_show(show, sizeof show, line, n));
        const char *v = colon + 1;
        size_t vn = n - nl - 1;
        while (vn > 0 && (*v == ' ' || *v == '\t'))
            v++, vn--;
        while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            vn--;
        for (size_t i = 0; i < vn; i++)
            if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
                return ps__seterr(PS_EPROTO, "%s: control character in header field \"%s\"",
                                  x->c->origin, http_show(show, sizeof show, line, n));
        if (http_ieq(line, nl, "content-length")) {
            PS__FORWARD(http_content_length(x, h, v, vn));
        } else if (http_ieq(line, nl, "transfer-encoding")) {
            /* Only "chunked" (we ask for nothing else); "identity" is a no-op. */
            if (http_ieq(v, vn, "chunked"))
                h->chunked = true;
            else if (!http_ieq(v, vn, "identity"))
                return ps__seterr(PS_EPROTO, "%s: unsupported Transfer-Encoding \"%s\"",
                                  x->c->origin, http_show(show, sizeof show, v, vn));
        } else if (http_ieq(line, nl, "content-type")) {
            size_t m = vn < sizeof h->content_type ? vn : sizeof h->content_type - 1;
            memcpy(h->content_type, v, m);
            h->content_type[m] = '\0';
        } else if (http_ieq(line, nl, "connection")) {
            if (http_has_token(v, vn, "close"))
                h->close = true;
            if (http_has_token(v, vn, "keep-alive"))
                h->keep_alive = true;
        }
    }
}

/* Read one response; *keep says whether the connection may be reused. */
static ps_status http_read_response(http_ctx *x, bool head_only, ps__http_response *resp,
                                    bool *keep)
{
    http_head h;
    for (int interim = 0;; interim++) {
        PS__FORWARD(http_read_head(x, &h));
        if (h.status >= 200 || h.status == 101)
            break;
        /* 1xx interim responses (100 Continue, 103 Early Hints): skipped */
        if (interim == 16)
            return ps__seterr(PS_EPROTO, "%s: too many 1xx responses", x->c->origin);
    }
    if (h.status == 101)
        return ps__seterr(PS_EPROTO, "%s: unexpected 101 Switching Protocols", x->c->origin);
    unsigned char *body = NULL;
    size_t len = 0, cap = 0;
    bool to_eof = false;
    ps_status st = PS_OK;
    if (head_only || h.status == 204 || h.status == 304) {
        /* no body */
    } else if (h.chunked) {
        st = http_read_chunked(x, &body, &len);
        h.close = h.close || h.has_length; /* both framings: do not trust the rest */
    } else if (h.has_length) {
        if (h.length > (unsigned long long)PTRDIFF_MAX) {
            st = ps__seterr(PS_ENOMEM, "%s: response body of %llu bytes cannot be allocated",
                            x->c->origin, h.length);
        } else if (h.length > 0) {
            len = (size_t)h.length;
            body = ps__http_body_alloc(len, &cap);
            if (body == NULL) {
                st = ps__seterr(PS_ENOMEM, "out of memory for a %zu-byte response body from %s",
                                len, x->c->origin);
                len = 0;
            } else {
                st = http_read_exact(x, body, len);
            }
        }
    } else {
        to_eof = true;
        st = http_read_to_eof(x, &body, &len);
    }
    if (st != PS_OK) {
        ps__http_body_release(body, cap);
        return st;
    }
    *keep =
        !to_eof && (h.minor >= 1 ? !h.close : (h.keep_alive && !h.close)) && x->k->pos == x->k->end;
    resp->status = h.status;
    memcpy(resp->content_type, h.content_type, sizeof resp->content_type);
    resp->body = body;
    resp->len = len;
    resp->cap = cap ? cap : len;
    return PS_OK;
}

/* The request head: request line, Host, the client's auth line, `headers`,
 * Content-Type and Content-Length when asked, blank line. Written to `buf`
 * (`bufsz` bytes) when it fits, else to new memory; NULL when out of memory. */
static char *http_build_head(ps__http_client *c, const char *method, const char *target,
                             const char *headers, bool post, bool with_length, size_t len,
                             char *buf, size_t bufsz, size_t *hlen)
{
    size_t need = strlen(method) + strlen(c->prefix) + strlen(target) + strlen(c->authority) +
                  (c->auth ? strlen(c->auth) + 2 : 0) + (headers ? strlen(headers) : 0) + 128;
    char *head = need <= bufsz ? buf : ps_malloc(need);
    if (head == NULL)
        return NULL;
    char *o = head;
    o = ps__http_put(o, method);
    *o++ = ' ';
    o = ps__http_put(o, c->prefix);
    o = ps__http_put(o, target);
    o = ps__http_put(o, " HTTP/1.1\r\nHost: ");
    o = ps__http_put(o, c->authority);
    o = ps__http_put(o, "\r\n");
    if (c->auth) {
        o = ps__http_put(o, c->auth);
        o = ps__http_put(o, "\r\n");
    }
    if (headers)
        o = ps__http_put(o, headers);
    if (with_length) {
        if (post)
            o = ps__http_put(o, "Content-Type: application/octet-stream\r\n");
        o += snprintf(o, 48, "Content-Length: %zu\r\n", len);
    }
    o = ps__http_put(o, "\r\n");
    *hlen = (size_t)(o - head);
    return head;
}

/* One exchange on `k`: send, read the response. *keep: `k` may be reused. */
static ps_status http_exchange(http_ctx *x, const char *head, size_t hlen, const void *body,
                               size_t len, bool head_only, ps__http_response *resp, bool *keep)
{
    ps_status st = http_send(x, head, hlen, body, len);
    if (st == PS_OK)
        return http_read_response(x, head_only, resp, keep);
    if (st == PS_ETIMEDOUT)
        return st;
    /* The server may have answered (say, 413) and closed before taking the
     * whole body: use its answer when there is one. */
    char why[PS__ERRMSG_SIZE];
    snprintf(why, sizeof why, "%s", ps_last_error());
    bool retryable = x->retryable;
    if (http_read_response(x, head_only, resp, keep) == PS_OK) {
        *keep = false;
        return PS_OK;
    }
    x->retryable = retryable && !x->got_any;
    return ps__seterr(st, "%s", why);
}

/* The built-in transport: on a pooled connection, and once more on a fresh
 * one when the pooled one turns out to have been closed by the server. */
ps_status ps__http_h1_request(ps__http_client *c, const char *method, const char *target,
                              const char *headers, const void *body, size_t len,
                              ps__http_response *resp)
{
    bool post = strcmp(method, "POST") == 0;
    bool head_only = strcmp(method, "HEAD") == 0;
    char stackbuf[1024];
    size_t hlen = 0;
    char *head = http_build_head(c, method, target, headers, post, post || body != NULL, len,
                                 stackbuf, sizeof stackbuf, &hlen);
    if (head == NULL)
        return PS__ENOMEM("http request");
    ps_status st = PS_OK;
    for (int attempt = 0;; attempt++) {
        ps__http_conn *k = attempt == 0 ? ps__http_conn_take(c) : NULL;
        bool reused = k != NULL;
        if (k == NULL && (st = http_open(c, &k)) != PS_OK)
            break;
        if (reused)
            atomic_fetch_add_explicit(&c->reuses, 1, memory_order_relaxed);
        http_ctx x = {.c = c, .k = k};
        bool keep = false;
        st = http_exchange(&x, head, hlen, body, len, head_only, resp, &keep);
        if (st == PS_OK) {
            if (keep)
                ps__http_conn_give(c, k);
            else
                ps__http_conn_close(k);
            break;
        }
        /* a partial response leaves the connection in an unknown state */
        ps__http_conn_close(k);
        if (!(reused && x.retryable && attempt == 0))
            break;
        atomic_fetch_add_explicit(&c->retries, 1, memory_order_relaxed);
    }
    if (head != stackbuf)
        ps_free(head);
    return st;
}
