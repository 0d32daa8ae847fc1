/*
 * Helpers shared by the proxystore-endpoint commands (cmd_*.c, serve.c):
 * messages, the endpoint directories and their PID files. Internal to
 * src/server/.
 */
#ifndef PS_ENDPOINT_MANAGE_IMPL_H
#define PS_ENDPOINT_MANAGE_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "manage.h"

/* A table line without a prefix (upstream's "simple" records), at INFO. */
void ep_say_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write a message to the start command's pipe `fd` (nothing when fd < 0). */
void ep_tell(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What `list` shows of an endpoint. */
typedef enum ep_state { ST_RUNNING, ST_STOPPED, ST_UNKNOWN, ST_HANGING } ep_state;
extern const char *const ep_state_names[];

/* The data directory, made absolute (as upstream). 0, or -1 with a message printed. */
int ep_home_dir(char *buf, size_t size);

/* dir + "/" + file into buf. */
void ep_path(char *buf, size_t size, const char *dir, const char *file);

bool ep_is_dir(const char *p);

/* The PID in `pid_file`, or -1. */
long ep_read_pid(const char *pid_file);

/* The state of endpoint `name` under `home`: UNKNOWN without a valid config,
 * STOPPED without a PID file, RUNNING when its process lives, else HANGING. */
ep_state ep_get_status(const char *home, const char *name);

/* Create `path` (exclusively) holding this process's PID. 0, or -1 (errno). */
int ep_create_pid_file(const char *path);

#endif
