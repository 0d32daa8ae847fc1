/* The commands' own messages: "INFO: ..." lines on stdout. */
#include <stdarg.h>
#include <stdio.h>

#include "manage_impl.h"

static ep_log_level cli_level = EP_LOG_INFO;

void ep_cli_set_level(ep_log_level level)
{
    cli_level = level;
}

void ep_say(ep_log_level level, const char *fmt, ...)
{
    if (level < cli_level)
        return;
    const char *prefix = level >= EP_LOG_ERROR     ? "ERROR: "
                         : level >= EP_LOG_WARNING ? "WARNING: "
                         : level >= EP_LOG_INFO    ? "INFO: "
                                                   : "DEBUG: ";
    va_list ap;
    va_start(ap, fmt);
    fputs(prefix, stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

void ep_say_plain(const char *fmt, ...)
{
    if (EP_LOG_INFO < cli_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}
