/* Serving in the foreground: storage, server, signals (ep_serve). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "manage_impl.h"

void ep_tell(int fd, const char *fmt, ...)
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

/* Block the stop signals (taken by sigwait(); the server threads inherit
 * the mask) into *set; ignore SIGPIPE. */
static void serve_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Open the storage and say which it is. NULL (logged, told) on failure. */
static ep_storage *serve_open_storage(const ep_serve_params *p)
{
    ep_storage *storage = NULL;
    if (ep_storage_open(&p->storage, &storage) != PS_OK) {
        ep_log(EP_LOG_ERROR, "cannot open the %s storage: %s",
               p->storage.kind == EP_STORAGE_SQLITE ? "sqlite" : "memory", ps_last_error());
        ep_tell(p->ready_fd, "error: cannot open the storage: %s", ps_last_error());
        return NULL;
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
    return storage;
}

/* Start the server on `storage`, write the port file, say so, tell the
 * starter "ok <port>". NULL (logged, told) on failure. */
static ep_server *serve_start_server(const ep_serve_params *p, ep_storage *storage)
{
    ep_server_options so = p->server;
    so.storage = storage;
    ep_server *srv = NULL;
    if (ep_server_start(&so, &srv) != PS_OK ||
        (p->port_file != NULL && write_port_file(p->port_file, ep_server_port(srv)) != PS_OK)) {
        ep_log(EP_LOG_ERROR, "%s", ps_last_error());
        ep_tell(p->ready_fd, "error: %s", ps_last_error());
        ep_server_stop(srv);
        return NULL;
    }
    int port = ep_server_port(srv);
    ep_log(EP_LOG_INFO, "Serving endpoint %s (%s) on %s:%d", so.uuid, so.name ? so.name : "",
           so.host ? so.host : "127.0.0.1", port);
    if (so.token != NULL)
        ep_log(EP_LOG_INFO, "Bearer token required on every route");
    for (size_t i = 0; i < so.npeers; i++)
        ep_log(EP_LOG_INFO, "Peer %s at %s", so.peers[i].uuid, so.peers[i].url);
    ep_tell(p->ready_fd, "ok %d", port);
    if (p->ready_fd >= 0)
        close(p->ready_fd);
    return srv;
}

int ep_serve(const ep_serve_params *p)
{
    ep_log_to_stderr(p->log_stderr);
    if (p->log_file != NULL && ep_log_open_file(p->log_file) != PS_OK) {
        ep_say(EP_LOG_ERROR, "%s", ps_last_error());
        ep_tell(p->ready_fd, "error: %s", ps_last_error());
        return 1;
    }
    sigset_t set;
    serve_block_signals(&set);
    ep_storage *storage = serve_open_storage(p);
    ep_server *srv = storage ? serve_start_server(p, storage) : NULL;
    if (srv == NULL) {
        if (storage != NULL)
            ep_storage_close(storage, true);
        ep_log_close();
        return 1;
    }
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    ep_log(EP_LOG_INFO, "Received signal %d, shutting down", sig);
    ep_server_stop(srv);
    ep_storage_close(storage, true);
    ep_log(EP_LOG_INFO, "Finished serving endpoint: %s",
           p->server.name ? p->server.name : p->server.uuid);
    ep_log_close();
    return 0;
}
