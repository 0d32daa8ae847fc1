/* `list`: every endpoint under the data directory with its state. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/internal.h"
#include "manage_impl.h"

typedef struct ep_entry {
    char name[256];
    char uuid[128];
} ep_entry;

typedef struct ep_list {
    ep_entry *v;
    size_t n, cap;
} ep_list;

/* Every directory below `dir` holding a valid config (upstream's os.walk). */
static void walk_configs(const char *dir, int depth, ep_list *out)
{
    if (depth > 16)
        return;
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096];
        int n = snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof sub || !ep_is_dir(sub))
            continue;
        ep_config cfg;
        if (ep_config_read(sub, &cfg) == PS_OK) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 16;
                ep_entry *nv = ps_realloc(out->v, cap * sizeof *nv);
                if (nv == NULL) {
                    ep_config_free(&cfg);
                    break;
                }
                out->v = nv;
                out->cap = cap;
            }
            snprintf(out->v[out->n].name, sizeof out->v[out->n].name, "%s", cfg.name);
            snprintf(out->v[out->n].uuid, sizeof out->v[out->n].uuid, "%s", cfg.uuid_text);
            out->n++;
            ep_config_free(&cfg);
        }
        walk_configs(sub, depth + 1, out);
    }
    closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const ep_entry *)a)->name, ((const ep_entry *)b)->name);
}

int ep_cmd_list(void)
{
    char home[4096];
    if (ep_home_dir(home, sizeof home) != 0)
        return 1;
    ep_list l = {0};
    walk_configs(home, 0, &l);
    if (l.n == 0) {
        ep_say(EP_LOG_INFO, "No valid endpoint configurations in %s.", home);
        return 0;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_entry);
    int w = 18, sw = 7;
    for (size_t i = 0; i < l.n; i++)
        if ((int)strlen(l.v[i].name) > w)
            w = (int)strlen(l.v[i].name);
    ep_say_plain("%-*s %-*s UUID", w, "NAME", sw, "STATUS");
    char rule[512];
    int rl = 2 + w + sw + (int)strlen(l.v[0].uuid);
    if (rl > (int)sizeof rule - 1)
        rl = (int)sizeof rule - 1;
    memset(rule, '=', (size_t)rl);
    rule[rl] = '\0';
    ep_say_plain("%s", rule);
    for (size_t i = 0; i < l.n; i++) {
        ep_state st = ep_get_status(home, l.v[i].name);
        ep_say_plain("%-*.*s %-*.*s %s", w, w, l.v[i].name, sw, sw, ep_state_names[st],
                     l.v[i].uuid);
    }
    ps_free(l.v);
    return 0;
}
