/*
 * proxystore-endpoint: serve and manage ProxyStore endpoints
 * (man/proxystore-endpoint.8, docs/endpoint.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/internal.h"
#include "manage.h"
#include "proxystore/version.h"

static const char usage_text[] =
    "Usage: proxystore-endpoint [--log-level LEVEL] COMMAND [ARGS]...\n"
    "\n"
    "  Manage and start ProxyStore Endpoints.\n"
    "\n"
    "Options:\n"
    "  --log-level [ERROR|WARNING|INFO|DEBUG]  Minimum logging level.\n"
    "  --help                                  Show this message and exit.\n"
    "\n"
    "Commands:\n"
    "  configure  Configure a new endpoint.\n"
    "  help       Show available commands and options.\n"
    "  list       List all user endpoints.\n"
    "  remove     Remove an endpoint.\n"
    "  serve      Serve an endpoint in the foreground without a configuration.\n"
    "  start      Start an endpoint.\n"
    "  stop       Stop a detached endpoint.\n"
    "  test       Execute test commands on an endpoint.\n"
    "  version    Show the ProxyStore version.\n"
    "\n"
    "  configure NAME [--host ip|fqdn|ADDR] [--port PORT] [--relay-address ADDR]\n"
    "            [--relay-auth|--no-relay-auth] [--relay-server|--no-relay-server]\n"
    "            [--peer-channels COUNT] [--persist|--no-persist]\n"
    "            [--max-object-size SIZE] [--max-memory SIZE --dump-dir DIR]\n"
    "            [--token TOKEN] [--peer UUID=URL]...\n"
    "  start NAME [--detach|--no-detach]\n"
    "  stop NAME | remove NAME | list\n"
    "  test NAME [--remote UUID] {evict KEY | exists KEY | get KEY | put DATA}\n"
    "  serve [--host HOST] [--port PORT] [--port-file FILE] [--uuid UUID] [--name NAME]\n"
    "        [--storage memory|sqlite] [--database PATH] [--max-object-size SIZE]\n"
    "        [--max-memory SIZE --dump-dir DIR] [--token TOKEN | --token-file FILE]\n"
    "        [--peer UUID=URL]... [--threads N] [--timeout SECONDS]\n"
    "        [--max-connections N] [--log-file FILE]\n"
    "\n"
    "Data lives under $PROXYSTORE_HOME, else $XDG_DATA_HOME/proxystore, else\n"
    "~/.local/share/proxystore. SIZE accepts units: 100MB, 1.5GiB, ...\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "Error: ");
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, "\nTry 'proxystore-endpoint --help' for help.\n");
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---- configure ---------------------------------------------------------------------- */

enum configure_opt {
    C_HOST = 256,
    C_PORT,
    C_RELAY,
    C_RAUTH,
    C_NO_RAUTH,
    C_RSERVER,
    C_NO_RSERVER,
    C_CHANNELS,
    C_PERSIST,
    C_NO_PERSIST,
    C_MOS,
    C_MEM,
    C_DUMP,
    C_TOKEN,
    C_PEER
};

static const struct option configure_opts[] = {
    {"host", required_argument, NULL, C_HOST},
    {"port", required_argument, NULL, C_PORT},
    {"relay-address", required_argument, NULL, C_RELAY},
    {"relay-auth", no_argument, NULL, C_RAUTH},
    {"no-relay-auth", no_argument, NULL, C_NO_RAUTH},
    {"relay-server", no_argument, NULL, C_RSERVER},
    {"no-relay-server", no_argument, NULL, C_NO_RSERVER},
    {"peer-channels", required_argument, NULL, C_CHANNELS},
    {"persist", no_argument, NULL, C_PERSIST},
    {"no-persist", no_argument, NULL, C_NO_PERSIST},
    {"max-object-size", required_argument, NULL, C_MOS},
    {"max-memory", required_argument, NULL, C_MEM},
    {"dump-dir", required_argument, NULL, C_DUMP},
    {"token", required_argument, NULL, C_TOKEN},
    {"peer", required_argument, NULL, C_PEER},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Options return -1 to go on, else the exit code. */
#define GO_ON (-1)

/* The relay options (accepted and written, not used: no relay peering). */
static int configure_relay_option(ep_configure_args *a, int opt, const char *arg)
{
    switch (opt) {
    case C_RELAY:
        a->relay_address = arg;
        return GO_ON;
    case C_RAUTH:
    case C_NO_RAUTH:
        a->relay_auth = opt == C_RAUTH;
        return GO_ON;
    case C_RSERVER:
    case C_NO_RSERVER:
        a->relay_server = opt == C_RSERVER;
        return GO_ON;
    case C_CHANNELS:
        if (parse_long(arg, -1000000, 1000000, &a->peer_channels) != 0)
            return usage_error("Invalid value for '--peer-channels': '%s' is not a valid integer.",
                               arg);
        return GO_ON;
    default:
        return 2;
    }
}

/* One option of `configure`; `peers` holds the --peer arguments. */
static int configure_option(ep_configure_args *a, const char **peers, int opt, const char *arg)
{
    long v;
    switch (opt) {
    case C_HOST:
        a->host = arg;
        return GO_ON;
    case C_PORT:
        if (parse_long(arg, 1, 65535, &v) != 0) {
            ep_say(EP_LOG_ERROR, "Port must be in range [1, 65535].");
            return 1;
        }
        a->port = (int)v;
        return GO_ON;
    case C_PERSIST:
    case C_NO_PERSIST:
        a->persist = opt == C_PERSIST;
        return GO_ON;
    case C_MOS:
        a->max_object_size = arg;
        return GO_ON;
    case C_MEM:
        a->max_memory = arg;
        return GO_ON;
    case C_DUMP:
        a->dump_dir = arg;
        return GO_ON;
    case C_TOKEN:
        a->token = arg;
        return GO_ON;
    case C_PEER:
        if (a->npeers >= 64)
            return usage_error("at most 64 peers%s", NULL);
        peers[a->npeers++] = arg;
        return GO_ON;
    case 'h':
        fputs(usage_text, stdout);
        return 0;
    default:
        return configure_relay_option(a, opt, arg);
    }
}

static int cmd_configure(int argc, char **argv)
{
    ep_configure_args a;
    memset(&a, 0, sizeof a);
    a.port = -1;
    a.relay_auth = true;
    a.relay_server = true;
    a.peer_channels = 1;
    const char *peers[64];
    int opt, rc = GO_ON;
    while (rc == GO_ON && (opt = getopt_long(argc, argv, "h", configure_opts, NULL)) != -1)
        rc = configure_option(&a, peers, opt, optarg);
    if (rc != GO_ON)
        return rc;
    if (optind + 1 != argc)
        return usage_error("configure takes exactly one NAME%s", NULL);
    a.name = argv[optind];
    a.peers = peers;
    return ep_cmd_configure(&a);
}

/* ---- serve -------------------------------------------------------------------------- */

static int read_token_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        ep_say(EP_LOG_ERROR, "--token-file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fgets(buf, (int)size, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0') {
        ep_say(EP_LOG_ERROR, "--token-file %s: empty", path);
        return -1;
    }
    return 0;
}

enum serve_opt {
    O_HOST = 256,
    O_PORT,
    O_PORTFILE,
    O_UUID,
    O_NAME,
    O_STORAGE,
    O_DB,
    O_MOS,
    O_MEM,
    O_DUMP,
    O_TOKEN,
    O_TOKENFILE,
    O_PEER,
    O_THREADS,
    O_TIMEOUT,
    O_MAXCONN,
    O_LOGFILE
};

static const struct option serve_opts[] = {
    {"host", required_argument, NULL, O_HOST},
    {"port", required_argument, NULL, O_PORT},
    {"port-file", required_argument, NULL, O_PORTFILE},
    {"uuid", required_argument, NULL, O_UUID},
    {"name", required_argument, NULL, O_NAME},
    {"storage", required_argument, NULL, O_STORAGE},
    {"database", required_argument, NULL, O_DB},
    {"max-object-size", required_argument, NULL, O_MOS},
    {"max-memory", required_argument, NULL, O_MEM},
    {"dump-dir", required_argument, NULL, O_DUMP},
    {"token", required_argument, NULL, O_TOKEN},
    {"token-file", required_argument, NULL, O_TOKENFILE},
    {"peer", required_argument, NULL, O_PEER},
    {"threads", required_argument, NULL, O_THREADS},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"max-connections", required_argument, NULL, O_MAXCONN},
    {"log-file", required_argument, NULL, O_LOGFILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What `serve`'s options say, and the storage for their strings. */
typedef struct serve_cli {
    ep_serve_params p;
    char uuid[37]; /* "" until --uuid */
    char token[600];
    ep_peer peers[64];
    size_t npeers;
    const char *storage; /* --storage, or NULL */
} serve_cli;

/* --peer UUID=URL */
static int serve_add_peer(serve_cli *sc, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (sc->npeers >= 64 || eq == NULL ||
        !ep_parse_uuid4(arg, (size_t)(eq - arg), sc->peers[sc->npeers].uuid))
        return usage_error("--peer %s: expected UUID=URL", arg);
    sc->peers[sc->npeers].url = ps_strdup(eq + 1);
    if (sc->peers[sc->npeers].url == NULL)
        return 1;
    sc->npeers++;
    return GO_ON;
}

/* The storage options. */
static int serve_storage_option(serve_cli *sc, int opt, const char *arg)
{
    ep_storage_options *so = &sc->p.storage;
    switch (opt) {
    case O_STORAGE:
        sc->storage = arg;
        return GO_ON;
    case O_DB:
        so->database_path = arg;
        return GO_ON;
    case O_MOS:
        if (ep_parse_size(arg, &so->max_object_size) != PS_OK)
            return usage_error("--max-object-size: %s", ps_last_error());
        return GO_ON;
    case O_MEM:
        if (ep_parse_size(arg, &so->max_size) != PS_OK)
            return usage_error("--max-memory: %s", ps_last_error());
        return GO_ON;
    case O_DUMP:
        so->dump_dir = arg;
        return GO_ON;
    default:
        return 2;
    }
}

/* The numeric limits of the server. */
static int serve_limit_option(serve_cli *sc, int opt, const char *arg)
{
    long v;
    switch (opt) {
    case O_PORT:
        if (parse_long(arg, 0, 65535, &v) != 0)
            return usage_error("--port %s: expected 0 to 65535", arg);
        sc->p.server.port = (int)v;
        return GO_ON;
    case O_THREADS:
        if (parse_long(arg, 1, 1024, &v) != 0)
            return usage_error("--threads %s: expected 1 to 1024", arg);
        sc->p.server.threads = (unsigned)v;
        return GO_ON;
    case O_TIMEOUT:
        if (parse_long(arg, 1, 86400, &v) != 0)
            return usage_error("--timeout %s: expected 1 to 86400 seconds", arg);
        sc->p.server.timeout = (unsigned)v;
        return GO_ON;
    case O_MAXCONN:
        if (parse_long(arg, 1, 1000000, &v) != 0)
            return usage_error("--max-connections %s: expected 1 to 1000000", arg);
        sc->p.server.max_connections = (unsigned)v;
        return GO_ON;
    default:
        return serve_storage_option(sc, opt, arg);
    }
}

/* One option of `serve` (getopt's `opt` and `arg`). */
static int serve_option(serve_cli *sc, int opt, const char *arg)
{
    switch (opt) {
    case O_HOST:
        sc->p.server.host = arg;
        return GO_ON;
    case O_PORTFILE:
        sc->p.port_file = arg;
        return GO_ON;
    case O_UUID:
        if (!ep_parse_uuid4(arg, strlen(arg), sc->uuid))
            return usage_error("--uuid %s: not a valid UUID4", arg);
        return GO_ON;
    case O_NAME:
        sc->p.server.name = arg;
        return GO_ON;
    case O_TOKEN:
        sc->p.server.token = arg;
        return GO_ON;
    case O_TOKENFILE:
        if (read_token_file(arg, sc->token, sizeof sc->token) != 0)
            return 1;
        sc->p.server.token = sc->token;
        return GO_ON;
    case O_PEER:
        return serve_add_peer(sc, arg);
    case O_LOGFILE:
        sc->p.log_file = arg;
        return GO_ON;
    case 'h':
        fputs(usage_text, stdout);
        return 0;
    default:
        return serve_limit_option(sc, opt, arg);
    }
}

/* After the options: the storage kind, a uuid, the peers. */
static int serve_finish_options(serve_cli *sc)
{
    ep_storage_options *so = &sc->p.storage;
    const char *storage = sc->storage;
    if (storage == NULL)
        storage = so->database_path ? "sqlite" : "memory";
    if (strcmp(storage, "sqlite") == 0) {
        so->kind = EP_STORAGE_SQLITE;
        if (so->database_path == NULL)
            return usage_error("--storage sqlite needs --database PATH (or :memory:)%s", NULL);
    } else if (strcmp(storage, "memory") != 0) {
        return usage_error("--storage %s: expected memory or sqlite", storage);
    }
    if (sc->uuid[0] == '\0' && ps_uuid4(sc->uuid) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        return 1;
    }
    sc->p.server.uuid = sc->uuid;
    sc->p.server.peers = sc->peers;
    sc->p.server.npeers = sc->npeers;
    return GO_ON;
}

static int cmd_serve(int argc, char **argv)
{
    serve_cli sc;
    memset(&sc, 0, sizeof sc);
    sc.p.ready_fd = -1;
    sc.p.log_stderr = true;
    sc.p.server.name = "endpoint";
    sc.p.storage.kind = EP_STORAGE_MEMORY;
    sc.p.storage.max_object_size = EP_MAX_OBJECT_SIZE_DEFAULT;
    int opt, rc = GO_ON;
    while (rc == GO_ON && (opt = getopt_long(argc, argv, "h", serve_opts, NULL)) != -1)
        rc = serve_option(&sc, opt, optarg);
    if (rc == GO_ON && optind != argc)
        rc = usage_error("serve: unexpected argument %s", argv[optind]);
    if (rc == GO_ON)
        rc = serve_finish_options(&sc);
    if (rc == GO_ON)
        rc = ep_serve(&sc.p);
    for (size_t i = 0; i < sc.npeers; i++)
        ps_free(sc.peers[i].url);
    return rc;
}

/* ---- the rest ------------------------------------------------------------------------- */

static int one_name(int argc, char **argv, const char *cmd, const char **name)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        }
        return 2;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "Error: %s takes exactly one NAME\n", cmd);
        return 2;
    }
    *name = argv[optind];
    return -1;
}

static int cmd_start(int argc, char **argv)
{
    static const struct option opts[] = {{"detach", no_argument, NULL, 'd'},
                                         {"no-detach", no_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool detach = true;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            detach = true;
        else if (c == 'n')
            detach = false;
        else if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        } else
            return 2;
    }
    if (optind + 1 != argc)
        return usage_error("start takes exactly one NAME%s", NULL);
    return ep_cmd_start(argv[optind], detach);
}

static int cmd_test(int argc, char **argv)
{
    static const struct option opts[] = {{"remote", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *remote = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'r')
            remote = optarg;
        else if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        } else
            return 2;
    }
    if (argc - optind != 3)
        return usage_error("usage: test NAME [--remote UUID] {evict KEY | exists KEY | get KEY | "
                           "put DATA}%s",
                           NULL);
    return ep_cmd_test(argv[optind], remote, argv[optind + 1], argv[optind + 2]);
}

int main(int argc, char **argv)
{
    ep_log_level level = EP_LOG_INFO;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        const char *lv = NULL;
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc)
            lv = argv[++i];
        else if (strncmp(argv[i], "--log-level=", 12) == 0)
            lv = argv[i] + 12;
        if (lv == NULL || !ep_log_parse_level(lv, &level))
            return usage_error("bad option %s (--log-level ERROR|WARNING|INFO|DEBUG)", argv[i]);
    }
    if (i >= argc) {
        fputs(usage_text, stdout);
        return 0;
    }
    ep_log_set_level(level);
    ep_cli_set_level(level);
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    optind = 0; /* GNU getopt: full re-initialization for the sub-command */
    const char *name = NULL;
    int rc;
    if (strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        rc = 0;
    } else if (strcmp(cmd, "version") == 0) {
        printf("ProxyStore-C v%s (proxystore-endpoint)\n", PS_VERSION_STRING);
        rc = 0;
    } else if (strcmp(cmd, "configure") == 0) {
        rc = cmd_configure(sub_argc, sub_argv);
    } else if (strcmp(cmd, "serve") == 0) {
        rc = cmd_serve(sub_argc, sub_argv);
    } else if (strcmp(cmd, "list") == 0) {
        rc = sub_argc == 1 ? ep_cmd_list() : usage_error("list takes no arguments%s", NULL);
    } else if (strcmp(cmd, "start") == 0) {
        rc = cmd_start(sub_argc, sub_argv);
    } else if (strcmp(cmd, "stop") == 0) {
        rc = one_name(sub_argc, sub_argv, "stop", &name);
        if (rc < 0)
            rc = ep_cmd_stop(name);
    } else if (strcmp(cmd, "remove") == 0) {
        rc = one_name(sub_argc, sub_argv, "remove", &name);
        if (rc < 0)
            rc = ep_cmd_remove(name);
    } else if (strcmp(cmd, "test") == 0) {
        rc = cmd_test(sub_argc, sub_argv);
    } else if (strcmp(cmd, "check-nat") == 0) {
        ep_say(EP_LOG_ERROR, "check-nat is not supported: this endpoint does not use relay "
                             "peering (see docs/endpoint.md)");
        rc = 1;
    } else {
        rc = usage_error("No such command '%s'.", cmd);
    }
    return rc;
}
