/* `remove NAME`: delete a stopped endpoint's directory. */
#include <stdio.h>
#include <unistd.h>

#include "config.h"
#include "core/internal.h"
#include "manage_impl.h"

int ep_cmd_remove(const char *name)
{
    char home[4096], dir[4300];
    if (ep_home_dir(home, sizeof home) != 0)
        return 1;
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    if (!ep_valid_name(name) || access(dir, F_OK) != 0) {
        ep_say(EP_LOG_ERROR, "An endpoint named %s does not exist.", name);
        return 1;
    }
    ep_state st = ep_get_status(home, name);
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
