/* A one-line progress bar on stderr, for large transfers on a terminal. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "proxystore/util.h"

static void psc_draw(psc_progress *p, bool final)
{
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    if (frac > 1.0)
        frac = 1.0;
    int width = 30, fill = (int)(frac * width);
    char bar[31];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double secs = (double)(ps_now_ns() - p->start_ns) / 1e9;
    double mib = (double)p->done / 1048576.0;
    fprintf(stderr, "\r%-8s [%s] %3d%% %8.1f / %.1f MiB %7.1f MiB/s%s", p->label, bar,
            (int)(frac * 100), mib, (double)p->total / 1048576.0, secs > 0 ? mib / secs : 0.0,
            final ? "\n" : "");
    fflush(stderr);
}

void psc_progress_start(psc_progress *p, const char *label, uint64_t total)
{
    p->label = label;
    p->total = total;
    p->done = 0;
    p->start_ns = p->last_ns = ps_now_ns();
    p->on = total >= PSC_PROGRESS_MIN && isatty(STDERR_FILENO);
    if (p->on)
        psc_draw(p, false);
}

void psc_progress_update(psc_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->on)
        return;
    uint64_t now = ps_now_ns();
    if (now - p->last_ns < 100000000u) /* at most 10 redraws a second */
        return;
    p->last_ns = now;
    psc_draw(p, false);
}

void psc_progress_end(psc_progress *p)
{
    if (!p->on)
        return;
    psc_draw(p, true);
    p->on = false;
}
