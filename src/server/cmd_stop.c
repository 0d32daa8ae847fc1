/* `stop NAME`: SIGTERM (then SIGKILL) the endpoint's process, remove its PID file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "core/internal.h"
#include "manage_impl.h"

int ep_cmd_stop(const char *name)
{
    char home[4096], dir[4300], pidf[4400];
    if (ep_home_dir(home, sizeof home) != 0)
        return 1;
    ep_state status = ep_valid_name(name) ? ep_get_status(home, name) : ST_UNKNOWN;
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
    long pid = ep_read_pid(pidf);
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
