/*
 * The HTTP client's libcurl backend (https://, and http:// when a client
 * asks for libcurl). Private to src/http/: client.c is its only user.
 *
 * libcurl is loaded at run time (dlopen "libcurl.so.4") the first time a
 * client needs it, never linked: its dependency chain is some thirty shared
 * libraries, and loading them at every exec of every program that links
 * libproxystore costs tens of milliseconds that a process talking only
 * http:// (or not HTTP at all) should not pay. Only <curl/curl.h>'s types
 * and constants are used at compile time, in curl.c.
 *
 * Handles and header lists are opaque here (void *): client.c keeps handles
 * in its connection pool and never calls libcurl itself.
 */
#ifndef PS_HTTP_CURL_H
#define PS_HTTP_CURL_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* Load libcurl once. PS_EUNAVAILABLE with dlerror's text when it cannot be. */
ps_status ps__http_curl_ready(void);

/* A new easy handle with the options every request shares (no signals, no
 * proxy, connect timeout 10 s, `timeout_ms` for the whole request, 0: none,
 * TCP_NODELAY, a 512 KiB receive buffer, the body callback). NULL when
 * libcurl has no memory. ps__http_curl_ready must have succeeded. */
void *ps__http_curl_handle_new(long long timeout_ms);

/*
 * Free a handle. `inherited`: the handle was made by the parent of this
 * process (fork): its connection is the parent's too, so this process's copy
 * of the socket is pointed at /dev/null first; whatever libcurl writes while
 * closing it (a TLS close_notify) never reaches the parent's peer.
 */
void ps__http_curl_handle_free(void *h, bool inherited);

/* A header list: "Expect:" (no 100-continue round trip), `auth` (a line, or
 * NULL), "Content-Type: application/octet-stream" when `post`, then the
 * lines of `extra` ("Name: value\r\n"..., or NULL). NULL when out of memory. */
void *ps__http_curl_headers(const char *auth, bool post, const char *extra);
void ps__http_curl_headers_free(void *list);

/*
 * Send `method` for `url` with `body` (`len` bytes) and the header list
 * `headers` on handle `h`, and read the response into *resp (its body from
 * ps__http_body_alloc, so ps__http_body_release takes it). Any HTTP status
 * is PS_OK. Errors name `origin`: PS_ETIMEDOUT, PS_ENOMEM, PS_ECONN.
 */
ps_status ps__http_curl_perform(void *h, const char *origin, const char *url, const char *method,
                                void *headers, const void *body, size_t len,
                                ps__http_response *resp);

#endif
