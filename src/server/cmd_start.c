/* `start NAME [--detach]`: serve a configured endpoint, in the foreground or
 * as a daemon that reports back through a pipe. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "core/internal.h"
#include "manage_impl.h"

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

/* The endpoint may start: it exists and is not running. 0, or 1 with a message. */
static int start_check_state(const char *name, ep_state state)
{
    if (state == ST_RUNNING) {
        ep_say(EP_LOG_ERROR, "Endpoint %s is already running.", name);
        return 1;
    }
    if (state == ST_UNKNOWN) {
        ep_say(EP_LOG_ERROR, "A valid endpoint named %s does not exist.", name);
        ep_say(EP_LOG_ERROR, "Use `list` to see available endpoints.");
        return 1;
    }
    return 0;
}

/* The address to serve on: the static host, or resolved as host_type says.
 * 0, or 1 with a message. */
static int start_host(const ep_config *cfg, const char *dir, char *host, size_t size)
{
    if (strcmp(cfg->host_type, "static") != 0)
        return resolve_host(cfg->host_type, host, size) != 0;
    if (cfg->host == NULL) {
        ep_say(EP_LOG_ERROR, "Missing static host address in config.");
        ep_say(EP_LOG_ERROR, "Set the `host` field or change the `host_type` to \"ip\" or "
                             "\"fqdn\" in the config.");
        ep_say(EP_LOG_ERROR, "  Config: %s/%s", dir, EP_CONFIG_FILE);
        return 1;
    }
    snprintf(host, size, "%s", cfg->host);
    return 0;
}

/* A HANGING endpoint (PID file, no process): refuse when the config says it
 * runs on another host, else remove the stale PID file. 0, or 1. */
static int start_clear_stale_pid(const ep_config *cfg, const char *host, const char *pidf)
{
    if (cfg->host != NULL && strcmp(host, cfg->host) != 0) {
        ep_say(EP_LOG_ERROR,
               "A PID file exists for the endpoint, but the config indicates the endpoint is "
               "running on a host named %s. Try stopping the endpoint on %s. Otherwise, delete "
               "the PID file at %s and try again.",
               cfg->host, cfg->host, pidf);
        return 1;
    }
    ep_say(EP_LOG_DEBUG, "Removing invalid PID file (%s).", pidf);
    unlink(pidf);
    return 0;
}

/* Serve in this process (--no-detach). Returns the exit code. */
static int start_foreground(ep_serve_params *p, const char *pidf)
{
    if (ep_create_pid_file(pidf) != 0) {
        ep_say(EP_LOG_ERROR, "cannot create the PID file %s: %s", pidf, strerror(errno));
        return 1;
    }
    p->log_stderr = true;
    int rc = ep_serve(p);
    unlink(pidf);
    return rc;
}

/* The daemon (a grandchild, in its own session, in `dir`, with nothing of the
 * caller's open but `ready_fd`): serve, telling the caller through `ready_fd`. */
static _Noreturn void start_daemon_child(ep_serve_params *p, const char *dir, const char *pidf,
                                         int ready_fd)
{
    setsid();
    pid_t g = fork();
    if (g != 0)
        _exit(g < 0 ? 1 : 0);
    if (chdir(dir) != 0)
        _exit(1);
    umask(002);
    long maxfd = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); fd++)
        if (fd != ready_fd)
            close((int)fd); /* nothing of the caller's stays open in the daemon */
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        dup2(nul, STDOUT_FILENO);
        dup2(nul, STDERR_FILENO);
        if (nul > STDERR_FILENO)
            close(nul);
    }
    if (ep_create_pid_file(pidf) != 0) {
        ep_tell(ready_fd, "error: cannot create the PID file %s: %s", pidf, strerror(errno));
        _exit(1);
    }
    p->ready_fd = ready_fd;
    p->log_stderr = false;
    int rc = ep_serve(p);
    unlink(pidf);
    _exit(rc);
}

/* Everything the daemon wrote to the pipe until it closed it: "ok <port>" or
 * "error: <message>" (NUL-terminated); returns the length. */
static size_t start_read_ready(int fd, char *msg, size_t size)
{
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, msg + got, size - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    msg[got] = '\0';
    return got;
}

/* Start the daemon and wait until it serves or fails. Returns the exit code. */
static int start_detached(ep_serve_params *p, const ep_config *cfg, const char *dir,
                          const char *pidf, const char *host)
{
    ep_say(EP_LOG_INFO, "Starting endpoint process as daemon.");
    ep_say(EP_LOG_INFO, "Logs will be written to %s", p->log_file);
    int pfd[2];
    if (pipe(pfd) != 0) {
        ep_say(EP_LOG_ERROR, "pipe: %s", strerror(errno));
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child < 0) {
        ep_say(EP_LOG_ERROR, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return 1;
    }
    if (child == 0) {
        close(pfd[0]);
        start_daemon_child(p, dir, pidf, pfd[1]);
    }
    close(pfd[1]);
    waitpid(child, NULL, 0);
    char msg[1300];
    size_t got = start_read_ready(pfd[0], msg, sizeof msg);
    close(pfd[0]);
    if (strncmp(msg, "ok ", 3) == 0) {
        ep_say(EP_LOG_INFO, "Endpoint %s <%s> is serving on %s:%d.", cfg->name, cfg->uuid_text,
               host, cfg->port);
        return 0;
    }
    ep_say(EP_LOG_ERROR, "The endpoint daemon failed to start: %s",
           got ? (strncmp(msg, "error: ", 7) == 0 ? msg + 7 : msg)
               : "it exited without a word; see the log");
    return 1;
}

/* Check, resolve the host, record it in the config, then serve. */
static int start_configured(ep_state state, const char *dir, ep_config *cfg, bool detach)
{
    char host[1024], pidf[4400];
    ep_path(pidf, sizeof pidf, dir, EP_PID_FILE);
    if (start_host(cfg, dir, host, sizeof host) != 0)
        return 1;
    if (state == ST_HANGING && start_clear_stale_pid(cfg, host, pidf) != 0)
        return 1;
    if (ep_config_set_host(cfg, host) != PS_OK || ep_config_write(dir, cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    if (cfg->relay_address != NULL)
        ep_say(EP_LOG_WARNING,
               "relay peering (%s) is not supported by this endpoint; it serves every request "
               "locally except for the UUIDs listed in [peers]",
               cfg->relay_address);
    char db[4400], log[4400], dump[4400];
    ep_serve_params p;
    fill_serve_params(cfg, dir, &p, db, sizeof db, log, sizeof log, dump, sizeof dump);
    if (!detach)
        return start_foreground(&p, pidf);
    return start_detached(&p, cfg, dir, pidf, host);
}

int ep_cmd_start(const char *name, bool detach)
{
    char home[4096], dir[4300];
    if (ep_home_dir(home, sizeof home) != 0)
        return 1;
    ep_state state = ep_valid_name(name) ? ep_get_status(home, name) : ST_UNKNOWN;
    if (start_check_state(name, state) != 0)
        return 1;
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    ep_config cfg;
    if (ep_config_read(dir, &cfg) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    int rc = start_configured(state, dir, &cfg, detach);
    ep_config_free(&cfg);
    return rc;
}
