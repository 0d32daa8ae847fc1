/*
 * proxystore: put, get and proxy objects from the shell.
 *
 *   proxystore put     [--store SPEC] [FILE|-]
 *   proxystore get     [--store SPEC] KEY [-o FILE]
 *   proxystore exists  [--store SPEC] KEY
 *   proxystore evict   [--store SPEC] KEY
 *   proxystore proxy   [--store SPEC] [--evict] [FILE|-]
 *   proxystore resolve TOKEN [-o FILE]
 *   proxystore inspect TOKEN
 *
 * Exit status: 0 success, 1 not found, 2 usage (including a malformed SPEC,
 * KEY or TOKEN), 3 any other failure. Reference: docs/cli.md, proxystore(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "proxystore/proxystore.h"
#include "proxystore/connectors/multi.h"

#define PSC_CHUNK ((size_t)8 << 20)

static const char *psc_cmd = "proxystore";

static int psc_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int psc_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", psc_cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Exit code for a library status. */
static int psc_code(ps_status st)
{
    return st == PS_OK ? PSC_OK : st == PS_NOT_FOUND ? PSC_NOT_FOUND : PSC_OTHER;
}

/* ---- usage ---------------------------------------------------------------- */

static const char psc_usage_main[] =
    "usage: proxystore COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Put objects into a store and pass them by reference (proxy tokens).\n"
    "\n"
    "commands:\n"
    "  put     [--store SPEC] [FILE|-]            store bytes, print the key\n"
    "  get     [--store SPEC] KEY [-o FILE]       write an object's bytes\n"
    "  exists  [--store SPEC] KEY                 print true or false\n"
    "  evict   [--store SPEC] KEY                 remove an object\n"
    "  proxy   [--store SPEC] [--evict] [FILE|-]  store bytes, print a proxy token\n"
    "  resolve TOKEN [-o FILE]                    write the object a token refers to\n"
    "  inspect TOKEN                              print a token's key and store as JSON\n"
    "  shm     ls [NAME] | rm NAME                list or remove shared-memory stores\n"
    "\n"
    "SPEC: file:DIR, redis://HOST:PORT, endpoint:URL, endpoint:UUID[,UUID...],\n"
    "      daos:POOL/CONTAINER/NAMESPACE, shm:NAME, or @FILE.json (a store configuration).\n"
    "Without --store: $PROXYSTORE_STORE, else a file store in the user's data directory.\n"
    "Exit status: 0 success, 1 not found, 2 usage, 3 other errors.\n"
    "Run 'proxystore COMMAND --help' for a command's help; see proxystore(1).\n";

static const char psc_store_help[] =
    "  -s, --store SPEC  the store (default: $PROXYSTORE_STORE, else the default file store)\n";

static int psc_help(const char *cmd, int code)
{
    FILE *f = code == PSC_OK ? stdout : stderr;
    if (strcmp(cmd, "put") == 0)
        fprintf(f,
                "usage: proxystore put [--store SPEC] [FILE|-]\n\n"
                "Store the bytes of FILE (or standard input) and print the object's key.\n\n%s",
                psc_store_help);
    else if (strcmp(cmd, "get") == 0)
        fprintf(f,
                "usage: proxystore get [--store SPEC] KEY [-o FILE]\n\n"
                "Write the bytes stored under KEY to FILE or standard output.\n"
                "Exit status 1 when there is no such object.\n\n%s"
                "  -o, --output FILE write to FILE instead of standard output\n",
                psc_store_help);
    else if (strcmp(cmd, "exists") == 0)
        fprintf(f,
                "usage: proxystore exists [--store SPEC] KEY\n\n"
                "Print true or false; the exit status is 0 either way.\n\n%s",
                psc_store_help);
    else if (strcmp(cmd, "evict") == 0)
        fprintf(f,
                "usage: proxystore evict [--store SPEC] KEY\n\n"
                "Remove the object stored under KEY (a missing object is not an error).\n\n%s",
                psc_store_help);
    else if (strcmp(cmd, "proxy") == 0)
        fprintf(f,
                "usage: proxystore proxy [--store SPEC] [--evict] [FILE|-]\n\n"
                "Store the bytes of FILE (or standard input) and print a proxy token that any\n"
                "process can resolve ('proxystore resolve TOKEN' or ps_proxy_decode()).\n\n%s"
                "  -e, --evict       evict the object after the first successful resolve\n",
                psc_store_help);
    else if (strcmp(cmd, "resolve") == 0)
        fprintf(f, "usage: proxystore resolve TOKEN [-o FILE] [--unlock]\n\n"
                   "Resolve a proxy token made by any process and write the object's bytes.\n"
                   "The store is built from the configuration inside the token.\n"
                   "Exit status 1 when the object no longer exists.\n\n"
                   "  -o, --output FILE write to FILE instead of standard output\n"
                   "  -u, --unlock      unlock a locked proxy's token before resolving it\n");
    else if (strcmp(cmd, "inspect") == 0)
        fprintf(f, "usage: proxystore inspect TOKEN\n\n"
                   "Print the token's key, store configuration and options as JSON.\n"
                   "Nothing is opened or fetched.\n");
    else
        fputs(psc_usage_main, f);
    return code;
}

/* ---- options ---------------------------------------------------------------- */

typedef struct psc_args {
    const char *store;
    const char *output;
    bool evict;
    bool unlock;
    int npos;
    char **pos;
} psc_args;

/* Parse a subcommand's options; `allowed` lists the short options it takes. */
static int psc_parse(int argc, char **argv, const char *allowed, int min_pos, int max_pos,
                     psc_args *a)
{
    const char *cmd = argv[0];
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'}, {"output", required_argument, NULL, 'o'},
        {"evict", no_argument, NULL, 'e'},       {"unlock", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:o:euh", longopts, NULL)) != -1) {
        if (c == 'h') {
            psc_help(cmd, PSC_OK);
            return -1;
        }
        if (c == '?' || c == ':' || strchr(allowed, c) == NULL) {
            const char *opt = argv[optind - 1];
            psc_fail(PSC_USAGE, "invalid option or missing argument: %s", opt);
            return psc_help(cmd, PSC_USAGE);
        }
        if (c == 's')
            a->store = optarg;
        else if (c == 'o')
            a->output = optarg;
        else if (c == 'e')
            a->evict = true;
        else if (c == 'u')
            a->unlock = true;
    }
    a->npos = argc - optind;
    a->pos = argv + optind;
    if (a->npos < min_pos || a->npos > max_pos) {
        psc_fail(PSC_USAGE, "expected %s",
                 min_pos == max_pos ? (min_pos ? "one argument" : "no argument")
                                    : "at most one argument");
        return psc_help(cmd, PSC_USAGE);
    }
    return PSC_OK;
}

/* ---- input and output ---------------------------------------------------------- */

typedef struct psc_input {
    void *data;
    size_t len;
    size_t map_len; /* non-zero: data is mmap'ed */
} psc_input;

static void psc_input_free(psc_input *in)
{
    if (in->map_len)
        munmap(in->data, in->map_len);
    else
        free(in->data);
    memset(in, 0, sizeof *in);
}

/* Read FILE (or stdin for NULL / "-"): a regular file is mmap'ed (no copy). */
static int psc_read_input(const char *path, psc_input *in)
{
    memset(in, 0, sizeof *in);
    bool is_stdin = path == NULL || strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return psc_fail(PSC_OTHER, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        if (!is_stdin)
            close(fd);
        return psc_fail(PSC_OTHER, "%s: %s", name, strerror(e));
    }
    int rc = PSC_OK;
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
        size_t n = (size_t)st.st_size;
        void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = psc_fail(PSC_OTHER, "%s: mmap: %s", name, strerror(errno));
        } else {
            madvise(m, n, MADV_SEQUENTIAL);
            in->data = m;
            in->len = n;
            in->map_len = n;
            /* bring the file in with a progress bar (reading is most of a put) */
            psc_progress pr;
            psc_progress_start(&pr, "reading", n);
            if (pr.on) {
                volatile unsigned char sink = 0;
                long page = sysconf(_SC_PAGESIZE);
                for (size_t off = 0; off < n; off += (size_t)page) {
                    sink ^= ((const unsigned char *)m)[off];
                    if (off % PSC_CHUNK == 0)
                        psc_progress_update(&pr, off);
                }
                (void)sink;
                psc_progress_update(&pr, n);
            }
            psc_progress_end(&pr);
        }
    } else {
        size_t cap = 1 << 16, len = 0;
        unsigned char *buf = malloc(cap);
        while (buf) {
            if (len == cap) {
                unsigned char *nb = realloc(buf, cap * 2);
                if (nb == NULL) {
                    free(buf);
                    buf = NULL;
                    break;
                }
                buf = nb;
                cap *= 2;
            }
            ssize_t r = read(fd, buf + len, cap - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = psc_fail(PSC_OTHER, "%s: read: %s", name, strerror(errno));
                break;
            }
            if (r == 0)
                break;
            len += (size_t)r;
        }
        if (buf == NULL)
            rc = psc_fail(PSC_OTHER, "%s: out of memory", name);
        else if (rc != PSC_OK)
            free(buf);
        else {
            in->data = buf;
            in->len = len;
        }
    }
    if (!is_stdin)
        close(fd);
    return rc;
}

/* Write `len` bytes to FILE (created or truncated) or stdout (NULL or "-"). */
static int psc_write_output(const char *path, const void *data, size_t len)
{
    bool is_stdout = path == NULL || strcmp(path, "-") == 0;
    const char *name = is_stdout ? "standard output" : path;
    int fd = is_stdout ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return psc_fail(PSC_OTHER, "%s: %s", path, strerror(errno));
    psc_progress pr;
    psc_progress_start(&pr, "writing", len);
    const unsigned char *p = data;
    size_t done = 0;
    int rc = PSC_OK;
    while (done < len) {
        size_t want = len - done < PSC_CHUNK ? len - done : PSC_CHUNK;
        ssize_t w = write(fd, p + done, want);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = psc_fail(PSC_OTHER, "%s: write: %s", name, strerror(errno));
            break;
        }
        done += (size_t)w;
        psc_progress_update(&pr, done);
    }
    psc_progress_end(&pr);
    if (!is_stdout && close(fd) != 0 && rc == PSC_OK)
        rc = psc_fail(PSC_OTHER, "%s: close: %s", name, strerror(errno));
    return rc;
}

/* ---- stores ---------------------------------------------------------------------- */

static int psc_open_store(const char *spec, ps_store **out)
{
    *out = NULL;
    const char *env = getenv("PROXYSTORE_STORE");
    if (spec == NULL && env != NULL && *env != '\0')
        spec = env;
    char *config = NULL, err[1024];
    int rc = psc_spec_config(spec, &config, err, sizeof err);
    if (rc != PSC_OK)
        return psc_fail(rc, "%s", err);
    ps_status st = ps_store_from_config(config, out);
    free(config);
    if (st != PS_OK)
        return psc_fail(PSC_OTHER, "cannot open store %s: %s", spec ? spec : "(default)",
                        ps_last_error());
    return PSC_OK;
}

/* Close keeping every object: the CLI never clears a store. */
static void psc_close_store(ps_store *s)
{
    if (s && ps_store_close(s, PS_CLEAR_KEEP) != PS_OK)
        psc_fail(PSC_OTHER, "warning: closing the store: %s", ps_last_error());
}

static int psc_parse_key(const char *text, ps_key **key)
{
    if (ps_key_parse(text, key) != PS_OK)
        return psc_fail(PSC_USAGE, "%s", ps_last_error());
    return PSC_OK;
}

/* ---- commands ------------------------------------------------------------------------- */

static int psc_put_or_proxy(int argc, char **argv, bool proxy)
{
    psc_args a;
    int rc = psc_parse(argc, argv, proxy ? "seh" : "sh", 0, 1, &a);
    if (rc != PSC_OK)
        return rc < 0 ? PSC_OK : rc;
    psc_input in;
    ps_store *s = NULL;
    if ((rc = psc_open_store(a.store, &s)) != PSC_OK)
        return rc;
    if ((rc = psc_read_input(a.npos ? a.pos[0] : NULL, &in)) != PSC_OK) {
        psc_close_store(s);
        return rc;
    }
    psc_progress pr;
    psc_progress_start(&pr, "storing", in.len);
    ps_status st;
    char *out = NULL;
    if (proxy) {
        ps_proxy_options o;
        ps_proxy_options_init(&o);
        o.evict = a.evict;
        o.populate_target = PS_POPULATE_NO; /* no copy of the object in this process */
        ps_proxy *p = NULL;
        st = ps_store_proxy(s, in.data, in.len, &o, &p);
        if (st == PS_OK)
            st = ps_proxy_encode(p, &out);
        ps_proxy_unref(p);
    } else {
        ps_key *key = NULL;
        st = ps_store_put(s, in.data, in.len, NULL, &key);
        if (st == PS_OK && (out = ps_strdup(ps_key_str(key))) == NULL)
            st = PS_ENOMEM;
        ps_key_free(key);
    }
    psc_progress_update(&pr, st == PS_OK ? in.len : 0);
    psc_progress_end(&pr);
    psc_input_free(&in);
    if (st != PS_OK)
        rc = psc_fail(psc_code(st), "%s", ps_last_error());
    else
        printf("%s\n", out);
    ps_free(out);
    psc_close_store(s);
    return rc;
}

/*
 * The common start of the commands that take one KEY and a store: parse the
 * options in `opts`, the key and open the store. On PSC_OK the caller owns
 * `*key` and `*s`; otherwise nothing is left open (a negative return means
 * --help was printed).
 */
static int psc_key_command(int argc, char **argv, const char *opts, psc_args *a, ps_key **key,
                           ps_store **s)
{
    int rc = psc_parse(argc, argv, opts, 1, 1, a);
    if (rc != PSC_OK)
        return rc;
    if ((rc = psc_parse_key(a->pos[0], key)) != PSC_OK)
        return rc;
    if ((rc = psc_open_store(a->store, s)) != PSC_OK) {
        ps_key_free(*key);
        *key = NULL;
    }
    return rc;
}

static int psc_get(int argc, char **argv)
{
    psc_args a;
    ps_key *key = NULL;
    ps_store *s = NULL;
    int rc = psc_key_command(argc, argv, "soh", &a, &key, &s);
    if (rc != PSC_OK)
        return rc < 0 ? PSC_OK : rc;
    ps_bytes b = PS_BYTES_INIT;
    ps_status st = ps_store_get(s, key, NULL, &b);
    if (st == PS_NOT_FOUND)
        rc = psc_fail(PSC_NOT_FOUND, "no object with key '%s' in store '%s'", ps_key_str(key),
                      ps_store_name(s));
    else if (st != PS_OK)
        rc = psc_fail(psc_code(st), "%s", ps_last_error());
    else
        rc = psc_write_output(a.output, b.data, b.len);
    ps_bytes_free(&b);
    ps_key_free(key);
    psc_close_store(s);
    return rc;
}

static int psc_exists_or_evict(int argc, char **argv, bool evict)
{
    psc_args a;
    ps_key *key = NULL;
    ps_store *s = NULL;
    int rc = psc_key_command(argc, argv, "sh", &a, &key, &s);
    if (rc != PSC_OK)
        return rc < 0 ? PSC_OK : rc;
    ps_status st;
    if (evict) {
        st = ps_store_evict(s, key);
    } else {
        bool ex = false;
        st = ps_store_exists(s, key, &ex);
        if (st == PS_OK)
            printf("%s\n", ex ? "true" : "false");
    }
    if (st != PS_OK)
        rc = psc_fail(PSC_OTHER, "%s", ps_last_error());
    ps_key_free(key);
    psc_close_store(s);
    return rc;
}

static int psc_decode(const char *token, ps_proxy **p)
{
    if (ps_proxy_decode(token, p) != PS_OK)
        return psc_fail(PSC_USAGE, "%s", ps_last_error());
    return PSC_OK;
}

static int psc_resolve(int argc, char **argv)
{
    psc_args a;
    int rc = psc_parse(argc, argv, "ouh", 1, 1, &a);
    if (rc != PSC_OK)
        return rc < 0 ? PSC_OK : rc;
    ps_proxy *p = NULL;
    if ((rc = psc_decode(a.pos[0], &p)) != PSC_OK)
        return rc;
    if (a.unlock)
        ps_proxy_unlock(p);
    const void *data = NULL;
    size_t len = 0;
    ps_status st = ps_proxy_resolve(p, &data, &len);
    if (st != PS_OK)
        rc = psc_fail(psc_code(st), "%s", ps_last_error());
    else
        rc = psc_write_output(a.output, data, len);
    /* resolving registered a store built from the token: close it, keeping data */
    psc_close_store(ps_store_lookup(ps_proxy_store_name(p)));
    ps_proxy_unref(p);
    return rc;
}

/* Print `v` (taken; NULL means the JSON text could not be built) indented,
 * keys sorted. */
static int psc_print_json(json_t *v)
{
    if (v == NULL)
        return psc_fail(PSC_OTHER, "out of memory");
    char *pretty = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(v);
    if (pretty == NULL)
        return psc_fail(PSC_OTHER, "out of memory");
    printf("%s\n", pretty);
    free(pretty);
    return PSC_OK;
}

/* `proxystore --version`: the version, the connector types and codecs built
 * in, and run-time features (whether libdaos can be loaded). */
static int psc_version(void)
{
    printf("proxystore %s (library %s)\n", PS_VERSION_STRING, ps_version());
    char *text = NULL;
    if (ps_version_info(&text) != PS_OK)
        return psc_fail(PSC_OTHER, "%s", ps_last_error());
    json_t *v = json_loads(text, 0, NULL);
    ps_free(text);
    return psc_print_json(v);
}

static int psc_inspect(int argc, char **argv)
{
    psc_args a;
    int rc = psc_parse(argc, argv, "h", 1, 1, &a);
    if (rc != PSC_OK)
        return rc < 0 ? PSC_OK : rc;
    ps_proxy *p = NULL;
    if ((rc = psc_decode(a.pos[0], &p)) != PSC_OK)
        return rc;
    char *text = NULL;
    ps_status st = ps_proxy_to_json(p, &text);
    ps_proxy_unref(p);
    if (st != PS_OK)
        return psc_fail(PSC_OTHER, "%s", ps_last_error());
    json_t *v = json_loads(text, 0, NULL);
    ps_free(text);
    if (v == NULL)
        return psc_fail(PSC_OTHER, "out of memory");
    json_object_del(v, "resolved"); /* always false for a decoded token */
    /* For a multi store, say which connector holds the key. */
    ps_key *key = NULL;
    const char *ktext = json_string_value(json_object_get(v, "key"));
    if (ktext && ps_key_parse(ktext, &key) == PS_OK && strcmp(ps_key_type(key), "multi") == 0) {
        const char *cname = NULL;
        if (ps_multi_key_connector_name(key, &cname) == PS_OK)
            json_object_set_new(v, "multi_connector", json_string(cname));
        const ps_key *inner = ps_multi_key_inner(key); /* borrowed from key */
        if (inner != NULL)
            json_object_set_new(v, "multi_inner_key", json_string(ps_key_str(inner)));
    }
    ps_key_free(key);
    return psc_print_json(v);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return psc_help("", PSC_USAGE);
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0)
        return psc_help(argc > 2 ? argv[2] : "", PSC_OK);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0)
        return psc_version();
    static char name[64];
    snprintf(name, sizeof name, "proxystore %s", cmd);
    psc_cmd = name;
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    int rc;
    if (strcmp(cmd, "put") == 0)
        rc = psc_put_or_proxy(sub_argc, sub_argv, false);
    else if (strcmp(cmd, "proxy") == 0)
        rc = psc_put_or_proxy(sub_argc, sub_argv, true);
    else if (strcmp(cmd, "get") == 0)
        rc = psc_get(sub_argc, sub_argv);
    else if (strcmp(cmd, "exists") == 0)
        rc = psc_exists_or_evict(sub_argc, sub_argv, false);
    else if (strcmp(cmd, "evict") == 0)
        rc = psc_exists_or_evict(sub_argc, sub_argv, true);
    else if (strcmp(cmd, "resolve") == 0)
        rc = psc_resolve(sub_argc, sub_argv);
    else if (strcmp(cmd, "inspect") == 0)
        rc = psc_inspect(sub_argc, sub_argv);
    else if (strcmp(cmd, "shm") == 0)
        rc = psc_shm_main(sub_argc, sub_argv);
    else {
        psc_cmd = "proxystore";
        psc_fail(PSC_USAGE, "unknown command \"%s\"", cmd);
        return psc_help("", PSC_USAGE);
    }
    if (fflush(stdout) != 0 && rc == PSC_OK)
        rc = psc_fail(PSC_OTHER, "standard output: %s", strerror(errno));
    return rc;
}
