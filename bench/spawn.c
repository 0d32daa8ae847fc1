/*
 * Running this program again as a fresh process (posix_spawn of
 * /proc/self/exe) with its standard output captured: the fresh-process
 * resolve row and the multi case's put_routed row use it.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

ps_status bench_spawn_self(const char *const *args, char *buf, size_t bufsz, uint64_t *t_spawn,
                           uint64_t *t_exit)
{
    if (!bench_g_opts.self_exe)
        return ps_error(PS_ENOTSUP, "bench: cannot find this program (/proc/self/exe)");
    char *argv[8];
    size_t n = 0;
    argv[n++] = (char *)bench_g_opts.self_exe;
    for (; args[n - 1] != NULL && n < 7; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return ps_error(PS_EIO, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    pid_t pid;
    *t_spawn = ps_now_ns();
    int rc = posix_spawn(&pid, bench_g_opts.self_exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return ps_error(PS_EIO, "posix_spawn %s: %s", bench_g_opts.self_exe, strerror(rc));
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fds[0], buf + len, bufsz - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == bufsz - 1)
            break;
    }
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *t_exit = ps_now_ns();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return ps_error(PS_EIO, "%s %s exited with status %d (see its stderr)",
                        bench_g_opts.self_exe, args[0],
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return PS_OK;
}
