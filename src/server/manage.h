/*
 * proxystore-endpoint commands: serving in the foreground and upstream's
 * management commands (configure, list, remove, start, stop, test). Every
 * command returns the process exit code: 0 success, 1 failure (upstream's
 * codes); messages go to stdout as "INFO: ..." / "ERROR: ..." lines.
 */
#ifndef PS_ENDPOINT_MANAGE_H
#define PS_ENDPOINT_MANAGE_H

#include <stdbool.h>

#include "eputil.h"
#include "server.h"
#include "storage.h"

/* Minimum level of the command's own messages (default INFO). */
void ep_cli_set_level(ep_log_level level);

/* Print "INFO: ..."-style lines on stdout (no prefix with EP_LOG_INFO + simple). */
void ep_say(ep_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct ep_serve_params {
    ep_server_options server;
    ep_storage_options storage;
    const char *log_file;  /* also log to this file; NULL: none */
    const char *port_file; /* write the bound port here once listening */
    int ready_fd;          /* -1, or a pipe told "ok" or "error: <msg>" */
    bool log_stderr;       /* log to stderr too */
} ep_serve_params;

/*
 * Open the storage, serve until SIGINT/SIGTERM/SIGHUP, then stop and close
 * the storage (removing spill files). Returns the exit code.
 */
int ep_serve(const ep_serve_params *p);

typedef struct ep_configure_args {
    const char *name;
    const char *host;          /* "ip", "fqdn" or a static address; NULL: "ip" */
    int port;                  /* -1: random in [10240, 20480] */
    const char *relay_address; /* NULL: wss://relay.proxystore.dev */
    bool relay_auth;
    bool relay_server;
    long peer_channels;
    bool persist;
    const char *max_object_size; /* NULL: 100000000 */
    const char *max_memory;      /* ours */
    const char *dump_dir;        /* ours */
    const char *token;           /* ours */
    const char *const *peers;    /* ours: "UUID=URL" strings */
    int npeers;
} ep_configure_args;

int ep_cmd_configure(const ep_configure_args *a);
int ep_cmd_list(void);
int ep_cmd_remove(const char *name);
int ep_cmd_start(const char *name, bool detach);
int ep_cmd_stop(const char *name);
/* `op` is evict, exists, get or put; `arg` the key or, for put, the data. */
int ep_cmd_test(const char *name, const char *remote, const char *op, const char *arg);

#endif
