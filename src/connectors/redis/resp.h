/*
 * RESP2 for the redis connector: a request writer and a reply reader.
 *
 * Neither knows about sockets, connections or the connector. The writer
 * builds a request as a list of segments (small pieces copied into one
 * buffer, large values referenced in the caller's memory) for the caller to
 * send with writev/sendmsg. The reader parses replies from bytes it asks a
 * callback for (a socket in the connector, a byte buffer in the tests and
 * the fuzzer), and reads a bulk string's bytes straight into the buffer
 * handed out as the result.
 *
 * Every failure returns a status and leaves a message "redis <where>:
 * <what>: ...", where <where> names the peer (the reader's `where`) and
 * <what> the command (an argument of each read).
 */
#ifndef PS_REDIS_RESP_H
#define PS_REDIS_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "core/internal.h"

/* ---- writing requests ------------------------------------------------------- */

/* Arguments shorter than this are copied into the request buffer; longer
 * ones are sent from the caller's memory (which must outlive the send). */
#define PS__RESP_COPY_MAX ((size_t)16 * 1024)

typedef struct ps__resp_seg {
    const char *ext; /* caller memory, or NULL: bytes at buf + off */
    size_t off;
    size_t len;
} ps__resp_seg;

/* A request (or several, pipelined). Zero-initialise; an allocation failure
 * sets `oom` and makes every later append a no-op. */
typedef struct ps__resp_out {
    char *buf;
    size_t len, cap;
    ps__resp_seg *segs;
    size_t nsegs, capsegs;
    bool oom;
} ps__resp_out;

/* Empty the request, keeping its memory (and `oom`). */
void ps__resp_out_reset(ps__resp_out *o);
void ps__resp_out_free(ps__resp_out *o);
/* A command of `nargs` arguments: the "*<nargs>" header, then nargs args. */
void ps__resp_out_begin(ps__resp_out *o, size_t nargs);
void ps__resp_out_arg(ps__resp_out *o, const void *data, size_t len);
void ps__resp_out_str(ps__resp_out *o, const char *s);

/* The unsent bytes from segment `seg`, `skip` bytes into it, as at most
 * `max` iovecs; returns how many were filled. */
size_t ps__resp_out_iov(const ps__resp_out *o, size_t seg, size_t skip, struct iovec *iov,
                        size_t max);
/* Move the position (`*seg`, `*skip`) on by `n` sent bytes. */
void ps__resp_out_advance(const ps__resp_out *o, size_t *seg, size_t *skip, size_t n);

/* ---- replies ------------------------------------------------------------------ */

enum {
    PS__RESP_STATUS,
    PS__RESP_ERROR,
    PS__RESP_INT,
    PS__RESP_BULK,
    PS__RESP_NIL, /* also the nil array */
    PS__RESP_ARRAY
};

/* Arrays inside arrays: at most this many levels below the top reply. */
#define PS__RESP_MAX_DEPTH 4

typedef struct ps__resp_reply {
    int type;
    long long integer; /* PS__RESP_INT */
    char *str;         /* STATUS/ERROR text or BULK bytes (ps_malloc, NUL-terminated) */
    size_t len;
    size_t n; /* PS__RESP_ARRAY */
    struct ps__resp_reply *elems;
} ps__resp_reply;

/* Free what a reply holds and zero it (a zeroed reply may be cleared). */
void ps__resp_reply_clear(ps__resp_reply *rep);
/* "status", "error", "integer", "bulk string", "nil", "array" or "?". */
const char *ps__resp_type_name(int type);
/* A whole NUL-terminated decimal number (RESP's integers and lengths). */
bool ps__resp_parse_ll(const char *s, long long *v);

/* ---- the reader ----------------------------------------------------------------- */

typedef struct ps__resp_reader ps__resp_reader;

/* Where the reader's bytes come from: read between 1 and `n` bytes into
 * `dst` and set `*got`, or return a failure status with a message (end of
 * input is a failure: a reply is always awaited). */
typedef ps_status (*ps__resp_recv_fn)(ps__resp_reader *rd, const char *what, void *dst, size_t n,
                                      size_t *got);

struct ps__resp_reader {
    char *buf; /* cap bytes; unread: buf[pos..len) */
    size_t cap;
    size_t pos, len;
    const char *where; /* the peer, for messages (not owned) */
    ps__resp_recv_fn recv;
    void *ctx; /* for recv */
};

/* The read buffer of the connector's connections. A reply line must fit in
 * it; bulk strings of more than half of it are read straight into their
 * final buffer. */
#define PS__RESP_READ_BUF ((size_t)64 * 1024)

/* Set up a reader with a buffer of `cap` bytes (at least 16). */
ps_status ps__resp_reader_init(ps__resp_reader *rd, size_t cap, const char *where,
                               ps__resp_recv_fn recv, void *ctx);
void ps__resp_reader_free(ps__resp_reader *rd);
/* Bytes received but not parsed yet (a reply out of step, between calls). */
size_t ps__resp_reader_unread(const ps__resp_reader *rd);
/* Forget the buffered bytes. */
void ps__resp_reader_discard(ps__resp_reader *rd);

/*
 * Read one reply into `rep`. An error reply is PS_OK with type
 * PS__RESP_ERROR. Any failure (the source's, malformed input, out of memory)
 * leaves the stream out of step: read no more from it. On failure `rep`
 * holds nothing.
 *
 * Bounded: a reply line (the buffer), array nesting (PS__RESP_MAX_DEPTH).
 * Not bounded: a bulk length or an array count is allocated as announced,
 * before its bytes arrive (a trusted server's answer); a fuzz target wants
 * an allocation limit.
 */
ps_status ps__resp_read(ps__resp_reader *rd, const char *what, ps__resp_reply *rep);
/* The same, but a bulk string reply goes straight into `dst` (rep->len
 * bytes; rep->str stays NULL); one longer than `cap` is a protocol error. */
ps_status ps__resp_read_into(ps__resp_reader *rd, const char *what, ps__resp_reply *rep, char *dst,
                             size_t cap);
/* Read `n` replies; on failure none is kept. */
ps_status ps__resp_read_n(ps__resp_reader *rd, const char *what, ps__resp_reply *reps, size_t n);

/* ---- a byte buffer as the source ------------------------------------------------ */

/* Hands out `data` at most `step` bytes per call (0: all that fits); its
 * end is a PS_ECONN failure. For tests and fuzzing: set rd->ctx to it. */
typedef struct ps__resp_mem {
    const char *data;
    size_t len, pos;
    size_t step;
} ps__resp_mem;

ps_status ps__resp_mem_recv(ps__resp_reader *rd, const char *what, void *dst, size_t n,
                            size_t *got);

#endif
