/* The endpoint directories under the data directory, and their PID files. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "core/internal.h"
#include "manage_impl.h"

const char *const ep_state_names[] = {"RUNNING", "STOPPED", "UNKNOWN", "HANGING"};

int ep_home_dir(char *buf, size_t size)
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

void ep_path(char *buf, size_t size, const char *dir, const char *file)
{
    snprintf(buf, size, "%s/%s", dir, file);
}

bool ep_is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

long ep_read_pid(const char *pid_file)
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

ep_state ep_get_status(const char *home, const char *name)
{
    char dir[4096], pidf[4200];
    snprintf(dir, sizeof dir, "%s/%s", home, name);
    if (!ep_is_dir(dir))
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
    long pid = ep_read_pid(pidf);
    if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
        return ST_RUNNING;
    return ST_HANGING;
}

int ep_create_pid_file(const char *path)
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
