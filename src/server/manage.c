/* Serving and the management commands of proxystore-endpoint. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "core/internal.h"
#include "manage.h"

/* ---- messages ------------------------------------------------------------------ */

static ep_log_level cli_level = EP_LOG_INFO;

void ep_cli_set_level(ep_log_level level)
{
    cli_level = level;
}

void ep_say(ep_log_level level, const char *fmt, ...)
{
    if (level < cli_level)
        return;
    const char *prefix = level >= EP_LOG_ERROR     ? "ERROR: "
                         : level >= EP_LOG_WARNING ? "WARNING: "
                         : level >= EP_LOG_INFO    ? "INFO: "
                                                   : "DEBUG: ";
    va_list ap;
    va_start(ap, fmt);
    fputs(prefix, stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

/* A table line without a prefix (upstream's "simple" records). */
static void say_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_plain(const char *fmt, ...)
{
    if (EP_LOG_INFO < cli_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

/* ---- serving -------------------------------------------------------------------- */

static void tell(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tell(int fd, const char *fmt, ...)
{
    if (fd < 0)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n > 0 && write(fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
        return;
}

static ps_status write_port_file(const char *path, int port)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return ps__seterr(PS_EIO, "port file %s: %s", tmp, strerror(errno));
    int ok = fprintf(f, "%d\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ps__seterr(PS_EIO, "port file %s: %s", path, strerror(e));
    }
    return PS_OK;
}

int ep_serve(const ep_serve_params *p)
{
    ep_log_to_stderr(p->log_stderr);
    if (p->log_file != NULL && ep_log_open_file(p->log_file) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        tell(p->ready_fd, "error: %s", ps_last_error());
        return 1;
    }
    /* Signals are taken by sigwait() below; the server threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    ep_storage *storage = NULL;
    ps_status st = ep_storage_open(&p->storage, &storage);
    if (st != PS_OK) {
        ep_log(EP_LOG_ERROR, "cannot open the %s storage: %s",
               p->storage.kind == EP_STORAGE_SQLITE ? "sqlite" : "memory", ps_last_error());
        tell(p->ready_fd, "error: cannot open the storage: %s", ps_last_error());
        ep_log_close();
        return 1;
    }
    if (p->storage.kind == EP_STORAGE_SQLITE)
        ep_log(EP_LOG_INFO, "Using SQLite database for storage (path: %s)",
               p->storage.database_path);
    else if (p->storage.max_size > 0)
        ep_log(EP_LOG_INFO,
               "Using memory storage holding up to %llu bytes in memory, spilling to %s",
               (unsigned long long)p->storage.max_size, p->storage.dump_dir);
    else
        ep_log(EP_LOG_WARNING, "Database path not provided. Data will not be persisted");

    ep_server_options so = p->server;
    so.storage = storage;
    ep_server *srv = NULL;
    st = ep_server_start(&so, &srv);
    if (st != PS_OK) {
        ep_log(EP_LOG_ERROR, "%s", ps_last_error());
        tell(p->ready_fd, "error: %s", ps_last_error());
        ep_storage_close(storage, true);
        ep_log_close();
        return 1;
    }
    int port = ep_server_port(srv);
    if (p->port_file != NULL && write_port_file(p->port_file, port) != PS_OK) {
        ep_log(EP_LOG_ERROR, "%s", ps_last_error());
        tell(p->ready_fd, "error: %s", ps_last_error());
        ep_server_stop(srv);
        ep_storage_close(storage, true);
        ep_log_close();
        return 1;
    }
    ep_log(EP_LOG_INFO, "Serving endpoint %s (%s) on %s:%d", so.uuid, so.name ? so.name : "",
           so.host ? so.host : "127.0.0.1", port);
    if (so.token != NULL)
        ep_log(EP_LOG_INFO, "Bearer token required on every route");
    for (size_t i = 0; i < so.npeers; i++)
        ep_log(EP_LOG_INFO, "Peer %s at %s", so.peers[i].uuid, so.peers[i].url);
    tell(p->ready_fd, "ok %d", port);
    if (p->ready_fd >= 0)
        close(p->ready_fd);

    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    ep_log(EP_LOG_INFO, "Received signal %d, shutting down", sig);
    ep_server_stop(srv);
    ep_storage_close(storage, true);
    ep_log(EP_LOG_INFO, "Finished serving endpoint: %s", so.name ? so.name : so.uuid);
    ep_log_close();
    return 0;
}

/* ---- endpoint directories and status ----------------------------------------------- */

typedef enum ep_status { ST_RUNNING, ST_STOPPED, ST_UNKNOWN, ST_HANGING } ep_status;
static const char *const status_names[] = {"RUNNING", "STOPPED", "UNKNOWN", "HANGING"};

static int home_dir(char *buf, size_t size)
{
    char *d = NULL;
    if (ps_data_dir(&d) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return -1;
    }
    if (d[0] != '/') { /* made absolute, as upstream */
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd) != NULL) {
            int n = snprintf(buf, size, "%s/%s", cwd, d);
            ps_free(d);
            if (n < 0 || (size_t)n >= size) {
                ep_say(EP_LOG_ERROR, "data directory path is too long");
                return -1;
            }
            return 0;
        }
    }
    snprintf(buf, size, "%s", d);
    ps_free(d);
    return 0;
}

static void ep_path(char *buf, size_t size, const char *dir, const char *file)
{
    snprintf(buf, size, "%s/%s", dir, file);
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static long read_pid(const char *pid_file)
{
    FILE *f = fopen(pid_file, "r");
    if (f == NULL)
        return -1;
    long pid = -1;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = -1;
    fclose(f);
    return pid;
}

static ep_status get_status(const char *home, const char *name)
{
    char dir[4096], pidf[4200];
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    if (!is_dir(dir))
        return ST_UNKNOWN;
    ep_config cfg;
    if (ep_config_read(dir, &cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return ST_UNKNOWN;
    }
    ep_config_free(&cfg);
    ep_path(pidf, sizeof pidf, dir, EP_PID_FILE);
    if (access(pidf, F_OK) != 0)
        return ST_STOPPED;
    long pid = read_pid(pidf);
    if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
        return ST_RUNNING;
    return ST_HANGING;
}

/* gethostbyname(gethostname()) or getfqdn(), as upstream's start does. */
static int resolve_host(const char *type, char *out, size_t size)
{
    char hn[256];
    if (ps_hostname(hn, sizeof hn) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return -1;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (strcmp(type, "fqdn") == 0) {
        hints.ai_flags = AI_CANONNAME;
        if (getaddrinfo(hn, NULL, &hints, &ai) == 0 && ai->ai_canonname != NULL)
            snprintf(out, size, "%s", ai->ai_canonname);
        else
            snprintf(out, size, "%s", hn);
        if (ai)
            freeaddrinfo(ai);
        return 0;
    }
    hints.ai_family = AF_INET;
    int rc = getaddrinfo(hn, NULL, &hints, &ai);
    if (rc != 0) {
        ep_say(EP_LOG_ERROR, "cannot resolve host name %s: %s", hn, gai_strerror(rc));
        return -1;
    }
    inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, out,
              (socklen_t)size);
    freeaddrinfo(ai);
    return 0;
}

/* ---- configure --------------------------------------------------------------------- */

static int random_port(void)
{
    unsigned r = 0;
    ps_random_bytes(&r, sizeof r);
    return 10 * 1024 + (int)(r % (10 * 1024 + 1));
}

static char *absolute(const char *p)
{
    if (p[0] == '/')
        return ps_strdup(p);
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return ps_strdup(p);
    size_t n = strlen(cwd) + strlen(p) + 2;
    char *r = ps_malloc(n);
    if (r)
        snprintf(r, n, "%s/%s", cwd, p);
    return r;
}

int ep_cmd_configure(const ep_configure_args *a)
{
    char home[4096], dir[4300];
    if (home_dir(home, sizeof home) != 0)
        return 1;
    if (!ep_valid_name(a->name)) {
        ep_say(EP_LOG_ERROR,
               "Name must only contain alphanumeric characters, dashes, and  underscores. Got "
               "%s.",
               a->name ? a->name : "");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/%s", home, a->name);
    char uuid[PS_UUID_STR_LEN + 1];
    if (ps_uuid4(uuid) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    const char *host = a->host ? a->host : "ip";
    char ht[16] = "";
    size_t hl = strlen(host);
    const char *hs = host;
    while (*hs == ' ' || *hs == '\t')
        hs++, hl--;
    while (hl > 0 && (hs[hl - 1] == ' ' || hs[hl - 1] == '\t' || hs[hl - 1] == '\n'))
        hl--;
    if (hl < sizeof ht) {
        for (size_t i = 0; i < hl; i++)
            ht[i] = (char)(hs[i] >= 'A' && hs[i] <= 'Z' ? hs[i] + 32 : hs[i]);
        ht[hl] = '\0';
    }
    const char *host_type = strcmp(ht, "fqdn") == 0 ? "fqdn" : strcmp(ht, "ip") == 0 ? "ip" : NULL;
    int port = a->port >= 0 ? a->port : random_port();

    json_t *doc = json_object();
    json_t *relay = json_object(), *rauth = json_object(), *storage = json_object();
    json_object_set_new(doc, "name", json_string(a->name));
    json_object_set_new(doc, "uuid", json_string(uuid));
    json_object_set_new(doc, "port", json_integer(port));
    if (host_type == NULL)
        json_object_set_new(doc, "host", json_string(host));
    json_object_set_new(doc, "host_type", json_string(host_type ? host_type : "static"));
    if (a->relay_server)
        json_object_set_new(
            relay, "address",
            json_string(a->relay_address ? a->relay_address : "wss://relay.proxystore.dev"));
    if (a->relay_auth)
        json_object_set_new(rauth, "method", json_string("globus"));
    json_object_set_new(rauth, "kwargs", json_object());
    json_object_set_new(relay, "auth", rauth);
    json_object_set_new(relay, "peer_channels", json_integer(a->peer_channels));
    json_object_set_new(relay, "verify_certificate", json_true());
    json_object_set_new(doc, "relay", relay);
    if (a->persist) {
        char db[4400];
        ep_path(db, sizeof db, dir, EP_DATABASE_FILE);
        json_object_set_new(storage, "database_path", json_string(db));
    }
    uint64_t mos = 100000000ULL, mm = 0;
    if (a->max_object_size != NULL && ep_parse_size(a->max_object_size, &mos) != PS_OK) {
        ep_say(EP_LOG_ERROR, "--max-object-size: %s", ps_last_error());
        json_decref(doc);
        json_decref(storage);
        return 1;
    }
    json_object_set_new(storage, "max_object_size", json_integer((json_int_t)mos));
    if (a->max_memory != NULL) {
        if (ep_parse_size(a->max_memory, &mm) != PS_OK) {
            ep_say(EP_LOG_ERROR, "--max-memory: %s", ps_last_error());
            json_decref(doc);
            json_decref(storage);
            return 1;
        }
        json_object_set_new(storage, "max_memory", json_integer((json_int_t)mm));
    }
    if (a->dump_dir != NULL) {
        char *abs = absolute(a->dump_dir);
        json_object_set_new(storage, "dump_dir", json_string(abs ? abs : a->dump_dir));
        ps_free(abs);
    }
    json_object_set_new(doc, "storage", storage);
    if (a->token != NULL) {
        json_t *auth = json_object();
        json_object_set_new(auth, "token", json_string(a->token));
        json_object_set_new(doc, "auth", auth);
    }
    if (a->npeers > 0) {
        json_t *peers = json_object();
        for (int i = 0; i < a->npeers; i++) {
            const char *eq = strchr(a->peers[i], '=');
            if (eq == NULL) {
                ep_say(EP_LOG_ERROR, "--peer %s: expected UUID=URL", a->peers[i]);
                json_decref(peers);
                json_decref(doc);
                return 1;
            }
            char u[37];
            if (!ep_parse_uuid4(a->peers[i], (size_t)(eq - a->peers[i]), u)) {
                ep_say(EP_LOG_ERROR, "--peer %s: %.*s is not a valid UUID4", a->peers[i],
                       (int)(eq - a->peers[i]), a->peers[i]);
                json_decref(peers);
                json_decref(doc);
                return 1;
            }
            json_object_set_new(peers, u, json_string(eq + 1));
        }
        json_object_set_new(doc, "peers", peers);
    }

    ep_config cfg;
    char what[64] = "endpoint configuration";
    if (ep_config_from_doc(doc, what, &cfg) != PS_OK) {
        const char *m = ps_last_error();
        ep_say(EP_LOG_ERROR, "%s", strncmp(m, what, strlen(what)) == 0 ? m + strlen(what) + 2 : m);
        json_decref(doc);
        return 1;
    }
    json_decref(doc);
    if (access(dir, F_OK) == 0) {
        ep_say(EP_LOG_ERROR, "An endpoint named %s already exists.", a->name);
        ep_say(EP_LOG_INFO, "To reconfigure the endpoint, remove and try again.");
        ep_config_free(&cfg);
        return 1;
    }
    if (ep_config_write(dir, &cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        ep_config_free(&cfg);
        return 1;
    }
    ep_say(EP_LOG_INFO, "Configured endpoint: %s <%s>", cfg.name, cfg.uuid_text);
    ep_say(EP_LOG_INFO, "Config and log file directory: %s", dir);
    ep_say(EP_LOG_INFO, "Start the endpoint with:");
    ep_say(EP_LOG_INFO, "  $ proxystore-endpoint start %s", cfg.name);
    ep_config_free(&cfg);
    return 0;
}

/* ---- list ----------------------------------------------------------------------------- */

typedef struct ep_entry {
    char name[256];
    char uuid[128];
} ep_entry;

typedef struct ep_list {
    ep_entry *v;
    size_t n, cap;
} ep_list;

/* Every directory below `dir` holding a valid config (upstream's os.walk). */
static void walk_configs(const char *dir, int depth, ep_list *out)
{
    if (depth > 16)
        return;
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096];
        int n = snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof sub || !is_dir(sub))
            continue;
        ep_config cfg;
        if (ep_config_read(sub, &cfg) == PS_OK) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 16;
                ep_entry *nv = ps_realloc(out->v, cap * sizeof *nv);
                if (nv == NULL) {
                    ep_config_free(&cfg);
                    break;
                }
                out->v = nv;
                out->cap = cap;
            }
            snprintf(out->v[out->n].name, sizeof out->v[out->n].name, "%s", cfg.name);
            snprintf(out->v[out->n].uuid, sizeof out->v[out->n].uuid, "%s", cfg.uuid_text);
            out->n++;
            ep_config_free(&cfg);
        }
        walk_configs(sub, depth + 1, out);
    }
    closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const ep_entry *)a)->name, ((const ep_entry *)b)->name);
}

int ep_cmd_list(void)
{
    char home[4096];
    if (home_dir(home, sizeof home) != 0)
        return 1;
    ep_list l = {0};
    walk_configs(home, 0, &l);
    if (l.n == 0) {
        ep_say(EP_LOG_INFO, "No valid endpoint configurations in %s.", home);
        return 0;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_entry);
    int w = 18, sw = 7;
    for (size_t i = 0; i < l.n; i++)
        if ((int)strlen(l.v[i].name) > w)
            w = (int)strlen(l.v[i].name);
    say_plain("%-*s %-*s UUID", w, "NAME", sw, "STATUS");
    char rule[512];
    int rl = 2 + w + sw + (int)strlen(l.v[0].uuid);
    if (rl > (int)sizeof rule - 1)
        rl = (int)sizeof rule - 1;
    memset(rule, '=', (size_t)rl);
    rule[rl] = '\0';
    say_plain("%s", rule);
    for (size_t i = 0; i < l.n; i++) {
        ep_status st = get_status(home, l.v[i].name);
        say_plain("%-*.*s %-*.*s %s", w, w, l.v[i].name, sw, sw, status_names[st], l.v[i].uuid);
    }
    ps_free(l.v);
    return 0;
}

/* ---- remove ------------------------------------------------------------------------------ */

int ep_cmd_remove(const char *name)
{
    char home[4096], dir[4300];
    if (home_dir(home, sizeof home) != 0)
        return 1;
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    if (!ep_valid_name(name) || access(dir, F_OK) != 0) {
        ep_say(EP_LOG_ERROR, "An endpoint named %s does not exist.", name);
        return 1;
    }
    ep_status st = get_status(home, name);
    if (st == ST_RUNNING || st == ST_HANGING) {
        ep_say(EP_LOG_ERROR, "Endpoint must be stopped before removing.");
        ep_say(EP_LOG_ERROR, "  $ proxystore-endpoint stop %s", name);
        return 1;
    }
    if (ep_rmtree(dir) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    ep_say(EP_LOG_INFO, "Removed endpoint named %s.", name);
    return 0;
}

/* ---- start ----------------------------------------------------------------------------------- */

static void fill_serve_params(const ep_config *cfg, const char *dir, ep_serve_params *p, char *db,
                              size_t dbsize, char *log, size_t logsize, char *dump, size_t dumpsize)
{
    memset(p, 0, sizeof *p);
    p->server.host = cfg->host;
    p->server.port = cfg->port;
    p->server.uuid = cfg->uuid;
    p->server.name = cfg->name;
    p->server.token = cfg->token;
    p->server.peers = cfg->peers;
    p->server.npeers = cfg->npeers;
    p->storage.max_object_size = cfg->max_object_size;
    if (cfg->database_path != NULL) {
        p->storage.kind = EP_STORAGE_SQLITE;
        if (strcmp(cfg->database_path, ":memory:") == 0 || cfg->database_path[0] == '/')
            snprintf(db, dbsize, "%s", cfg->database_path);
        else if (cfg->database_path[0] == '~' && getenv("HOME"))
            snprintf(db, dbsize, "%s%s", getenv("HOME"), cfg->database_path + 1);
        else
            snprintf(db, dbsize, "%s/%s", dir, cfg->database_path);
        p->storage.database_path = db;
    } else {
        p->storage.kind = EP_STORAGE_MEMORY;
        p->storage.max_size = cfg->max_memory;
        p->storage.dump_dir = cfg->dump_dir;
        if (cfg->dump_dir != NULL && cfg->dump_dir[0] != '/') { /* relative to the endpoint */
            snprintf(dump, dumpsize, "%s/%s", dir, cfg->dump_dir);
            p->storage.dump_dir = dump;
        }
    }
    ep_path(log, logsize, dir, EP_LOG_FILE);
    p->log_file = log;
    p->ready_fd = -1;
}

static int create_pid_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    int ok = write(fd, buf, (size_t)n) == n;
    close(fd);
    return ok ? 0 : -1;
}

int ep_cmd_start(const char *name, bool detach)
{
    char home[4096], dir[4300], pidf[4400];
    if (home_dir(home, sizeof home) != 0)
        return 1;
    ep_status status = ep_valid_name(name) ? get_status(home, name) : ST_UNKNOWN;
    if (status == ST_RUNNING) {
        ep_say(EP_LOG_ERROR, "Endpoint %s is already running.", name);
        return 1;
    }
    if (status == ST_UNKNOWN) {
        ep_say(EP_LOG_ERROR, "A valid endpoint named %s does not exist.", name);
        ep_say(EP_LOG_ERROR, "Use `list` to see available endpoints.");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    ep_path(pidf, sizeof pidf, dir, EP_PID_FILE);
    ep_config cfg;
    if (ep_config_read(dir, &cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    char host[1024];
    if (strcmp(cfg.host_type, "static") == 0) {
        if (cfg.host == NULL) {
            ep_say(EP_LOG_ERROR, "Missing static host address in config.");
            ep_say(EP_LOG_ERROR,
                   "Set the `host` field or change the `host_type` to \"ip\" or \"fqdn\" in the "
                   "config.");
            ep_say(EP_LOG_ERROR, "  Config: %s/%s", dir, EP_CONFIG_FILE);
            ep_config_free(&cfg);
            return 1;
        }
        snprintf(host, sizeof host, "%s", cfg.host);
    } else if (resolve_host(cfg.host_type, host, sizeof host) != 0) {
        ep_config_free(&cfg);
        return 1;
    }
    if (status == ST_HANGING && cfg.host != NULL && strcmp(host, cfg.host) != 0) {
        ep_say(EP_LOG_ERROR,
               "A PID file exists for the endpoint, but the config indicates the endpoint is "
               "running on a host named %s. Try stopping the endpoint on %s. Otherwise, delete "
               "the PID file at %s and try again.",
               cfg.host, cfg.host, pidf);
        ep_config_free(&cfg);
        return 1;
    }
    if (status == ST_HANGING) {
        ep_say(EP_LOG_DEBUG, "Removing invalid PID file (%s).", pidf);
        unlink(pidf);
    }
    if (ep_config_set_host(&cfg, host) != PS_OK || ep_config_write(dir, &cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        ep_config_free(&cfg);
        return 1;
    }
    if (cfg.relay_address != NULL)
        ep_say(EP_LOG_WARNING,
               "relay peering (%s) is not supported by this endpoint; it serves every request "
               "locally except for the UUIDs listed in [peers]",
               cfg.relay_address);
    char db[4400], log[4400], dump[4400];
    ep_serve_params p;
    fill_serve_params(&cfg, dir, &p, db, sizeof db, log, sizeof log, dump, sizeof dump);

    if (!detach) {
        if (create_pid_file(pidf) != 0) {
            ep_say(EP_LOG_ERROR, "cannot create the PID file %s: %s", pidf, strerror(errno));
            ep_config_free(&cfg);
            return 1;
        }
        p.log_stderr = true;
        int rc = ep_serve(&p);
        unlink(pidf);
        ep_config_free(&cfg);
        return rc;
    }

    ep_say(EP_LOG_INFO, "Starting endpoint process as daemon.");
    ep_say(EP_LOG_INFO, "Logs will be written to %s", log);
    int pfd[2];
    if (pipe(pfd) != 0) {
        ep_say(EP_LOG_ERROR, "pipe: %s", strerror(errno));
        ep_config_free(&cfg);
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child < 0) {
        ep_say(EP_LOG_ERROR, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        ep_config_free(&cfg);
        return 1;
    }
    if (child == 0) {
        close(pfd[0]);
        setsid();
        pid_t g = fork();
        if (g != 0)
            _exit(g < 0 ? 1 : 0);
        if (chdir(dir) != 0)
            _exit(1);
        umask(002);
        long maxfd = sysconf(_SC_OPEN_MAX);
        for (long fd = 3; fd < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); fd++)
            if (fd != pfd[1])
                close((int)fd); /* nothing of the caller's stays open in the daemon */
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, STDIN_FILENO);
            dup2(nul, STDOUT_FILENO);
            dup2(nul, STDERR_FILENO);
            if (nul > STDERR_FILENO)
                close(nul);
        }
        if (create_pid_file(pidf) != 0) {
            tell(pfd[1], "error: cannot create the PID file %s: %s", pidf, strerror(errno));
            _exit(1);
        }
        p.ready_fd = pfd[1];
        p.log_stderr = false;
        int rc = ep_serve(&p);
        unlink(pidf);
        ep_config_free(&cfg);
        _exit(rc);
    }
    close(pfd[1]);
    waitpid(child, NULL, 0);
    char msg[1300];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(pfd[0], msg + got, sizeof msg - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(pfd[0]);
    msg[got] = '\0';
    int rc = 0;
    if (strncmp(msg, "ok ", 3) == 0) {
        ep_say(EP_LOG_INFO, "Endpoint %s <%s> is serving on %s:%d.", cfg.name, cfg.uuid_text, host,
               cfg.port);
    } else {
        ep_say(EP_LOG_ERROR, "The endpoint daemon failed to start: %s",
               got ? (strncmp(msg, "error: ", 7) == 0 ? msg + 7 : msg)
                   : "it exited without a word; see the log");
        rc = 1;
    }
    ep_config_free(&cfg);
    return rc;
}

/* ---- stop -------------------------------------------------------------------------------- */

int ep_cmd_stop(const char *name)
{
    char home[4096], dir[4300], pidf[4400];
    if (home_dir(home, sizeof home) != 0)
        return 1;
    ep_status status = ep_valid_name(name) ? get_status(home, name) : ST_UNKNOWN;
    if (status == ST_UNKNOWN) {
        ep_say(EP_LOG_ERROR, "A valid endpoint named %s does not exist.", name);
        ep_say(EP_LOG_ERROR, "Use `list` to see available endpoints.");
        return 1;
    }
    if (status == ST_STOPPED) {
        ep_say(EP_LOG_INFO, "Endpoint %s is not running.", name);
        return 0;
    }
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    ep_path(pidf, sizeof pidf, dir, EP_PID_FILE);
    if (status == ST_HANGING) {
        ep_config cfg;
        char hn[256] = "";
        int other = 0;
        if (ep_config_read(dir, &cfg) == PS_OK) {
            ps_hostname(hn, sizeof hn);
            other = cfg.host != NULL && strcmp(cfg.host, hn) != 0;
            if (other)
                ep_say(EP_LOG_ERROR,
                       "A PID file exists for the endpoint, but the config indicates the "
                       "endpoint is running on a host named %s. Try stopping the endpoint on "
                       "%s. Otherwise, delete the PID file at %s and try again.",
                       cfg.host, cfg.host, pidf);
            ep_config_free(&cfg);
        }
        if (other)
            return 1;
        ep_say(EP_LOG_DEBUG, "Removing invalid PID file (%s).", pidf);
        unlink(pidf);
        ep_say(EP_LOG_INFO, "Endpoint %s is not running.", name);
        return 0;
    }
    long pid = read_pid(pidf);
    ep_say(EP_LOG_DEBUG, "Terminating endpoint process (PID: %ld).", pid);
    if (pid > 0 && kill((pid_t)pid, SIGTERM) == 0) {
        /* Wait for a graceful exit (up to 10 s), then SIGKILL. */
        struct timespec ts = {0, 20 * 1000 * 1000};
        int alive = 1;
        for (int i = 0; i < 500 && alive; i++) {
            nanosleep(&ts, NULL);
            alive = kill((pid_t)pid, 0) == 0;
        }
        if (alive)
            kill((pid_t)pid, SIGKILL);
    }
    if (access(pidf, F_OK) == 0) {
        ep_say(EP_LOG_DEBUG, "Cleaning up PID file (%s).", pidf);
        unlink(pidf);
    }
    ep_say(EP_LOG_INFO, "Endpoint %s has been stopped.", name);
    return 0;
}

/* ---- test ---------------------------------------------------------------------------------- */

typedef struct http_reply {
    long status;
    char *body;
    size_t len;
} http_reply;

static size_t collect(char *d, size_t s, size_t n, void *arg)
{
    http_reply *r = arg;
    char *nb = ps_realloc(r->body, r->len + s * n + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + r->len, d, s * n);
    r->len += s * n;
    nb[r->len] = '\0';
    r->body = nb;
    return s * n;
}

/* One request; returns 0, or -1 when no HTTP answer came (message printed). */
static int http_call(const char *address, const char *path, int post, const char *key,
                     const char *remote, const char *token, const void *data, size_t len,
                     http_reply *out)
{
    memset(out, 0, sizeof *out);
    CURL *h = curl_easy_init();
    if (h == NULL) {
        ep_say(EP_LOG_ERROR, "cannot initialize libcurl");
        return -1;
    }
    char *ek = curl_easy_escape(h, key, (int)strlen(key));
    char url[8192];
    snprintf(url, sizeof url, "%s%s?key=%s%s%s", address, path, ek ? ek : "",
             remote ? "&endpoint=" : "", remote ? remote : "");
    curl_free(ek);
    struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
    char auth[600];
    if (token != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, auth);
    }
    if (post)
        hd = curl_slist_append(hd, "Content-Type: application/octet-stream");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (post) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data ? (const char *)data : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        ep_say(EP_LOG_ERROR, "Unable to connect to endpoint at %s.", address);
        ep_say(EP_LOG_DEBUG, "%s", curl_easy_strerror(rc));
        ps_free(out->body);
        out->body = NULL;
        return -1;
    }
    return 0;
}

static int http_failed(http_reply *r)
{
    if (r->status < 400)
        return 0;
    ep_say(EP_LOG_ERROR, "Endpoint returned HTTP error code %ld. %s", r->status,
           r->body ? r->body : "");
    return 1;
}

/* Print a deserialized object the way Python would show it, where we can. */
static void show_result(const char *b, size_t n)
{
    const char *nl = memchr(b, '\n', n);
    size_t il = nl ? (size_t)(nl - b) : n;
    const char *payload = nl ? nl + 1 : b + n;
    size_t pl = n - (size_t)(payload - b);
    if (il == 2 && memcmp(b, "US", 2) == 0) {
        ep_say(EP_LOG_INFO, "Result: %.*s", (int)pl, payload);
    } else if (il == 2 && memcmp(b, "BS", 2) == 0) {
        char out[4096];
        size_t o = 0;
        out[o++] = 'b';
        out[o++] = '\'';
        for (size_t i = 0; i < pl && o < sizeof out - 8; i++) {
            unsigned char c = (unsigned char)payload[i];
            if (c == '\'' || c == '\\')
                o += (size_t)snprintf(out + o, sizeof out - o, "\\%c", c);
            else if (c >= 0x20 && c < 0x7f)
                out[o++] = (char)c;
            else
                o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
        }
        out[o++] = '\'';
        out[o] = '\0';
        ep_say(EP_LOG_INFO, "Result: %s", out);
    } else {
        ep_say(EP_LOG_INFO, "Result: <%zu bytes serialized as '%.*s'; not decodable here>", n,
               (int)(il > 8 ? 8 : il), b);
    }
}

int ep_cmd_test(const char *name, const char *remote, const char *op, const char *arg)
{
    char home[4096], dir[4300];
    if (home_dir(home, sizeof home) != 0)
        return 1;
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    if (!ep_valid_name(name) || !is_dir(dir)) {
        ep_say(EP_LOG_ERROR, "An endpoint named %s does not exist.", name);
        return 1;
    }
    ep_config cfg;
    if (ep_config_read(dir, &cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    char address[1200];
    const char *h = cfg.host ? cfg.host : "None";
    int v6 = strchr(h, ':') != NULL;
    snprintf(address, sizeof address, "http://%s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "",
             cfg.port);
    http_reply r;
    int rc = 0;
    if (strcmp(op, "evict") == 0) {
        if (http_call(address, "/evict", 1, arg, remote, cfg.token, NULL, 0, &r) != 0)
            rc = 1;
        else if (!(rc = http_failed(&r)))
            ep_say(EP_LOG_INFO, "Evicted object from endpoint.");
    } else if (strcmp(op, "exists") == 0) {
        if (http_call(address, "/exists", 0, arg, remote, cfg.token, NULL, 0, &r) != 0) {
            rc = 1;
        } else if (!(rc = http_failed(&r))) {
            json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
            json_t *e = json_object_get(j, "exists");
            if (json_is_boolean(e)) {
                ep_say(EP_LOG_INFO, "Object exists: %s", json_is_true(e) ? "True" : "False");
            } else {
                ep_say(EP_LOG_ERROR, "unexpected answer from %s/exists: %s", address,
                       r.body ? r.body : "");
                rc = 1;
            }
            json_decref(j);
        }
    } else if (strcmp(op, "get") == 0) {
        if (http_call(address, "/get", 0, arg, remote, cfg.token, NULL, 0, &r) != 0)
            rc = 1;
        else if (r.status == 404)
            ep_say(EP_LOG_INFO, "Object does not exist.");
        else if (!(rc = http_failed(&r)))
            show_result(r.body ? r.body : "", r.len);
    } else if (strcmp(op, "put") == 0) {
        char key[PS_UUID_STR_LEN + 1];
        ps_uuid4(key);
        size_t n = strlen(arg);
        char *data = ps_malloc(n + 3);
        if (data == NULL) {
            ep_say(EP_LOG_ERROR, "out of memory");
            ep_config_free(&cfg);
            return 1;
        }
        memcpy(data, "US\n", 3);
        memcpy(data + 3, arg, n);
        if (http_call(address, "/set", 1, key, remote, cfg.token, data, n + 3, &r) != 0)
            rc = 1;
        else if (!(rc = http_failed(&r)))
            ep_say(EP_LOG_INFO, "Put object in endpoint with key %s", key);
        ps_free(data);
    } else {
        ep_say(EP_LOG_ERROR, "unknown test command \"%s\" (evict, exists, get, put)", op);
        ep_config_free(&cfg);
        return 2;
    }
    ps_free(r.body);
    ep_config_free(&cfg);
    return rc;
}
