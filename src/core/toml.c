/*
 * The TOML subset of endpoint config.toml files (see toml.h for what is in
 * it). The reader walks the text once with a cursor; the writer emits each
 * table's plain values, then its sub-tables under [dotted.headers], which is
 * also how upstream's tomli_w lays out a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/toml.h"

#define TOML_MAX_DEPTH 32

typedef struct tparser {
    const char *p;
    const char *end;
    const char *what;
    int line;
    json_t *root;
    json_t *defined; /* set of table paths (compact JSON of the path array) */
} tparser;

static ps_status tp_err(tparser *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static ps_status tp_err(tparser *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ps__seterr(PS_EINVAL, "%s: line %d: %s", t->what, t->line, msg);
}

static int tp_eof(const tparser *t)
{
    return t->p >= t->end;
}

static void tp_skip_ws(tparser *t)
{
    while (!tp_eof(t) && (*t->p == ' ' || *t->p == '\t'))
        t->p++;
}

/* After optional blanks and a comment, expect the end of a line (or file). */
static ps_status tp_skip_comment(tparser *t)
{
    if (!tp_eof(t) && *t->p == '#') {
        while (!tp_eof(t) && *t->p != '\n') {
            unsigned char c = (unsigned char)*t->p;
            if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
                return tp_err(t, "control character 0x%02x in a comment", c);
            if (c == '\r' && !(t->p + 1 < t->end && t->p[1] == '\n'))
                return tp_err(t, "carriage return without line feed");
            t->p++;
        }
    }
    return PS_OK;
}

static ps_status tp_end_line(tparser *t)
{
    tp_skip_ws(t);
    PS__FORWARD(tp_skip_comment(t));
    if (tp_eof(t))
        return PS_OK;
    if (*t->p == '\r' && t->p + 1 < t->end && t->p[1] == '\n')
        t->p++;
    if (*t->p != '\n')
        return tp_err(t, "expected the end of the line, found '%c'", *t->p);
    t->p++;
    t->line++;
    return PS_OK;
}

/* Skip blanks, comments and newlines (inside arrays). */
static ps_status tp_skip_space_lines(tparser *t)
{
    for (;;) {
        tp_skip_ws(t);
        PS__FORWARD(tp_skip_comment(t));
        if (tp_eof(t))
            return PS_OK;
        if (*t->p == '\r' && t->p + 1 < t->end && t->p[1] == '\n')
            t->p++;
        if (*t->p != '\n')
            return PS_OK;
        t->p++;
        t->line++;
    }
}

/* ---- a growable string ------------------------------------------------ */

typedef struct sbuf {
    char *s;
    size_t len;
    size_t cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = ps_realloc(b->s, cap);
        if (ns == NULL) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_putc(sbuf *b, char c)
{
    sb_add(b, &c, 1);
}

/* Append code point `cp` as UTF-8. */
static void sb_utf8(sbuf *b, unsigned long cp)
{
    char u[4];
    if (cp < 0x80) {
        sb_putc(b, (char)cp);
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        sb_add(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        sb_add(b, u, 3);
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        sb_add(b, u, 4);
    }
}

/* ---- strings and keys ------------------------------------------------- */

static ps_status tp_check_char(tparser *t, unsigned char c)
{
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
        if (c == '\n' || c == '\r')
            return tp_err(t, "unterminated string");
        return tp_err(t, "control character 0x%02x in a string", c);
    }
    return PS_OK;
}

/* Parse a "basic" or 'literal' string at the cursor into a JSON string. */
static ps_status tp_string(tparser *t, json_t **out)
{
    char q = *t->p;
    if (t->end - t->p >= 3 && t->p[1] == q && t->p[2] == q)
        return tp_err(t, "multi-line strings are not supported");
    t->p++;
    sbuf b = {0};
    ps_status st = PS_OK;
    for (;;) {
        if (tp_eof(t)) {
            st = tp_err(t, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)*t->p;
        if (c == (unsigned char)q) {
            t->p++;
            break;
        }
        if ((st = tp_check_char(t, c)) != PS_OK)
            break;
        if (c == '\\' && q == '"') {
            t->p++;
            if (tp_eof(t)) {
                st = tp_err(t, "unterminated string");
                break;
            }
            char e = *t->p++;
            int nhex = 0;
            switch (e) {
            case 'b':
                sb_putc(&b, '\b');
                break;
            case 't':
                sb_putc(&b, '\t');
                break;
            case 'n':
                sb_putc(&b, '\n');
                break;
            case 'f':
                sb_putc(&b, '\f');
                break;
            case 'r':
                sb_putc(&b, '\r');
                break;
            case '"':
                sb_putc(&b, '"');
                break;
            case '\\':
                sb_putc(&b, '\\');
                break;
            case 'u':
                nhex = 4;
                break;
            case 'U':
                nhex = 8;
                break;
            default:
                st = tp_err(t, "invalid escape sequence \\%c", e);
            }
            if (st != PS_OK)
                break;
            if (nhex) {
                unsigned long cp = 0;
                for (int i = 0; i < nhex; i++) {
                    int v = tp_eof(t) ? -1 : ps__hex_digit(*t->p);
                    if (v < 0) {
                        st = tp_err(t, "invalid \\%c escape: %d hex digits needed", e, nhex);
                        break;
                    }
                    cp = cp * 16 + (unsigned long)v;
                    t->p++;
                }
                if (st != PS_OK)
                    break;
                if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                    st = tp_err(t, "escape \\%c names an invalid or NUL code point", e);
                    break;
                }
                sb_utf8(&b, cp);
            }
            continue;
        }
        sb_putc(&b, (char)c);
        t->p++;
    }
    if (st == PS_OK && b.oom)
        st = PS__ENOMEM("TOML string");
    if (st == PS_OK) {
        *out = json_stringn(b.s ? b.s : "", b.len);
        if (*out == NULL)
            st = tp_err(t, "string is not valid UTF-8");
    }
    ps_free(b.s);
    return st;
}

static int is_bare(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Parse a (possibly dotted) key into a JSON array of segment strings. */
static ps_status tp_key(tparser *t, json_t **out)
{
    json_t *path = json_array();
    if (path == NULL)
        return PS__ENOMEM("TOML key");
    for (;;) {
        tp_skip_ws(t);
        json_t *seg = NULL;
        if (tp_eof(t)) {
            json_decref(path);
            return tp_err(t, "expected a key");
        }
        if (*t->p == '"' || *t->p == '\'') {
            ps_status st = tp_string(t, &seg);
            if (st != PS_OK) {
                json_decref(path);
                return st;
            }
        } else {
            const char *s = t->p;
            while (!tp_eof(t) && is_bare(*t->p))
                t->p++;
            if (t->p == s) {
                json_decref(path);
                return tp_err(t, "expected a key, found '%c'", *s);
            }
            seg = json_stringn(s, (size_t)(t->p - s));
        }
        if (seg == NULL || json_array_append_new(path, seg) != 0) {
            json_decref(path);
            return PS__ENOMEM("TOML key");
        }
        tp_skip_ws(t);
        if (!tp_eof(t) && *t->p == '.') {
            t->p++;
            continue;
        }
        *out = path;
        return PS_OK;
    }
}

/* ---- values ----------------------------------------------------------- */

static ps_status tp_integer(tparser *t, json_t **out)
{
    const char *s = t->p;
    int neg = 0;
    if (*t->p == '+' || *t->p == '-') {
        neg = *t->p == '-';
        t->p++;
    }
    if (tp_eof(t) || !(*t->p >= '0' && *t->p <= '9')) {
        if (t->end - t->p >= 3 && (memcmp(t->p, "inf", 3) == 0 || memcmp(t->p, "nan", 3) == 0))
            return tp_err(t, "floats are not supported");
        return tp_err(t, "invalid value");
    }
    if (*t->p == '0' && t->p + 1 < t->end && (t->p[1] == 'x' || t->p[1] == 'o' || t->p[1] == 'b'))
        return tp_err(t, "hexadecimal, octal and binary integers are not supported");
    unsigned long long v = 0;
    unsigned long long lim =
        neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    const char *digits = t->p;
    int ndig = 0;
    char prev = 0;
    while (!tp_eof(t) && ((*t->p >= '0' && *t->p <= '9') || *t->p == '_')) {
        if (*t->p == '_') {
            if (prev < '0' || prev > '9')
                return tp_err(t, "misplaced underscore in an integer");
        } else {
            unsigned d = (unsigned)(*t->p - '0');
            if (v > (lim - d) / 10)
                return tp_err(t, "integer %.*s does not fit in 64 bits",
                              (int)(t->end - s > 40 ? 40 : t->end - s), s);
            v = v * 10 + d;
            ndig++;
        }
        prev = *t->p++;
    }
    if (prev == '_')
        return tp_err(t, "misplaced underscore in an integer");
    if (*digits == '0' && ndig > 1)
        return tp_err(t, "leading zeros are not allowed in integers");
    if (!tp_eof(t) && (*t->p == '.' || *t->p == 'e' || *t->p == 'E'))
        return tp_err(t, "floats are not supported");
    if (!tp_eof(t) && (*t->p == '-' || *t->p == ':'))
        return tp_err(t, "dates and times are not supported");
    long long r;
    if (neg)
        r = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    else
        r = (long long)v;
    *out = json_integer((json_int_t)r);
    return *out ? PS_OK : PS__ENOMEM("TOML integer");
}

static ps_status tp_value(tparser *t, int depth, json_t **out);

static ps_status tp_array(tparser *t, int depth, json_t **out)
{
    if (depth >= TOML_MAX_DEPTH)
        return tp_err(t, "arrays nested too deeply");
    t->p++; /* '[' */
    json_t *arr = json_array();
    if (arr == NULL)
        return PS__ENOMEM("TOML array");
    ps_status st;
    for (;;) {
        if ((st = tp_skip_space_lines(t)) != PS_OK)
            break;
        if (tp_eof(t)) {
            st = tp_err(t, "unterminated array");
            break;
        }
        if (*t->p == ']') {
            t->p++;
            *out = arr;
            return PS_OK;
        }
        json_t *v = NULL;
        if ((st = tp_value(t, depth + 1, &v)) != PS_OK)
            break;
        if (json_array_append_new(arr, v) != 0) {
            st = PS__ENOMEM("TOML array");
            break;
        }
        if ((st = tp_skip_space_lines(t)) != PS_OK)
            break;
        if (!tp_eof(t) && *t->p == ',') {
            t->p++;
            continue;
        }
        if (!tp_eof(t) && *t->p == ']')
            continue;
        st = tp_eof(t) ? tp_err(t, "unterminated array")
                       : tp_err(t, "expected ',' or ']' in an array");
        break;
    }
    json_decref(arr);
    return st;
}

static int starts(const tparser *t, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(t->end - t->p) < n || memcmp(t->p, word, n) != 0)
        return 0;
    return t->p + n == t->end || !is_bare(t->p[n]);
}

static ps_status tp_value(tparser *t, int depth, json_t **out)
{
    tp_skip_ws(t);
    if (tp_eof(t) || *t->p == '\n' || *t->p == '\r' || *t->p == '#')
        return tp_err(t, "missing value");
    char c = *t->p;
    if (c == '"' || c == '\'')
        return tp_string(t, out);
    if (c == '[')
        return tp_array(t, depth, out);
    if (c == '{')
        return tp_err(t, "inline tables are not supported");
    if (starts(t, "true")) {
        t->p += 4;
        *out = json_true();
        return PS_OK;
    }
    if (starts(t, "false")) {
        t->p += 5;
        *out = json_false();
        return PS_OK;
    }
    if (starts(t, "inf") || starts(t, "nan"))
        return tp_err(t, "floats are not supported");
    if ((c >= '0' && c <= '9') || c == '+' || c == '-')
        return tp_integer(t, out);
    return tp_err(t, "invalid value starting with '%c'", c);
}

/* ---- tables ----------------------------------------------------------- */

static char *path_text(const json_t *path)
{
    return json_dumps(path, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Walk `path` from `base`, creating tables; `*out` is borrowed. */
static ps_status tp_walk(tparser *t, json_t *base, const json_t *path, size_t n, json_t **out)
{
    json_t *cur = base;
    for (size_t i = 0; i < n; i++) {
        const char *seg = json_string_value(json_array_get(path, i));
        json_t *next = json_object_get(cur, seg);
        if (next == NULL) {
            next = json_object();
            if (next == NULL || json_object_set_new(cur, seg, next) != 0)
                return PS__ENOMEM("TOML table");
        } else if (!json_is_object(next)) {
            return tp_err(t, "key \"%s\" is already a value, not a table", seg);
        }
        cur = next;
    }
    *out = cur;
    return PS_OK;
}

/*
 * Record that the table at `path` (its first `n` segments, below `prefix`)
 * was defined. A [header] may define a table once, and not one that dotted
 * keys defined; dotted keys may extend their own tables but not a [header]'s.
 */
static ps_status tp_define(tparser *t, const json_t *prefix, const json_t *path, size_t n,
                           int header)
{
    json_t *full = json_array();
    if (full == NULL || json_array_extend(full, (json_t *)prefix) != 0) {
        json_decref(full);
        return PS__ENOMEM("TOML table");
    }
    for (size_t i = 0; i < n; i++)
        json_array_append(full, json_array_get(path, i));
    char *txt = path_text(full);
    json_decref(full);
    if (txt == NULL)
        return PS__ENOMEM("TOML table");
    ps_status st = PS_OK;
    json_t *mark = json_object_get(t->defined, txt);
    if (mark != NULL && (header || json_integer_value(mark) == 1))
        st = tp_err(t, "table %s defined more than once", txt);
    else if (mark == NULL &&
             json_object_set_new(t->defined, txt, json_integer(header ? 1 : 2)) != 0)
        st = PS__ENOMEM("TOML table");
    free(txt); /* from jansson's allocator (malloc) */
    return st;
}

static ps_status tp_header(tparser *t, json_t **cur, json_t **cur_path)
{
    t->p++;
    if (!tp_eof(t) && *t->p == '[')
        return tp_err(t, "arrays of tables ([[...]]) are not supported");
    json_t *path = NULL;
    PS__FORWARD(tp_key(t, &path));
    ps_status st = PS_OK;
    json_t *empty = json_array();
    if (empty == NULL)
        st = PS__ENOMEM("TOML table");
    else if (tp_eof(t) || *t->p != ']')
        st = tp_err(t, "expected ']' after a table name");
    else
        t->p++;
    if (st == PS_OK)
        st = tp_define(t, empty, path, json_array_size(path), 1);
    if (st == PS_OK)
        st = tp_walk(t, t->root, path, json_array_size(path), cur);
    json_decref(empty);
    if (st != PS_OK) {
        json_decref(path);
        return st;
    }
    json_decref(*cur_path);
    *cur_path = path;
    return tp_end_line(t);
}

static ps_status tp_keyval(tparser *t, json_t *cur, const json_t *cur_path)
{
    json_t *path = NULL;
    PS__FORWARD(tp_key(t, &path));
    ps_status st = PS_OK;
    json_t *tbl = cur, *val = NULL;
    size_t n = json_array_size(path);
    if (tp_eof(t) || *t->p != '=')
        st = tp_err(t, "expected '=' after a key");
    else
        t->p++;
    /* Dotted keys define the intermediate tables, relative to `cur`. */
    for (size_t i = 1; i < n && st == PS_OK; i++)
        st = tp_define(t, cur_path, path, i, 0);
    if (st == PS_OK && n > 1)
        st = tp_walk(t, cur, path, n - 1, &tbl);
    if (st == PS_OK)
        st = tp_value(t, 0, &val);
    if (st == PS_OK) {
        const char *last = json_string_value(json_array_get(path, n - 1));
        if (json_object_get(tbl, last) != NULL) {
            st = tp_err(t, "key \"%s\" defined more than once", last);
        } else {
            if (json_object_set_new(tbl, last, val) != 0) /* steals `val` either way */
                st = PS__ENOMEM("TOML value");
            val = NULL;
        }
    }
    json_decref(val);
    json_decref(path);
    PS__FORWARD(st);
    return tp_end_line(t);
}

static ps_status tp_document(tparser *t)
{
    json_t *cur = t->root;
    json_t *cur_path = json_array();
    if (cur_path == NULL)
        return PS__ENOMEM("TOML document");
    ps_status st = PS_OK;
    for (;;) {
        if ((st = tp_skip_space_lines(t)) != PS_OK || tp_eof(t))
            break;
        if (*t->p == '[')
            st = tp_header(t, &cur, &cur_path);
        else
            st = tp_keyval(t, cur, cur_path);
        if (st != PS_OK)
            break;
    }
    json_decref(cur_path);
    return st;
}

ps_status ps__toml_parse(const char *text, size_t len, const char *what, json_t **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "toml: out is NULL");
    *out = NULL;
    if (what == NULL)
        what = "TOML";
    PS__RETURN_IF(text == NULL && len > 0, PS_EINVAL, "%s: text is NULL", what);
    if (memchr(text ? text : "", '\0', len) != NULL) {
        const char *z = memchr(text, '\0', len);
        int line = 1;
        for (const char *q = text; q < z; q++)
            line += *q == '\n';
        return ps__seterr(PS_EINVAL, "%s: line %d: NUL character", what, line);
    }
    tparser t = {text ? text : "", (text ? text : "") + len, what, 1, json_object(), json_object()};
    /* A UTF-8 byte order mark is allowed at the very start. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        t.p += 3;
    ps_status st = (t.root && t.defined) ? tp_document(&t) : PS__ENOMEM("TOML document");
    json_decref(t.defined);
    if (st != PS_OK) {
        json_decref(t.root);
        return st;
    }
    *out = t.root;
    return PS_OK;
}

ps_status ps__toml_read_file(const char *path, json_t **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "toml: out is NULL");
    *out = NULL;
    PS__RETURN_IF(path == NULL, PS_EINVAL, "toml: path is NULL");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT)
            return ps__seterr(PS_NOT_FOUND, "%s: %s", path, strerror(errno));
        return ps__seterr(PS_EIO, "%s: %s", path, strerror(errno));
    }
    sbuf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        sb_add(&b, chunk, n);
        if (b.len > (1u << 20)) {
            fclose(f);
            ps_free(b.s);
            return ps__seterr(PS_EINVAL, "%s: larger than 1 MiB; not a config file", path);
        }
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        ps_free(b.s);
        return ps__seterr(PS_EIO, "%s: read: %s", path, strerror(err));
    }
    if (b.oom) {
        ps_free(b.s);
        return PS__ENOMEM(path);
    }
    ps_status st = ps__toml_parse(b.s, b.len, path, out);
    ps_free(b.s);
    return st;
}

/* ---- writer ----------------------------------------------------------- */

static void w_string(sbuf *b, const char *s, size_t n)
{
    sb_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"':
            sb_puts(b, "\\\"");
            break;
        case '\\':
            sb_puts(b, "\\\\");
            break;
        case '\b':
            sb_puts(b, "\\b");
            break;
        case '\t':
            sb_puts(b, "\\t");
            break;
        case '\n':
            sb_puts(b, "\\n");
            break;
        case '\f':
            sb_puts(b, "\\f");
            break;
        case '\r':
            sb_puts(b, "\\r");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof esc, "\\u%04X", c);
                sb_puts(b, esc);
            } else {
                sb_putc(b, (char)c);
            }
        }
    }
    sb_putc(b, '"');
}

static void w_key(sbuf *b, const char *k)
{
    size_t n = strlen(k);
    int bare = n > 0;
    for (size_t i = 0; i < n && bare; i++)
        bare = is_bare(k[i]);
    if (bare)
        sb_add(b, k, n);
    else
        w_string(b, k, n);
}

static ps_status w_value(sbuf *b, const json_t *v, const char *key)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_STRING:
        w_string(b, json_string_value(v), json_string_length(v));
        return PS_OK;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        sb_puts(b, num);
        return PS_OK;
    case JSON_TRUE:
        sb_puts(b, "true");
        return PS_OK;
    case JSON_FALSE:
        sb_puts(b, "false");
        return PS_OK;
    case JSON_ARRAY: {
        sb_putc(b, '[');
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            if (i > 0)
                sb_puts(b, ", ");
            PS__FORWARD(w_value(b, e, key));
        }
        sb_putc(b, ']');
        return PS_OK;
    }
    case JSON_REAL:
        return ps__seterr(PS_EINVAL, "toml: \"%s\": floats are not supported", key);
    default:
        return ps__seterr(PS_EINVAL, "toml: \"%s\": cannot write this value type in an array", key);
    }
}

static ps_status w_table(sbuf *b, const json_t *obj, const char *header)
{
    const char *k;
    const json_t *v;
    if (header != NULL) {
        if (b->len > 0)
            sb_putc(b, '\n');
        sb_putc(b, '[');
        sb_puts(b, header);
        sb_puts(b, "]\n");
    }
    json_object_foreach((json_t *)obj, k, v)
    {
        if (json_is_object(v) || json_is_null(v))
            continue;
        w_key(b, k);
        sb_puts(b, " = ");
        PS__FORWARD(w_value(b, v, k));
        sb_putc(b, '\n');
    }
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!json_is_object(v))
            continue;
        sbuf h = {0};
        if (header != NULL) {
            sb_puts(&h, header);
            sb_putc(&h, '.');
        }
        w_key(&h, k);
        if (h.oom) {
            ps_free(h.s);
            return PS__ENOMEM("TOML header");
        }
        ps_status st = w_table(b, v, h.s);
        ps_free(h.s);
        PS__FORWARD(st);
    }
    return PS_OK;
}

ps_status ps__toml_dump(const json_t *doc, char **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "toml: out is NULL");
    *out = NULL;
    PS__RETURN_IF(!json_is_object(doc), PS_EINVAL, "toml: the document must be a JSON object");
    sbuf b = {0};
    ps_status st = w_table(&b, doc, NULL);
    if (st == PS_OK && b.oom)
        st = PS__ENOMEM("TOML text");
    if (st != PS_OK) {
        ps_free(b.s);
        return st;
    }
    if (b.s == NULL) {
        b.s = ps_strdup("");
        if (b.s == NULL)
            return PS__ENOMEM("TOML text");
    }
    *out = b.s;
    return PS_OK;
}

ps_status ps__toml_write_file(const char *path, const json_t *doc, int private_mode)
{
    PS__RETURN_IF(path == NULL, PS_EINVAL, "toml: path is NULL");
    char *text = NULL;
    PS__FORWARD(ps__toml_dump(doc, &text));
    size_t plen = strlen(path);
    char *tmp = ps_malloc(plen + 16);
    if (tmp == NULL) {
        ps_free(text);
        return PS__ENOMEM(path);
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    ps_status st = PS_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = ps__seterr(PS_EIO, "%s: cannot create a temporary file: %s", path, strerror(errno));
        goto out;
    }
    if (fchmod(fd, private_mode ? 0600 : 0644) != 0) {
        st = ps__seterr(PS_EIO, "%s: chmod: %s", tmp, strerror(errno));
        goto fail;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            st = ps__seterr(PS_EIO, "%s: write: %s", tmp, strerror(errno));
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        st = ps__seterr(PS_EIO, "%s: fsync: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = ps__seterr(PS_EIO, "%s: close: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = ps__seterr(PS_EIO, "%s: rename: %s", path, strerror(errno));
        goto fail;
    }
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    ps_free(tmp);
    ps_free(text);
    return st;
}
