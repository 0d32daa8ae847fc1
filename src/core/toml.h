/*
 * A reader and writer for the subset of TOML that endpoint config.toml files
 * use (internal; not installed). Documents are held as jansson objects:
 * tables are JSON objects, strings, integers, booleans and arrays map to
 * their JSON counterparts, in file order.
 *
 * The subset (anything else is refused with PS_EINVAL and a message naming
 * the line):
 *   - comments (#), blank lines, LF or CRLF line ends, UTF-8 text;
 *   - table headers [a], [a.b], [a."quoted key"] (each table defined once;
 *     arrays of tables [[x]] are refused);
 *   - key = value with bare keys (A-Za-z0-9_-), "basic" or 'literal' quoted
 *     keys, and dotted keys (a.b = 1);
 *   - values: basic strings with TOML escapes (\b \t \n \f \r \" \\ \uXXXX
 *     \UXXXXXXXX), literal strings, decimal 64-bit integers (sign and single
 *     underscores between digits allowed, no leading zeros), true/false, and
 *     arrays of those (may span lines, trailing comma allowed).
 *   Refused: floats, dates/times, multi-line strings, hex/octal/binary
 *   integers, inline tables, NUL characters.
 */
#ifndef PS_CORE_TOML_H
#define PS_CORE_TOML_H

#include <stddef.h>

#include <jansson.h>

#include "proxystore/status.h"

/*
 * Parse `len` bytes of TOML text. `what` names the source in messages
 * ("config.toml", a path). On success `*out` is a new JSON object.
 * Ownership: the caller releases `*out` with json_decref().
 * Returns PS_EINVAL with "<what>: line N: <reason>" for text outside the
 * subset, PS_ENOMEM.
 */
ps_status ps__toml_parse(const char *text, size_t len, const char *what, json_t **out);

/*
 * Read and parse the file at `path`. A missing file is PS_NOT_FOUND (with a
 * message); unreadable is PS_EIO; bad content PS_EINVAL naming the path.
 * Ownership: the caller releases `*out` with json_decref().
 */
ps_status ps__toml_read_file(const char *path, json_t **out);

/*
 * Write `doc` (a JSON object) as TOML text: the scalars and arrays of each
 * table first, then its sub-tables as [dotted.headers]; JSON null members are
 * skipped (like upstream's exclude_none). Reals, and arrays holding objects
 * or nulls, are PS_EINVAL.
 * Ownership: `*out` is NUL-terminated, from ps_malloc; free with ps_free().
 */
ps_status ps__toml_dump(const json_t *doc, char **out);

/*
 * Write `doc` to `path` atomically (temporary file in the same directory,
 * fsync, rename). The file gets mode 0644, or 0600 when
 * `private_mode` is non-zero (for files holding a token).
 * Returns PS_EIO naming the path and the cause.
 */
ps_status ps__toml_write_file(const char *path, const json_t *doc, int private_mode);

#endif
