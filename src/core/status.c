/* Status names, descriptions and the thread-local error message. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

static _Thread_local char ps__errmsg[PS__ERRMSG_SIZE];

/* One past the last status value (ps_status only grows: raise it with the table). */
#define PS__STATUS_COUNT 18

static const struct {
    const char *name;
    const char *text;
} ps__statuses[PS__STATUS_COUNT] = {
    [PS_OK] = {"PS_OK", "success"},
    [PS_ENOMEM] = {"PS_ENOMEM", "out of memory"},
    [PS_EINVAL] = {"PS_EINVAL", "invalid argument"},
    [PS_NOT_FOUND] = {"PS_NOT_FOUND", "object not found"},
    [PS_EEXIST] = {"PS_EEXIST", "already exists"},
    [PS_EIO] = {"PS_EIO", "input/output error"},
    [PS_ETIMEDOUT] = {"PS_ETIMEDOUT", "operation timed out"},
    [PS_ECONN] = {"PS_ECONN", "connection failed"},
    [PS_EPROTO] = {"PS_EPROTO", "protocol error"},
    [PS_ENOTSUP] = {"PS_ENOTSUP", "operation not supported"},
    [PS_EUNAVAILABLE] = {"PS_EUNAVAILABLE", "required library unavailable"},
    [PS_ESTATE] = {"PS_ESTATE", "invalid state for this operation"},
    [PS_EINTERNAL] = {"PS_EINTERNAL", "internal error"},
    [PS_ETOOBIG] = {"PS_ETOOBIG", "object too large"},
    [PS_ENOPOLICY] = {"PS_ENOPOLICY", "no connector policy matches"},
    [PS_ECODEC] = {"PS_ECODEC", "encoding or decoding failed"},
    [PS_EAUTH] = {"PS_EAUTH", "authentication failed"},
    [PS_ENOSPC] = {"PS_ENOSPC", "capacity exhausted"},
};
_Static_assert(PS_ENOSPC + 1 == PS__STATUS_COUNT, "PS__STATUS_COUNT is one past the last status");

const char *ps_strerror(ps_status status)
{
    if ((int)status < 0 || status >= PS__STATUS_COUNT)
        return "unknown status";
    return ps__statuses[status].text;
}

const char *ps_status_name(ps_status status)
{
    if ((int)status < 0 || status >= PS__STATUS_COUNT)
        return "PS_UNKNOWN";
    return ps__statuses[status].name;
}

const char *ps_last_error(void)
{
    return ps__errmsg;
}

void ps_clear_error(void)
{
    ps__errmsg[0] = '\0';
}

bool ps__errmsg_empty(void)
{
    return ps__errmsg[0] == '\0';
}

ps_status ps__vseterr(ps_status st, const char *fmt, va_list ap)
{
    char tmp[PS__ERRMSG_SIZE];
    /* Format into a temporary first: arguments may point into ps__errmsg. */
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    memcpy(ps__errmsg, tmp, PS__ERRMSG_SIZE - 1);
    ps__errmsg[PS__ERRMSG_SIZE - 1] = '\0';
    return st;
}

ps_status ps_error(ps_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps__vseterr(status, fmt, ap);
    va_end(ap);
    return status;
}

ps_status ps__preferr(ps_status st, const char *fmt, ...)
{
    char prefix[PS__ERRMSG_SIZE];
    char tmp[2 * PS__ERRMSG_SIZE + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (ps__errmsg[0] == '\0')
        snprintf(tmp, sizeof tmp, "%s: %s", prefix, ps_strerror(st));
    else
        snprintf(tmp, sizeof tmp, "%s: %s", prefix, ps__errmsg);
    memcpy(ps__errmsg, tmp, PS__ERRMSG_SIZE - 1);
    ps__errmsg[PS__ERRMSG_SIZE - 1] = '\0';
    return st;
}
