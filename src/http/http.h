/*
 * The library's HTTP client, used by the endpoint connector, the endpoint
 * server's peer forwarding and its `test` command. Internal: names are
 * ps__http_*.
 *
 * Two transports behind one API:
 *  - http:// URLs: a small built-in HTTP/1.1 client (h1.c);
 *  - https:// URLs (and http:// when the options ask for it): libcurl,
 *    loaded at run time (curl.c) the first time such a client is made. A
 *    process that talks only http:// never loads libcurl.
 *
 * One client talks to one origin (scheme://host[:port][/prefix]). It keeps
 * up to `pool_max` idle connections (built-in) or libcurl handles (each
 * keeping its connection alive), guarded by a mutex; a request takes one, or
 * opens a new one, and gives it back when done.
 *
 * Retries (built-in): a request that fails on a reused connection before
 * any byte of the response arrived (the server closed an idle connection:
 * EPIPE, ECONNRESET or EOF) is sent once more on a fresh connection; callers
 * send only idempotent requests. libcurl does the same on its own.
 *
 * Timeouts: built-in, sockets are blocking, with TCP_NODELAY and
 * SO_RCVTIMEO/SO_SNDTIMEO set to `timeout_ms`: a request fails with
 * PS_ETIMEDOUT when one wait for the server (sending, or receiving the next
 * bytes of the response) lasts longer than `timeout_ms` (0: no limit).
 * Connecting gives up after 10 s (or `timeout_ms` when smaller). Sends use
 * MSG_NOSIGNAL: never a SIGPIPE. libcurl: `timeout_ms` bounds the whole
 * request (CURLOPT_TIMEOUT_MS); connecting gives up after 10 s; no signals.
 *
 * Fork: a connection (or libcurl handle) is used only by the process that
 * opened it; a child closes its copies of the pooled ones it inherited,
 * without disturbing the parent's connections, and opens its own. The
 * pools' locks are held across fork() (pthread_atfork), so a child never
 * inherits one locked.
 *
 * Thread safety: a client may be used by any number of threads at once.
 */
#ifndef PS_HTTP_HTTP_H
#define PS_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "proxystore/status.h"

/* Largest response header (status line, fields, blank line), and largest
 * chunk-size line or trailer section: larger is PS_EPROTO. */
#define PS__HTTP_MAX_HEADER (64 * 1024)

typedef struct ps__http_client ps__http_client;

/* One response. Ownership: `body` is ps_malloc'd (NULL when empty) and freed
 * by the caller with ps_free. */
typedef struct ps__http_response {
    int status; /* HTTP status code */
    unsigned char *body;
    size_t len;
    size_t cap;             /* bytes allocated at body (>= len) */
    char content_type[128]; /* the Content-Type field ("" when none; cut at 127 bytes) */
} ps__http_response;

/* Counters, for tests and diagnosis. */
typedef struct ps__http_stats {
    uint64_t connects; /* connections opened */
    uint64_t reuses;   /* requests sent on a pooled connection */
    uint64_t retries;  /* requests sent again after a reused connection failed */
} ps__http_stats;

/* How a client reaches its URL. */
typedef enum ps__http_transport {
    PS__HTTP_AUTO = 0, /* http:// built-in, https:// libcurl */
    PS__HTTP_CURL = 1  /* libcurl for http:// too */
} ps__http_transport;

typedef struct ps__http_options {
    long long timeout_ms;    /* see the top of this file; 0: no limit */
    const char *auth_header; /* a whole header line without CRLF, sent on every request, or NULL */
    size_t pool_max;         /* idle connections kept */
    ps__http_transport transport;
} ps__http_options;

/*
 * A client for `url` ("http://host[:port][/prefix]" or "https://...", host a
 * name, an IPv4 literal or a bracketed IPv6 literal; the port defaults to 80
 * or 443; trailing slashes of the prefix are dropped). `opts` NULL: no
 * timeout, no auth header, 16 idle connections, PS__HTTP_AUTO. No
 * connection is made here; libcurl is loaded here when the client needs it.
 * PS_EINVAL for a malformed URL or header line, PS_EUNAVAILABLE (with
 * dlerror's text) when libcurl is needed and cannot be loaded.
 * Ownership: *out is freed with ps__http_client_free; the arguments are
 * copied.
 */
ps_status ps__http_client_new(const char *url, const ps__http_options *opts, ps__http_client **out);

/* Close the pooled connections and free the client (NULL is fine). No
 * request may be running. */
void ps__http_client_free(ps__http_client *c);

/*
 * Send `method` (e.g. "GET", "POST") for `target` (path and query, starting
 * with '/', already escaped; the URL's prefix is put in front) with `body`
 * (`len` bytes, may be NULL when 0; sent with Content-Length when `body` is
 * not NULL or `method` is POST, and then as application/octet-stream for
 * POST) and read the whole response into *resp.
 * Any HTTP status is PS_OK here: the caller judges resp->status.
 * Errors (with a message naming host:port): PS_ECONN (cannot connect,
 * connection reset or closed before the response was complete), PS_ETIMEDOUT,
 * PS_EPROTO (malformed or oversized response header, bad Content-Length or
 * chunk), PS_ENOMEM (no memory for the body). On error *resp holds nothing.
 * Ownership: resp->body belongs to the caller (ps__http_body_release, or
 * ps_free).
 */
ps_status ps__http_request(ps__http_client *c, const char *method, const char *target,
                           const void *body, size_t len, ps__http_response *resp);

/* ps__http_request with `headers`: more header lines for this request only,
 * each "Name: value\r\n" (NULL or "": none). PS_EINVAL for a malformed list. */
ps_status ps__http_request_hdr(ps__http_client *c, const char *method, const char *target,
                               const char *headers, const void *body, size_t len,
                               ps__http_response *resp);

/*
 * A request target: `path`, then "?name=value&..." for each pair of the
 * NULL-terminated list of name, value arguments whose value is not NULL,
 * values percent-encoded as curl_easy_escape does (all but ALPHA, DIGIT and
 * "-._~"). PS_ENOMEM. Ownership: *out is ps_malloc'd, the caller ps_frees it.
 */
ps_status ps__http_target(char **out, const char *path, ...) __attribute__((sentinel));

/*
 * Give back a response body (`cap` its resp.cap). While any client exists,
 * the last released body of 8-256 MiB is kept as a spare and reused for the
 * next response with a Content-Length of at most its size (and at least
 * 7/8 of it): a fresh buffer costs a page fault and the zeroing of every
 * page, as much CPU as receiving the bytes. Other bodies are ps_free'd, as
 * is the spare when the last client is freed. NULL is fine.
 * Ownership: takes `body`.
 */
void ps__http_body_release(void *body, size_t cap);

/* "host:port" as used in messages (borrowed, lives as long as the client). */
const char *ps__http_client_origin(const ps__http_client *c);

/* A snapshot of the counters. */
void ps__http_client_stats(ps__http_client *c, ps__http_stats *out);

#endif
