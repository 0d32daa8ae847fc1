/*
 * A small HTTP/1.1 client for the endpoint connector's http:// URLs
 * (https:// stays with libcurl). Internal: names are ps__http_*.
 *
 * One client talks to one origin (http://host[:port][/prefix]). It keeps up
 * to `pool_max` idle keep-alive connections (guarded by a mutex); a request
 * takes one, or opens a new one, and gives it back when the response was
 * read completely and the server did not ask to close. A request that fails
 * on a reused connection before any byte of the response arrived (the server
 * closed an idle connection: EPIPE, ECONNRESET or EOF) is sent once more on
 * a fresh connection: all the endpoint's requests are idempotent.
 *
 * Sockets are blocking, with TCP_NODELAY and SO_RCVTIMEO/SO_SNDTIMEO set to
 * `timeout_ms`: a request fails with PS_ETIMEDOUT when one wait for the
 * server (sending, or receiving the next bytes of the response) lasts longer
 * than `timeout_ms` (0: no limit). Connecting gives up after 10 s (or
 * `timeout_ms` when smaller). Sends use MSG_NOSIGNAL: never a SIGPIPE.
 *
 * Fork: a connection is used only by the process that opened it; a child
 * closes the pooled sockets it inherited (its copies) and opens its own.
 *
 * Thread safety: a client may be used by any number of threads at once.
 */
#ifndef PS_CONNECTORS_ENDPOINT_HTTP_H
#define PS_CONNECTORS_ENDPOINT_HTTP_H

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
    size_t cap; /* bytes allocated at body (>= len) */
} ps__http_response;

/* Counters, for tests and diagnosis. */
typedef struct ps__http_stats {
    uint64_t connects; /* connections opened */
    uint64_t reuses;   /* requests sent on a pooled connection */
    uint64_t retries;  /* requests sent again after a reused connection failed */
} ps__http_stats;

/*
 * A client for `url` ("http://host[:port][/prefix]", host a name, an IPv4
 * literal or a bracketed IPv6 literal; the port defaults to 80; trailing
 * slashes of the prefix are dropped). `auth_header` is a whole header line
 * without CRLF (e.g. "Authorization: Bearer x") or NULL. No connection is
 * made here. PS_EINVAL for a malformed URL.
 * Ownership: *out is freed with ps__http_client_free; the arguments are
 * copied.
 */
ps_status ps__http_client_new(const char *url, long long timeout_ms, const char *auth_header,
                              size_t pool_max, ps__http_client **out);

/* Close the pooled connections and free the client (NULL is fine). No
 * request may be running. */
void ps__http_client_free(ps__http_client *c);

/*
 * Send `method` (e.g. "GET", "POST") for `target` (path and query, starting
 * with '/', already escaped; the URL's prefix is put in front) with `body`
 * (`len` bytes, may be NULL when 0; sent with Content-Length when `body` is
 * not NULL or `method` is POST) and read the whole response into *resp.
 * Any HTTP status is PS_OK here: the caller judges resp->status.
 * Errors (with a message naming host:port): PS_ECONN (cannot connect,
 * connection reset or closed before the response was complete), PS_ETIMEDOUT,
 * PS_EPROTO (malformed or oversized response header, bad Content-Length or
 * chunk), PS_ENOMEM (no memory for the body). On error *resp holds nothing.
 * Ownership: resp->body belongs to the caller (ps_free).
 */
ps_status ps__http_request(ps__http_client *c, const char *method, const char *target,
                           const void *body, size_t len, ps__http_response *resp);

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
